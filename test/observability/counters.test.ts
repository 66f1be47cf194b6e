// The deployment-wide counters behind the cio_* metrics: the tally (batching, keeping counts through a
// refused write), the once-per-job rule, and the Redis store shared by every process.
import { expect } from 'chai';
import { createMetrics } from '../../src/counts/metrics';
import { countAttemptOnce, countFinalOnce, forgetCounted, redisCounterStore, removeCounts } from '../../src/counts/redis-store';
import {
  countsOnce,
  memoryCounterStore,
  PartialWriteError,
  Tally,
  type CounterStore,
  type CountIncrement,
  type OnceIncrement,
} from '../../src/counts/tally';
import { metricValue } from '../support/chaos';
import { openTestQueues, type TestQueues } from '../support/redis';

/** A memory store that records its writes and can be told to refuse them. */
function recordingStore() {
  const inner = memoryCounterStore();
  const writes: Array<{ plain: CountIncrement[]; once: OnceIncrement[] }> = [];
  let refuse: ((plain: CountIncrement[], once: OnceIncrement[]) => Error | undefined) | undefined;
  const store: CounterStore = {
    async add(plain, once) {
      writes.push({ plain: plain.map((i) => ({ ...i })), once: [...once] });
      const err = refuse?.(plain, once);
      if (err) throw err;
      await inner.add(plain, once);
    },
    read: () => inner.read(),
  };
  return { store, writes, refuseWith: (f: typeof refuse) => (refuse = f) };
}

const valueOf = (rows: CountIncrement[], name: string, labels: Record<string, string>) =>
  rows.find((r) => r.name === name && JSON.stringify(r.labels) === JSON.stringify(labels))?.value;

