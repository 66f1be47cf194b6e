// After the whole suite: removes the counts that service processes started by the tests kept in the
// shared Redis (queues.ts, redisCounterStore). Queue keys are removed by each test; these outlive
// BullMQ's obliterate, and the prefixes are made up inside the tests, so they are found by pattern.

import IORedis from 'ioredis';
import { deleteKeysMatching, TEST_REDIS_URL } from './redis';

const TEST_COUNT_KEYS = ['cio-*:{*}:counts', 'cio-*:{counts}'];

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    const redis = new IORedis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      for (const pattern of TEST_COUNT_KEYS) await deleteKeysMatching(redis, pattern);
    } catch {
      // No Redis: nothing was stored either.
    } finally {
      redis.disconnect();
    }
  },
};
