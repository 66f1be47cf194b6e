// A private redis-server with a small maxmemory (noeviction) and queues on it: for the tests of what the
// service does when Redis is full. Started fresh per suite, destroyed after.
import type IORedis from 'ioredis';
import { createQueues, closeQueues, type Queues } from '../../src/jobs/queues';
import { connectRedis, waitForRedis, type RedisConnection } from '../../src/redis/connection';
import { startPrivateRedis, type PrivateRedis } from './chaos';

export interface SmallRedis {
  redis: PrivateRedis;
  /** A plain client, to fill and inspect Redis. */
  admin: IORedis;
  /** The service's producer connection to it. */
  connection: RedisConnection;
  queues: Queues;
  /** Redis's used_memory now, in bytes. */
  used(): Promise<number>;
  close(): Promise<void>;
}

export async function startSmallRedis(maxmemoryBytes: number, queuePrefix: string): Promise<SmallRedis> {
  const redis = await startPrivateRedis({ args: ['--appendonly', 'no', '--maxmemory', String(maxmemoryBytes), '--maxmemory-policy', 'noeviction'] });
  const admin = redis.client();
  const connection = connectRedis({ url: redis.url }, 'producer');
  connection.on('error', () => undefined);
  await waitForRedis(connection, redis.url);
  const queues = createQueues(connection, queuePrefix);
  return {
    redis,
    admin,
    connection,
    queues,
    used: async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]),
    async close() {
      await closeQueues(queues).catch(() => undefined);
      connection.disconnect();
      admin.disconnect();
      await redis.destroy();
    },
  };
}