describe('observability: shared counters', () => {
  describe('the tally', () => {
    it('stores the increments of one turn of the event loop in one write, summed per series', async () => {
      const { store, writes } = recordingStore();
      const tally = new Tally(store);
      await Promise.all([
        ...Array.from({ length: 50 }, () => tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 1 })),
        tally.record({ name: 'cio_items_failed_total', labels: { action: 'trackEvent', reason: 'rejected' }, value: 2 }),
      ]);
      expect(writes).to.have.length(1);
      expect(writes[0].plain).to.deep.equal([
        { name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 50 },
        { name: 'cio_items_failed_total', labels: { action: 'trackEvent', reason: 'rejected' }, value: 2 },
      ]);
      expect(valueOf(await tally.totals(), 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(50);
    });

    it('keeps the counts of a refused write, shows them meanwhile, and stores them on the next write', async () => {
      const { store, writes, refuseWith } = recordingStore();
      const errors: unknown[] = [];
      const tally = new Tally(store, { onError: (err) => errors.push(err), retryMs: 20 });
      refuseWith(() => new Error('Redis is away'));
      await tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 3 });
      expect((errors[0] as Error).message).to.equal('Redis is away');
      expect(valueOf(tally.lastTotals(), 'cio_items_delivered_total', { action: 'trackEvent' }), 'in hand').to.equal(3);

      await tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 1 });
      expect(errors, 'reported once per outage, not once per write').to.have.length(1);
      expect(valueOf(tally.lastTotals(), 'cio_items_delivered_total', { action: 'trackEvent' }), 'in hand').to.equal(4);

      refuseWith(undefined);
      await new Promise((resolve) => setTimeout(resolve, 60)); // the retry timer
      expect(writes.length).to.be.at.least(2);
      expect(await store.read()).to.deep.equal([{ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 4 }]);
      expect(valueOf(await tally.totals(), 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(4);
    });

    it('a write that goes wrong in an unforeseen way leaves nobody waiting and does not stop the next writes', async () => {
      const { store, refuseWith } = recordingStore();
      // The error report itself throws: the write fails in a way the tally does not handle.
      const tally = new Tally(store, { onError: () => { throw new Error('a broken logger'); }, retryMs: 10 });
      refuseWith(() => new Error('Redis is away'));
      await tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 1 });
      refuseWith(undefined);
      await tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 2 });
      expect(await store.read()).to.deep.equal([{ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 3 }]);
    });

    it('after a partial write, writes again only what was not stored (nothing is counted twice)', async () => {
      const inner = memoryCounterStore();
      let calls = 0;
      const store: CounterStore = {
        async add(plain, once) {
          calls++;
          if (calls === 1) {
            // Store the trackEvent part, refuse the rest.
            await inner.add(plain.filter((i) => i.labels.action === 'trackEvent'), []);
            throw new PartialWriteError(plain.filter((i) => i.labels.action !== 'trackEvent'), once, new Error('one node is away'));
          }
          await inner.add(plain, once);
        },
        read: () => inner.read(),
      };
      const tally = new Tally(store, { onError: () => undefined, retryMs: 10 });
      await Promise.all([
        tally.record({ name: 'cio_items_delivered_total', labels: { action: 'trackEvent' }, value: 4 }),
        tally.record({ name: 'cio_items_delivered_total', labels: { action: 'createUpdatePerson' }, value: 5 }),
      ]);
      await tally.flush();
      const rows = await store.read();
      expect(valueOf(rows, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(4);
      expect(valueOf(rows, 'cio_items_delivered_total', { action: 'createUpdatePerson' })).to.equal(5);
    });
    it('while the store cannot be read, a scrape shows the last totals read plus what is in hand', async () => {
      const inner = memoryCounterStore();
      let readable = true;
      const store: CounterStore = {
        add: (plain, once) => inner.add(plain, once),
        read: () => (readable ? inner.read() : Promise.reject(new Error('Redis is away'))),
      };
      const errors: unknown[] = [];
      const m = createMetrics({ counterStore: store, onCollectError: (err) => errors.push(err) });
      await m.itemsDelivered.inc({ action: 'trackEvent' }, 5);
      expect(metricValue(await m.registry.metrics(), 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(5);
      readable = false;
      const text = await m.registry.metrics();
      expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(5);
      expect(metricValue(text, 'cio_events_received_total', { source: 'http' }), 'declared series').to.equal(0);
      expect(errors.map((e) => (e as Error).message), 'one report for the six counters').to.deep.equal(['Redis is away']);
    });
  });

  describe('the once-per-job rule', () => {
    it('counts a final outcome once per run: again after an operator re-run, not after a crash', () => {
      expect(countsOnce('final', undefined, 0), 'first count').to.equal(true);
      expect(countsOnce('final', 0, 0), 're-run by an operator: the job has not stalled since').to.equal(true);
      expect(countsOnce('final', 0, 1), 'the worker died after counting: the job stalled since').to.equal(false);
      expect(countsOnce('final', 1, 1), 'counted at stall 1, then re-run by an operator').to.equal(true);
    });

    it('counts a retry once per attempt', () => {
      expect(countsOnce('attempt', undefined, 0)).to.equal(true);
      expect(countsOnce('attempt', 0, 0), 'the same attempt, after a crash').to.equal(false);
      expect(countsOnce('attempt', 0, 1), 'the next attempt').to.equal(true);
    });
  });

  describe('in Redis, shared by the processes of a deployment', () => {
    let q: TestQueues;
    beforeEach(async () => {
      q = await openTestQueues();
    });
    afterEach(async () => {
      await removeCounts(q.redis, q.prefix);
      await q.close();
    });

    it('shows every process the same totals, the counts of both', async () => {
      const api = createMetrics({ counterStore: redisCounterStore(q.redis, q.prefix) });
      const worker = createMetrics({ counterStore: redisCounterStore(q.redis, q.prefix) });
      await api.eventsReceived.inc({ source: 'http' }, 7);
      await api.itemsEnqueued.inc({ action: 'trackEvent' }, 7);
      await worker.itemsDelivered.inc({ action: 'trackEvent' }, 6);
      await worker.itemsFailed.inc({ action: 'trackEvent', reason: 'rejected' });
      for (const m of [api, worker]) {
        const text = await m.registry.metrics();
        expect(metricValue(text, 'cio_events_received_total', { source: 'http' })).to.equal(7);
        expect(metricValue(text, 'cio_events_received_total', { source: 'import' }), 'declared series').to.equal(0);
        expect(metricValue(text, 'cio_items_enqueued_total', { action: 'trackEvent' })).to.equal(7);
        expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(6);
        expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' })).to.equal(1);
      }
      // The counts of an action sit in that action's cluster slot, beside its jobs.
      expect(await q.redis.hlen(`${q.prefix}:{trackEvent}:counts`)).to.equal(3);
      expect(await q.redis.hlen(`${q.prefix}:{counts}`)).to.equal(1);
    });

    it('counts a job once when its worker died after counting, and again when it is replayed', async () => {
      const job = await q.queues.trackEvent.add('sub', { subscription: 'sub', event: { type: 'track', event: 'x' } });
      const store = redisCounterStore(q.redis, q.prefix);
      const delivered = async () => {
        const rows = await store.read();
        return valueOf(rows, 'cio_items_delivered_total', { action: 'trackEvent' }) ?? 0;
      };
      const m = createMetrics({ counterStore: store });

      await m.itemsDelivered.inc({ action: 'trackEvent' }, 1, countFinalOnce(job));
      expect(await delivered()).to.equal(1);
      // The worker died before completing the job; it stalled and ran again.
      job.stalledCounter = 1;
      await m.itemsDelivered.inc({ action: 'trackEvent' }, 1, countFinalOnce(job));
      expect(await delivered(), 'after the crash').to.equal(1);
      // Replayed by an operator: a new run, counted.
      await forgetCounted(q.redis, job);
      await m.itemsDelivered.inc({ action: 'trackEvent' }, 1, countFinalOnce(job));
      expect(await delivered(), 'after the replay').to.equal(2);

      // Retries: once per attempt.
      const retried = async () => valueOf(await store.read(), 'cio_items_retried_total', { action: 'trackEvent', reason: 'transient' }) ?? 0;
      await m.itemsRetried.inc({ action: 'trackEvent', reason: 'transient' }, 1, countAttemptOnce(job));
      await m.itemsRetried.inc({ action: 'trackEvent', reason: 'transient' }, 1, countAttemptOnce(job));
      expect(await retried()).to.equal(1);
      job.attemptsMade = 1;
      await m.itemsRetried.inc({ action: 'trackEvent', reason: 'transient' }, 1, countAttemptOnce(job));
      expect(await retried()).to.equal(2);

      // The job's own data is untouched by the marks.
      const again = await q.queues.trackEvent.getJob(job.id!);
      expect(again!.data).to.deep.equal({ subscription: 'sub', event: { type: 'track', event: 'x' } });
    });

    it('removeCounts leaves nothing of the counts behind', async () => {
      const m = createMetrics({ counterStore: redisCounterStore(q.redis, q.prefix) });
      await m.itemsDelivered.inc({ action: 'trackEvent' });
      await m.eventsReceived.inc({ source: 'publish' });
      await removeCounts(q.redis, q.prefix);
      expect(await q.redis.keys(`${q.prefix}*counts*`)).to.deep.equal([]);
    });
  });
});
