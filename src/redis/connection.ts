// Connections to Redis: one per role, and the option that makes each role behave as it must.

import IORedis, { Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config';

export type RedisConnection = IORedis | Cluster;

/** Where Redis is: a URL (credentials and TLS from it), and for a Redis Cluster its seed nodes. */
export type RedisSettings = Pick<RedisConfig, 'url'> & Partial<Pick<RedisConfig, 'clusterNodes'>>;

/**
 * `producer`: commands fail at once while Redis is unreachable (the API answers 503 and clients retry).
 * `worker`: commands wait for the connection to come back (`maxRetriesPerRequest: null`), as BullMQ's
 * blocking workers require. The counts a worker stores go over this connection too (service.ts), so a
 * count write waits out an outage instead of failing, and a job never moves on before its count is
 * stored (counts/redis-store.ts). Change this option and that promise breaks.
 */
export function connectRedis(settings: RedisSettings, role: 'producer' | 'worker'): RedisConnection {
  const roleOptions: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { maxRetriesPerRequest: null, connectTimeout: 5000 };
  const retryStrategy = (times: number) => Math.min(times * 200, 2000);
  if (settings.clusterNodes && settings.clusterNodes.length > 0) {
    const url = new URL(settings.url);
    const redisOptions: RedisOptions = {
      ...roleOptions,
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
    };
    return new Cluster(
      settings.clusterNodes.map((node) => {
        const [host, port] = node.split(':');
        return { host, port: Number(port || 6379) };
      }),
      {
        redisOptions,
        enableOfflineQueue: roleOptions.enableOfflineQueue ?? true,
        clusterRetryStrategy: retryStrategy,
      },
    );
  }
  return new IORedis(settings.url, { ...roleOptions, retryStrategy, lazyConnect: false });
}

/** Resolves once Redis answers PING; otherwise rejects with a message that says how to get one running. */
export async function waitForRedis(connection: RedisConnection, where: string, timeoutMs = 5000): Promise<void> {
  let lastError = `no answer within ${timeoutMs} ms`;
  const onError = (err: Error) => {
    lastError = err.message || (err as NodeJS.ErrnoException).code || String(err);
  };
  connection.on('error', onError);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (connection.status === 'ready') {
        try {
          await connection.ping();
          return;
        } catch (err) {
          onError(err as Error);
        }
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    connection.off('error', onError);
  }
  throw new Error(
    [
      `Cannot reach Redis at ${where} (${lastError}).`,
      'Start one with `redis-server --appendonly yes` on this machine, or `docker run -d -p 6379:6379 redis:7-alpine`,',
      'or point REDIS_URL at yours (redis://user:password@host:6379, rediss:// for TLS).',
    ].join('\n'),
  );
}
