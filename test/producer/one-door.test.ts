// Issue 18, point 10, "one door into the producer": the HTTP API and publish() (the library call, the
// import) go through one method, Producer.accept, with the same checks before anything is written.
import { expect } from 'chai';
import { DEFAULTS } from '../../src/config';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { Producer, QueueUnavailableError } from '../../src/producer/publish';
import { describeTrace, traceMessage, type TraceAnswer } from '../../src/jobs/trace';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { unreachableQueues } from '../support/redis';
import { waitUntil } from '../support/chaos';

const TRACK = [{ name: 'Track', action: 'trackEvent', trigger: 'type = "track"', mapping: {
  id: { '@path': '$.userId' }, name: { '@path': '$.event' }, event_id: { '@path': '$.messageId' },
} }];

describe('point 10: one door into the producer', function () {
  this.timeout(20_000);

  it('point 10: publish() goes through the same checks as the HTTP API: Redis not ready is refused at once, nothing queued', async () => {
    const down = unreachableQueues();
    try {
      await waitUntil(() => down.redis.status === 'reconnecting', 10_000, 'the first connect to fail');
      const producer = new Producer({ queues: down.queues, redis: down.redis, queuePrefix: 'cio-test-door', subscriptions: compileSubscriptions(TRACK), policy: DEFAULTS.jobs });
      const refused = await producer.publish([trackEvent(1)]).then(() => undefined, (err: unknown) => err);
      expect(refused).to.be.instanceOf(QueueUnavailableError);
      expect((refused as QueueUnavailableError).unconfirmed).to.equal(false);
      expect((refused as Error).message).to.match(/Redis is not reachable/);
      expect(producer.pending).to.equal(0);
    } finally {
      await down.close();
    }
  });
});

describe('point 10: trace names the rule that filtered an event', function () {
  this.timeout(30_000);
  let p: Pipeline;
  afterEach(async () => p && (await p.close()));

  it('point 10: trace says "filtered: <reason>" for an event the integrations object or the triggers left out, not "not seen"', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK });
    await p.queues.trackEvent.waitUntilReady();
    await p.producer.publish([
      trackEvent(1, { integrations: { All: false } }),
      { type: 'identify', userId: 'u2', messageId: 'msg-identify' },
    ]);
    const opts = { queuePrefix: p.config.redis.queuePrefix, subscriptions: p.config.subscriptions, windowSeconds: p.config.jobs.completedRetentionSeconds };
    const redis = p.producer['opts'].redis;
    let off: TraceAnswer | undefined;
    await waitUntil(async () => (off = await traceMessage(p.queues, redis, opts, 'msg-1')).filtered !== undefined, 10_000, 'the note of the filtered event');
    expect(describeTrace(off!).join('\n')).to.match(/^msg-1: filtered: its integrations object turned this destination off/);
    const unmatched = await traceMessage(p.queues, redis, opts, 'msg-identify');
    expect(describeTrace(unmatched).join('\n')).to.match(/^msg-identify: filtered: no enabled subscription .* matched it/);
    expect(describeTrace(await traceMessage(p.queues, redis, opts, 'msg-never-sent')).join('\n')).to.match(/not seen/);
  });
});
