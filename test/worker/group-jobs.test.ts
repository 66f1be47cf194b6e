// Jobs that carry groups of events, end to end against real Redis and the Customer.io stand-in: every
// item still gets its own outcome, a crash between settling and completing loses nothing and counts
// nothing twice, a re-send is queued once across requests, and trace finds each event.
import { expect } from 'chai';
import pino from 'pino';
import type { GroupJobData } from '../../src/jobs/group';
import { traceMessage } from '../../src/jobs/trace';
import { WorkerPool } from '../../src/worker/worker';
import { itemsOf, itemStates } from '../support/items';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { metricValue } from '../support/chaos';
import { trackSpec } from '../support/track-subscription';

const TRACK = (batchSize = 50) => [trackSpec({ mapping: { batch_size: batchSize } })];
const traceOptions = (p: Pipeline) => ({ queuePrefix: p.config.redis.queuePrefix, subscriptions: p.config.subscriptions, windowSeconds: 3600 });

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('group jobs', function () {
  this.timeout(40_000);
  let p: Pipeline;
  afterEach(async () => p && (await p.close()));

  it('a group with delivered, 207-rejected, invalid and transient items ends with exactly the right per-item jobs and counts', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK(2) });
    p.standIn.respondNext({ status: 503 });
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 4' ? { reason: 'invalid', field: 'name', message: 'too long' } : undefined));
    const events = [1, 2, 3, 4, 5].map((n) => trackEvent(n));
    events.push(trackEvent(6, { event: undefined })); // no event name: the mapping refuses it
    await p.producer.publish(events);
    await p.settled(['trackEvent']);
    // one group job carried the six events; the other jobs were made from it
    const jobs = await p.queues.trackEvent.getJobs(['completed', 'failed'], 0, -1);
    const groups = jobs.map((j) => j.data as GroupJobData);
    expect(groups.filter((g) => !g.from).map((g) => g.count)).to.deep.equal([6]);

    // The first request (503) carried two items: they were retried once, then delivered.
    const transient = p.standIn.requests[0].body.batch.map((i: any) => i.identifiers.id);
    const items = await itemStates(p.queues.trackEvent);
    const delivered = items.delivered.map((i) => i.messageId).sort();
    expect(delivered).to.deep.equal(['msg-1', 'msg-2', 'msg-3', 'msg-5', 'msg-4'].filter((id) => id !== 'msg-4').sort());
    for (const item of items.delivered) {
      expect(item.attempts, item.messageId).to.equal(transient.includes(item.event.userId) ? 2 : 1);
    }
    expect(items.failed.map((i) => [i.messageId, i.reason])).to.have.deep.members([
      ['msg-4', 'Customer.io rejected the item: invalid name: too long'],
      ['msg-6', "The root value is missing the required field 'name'."],
    ]);
    // each refused item is a failed job of its own, with its event, its reason and no stack trace
    const failedJobs = await p.queues.trackEvent.getFailed();
    expect(failedJobs).to.have.length(2);
    for (const job of failedJobs) {
      expect(job.data).to.deep.include({ count: 1, encoding: 'json' });
      expect((job.stacktrace ?? []).join('\n')).not.to.match(/\.(ts|js):\d+/);
    }
    expect(items.pending).to.have.length(0);

    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_items_enqueued_total', { action: 'trackEvent' })).to.equal(6);
    expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(4);
    expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' })).to.equal(1);
    expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: 'invalid' })).to.equal(1);
    expect(metricValue(text, 'cio_items_retried_total', { action: 'trackEvent', reason: 'transient' })).to.equal(2);
  });

  it('a worker stopped between writing the per-item jobs and completing the group loses nothing and counts each item once', async () => {
    const fast = { lockDurationMs: 600, stalledIntervalMs: 300 };
    p = await startPipeline({ subscriptionSpecs: TRACK(), worker: fast }, { startWorkers: false });
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 2' ? 'refused' : undefined));
    // The first worker writes the group's per-item jobs, then freezes, as if killed there.
    let frozen = 0;
    const logger = pino({ level: 'silent' });
    const first = new WorkerPool({ config: p.config, connection: p.pool['opts'].connection, logger, metrics: p.metrics,
      afterItemJobsWritten: async () => { frozen++; await new Promise(() => undefined); } });
    first.start();
    await p.producer.publish([1, 2, 3].map((n) => trackEvent(n)));
    await until(async () => frozen === 1);
    await Promise.all(first.workers.map((w) => w.close(true)));
    // A second worker takes the job back once its lock expires, runs it again and completes it.
    p.pool.start();
    await until(async () => (await itemStates(p.queues.trackEvent)).pending.length === 0 && (await p.queues.trackEvent.getCompletedCount()) >= 1);
    await p.settled(['trackEvent']);
    const items = await itemStates(p.queues.trackEvent);
    expect(items.delivered.map((i) => i.messageId).sort()).to.deep.equal(['msg-1', 'msg-3']);
    expect(items.failed.map((i) => i.messageId)).to.deep.equal(['msg-2']);
    expect(await p.queues.trackEvent.getFailedCount()).to.equal(1); // the refused item's job was not written twice
    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(2);
    expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' })).to.equal(1);
    // the items were sent twice (at least once), each time with the same id
    const sentIds = p.standIn.requests.flatMap((r) => r.body.batch.map((i: any) => i.identifiers.id));
    expect(sentIds.filter((id: string) => id === 'user-1')).to.have.length(2);
  });

  it('a group job run again after its worker died past writing a retry job leaves that job\'s items to it, and an item that fails only the second time is retried, not lost', async () => {
    const fast = { lockDurationMs: 600, stalledIntervalMs: 300 };
    // One item per request, so each run can answer each item its own way.
    p = await startPipeline({ subscriptionSpecs: [trackSpec({ mapping: { enable_batching: false } })], worker: fast, jobs: { backoffMs: 100 } }, { startWorkers: false });
    // First run: Event 1 gets a 503 (it moves to a retry job). Second run: Event 2 gets a 503 once.
    let run = 1;
    let event2Refused = false;
    p.standIn.answerRequestsWhere((body) => {
      const name = body?.name;
      if (run === 1 && name === 'Event 1') return { status: 503, body: {} };
      if (run === 2 && name === 'Event 2' && !event2Refused) {
        event2Refused = true;
        return { status: 503, body: {} };
      }
      return undefined;
    });
    let frozen = 0;
    const first = new WorkerPool({ config: p.config, connection: p.pool['opts'].connection, logger: pino({ level: 'silent' }), metrics: p.metrics,
      afterItemJobsWritten: async () => { frozen++; await new Promise(() => undefined); } });
    first.start();
    await p.producer.publish([1, 2].map((n) => trackEvent(n)));
    await until(async () => frozen === 1);
    await Promise.all(first.workers.map((w) => w.close(true)));
    run = 2;
    p.pool.start();
    await until(async () => event2Refused && (await itemStates(p.queues.trackEvent)).pending.length === 0);
    await p.settled(['trackEvent']);
    const items = await itemStates(p.queues.trackEvent);
    expect(items.delivered.map((i) => i.messageId).sort()).to.deep.equal(['msg-1', 'msg-2']);
    expect(items.failed).to.deep.equal([]);
    // Event 1 went twice: in the first run (503) and from its retry job; the second run left it to that job.
    expect(p.standIn.requests.filter((r) => r.body?.name === 'Event 1')).to.have.length(2);
  });

  it('a run that lost its lock to another run writes no job for its items and counts nothing: the items stay the job\'s', async () => {
    // A run can lose its lock only once it is older than the lock's lifetime: a short one here.
    p = await startPipeline({ subscriptionSpecs: TRACK(), worker: { flushIntervalMs: 20, lockDurationMs: 400 } });
    const redis = p.pool['opts'].connection;
    let taken = false;
    // While the request is out, another run takes the job (as when Redis was away past LOCK_DURATION_MS);
    // then Customer.io answers 500, which would move the items to a retry job.
    p.standIn.answerRequestsWhere(() => {
      if (taken) return undefined;
      taken = true;
      void (async () => {
        for (const job of await p.queues.trackEvent.getActive()) await redis.set(`${p.queues.trackEvent.toKey(job.id!)}:lock`, 'another-run');
      })();
      return { status: 500, body: {}, delayMs: 500 };
    });
    await p.producer.publish([1, 2].map((n) => trackEvent(n)));
    await until(async () => taken);
    await new Promise((r) => setTimeout(r, 1000));
    const jobs = await p.queues.trackEvent.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(jobs.map((j) => j.id!.charAt(0)), 'jobs: the group job only, no retry job').to.deep.equal(['g']);
    expect(await jobs[0].getState()).to.equal('active');
    const text = await p.metrics.registry.metrics();
    for (const reason of ['transient', 'internal_retry']) expect(metricValue(text, 'cio_items_retried_total', { action: 'trackEvent', reason }) ?? 0, reason).to.equal(0);
    // The run that holds the job now would settle it; here nobody does, so it is handed back for the next test.
    await redis.del(`${p.queues.trackEvent.toKey(jobs[0].id!)}:lock`);
  });

  it('queues a re-sent event once, also when the copies come in different requests and commits', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK(), jobs: { groupCommitWindowMs: 0 } });
    await p.producer.publish([trackEvent(1)]);
    await Promise.all([p.producer.publish([trackEvent(1), trackEvent(2)]), p.producer.publish([trackEvent(2), trackEvent(3)])]);
    await p.settled(['trackEvent']);
    const delivered = (await itemsOf(p.queues.trackEvent)).filter((i) => i.state === 'delivered').map((i) => i.messageId).sort();
    expect(delivered).to.deep.equal(['msg-1', 'msg-2', 'msg-3']);
    expect(p.standIn.items().map((i) => i.name).sort()).to.deep.equal(['Event 1', 'Event 2', 'Event 3']);
    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_items_enqueued_total', { action: 'trackEvent' })).to.equal(3);
    expect(metricValue(text, 'cio_events_deduplicated_total', { action: 'trackEvent' })).to.equal(2);
  });

  it('trace answers for a delivered, a failed, a retrying and an unknown messageId', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK(2), jobs: { backoffMs: 60_000 } });
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 2' ? 'no such person' : undefined));
    await p.producer.publish([trackEvent(1), trackEvent(2)]);
    await p.settled(['trackEvent']);
    p.standIn.respondNext({ status: 503 });
    await p.producer.publish([trackEvent(3), trackEvent(4)]);
    await until(async () => (await p.queues.trackEvent.getDelayedCount()) === 1);
    const trace = (id: string) =>
      traceMessage(p.queues, p.pool['opts'].connection, traceOptions(p), id);

    const delivered = await trace('msg-1');
    expect(delivered.found).to.have.length(1);
    expect(delivered.found[0]).to.deep.include({ subscription: 'Track', status: 'delivered', statuses: [207] });
    expect(delivered.found[0].receivedAt).to.be.a('string');

    const failed = (await trace('msg-2')).found[0];
    expect(failed.status).to.equal('failed');
    expect(failed.reason).to.equal('Customer.io rejected the item: invalid: no such person');
    expect(failed.steps.at(-1)!.state).to.equal('failed'); // the item's own failed job (the index points at it)

    const retrying = (await trace('msg-3')).found[0];
    expect(retrying.status).to.equal('retrying');
    expect(retrying.steps.at(-1)!.state).to.equal('delayed');
    expect(retrying.steps.at(-1)!.detail).to.match(/waiting to be retried \(attempt 2\) at \d{4}-/);

    expect((await trace('never-sent')).found).to.deep.equal([]);
  });

  it('trace does not call an item delivered when its job completes, moving the item to a retry job, while trace reads it', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK(), worker: { flushIntervalMs: 20 }, jobs: { backoffMs: 60_000 } });
    // Customer.io answers 503 after 2 s: the item then moves to a retry job and its group job completes.
    p.standIn.respondNext({ status: 503, delayMs: 2_000 });
    await p.producer.publish([trackEvent(1)]);
    const real = p.queues.trackEvent;
    await until(async () => p.standIn.counts.requests === 1);
    const [sending] = await real.getActive();
    expect(sending, 'the group job is being sent').to.not.equal(undefined);
    // trace's view of the queue: when trace asks the group job's state, the job completes first, after
    // trace may already have read the job itself (as it was while still being sent).
    const completed = () => until(async () => (await real.getJobState(sending.id!)) === 'completed');
    const racing = new Proxy(real, {
      get(target, prop) {
        if (prop === 'getJobState') {
          return async (id: string) => {
            if (id === sending.id) await completed();
            return target.getJobState(id);
          };
        }
        if (prop === 'getJob') {
          return async (id: string) => {
            const job = await target.getJob(id);
            if (job && id === sending.id) {
              const getState = job.getState.bind(job);
              job.getState = async () => {
                await completed();
                return getState();
              };
            }
            return job;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const answer = await traceMessage({ ...p.queues, trackEvent: racing }, p.pool['opts'].connection, traceOptions(p), 'msg-1');
    expect(answer.found[0].steps[0].jobId).to.equal(sending.id);
    expect(answer.found[0].status).to.equal('retrying');
    expect(answer.found[0].steps.at(-1)!.state).to.equal('delayed');
  });
});
