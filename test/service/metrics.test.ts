// The whole service in one process (API + workers) with real HTTP: after a run with deliveries and
// rejections, /metrics counts exactly what happened.
import { expect } from 'chai';
import { itemCounts } from '../support/items';
import pino from 'pino';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { testConfig } from '../support/pipeline';

describe('service /metrics after a run', function () {
  this.timeout(30_000);
  let standIn: CustomerIoStandIn;
  let service: RunningService;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    // Customer.io refuses any item whose plan is "bad" (listed in errors[] of a 207)
    standIn.rejectItemsWhere((item) => (item.attributes?.plan === 'bad' ? { reason: 'invalid', field: 'attributes.plan', message: 'not allowed' } : undefined));
    const base = testConfig();
    service = await startService({ ...base, customerio: { ...base.customerio, trackUrl: standIn.url } }, 'all', pino({ level: 'silent' }));
  });

  after(async () => {
    await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
    await service.close();
    await standIn.close();
  });

  it('counts received, filtered, enqueued, delivered and failed items as they happened', async () => {
    const at = '2024-03-15T12:34:56.789Z';
    const batch = [
      // 3 delivered identifies, 1 identify refused by Customer.io
      ...[1, 2, 3].map((n) => ({ type: 'identify', userId: `u${n}`, messageId: `i${n}`, timestamp: at, traits: { plan: 'pro' } })),
      { type: 'identify', userId: 'u4', messageId: 'i4', timestamp: at, traits: { plan: 'bad' } },
      // 2 delivered track events, 1 refused by our validation (no event name); people of their own, so none
      // waits for an identify above (per-person order) and each action's events stay one job
      { type: 'track', userId: 'u5', event: 'Signed Up', messageId: 't1', timestamp: at },
      { type: 'track', userId: 'u6', event: 'Signed Up', messageId: 't2', timestamp: at },
      { type: 'track', userId: 'u7', messageId: 't3', timestamp: at },
      // filtered by the integrations object
      { type: 'track', userId: 'u1', event: 'Hidden', messageId: 't4', timestamp: at, integrations: { 'Customer.io (Actions)': false } },
    ];
    const res = await fetch(`${service.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    expect(res.status).to.equal(200);

    for (let i = 0; i < 300; i++) {
      const [c1, c2] = await Promise.all([itemCounts(service.queues.createUpdatePerson), itemCounts(service.queues.trackEvent)]);
      if (c1.completed + c1.failed === 4 && c2.completed + c2.failed === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const text = await (await fetch(`${service.url}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    expect(value('cio_events_received_total{source="http"}')).to.equal(8);
    expect(value('cio_events_filtered_total{reason="integrations"}')).to.equal(1);
    expect(value('cio_items_enqueued_total{action="createUpdatePerson"}')).to.equal(4);
    expect(value('cio_items_enqueued_total{action="trackEvent"}')).to.equal(3);
    expect(value('cio_items_delivered_total{action="createUpdatePerson"}')).to.equal(3);
    expect(value('cio_items_delivered_total{action="trackEvent"}')).to.equal(2);
    expect(value('cio_items_failed_total{action="createUpdatePerson",reason="rejected"}')).to.equal(1);
    expect(value('cio_items_failed_total{action="trackEvent",reason="invalid"}')).to.equal(1);
    expect(value('cio_batch_size_count{action="createUpdatePerson"}')).to.equal(1);
    expect(value('cio_batch_size_sum{action="createUpdatePerson"}')).to.equal(4);
    expect(value('cio_request_duration_seconds_count{action="trackEvent",status_class="2xx"}')).to.equal(1);
    // Jobs: the group job of each action's events completed; each refused item is a failed job of its own.
    expect(value('cio_queue_jobs{action="createUpdatePerson",state="failed"}')).to.equal(1);
    expect(value('cio_queue_jobs{action="createUpdatePerson",state="completed"}')).to.equal(1);
    expect(value('cio_queue_jobs{action="trackEvent",state="completed"}')).to.equal(1);
    expect(value('cio_queue_jobs{action="trackEvent",state="failed"}')).to.equal(1);
  });
});
