// A request that Redis refuses part of, with no memory gate in front: the jobs written before Redis ran
// out of memory are removed again and their events' claims released, so the answer "nothing was
// queued" is true and the client's retry queues every event (none is taken for a re-send).
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type IORedis from 'ioredis';
import { DEFAULTS } from '../../../src/config';
import { removeMessageIndex } from '../../../src/redis/message-index';
import { Producer, QueueUnavailableError } from '../../../src/producer/publish';
import type { Queues } from '../../../src/jobs/queues';
import type { RedisConnection } from '../../../src/redis/connection';
import { needs, redisServerMissing } from '../../support/needs';
import { startSmallRedis, type SmallRedis } from '../../support/small-redis';
import { itemJobs } from '../../support/items';
import { TRACK_SUBSCRIPTION } from '../../support/track-subscription';

const MAXMEMORY = 16 * 1024 * 1024;
const PREFIX = 'cio-aon';

describe('all or nothing: a request Redis refuses part of', function () {
  this.timeout(30_000);
  let small: SmallRedis;
  let admin: IORedis;
  let connection: RedisConnection;
  let queues: Queues;

  before(async function () {
    needs(this, redisServerMissing());
    small = await startSmallRedis(MAXMEMORY, PREFIX);
    ({ admin, connection, queues } = small);
  });

  after(async () => small?.close());

  const used = () => small.used();

  /** Fills Redis until only `headroom` bytes are left below maxmemory. */
  async function fillTo(headroom: number): Promise<void> {
    for (let i = 0; (await used()) < MAXMEMORY - headroom - 256 * 1024; i++) await admin.set(`filler:big:${i}`, 'x'.repeat(256 * 1024));
    for (let i = 0; (await used()) < MAXMEMORY - headroom; i++) await admin.set(`filler:small:${i}`, 'x'.repeat(8 * 1024));
  }

  // Incompressible events of about 1.3 KB: 500 of them make five jobs of about 130 KB each.
  const events = Array.from({ length: 500 }, (_, i) => ({ type: 'track', event: 'Big', userId: `u${i}`, messageId: `aon-${i}`, properties: { noise: randomBytes(1000).toString('base64') } }));

  it('removes the jobs it wrote and releases their claims, so the 503 queued nothing and the retry queues all', async () => {
    const producer = new Producer({ queues, redis: connection, queuePrefix: PREFIX, subscriptions: [TRACK_SUBSCRIPTION], policy: { ...DEFAULTS.jobs, groupCommitWindowMs: 0 } });
    // Watch the rollback: which jobs it removes, and whether Redis held any part of them.
    const removed: number[] = [];
    const remove = queues.trackEvent.remove.bind(queues.trackEvent);
    queues.trackEvent.remove = (async (...args: Parameters<typeof remove>) => {
      const n = await remove(...args);
      removed.push(n);
      return n;
    }) as typeof remove;

    await fillTo(400 * 1024);
    let refused: unknown;
    try {
      await producer.publish(events);
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(QueueUnavailableError);
    expect((refused as Error).message).to.match(/OOM/);
    expect(removed.filter((n) => n === 1).length, 'jobs (or parts of them) written before Redis refused, then removed').to.be.greaterThan(0);
    expect(await admin.keys(`${PREFIX}:{trackEvent}:trackEvent:g*`), 'job keys left behind').to.deep.equal([]);
    expect(await itemJobs(queues.trackEvent), 'items left in Redis after the refusal').to.have.length(0);
    expect(await admin.keys(`${PREFIX}:{trackEvent}:seen:*`).then((keys) => Promise.all(keys.map((k) => admin.hlen(k)))), 'claims left').to.satisfy((lens: number[]) => lens.every((n) => n === 0));

    // The client retries once there is room: every event is queued, none is taken for a re-send.
    for (const key of await admin.keys('filler:*')) await admin.del(key);
    await producer.publish(events);
    expect(await itemJobs(queues.trackEvent, ['waiting'])).to.have.length(500);
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
    await removeMessageIndex(connection, PREFIX);
  });
});
