// Assembles the service from its parts: the API (producer, dashboard, metrics), the workers, or both.
// `npm start`, `npm run api`, `npm run worker`, the demo and the end-to-end tests all start it through here.

import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { ServiceConfig } from './config';
import { createMetrics, type Metrics } from './counts/metrics';
import { buildApi } from './http/app';
import { portError, serveWorkerEndpoints } from './http/ops';
import { Producer } from './producer/publish';
import { closeQueues, createQueues, queueDepth, type Queues } from './jobs/queues';
import { OrderBook } from './redis/order-book';
import { connectRedis, waitForRedis, type RedisConnection } from './redis/connection';
import { createRequestLimiter } from './redis/rate-limit';
import { redisCounterStore } from './counts/redis-store';
import { WorkerPool } from './worker/worker';
import { redactUrl } from './log/logger';
import { logQueueErrors, logStalledJobs, reportHeldQueues } from './log/queue-watch';
import { refuseEvictingRedis, superviseRedis, type RedisSupervision } from './redis/health';

export type ServiceMode = 'all' | 'api' | 'worker';

export interface RunningService {
  /** Base URL of the HTTP server (API, or a worker's /metrics and /health). */
  url: string;
  producer?: Producer;
  pool?: WorkerPool;
  queues: Queues;
  /** The connection the queues use (tools that clean up after themselves: the demo). */
  redis: RedisConnection;
  metrics: Metrics;
  /** Resolves once the Redis connections are ready and the data checks their reconnects started are done (tests). */
  redisSettled(): Promise<void>;
  /** Graceful stop: no new events or jobs, what is in hand is sent, then connections close. */
  close(): Promise<void>;
}

export async function startService(config: ServiceConfig, mode: ServiceMode, logger: pino.Logger): Promise<RunningService> {
  const producerRedis = connectRedis(config.redis, 'producer');
  producerRedis.on('error', () => undefined); // reconnects by itself; /health and 503s report the state, superviseRedis logs it
  try {
    await waitForRedis(producerRedis, redactUrl(config.redis.clusterNodes.length ? config.redis.clusterNodes.join(',') : config.redis.url));
    await refuseEvictingRedis(producerRedis, logger);
  } catch (err) {
    producerRedis.disconnect();
    throw err;
  }
  const queues = createQueues(producerRedis, config.redis.queuePrefix);
  logQueueErrors(queues, logger);

  // Workers store their counts over the connection that waits out a Redis outage (the 'worker' role:
  // maxRetriesPerRequest null, redis/connection.ts), so a job never moves on before its count is stored;
  // the API's counts retry on their own (counts/tally.ts).
  let workerRedis: RedisConnection | undefined;
  if (mode !== 'api') {
    workerRedis = connectRedis(config.redis, 'worker');
    workerRedis.on('error', () => undefined);
  }
  const metrics = createMetrics({
    collectQueueDepth: () => queueDepth(queues),
    ...(config.jobs.ordering === 'person' ? { collectOrderHolds: () => new OrderBook(producerRedis, config.redis.queuePrefix).holds() } : {}),
    defaultMetrics: true,
    counterStore: redisCounterStore(workerRedis ?? producerRedis, config.redis.queuePrefix),
  });

  let supervision: RedisSupervision;
  try {
    supervision = await superviseRedis({
      settings: config.redis,
      logger,
      producer: producerRedis,
      others: workerRedis ? [workerRedis] : [],
      ingests: mode !== 'worker',
      registry: metrics.registry,
    });
  } catch (err) {
    await closeQueues(queues).catch(() => undefined);
    producerRedis.disconnect();
    workerRedis?.disconnect();
    throw err;
  }

  let pool: WorkerPool | undefined;
  if (workerRedis) {
    const { maxRequestsPerSecond } = config.worker;
    const limiter = maxRequestsPerSecond > 0 ? createRequestLimiter(workerRedis, config.redis.queuePrefix, maxRequestsPerSecond) : undefined;
    pool = new WorkerPool({ config, connection: workerRedis, queues, logger, metrics, acquireRequestSlot: limiter });
  }

  // The HTTP side listens first: if its port is taken, nothing has started taking jobs, and all that was
  // opened is closed again, so the process ends with the message instead of working half set up.
  let producer: Producer | undefined;
  let closeServer: () => Promise<void>;
  let url: string;
  try {
    if (mode !== 'worker') {
      producer = new Producer({ queues, redis: producerRedis, queuePrefix: config.redis.queuePrefix, subscriptions: config.subscriptions, policy: config.jobs, metrics });
      const apiConfig = { ...config.http, queuePrefix: config.redis.queuePrefix, completedRetentionSeconds: config.jobs.completedRetentionSeconds };
      const app = await buildApi({ config: apiConfig, producer, subscriptions: config.subscriptions, metrics, logger, queues, redis: producerRedis, memoryGate: supervision.memoryGate });
      try {
        url = await app.listen({ port: config.http.port, host: config.http.host });
      } catch (err) {
        await app.close();
        throw portError(err, config.http.port, config.http.host, 'PORT');
      }
      closeServer = () => app.close();
    } else {
      const ops = { metrics, redis: producerRedis, ingests: false };
      const { host } = config.http;
      const server = await serveWorkerEndpoints({ ops, host, port: config.http.port, metricsPort: config.http.metricsPort, logger });
      const { port } = server.address() as AddressInfo;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      closeServer = () => new Promise((resolve) => server.close(() => resolve()));
    }
  } catch (err) {
    supervision.stop();
    await closeQueues(queues).catch(() => undefined);
    producerRedis.disconnect();
    workerRedis?.disconnect();
    throw err;
  }
  if (pool) {
    pool.start();
    logStalledJobs(pool.workers, logger);
    await reportHeldQueues(queues, logger).catch((err) => logger.warn({ err: (err as Error).message }, 'could not read whether queues are still paused; they resume by themselves when their pause ends'));
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    producer,
    pool,
    queues,
    redis: producerRedis,
    metrics,
    redisSettled: () => supervision.settled(),
    close() {
      closing ??= (async () => {
        await closeServer();
        await producer?.drain();
        supervision.stop();
        if (pool) await pool.close();
        await metrics.flush();
        await closeQueues(queues);
        producerRedis.disconnect();
        workerRedis?.disconnect();
      })();
      return closing;
    },
  };
}
