// A producer and a worker pool against the real Redis and a Customer.io stand-in, under a queue prefix of
// their own, removed afterwards.
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { DEFAULTS, type ServiceConfig } from '../../src/config';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { createMetrics, type Metrics } from '../../src/counts/metrics';
import { redisCounterStore, removeCounts } from '../../src/counts/redis-store';
import { Producer } from '../../src/producer/publish';
import { removeMessageIndex } from '../../src/redis/message-index';
import { removeOrderBook } from '../../src/redis/order-book';
import { itemJobs, type ItemJob } from './items';
import { captureLog, type LogLine } from './log-capture';
import { connectRedis, type RedisConnection } from '../../src/redis/connection';
import { createQueues, type JobData, type Queues } from '../../src/jobs/queues';
import { UNFINISHED_JOB_STATES } from '../../src/redis/keys';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { WorkerPool } from '../../src/worker/worker';
import { ACTION_KEYS, type ActionKey } from '../../src/core/types';

export { TEST_REDIS_URL as REDIS_URL } from './redis';
import { TEST_REDIS_URL as REDIS_URL } from './redis';
import { TEST_RUN } from './run-id';

export function testPrefix(): string {
  return `cio-test-${TEST_RUN}${randomBytes(4).toString('hex')}`;
}

/** Changes to the test configuration, group by group: `{ worker: { flushIntervalMs: 5000 } }`. */
export type ConfigOverrides = {
  [K in keyof ServiceConfig]?: ServiceConfig[K] extends unknown[] ? ServiceConfig[K] : ServiceConfig[K] extends object ? Partial<ServiceConfig[K]> : ServiceConfig[K];
} & { subscriptionSpecs?: unknown };

/** The service's defaults, made quick for tests (short waits, few attempts), on the test Redis under a prefix of its own. */
export function testConfig(overrides: ConfigOverrides = {}): ServiceConfig {
  const { subscriptionSpecs, ...o } = overrides;
  return {
    redis: { ...DEFAULTS.redis, url: REDIS_URL, clusterNodes: [], queuePrefix: testPrefix(), ...o.redis },
    jobs: { ...DEFAULTS.jobs, attempts: 3, backoffMs: 20, ...o.jobs },
    worker: { ...DEFAULTS.worker, flushIntervalMs: 50, authPauseMs: 200, rateLimitPauseMs: 200, maxRequestsPerSecond: 0, ...o.worker },
    http: { ...DEFAULTS.http, corsOrigins: [...DEFAULTS.http.corsOrigins], writeKeys: [], port: 0, host: '127.0.0.1', dashboard: { readOnly: false }, ...o.http },
    customerio: { siteId: 'site', apiKey: 'key', region: 'US', timeoutMs: 2000, ...o.customerio },
    shutdownTimeoutMs: o.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
    subscriptions: o.subscriptions ?? compileSubscriptions(subscriptionSpecs),
  };
}

export interface Pipeline {
  config: ServiceConfig;
  standIn: CustomerIoStandIn;
  producer: Producer;
  pool: WorkerPool;
  queues: Queues;
  metrics: Metrics;
  /** The service's log lines so far, at debug level and above (support/log-capture.ts). */
  readonly logs: LogLine[];
  /** Waits until every job of the given actions is finished (completed or failed). */
  settled(actions?: ActionKey[], timeoutMs?: number): Promise<void>;
  /** One record per item (jobs carry groups of events): see support/items.ts. */
  jobs(action: ActionKey): Promise<ItemJob[]>;
  close(): Promise<void>;
}

export async function startPipeline(overrides: Parameters<typeof testConfig>[0] = {}, opts: { startWorkers?: boolean } = {}): Promise<Pipeline> {
  const standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
  const base = testConfig(overrides);
  const config = { ...base, customerio: { ...base.customerio, trackUrl: standIn.url } };
  const producerRedis: RedisConnection = connectRedis(config.redis, 'producer');
  const workerRedis: RedisConnection = connectRedis(config.redis, 'worker');
  const queues = createQueues(producerRedis, config.redis.queuePrefix);
  // The counts live in Redis, as in the service: the producer counts what it stores in the same step.
  const metrics = createMetrics({ counterStore: redisCounterStore(workerRedis, config.redis.queuePrefix) });
  const { log: logger, lines } = captureLog('debug');
  const producer = new Producer({ queues, redis: producerRedis, queuePrefix: config.redis.queuePrefix, subscriptions: config.subscriptions, policy: config.jobs, metrics });
  const pool = new WorkerPool({ config, connection: workerRedis, queues, logger, metrics });
  if (opts.startWorkers !== false) pool.start();

  async function unfinished(actions: ActionKey[]): Promise<number> {
    let n = 0;
    for (const a of actions) {
      const c = await queues[a].getJobCounts(...UNFINISHED_JOB_STATES);
      n += Object.values(c).reduce((x, y) => x + y, 0);
    }
    return n;
  }

  return {
    config,
    standIn,
    producer,
    pool,
    queues,
    metrics,
    get logs() {
      return lines();
    },
    async settled(actions = [...ACTION_KEYS], timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while ((await unfinished(actions)) > 0) {
        if (Date.now() > until) throw new Error(`jobs still unfinished after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async jobs(action) {
      return itemJobs(queues[action], ['completed', 'failed', 'waiting', 'active', 'delayed']);
    },
    async close() {
      await pool.close();
      for (const q of Object.values(queues)) await q.obliterate({ force: true }).catch(() => undefined);
      await removeMessageIndex(producerRedis, config.redis.queuePrefix).catch(() => undefined);
      await removeOrderBook(producerRedis, config.redis.queuePrefix).catch(() => undefined);
      await removeCounts(producerRedis, config.redis.queuePrefix).catch(() => undefined);
      await Promise.all(Object.values(queues).map((q) => q.close()));
      producerRedis.disconnect();
      workerRedis.disconnect();
      await standIn.close();
    },
  };
}

/** A trackEvent-shaped Segment event. */
export function trackEvent(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    event: `Event ${n}`,
    userId: `user-${n}`,
    messageId: `msg-${n}`,
    timestamp: '2024-03-15T12:34:56.789Z',
    properties: { n },
    ...extra,
  };
}
