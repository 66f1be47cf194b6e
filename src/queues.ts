// The one module that owns Redis: connections, queue names and keys, job ids and job options.
//
// One BullMQ queue per action type. Each queue's keys carry the action as a Redis Cluster hash tag
// (`cio:{trackEvent}:trackEvent:wait`), so a queue's keys share one slot (BullMQ's scripts need that) while
// different queues spread over the cluster.

import { createHash } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import IORedis, { Cluster, type RedisOptions } from 'ioredis';
import { ACTION_KEYS, type ActionKey, type SegmentEvent } from './types';

export type RedisConnection = IORedis | Cluster;

/** What a job carries: the event as received and the subscription that fired for it. */
export interface JobData {
  subscription: string;
  event: SegmentEvent;
}

export interface RedisSettings {
  redisUrl: string;
  redisClusterNodes?: string[];
}

/**
 * `producer`: commands fail at once while Redis is unreachable (the API answers 503 and clients retry).
 * `worker`: commands wait for the connection to come back, as BullMQ's blocking workers require.
 */
export function connectRedis(settings: RedisSettings, role: 'producer' | 'worker'): RedisConnection {
  const roleOptions: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { maxRetriesPerRequest: null, connectTimeout: 5000 };
  const retryStrategy = (times: number) => Math.min(times * 200, 2000);
  if (settings.redisClusterNodes && settings.redisClusterNodes.length > 0) {
    const url = new URL(settings.redisUrl);
    const redisOptions: RedisOptions = {
      ...roleOptions,
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
    };
    return new Cluster(
      settings.redisClusterNodes.map((node) => {
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
  return new IORedis(settings.redisUrl, { ...roleOptions, retryStrategy, lazyConnect: false });
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

/** Per-queue key prefix: the action in braces is the Redis Cluster hash tag. */
export function queuePrefix(basePrefix: string, action: ActionKey): string {
  return `${basePrefix}:{${action}}`;
}

export type Queues = Record<ActionKey, Queue<JobData>>;

export function createQueues(connection: RedisConnection, basePrefix: string): Queues {
  const queues = {} as Queues;
  for (const action of ACTION_KEYS) {
    queues[action] = new Queue<JobData>(action, { connection, prefix: queuePrefix(basePrefix, action) });
  }
  return queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/**
 * The same event for the same subscription always gets the same job id, so a re-sent event is queued once
 * (while its job is in Redis: waiting, active, failed, or completed within the retention window).
 * BullMQ ids may not contain ':', hence the hash.
 */
export function jobIdFor(subscription: string, messageId: string): string {
  return createHash('sha1').update(subscription).update('\u0000').update(messageId).digest('base64url');
}

export interface JobPolicy {
  attempts: number;
  backoffMs: number;
  completedRetentionSeconds: number;
  completedRetentionCount: number;
  failedRetentionSeconds: number;
}

export function jobOptions(policy: JobPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: policy.completedRetentionSeconds, count: policy.completedRetentionCount },
    removeOnFail: { age: policy.failedRetentionSeconds },
  };
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused', 'prioritized'] as const;

/** Job counts by action and state, for metrics and `stats`. */
export async function queueDepth(queues: Queues): Promise<Array<{ action: ActionKey; state: string; count: number }>> {
  const rows = await Promise.all(
    ACTION_KEYS.map(async (action) => {
      const counts = await queues[action].getJobCounts(...JOB_STATES);
      return JOB_STATES.map((state) => ({ action, state, count: counts[state] ?? 0 }));
    }),
  );
  return rows.flat();
}

/**
 * A cap on requests per second to Customer.io shared by every worker: a counter per second in Redis.
 * Returns a function that resolves when a request may go.
 */
export function createRequestLimiter(connection: RedisConnection, basePrefix: string, maxPerSecond: number): () => Promise<void> {
  return async function acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const key = `${basePrefix}:{request-rate}:${Math.floor(now / 1000)}`;
      const [[, count]] = (await connection.multi().incr(key).expire(key, 5).exec()) as [[Error | null, number]];
      if (count <= maxPerSecond) return;
      await new Promise((resolve) => setTimeout(resolve, 1000 - (now % 1000) + Math.floor(Math.random() * 20)));
    }
  };
}
