import { expect } from 'chai';
import { createMetrics, statusClass, type QueueDepth } from '../../src/counts/metrics';

describe('observability: metrics', () => {
  it('renders every counter of the contract with its exact name and labels', async () => {
    const m = createMetrics();
    m.eventsReceived.inc({ source: 'http' }, 3);
    m.eventsFiltered.inc({ reason: 'no_subscription' });
    m.itemsEnqueued.inc({ action: 'trackEvent' }, 2);
    m.itemsDelivered.inc({ action: 'trackEvent' });
    m.itemsFailed.inc({ action: 'createUpdatePerson', reason: 'rejected' });
    m.itemsRetried.inc({ action: 'trackEvent', reason: 'rate_limited' }, 4);
    const text = await m.registry.metrics();
    expect(text).to.include('# TYPE cio_events_received_total counter');
    expect(text).to.include('cio_events_received_total{source="http"} 3');
    expect(text).to.include('cio_events_filtered_total{reason="no_subscription"} 1');
    expect(text).to.include('cio_items_enqueued_total{action="trackEvent"} 2');
    expect(text).to.include('cio_items_delivered_total{action="trackEvent"} 1');
    expect(text).to.include('cio_items_failed_total{action="createUpdatePerson",reason="rejected"} 1');
    expect(text).to.include('cio_items_retried_total{action="trackEvent",reason="rate_limited"} 4');
  });

  it('starts the event counters at 0 for every known source and filter reason', async () => {
    const text = await createMetrics().registry.metrics();
    for (const source of ['http', 'publish', 'import']) {
      expect(text).to.include(`cio_events_received_total{source="${source}"} 0`);
    }
    for (const reason of ['integrations', 'no_subscription']) {
      expect(text).to.include(`cio_events_filtered_total{reason="${reason}"} 0`);
    }
  });

  it('renders the batch size histogram with the 1..100 buckets', async () => {
    const m = createMetrics();
    m.batchSize.observe({ action: 'trackEvent' }, 37);
    const text = await m.registry.metrics();
    expect(text).to.include('# TYPE cio_batch_size histogram');
    expect(text).to.include('cio_batch_size_bucket{le="20",action="trackEvent"} 0');
    expect(text).to.include('cio_batch_size_bucket{le="50",action="trackEvent"} 1');
    expect(text).to.include('cio_batch_size_bucket{le="100",action="trackEvent"} 1');
    expect(text).to.include('cio_batch_size_sum{action="trackEvent"} 37');
    expect(text).to.include('cio_batch_size_count{action="trackEvent"} 1');
  });

  it('renders request durations in seconds by action and status class', async () => {
    const m = createMetrics();
    m.requestDuration.observe({ action: 'trackEvent', status_class: statusClass(207) }, 0.12);
    m.requestDuration.observe({ action: 'trackEvent', status_class: statusClass(undefined) }, 10);
    const text = await m.registry.metrics();
    expect(text).to.include('# TYPE cio_request_duration_seconds histogram');
    expect(text).to.include('cio_request_duration_seconds_count{action="trackEvent",status_class="2xx"} 1');
    expect(text).to.include('cio_request_duration_seconds_count{action="trackEvent",status_class="error"} 1');
  });

  it('refuses a label the contract does not define', () => {
    expect(() => createMetrics().itemsDelivered.inc({ action: 'trackEvent', reason: 'x' })).to.throw(/label/i);
  });

  it('gives each call its own registry, so two instances never collide', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.itemsDelivered.inc({ action: 'trackEvent' }, 5);
    expect(a.registry).not.to.equal(b.registry);
    expect(await b.registry.metrics()).not.to.include('cio_items_delivered_total{action="trackEvent"}');
  });

  it('adds the process metrics only when asked', async () => {
    expect(await createMetrics().registry.metrics()).not.to.include('process_cpu_user_seconds_total');
    expect(await createMetrics({ defaultMetrics: true }).registry.metrics()).to.include('process_cpu_user_seconds_total');
  });

  describe('queue depth', () => {
    it('calls the collector at scrape time and renders what it returns now', async () => {
      let calls = 0;
      let depths: QueueDepth[] = [
        { action: 'trackEvent', state: 'waiting', count: 12 },
        { action: 'trackEvent', state: 'failed', count: 1 },
      ];
      const m = createMetrics({
        collectQueueDepth: async () => {
          calls += 1;
          return depths;
        },
      });
      expect(calls).to.equal(0);
      const first = await m.registry.metrics();
      expect(calls).to.equal(1);
      expect(first).to.include('cio_queue_jobs{action="trackEvent",state="waiting"} 12');
      expect(first).to.include('cio_queue_jobs{action="trackEvent",state="failed"} 1');

      depths = [{ action: 'trackEvent', state: 'waiting', count: 0 }];
      const second = await m.registry.metrics();
      expect(calls).to.equal(2);
      expect(second).to.include('cio_queue_jobs{action="trackEvent",state="waiting"} 0');
      expect(second).not.to.include('state="failed"'); // states no longer reported are not repeated
    });

    it('leaves the gauge out, reports the error and still serves the other metrics when the collector fails', async () => {
      const errors: unknown[] = [];
      let fail = false;
      const m = createMetrics({
        collectQueueDepth: async () => {
          if (fail) throw new Error('Redis unreachable');
          return [{ action: 'trackEvent', state: 'waiting', count: 3 }];
        },
        onCollectError: (err) => errors.push(err),
      });
      m.itemsDelivered.inc({ action: 'trackEvent' });
      expect(await m.registry.metrics()).to.include('cio_queue_jobs{action="trackEvent",state="waiting"} 3');
      fail = true;
      const text = await m.registry.metrics();
      expect(text).not.to.include('cio_queue_jobs{');
      expect(text).to.include('cio_items_delivered_total{action="trackEvent"} 1');
      expect(errors.map((e) => (e as Error).message)).to.deep.equal(['Redis unreachable']);
    });

    it('gives up on a collector that hangs after collectTimeoutMs', async () => {
      const errors: unknown[] = [];
      const m = createMetrics({
        collectQueueDepth: () => new Promise<QueueDepth[]>(() => {}),
        collectTimeoutMs: 20,
        onCollectError: (err) => errors.push(err),
      });
      const started = Date.now();
      const text = await m.registry.metrics();
      expect(Date.now() - started).to.be.lessThan(500);
      expect(text).to.include('cio_events_received_total');
      expect((errors[0] as Error).message).to.match(/within 20 ms/);
    });
  });

  describe('statusClass', () => {
    it('groups HTTP statuses by hundreds and calls a missing response "error"', () => {
      expect([200, 207, 301, 401, 413, 429, 500, 503].map(statusClass)).to.deep.equal([
        '2xx', '2xx', '3xx', '4xx', '4xx', '4xx', '5xx', '5xx',
      ]);
      expect(statusClass(undefined)).to.equal('error');
      expect(statusClass(0)).to.equal('error');
    });
  });
});
