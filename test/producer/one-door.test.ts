// Issue 18, point 10, "one door into the producer": the HTTP API and publish() (the library call, the
// import) go through one method, Producer.accept, with the same checks before anything is written.
import { expect } from 'chai';
import { DEFAULTS } from '../../src/config';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { Producer, QueueUnavailableError } from '../../src/producer/publish';
import { trackEvent } from '../support/pipeline';
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
