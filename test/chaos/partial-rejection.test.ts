// A 207 that names some items (README.md's outcome table: "2xx, item listed in the body's errors[]": failed
// at once, no retry, reason = Customer.io's reason, field and message), checked on
// the running service: the job states in Redis and the counters on GET /metrics.
import { expect } from 'chai';
import {
  chaosPrefix,
  metricValue,
  postJson,
  request,
  scale,
  SHARED_REDIS_URL,
  trackEvent,
  trackOnly,
  waitUntil,
} from '../support/chaos';
import { useChaosRun } from '../support/chaos-run';
import { startServiceProcess } from '../support/process';

const REASON = 'Customer.io rejected the item: invalid attributes.plan: property value cannot be longer than 1000 bytes';

describe('a 207 naming some items, on the running service', function () {
  this.timeout(scale(30_000, 120_000));

  const run = useChaosRun();

  it('fails exactly the named items’ jobs with Customer.io’s reason, and counts them as rejected on /metrics', async () => {
    const total = scale(300, 3000);
    const prefix = chaosPrefix('207');
    const config = run.config(trackOnly(25));
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const standIn = await run.standIn({ siteId: 'site', apiKey: 'key' });
    // Every 7th event's item is listed in errors[] (the stand-in answers 207 for a batch that holds one).
    const rejected = (n: number) => n % 7 === 3;
    standIn.rejectItemsWhere((item) =>
      rejected(item.attributes?.n) ? { reason: 'invalid', field: 'attributes.plan', message: 'property value cannot be longer than 1000 bytes' } : undefined,
    );
    const service = await startServiceProcess({
      mode: 'all',
      env: {
        REDIS_URL: SHARED_REDIS_URL,
        QUEUE_PREFIX: prefix,
        CIO_CONFIG: config.path,
        CUSTOMERIO_SITE_ID: 'site',
        CUSTOMERIO_API_KEY: 'key',
        CUSTOMERIO_TRACK_URL: standIn.url,
        FLUSH_INTERVAL_MS: '50',
      },
    });

    const ids = Array.from({ length: total }, (_, n) => `r207-${prefix}-${n}`);
    for (let from = 0; from < total; from += 100) {
      const res = await postJson(service.url, '/v1/batch', { batch: ids.slice(from, from + 100).map((id, k) => trackEvent(id, from + k)) });
      expect(res.status, res.text).to.equal(200);
    }
    await waitUntil(async () => (await inspect.unfinished('trackEvent')) === 0, 20_000, 'every job to finish', () => inspect.counts('trackEvent'));

    const expectedFailed = ids.filter((_, n) => rejected(n)).sort();
    const failed: string[] = [];
    const completed: string[] = [];
    for (const job of await inspect.jobs('trackEvent')) {
      const id = String(job.data.event.messageId);
      const state = await job.getState();
      if (state === 'failed') {
        failed.push(id);
        expect(job.failedReason, id).to.equal(REASON);
        expect(job.attemptsMade, `${id} was not retried`).to.equal(1);
      } else {
        expect(state, id).to.equal('completed');
        completed.push(id);
      }
    }
    expect(failed.sort()).to.deep.equal(expectedFailed);
    expect(completed).to.have.length(total - expectedFailed.length);

    // Batches mixed rejected and accepted items, and Customer.io answered 207 to them.
    expect(standIn.requests.some((r) => r.body.batch.length > 1 && r.body.batch.some((i: any) => rejected(i.attributes.n)))).to.equal(true);
    expect(standIn.counts.rejectedItems).to.equal(expectedFailed.length);
    expect(standIn.items().map((i) => String(i.id)).sort()).to.deep.equal(completed.sort());

    const metrics = (await request(`${service.url}/metrics`)).text;
    expect(metricValue(metrics, 'cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' })).to.equal(expectedFailed.length);
    expect(metricValue(metrics, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(total - expectedFailed.length);
    for (const other of ['invalid', 'retries_exhausted', 'too_large', 'request_rejected']) {
      expect(metricValue(metrics, 'cio_items_failed_total', { action: 'trackEvent', reason: other }) ?? 0, other).to.equal(0);
    }
  });
});
