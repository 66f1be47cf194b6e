// Queues on the real Redis under a random prefix of their own, so tests never see each other's jobs,
// and removed afterwards.

import { randomBytes } from 'node:crypto';
import type IORedis from 'ioredis';
import { DEFAULTS } from '../../src/config';
import { removeMessageIndex } from '../../src/redis/message-index';
import { removeOrderBook } from '../../src/redis/order-book';
import { connectRedis, waitForRedis, type RedisConnection } from '../../src/redis/connection';
import { createQueues, type Queues } from '../../src/jobs/queues';
import { TEST_RUN } from './run-id';

/** The Redis every test shares: REDIS_URL, else the service's own default. */
export const TEST_REDIS_URL = process.env.REDIS_URL || DEFAULTS.redis.url;
/** Nothing listens here: a connection to it stays down. */
export const UNREACHABLE_REDIS_URL = 'redis://127.0.0.1:1';

export function randomQueuePrefix(): string {
  return `cio-test-${TEST_RUN}${randomBytes(5).toString('hex')}`;
}

export interface TestQueues {
  prefix: string;
  redis: RedisConnection;
  queues: Queues;
  /** Removes every job of every queue (between tests). */
  empty(): Promise<void>;
  /** Removes the queues from Redis and closes the connection. */
  close(): Promise<void>;
}

export async function openTestQueues(): Promise<TestQueues> {
  const prefix = randomQueuePrefix();
  const redis = connectRedis({ url: TEST_REDIS_URL }, 'producer');
  redis.on('error', () => undefined); // a failing test reports it; ioredis would also print every retry
  await untilReady(redis);
  const queues = createQueues(redis, prefix);
  const empty = async () => {
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
    await removeMessageIndex(redis, prefix);
    await removeOrderBook(redis, prefix);
  };
  return {
    prefix,
    redis,
    queues,
    empty,
    async close() {
      await empty();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await redis.quit();
    },
  };
}

/** Queues on a connection that never comes up, as when Redis is down. */
export function unreachableQueues(): { redis: RedisConnection; queues: Queues; close(): Promise<void> } {
  const redis = connectRedis({ url: UNREACHABLE_REDIS_URL }, 'producer');
  redis.on('error', () => undefined);
  const queues = createQueues(redis, randomQueuePrefix());
  for (const q of Object.values(queues)) q.on('error', () => undefined);
  return {
    redis,
    queues,
    async close() {
      redis.disconnect();
      // Closing a queue waits for a connection that will never be ready; do not wait for it.
      for (const q of Object.values(queues)) void q.close().catch(() => undefined);
    },
  };
}

/** A producer connection refuses commands until it is up; wait for that, then for PING. */
async function untilReady(redis: RedisConnection, timeoutMs = 5000): Promise<void> {
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis at ${TEST_REDIS_URL} not ready within ${timeoutMs} ms`)), timeoutMs);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  await waitForRedis(redis, TEST_REDIS_URL, timeoutMs);
}

/** Removes every key under a queue prefix: for tests whose service processes wrote queue keys (meta, stalled-check) outside any job. */
export async function removeKeysUnder(prefix: string): Promise<void> {
  const redis = connectRedis({ url: TEST_REDIS_URL }, 'worker');
  try {
    await deleteKeysMatching(redis as IORedis, `${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}

/** Deletes the keys matching a SCAN pattern, a page at a time. */
export async function deleteKeysMatching(redis: IORedis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
