// Reaching Redis from a command: where it is (for messages, without its password) and the queues on a
// live connection, or a CannotRunError that says why not and how to fix it.

import type { ServiceConfig } from '../config';
import { redactUrl } from '../log/logger';
import { closeQueues, createQueues } from '../jobs/queues';
import { connectRedis, waitForRedis, type RedisConnection } from '../redis/connection';
import { CannotRunError, type OpenQueues } from './args';

/** How long a command waits for Redis to answer before it gives up with exit 2. */
const REDIS_WAIT_MS = 3000;

/** Where Redis is, as the configuration names it, without the password: `redis://:***@host:6379`. */
export function redisWhere(config: ServiceConfig): string {
  return config.redis.clusterNodes.length ? `cluster ${config.redis.clusterNodes.join(',')}` : redactUrl(config.redis.url);
}

/** A live connection and no queue objects: BullMQ's Queue writes its meta key when it opens. */
export async function openRedis(config: ServiceConfig): Promise<{ redis: RedisConnection; where: string; close(): Promise<void> }> {
  const where = redisWhere(config);
  const redis = connectRedis(config.redis, 'producer');
  redis.on('error', () => undefined); // the wait below reports the problem once, in words
  try {
    await waitForRedis(redis, where, REDIS_WAIT_MS);
  } catch (err) {
    redis.disconnect();
    throw new CannotRunError((err as Error).message);
  }
  return { redis, where, close: () => redis.quit().then(() => undefined, () => redis.disconnect()) };
}

export async function openQueues(config: ServiceConfig): Promise<OpenQueues> {
  const { redis, where } = await openRedis(config);
  const queues = createQueues(redis, config.redis.queuePrefix);
  for (const queue of Object.values(queues)) queue.on('error', () => undefined);
  return {
    queues,
    redis,
    where,
    async close() {
      await closeQueues(queues).catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
