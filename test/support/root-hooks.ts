// Around the whole run. Before any test file is loaded: a Redis (auto-redis.ts) and the run's id in every
// queue prefix (run-id.ts). After the last test: the counts and Redis markers that service processes
// started by the tests kept (queues.ts, redisCounterStore, redis/health's marker, the order book; they outlive BullMQ's
// obliterate and the prefixes are made up inside the tests, so they are found by pattern) are removed,
// then the run fails if any key of its prefixes is left without a TTL: a test that leaves such a key
// fills a developer's Redis a little more each run.

import IORedis from 'ioredis';
import { ensureTestRedis } from './auto-redis';
import { RUN_KEYS, TEST_RUN } from './run-id';

ensureTestRedis();

// Imported after REDIS_URL is settled: it reads it once.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { deleteKeysMatching, TEST_REDIS_URL } = require('./redis') as typeof import('./redis');

// The per-person order book (redis/order-book.ts) is service state of the same kind: its ticket counters
// live as long as the deployment, and places of items a test queued but did not deliver stay open.
const RUN_LEFTOVERS = [`${RUN_KEYS}:{*}:counts`, `${RUN_KEYS}:{counts}`, `${RUN_KEYS}:{meta}:instance`, `${RUN_KEYS}:{order*}:*`];

/** The keys of this run's prefixes that have no TTL (they would stay in Redis for ever). */
async function keysWithoutTtl(redis: IORedis): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', RUN_KEYS, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) if ((await redis.ttl(key)) === -1) found.push(key);
  } while (cursor !== '0');
  return found.sort();
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    const redis = new IORedis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    let left: string[] = [];
    try {
      await redis.connect();
      for (const pattern of RUN_LEFTOVERS) await deleteKeysMatching(redis, pattern);
      left = await keysWithoutTtl(redis);
    } catch {
      // No Redis: nothing was stored either.
    } finally {
      redis.disconnect();
    }
    if (left.length > 0) {
      const shown = left.slice(0, 20).join('\n  ');
      throw new Error(`this run (CIO_TEST_RUN=${TEST_RUN}) left ${left.length} key(s) without a TTL in Redis; the tests that made them must remove them:\n  ${shown}`);
    }
  },
};
