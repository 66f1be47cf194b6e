// Issue 18, point 3: "queued once" holds across replicas whatever the delay between a claim in the message
// index and the write of its job (no wall-clock window): a replica that claimed events and then stalled
// before writing its job, and another that took the same events over (a client's re-send), may both land
// their jobs; the worker settles which one delivers, so each event reaches Customer.io once and is counted
// once. The replicas' clocks are apart by more than the old 1 s claim window (a slow write, or skew).
import { expect } from 'chai';
import { encodeGroup } from '../../src/jobs/group';
import { newJobId } from '../../src/jobs/writer';
import { Producer } from '../../src/producer/publish';
import { indexField, MessageIndex } from '../../src/redis/message-index';
import { queueKey, queuePrefix } from '../../src/redis/keys';
import type { SegmentEvent } from '../../src/core/types';
import { metricValue } from '../support/chaos';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';

const TRACK = [{ name: 'Track', action: 'trackEvent', trigger: 'type = "track"', mapping: {
  id: { '@path': '$.userId' }, name: { '@path': '$.event' }, event_id: { '@path': '$.messageId' },
} }];
const LATER_MS = 5_000;

describe('point 3: dedupe across replicas, whatever the delay', function () {
  this.timeout(40_000);
  let p: Pipeline;
  afterEach(async () => p && (await p.close()));

  /** What a replica does when it writes a group: claim its events, then (later) add its job. */
  function stalledReplica(clock: () => number) {
    const redis = p.producer['opts'].redis;
    const prefix = p.config.redis.queuePrefix;
    const index = new MessageIndex(redis, p.config.jobs.completedRetentionSeconds, clock);
    const jobId = newJobId(clock());
    return {
      jobId,
      async claim(events: Record<string, unknown>[]) {
        await p.queues.trackEvent.waitUntilReady();
        const fields = events.map((e) => indexField('Track', String(e.messageId)));
        return index.claim(queuePrefix(prefix, 'trackEvent'), queueKey(prefix, 'trackEvent', ''), jobId, fields);
      },
      async land(events: Record<string, unknown>[]) {
        await p.queues.trackEvent.add('Track', encodeGroup('Track', events as SegmentEvent[]), { jobId });
      },
    };
  }

  async function deliveredOnce(events: Record<string, unknown>[]) {
    p.pool.start();
    await p.settled(['trackEvent']);
    const sent = p.standIn.items().map((i) => i.name).sort();
    expect(sent).to.deep.equal(events.map((e) => e.event).sort());
    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(events.length);
  }

  it('point 3: replica A claims and stalls, B re-sends and writes its job, A lands: each event is delivered once', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK }, { startWorkers: false });
    const events = [1, 2, 3].map((n) => trackEvent(n));
    const a = stalledReplica(Date.now);
    expect(await a.claim(events)).to.deep.equal([0, 1, 2]);
    // B's clock is LATER_MS ahead: far past any claim window
    const b = new Producer({ ...p.producer['opts'], clock: () => Date.now() + LATER_MS });
    await b.publish(events);
    await a.land(events);
    expect(await p.queues.trackEvent.getWaitingCount()).to.equal(2); // both copies are in Redis
    await deliveredOnce(events);
    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_events_deduplicated_total', { action: 'trackEvent' })).to.equal(3);
  });

  it('point 3: B takes the events over and stalls, A lands and is delivered, B lands later: each event is delivered once', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK }, { startWorkers: false });
    const events = [1, 2, 3].map((n) => trackEvent(n));
    const a = stalledReplica(Date.now);
    const b = stalledReplica(() => Date.now() + LATER_MS);
    expect(await a.claim(events)).to.deep.equal([0, 1, 2]);
    // A's job is not in Redis yet: B (the client's re-send) takes the events over
    expect(await b.claim(events)).to.deep.equal([0, 1, 2]);
    await a.land(events);
    await deliveredOnce(events);
    await b.land(events);
    await p.settled(['trackEvent']);
    expect(p.standIn.items()).to.have.length(3);
    expect(await p.queues.trackEvent.getCompletedCount()).to.equal(2);
    const text = await p.metrics.registry.metrics();
    expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(3);
    expect(metricValue(text, 'cio_events_deduplicated_total', { action: 'trackEvent' })).to.equal(3);
  });
});
