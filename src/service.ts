// Assembles the service from its parts: the API (producer, dashboard, metrics), the workers, or both.
// `npm start`, `npm run api`, `npm run worker`, the demo and the end-to-end tests all start it through here.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { ServiceConfig } from './config';
import { createMetrics, type Metrics } from './metrics';
import { buildApi } from './producer/http';
import { Producer } from './producer/publish';
import { closeQueues, connectRedis, createQueues, createRequestLimiter, queueDepth, redisCounterStore, waitForRedis, type Queues, type RedisConnection } from './queues';
import { WorkerPool } from './worker/worker';
import { redactUrl } from './logger';

export type ServiceMode = 'all' | 'api' | 'worker';

export interface RunningService {
  /** Base URL of the HTTP server (API, or a worker's /metrics and /health). */
  url: string;
  producer?: Producer;
  pool?: WorkerPool;
  queues: Queues;
  metrics: Metrics;
  /** Graceful stop: no new events or jobs, what is in hand is sent, then connections close. */
  close(): Promise<void>;
}

export async function startService(config: ServiceConfig, mode: ServiceMode, logger: pino.Logger): Promise<RunningService> {
  const producerRedis = connectRedis(config, 'producer');
  producerRedis.on('error', () => undefined); // reconnects by itself; /health and 503s report the state
  try {
    await waitForRedis(producerRedis, redactUrl(config.redisClusterNodes.length ? config.redisClusterNodes.join(',') : config.redisUrl));
  } catch (err) {
    producerRedis.disconnect();
    throw err;
  }
  const queues = createQueues(producerRedis, config.queuePrefix);

  // Workers store their counts over the connection that waits out a Redis outage, so a job never
  // moves on before its count is stored; the API's counts retry on their own (tally.ts).
  let workerRedis: RedisConnection | undefined;
  if (mode !== 'api') {
    workerRedis = connectRedis(config, 'worker');
    workerRedis.on('error', () => undefined);
  }
  const metrics = createMetrics({
    collectQueueDepth: () => queueDepth(queues),
    defaultMetrics: true,
    counterStore: redisCounterStore(workerRedis ?? producerRedis, config.queuePrefix),
  });

  let pool: WorkerPool | undefined;
  if (workerRedis) {
    const limiter = config.maxRequestsPerSecond > 0 ? createRequestLimiter(workerRedis, config.queuePrefix, config.maxRequestsPerSecond) : undefined;
    pool = new WorkerPool({ config, connection: workerRedis, queues, logger, metrics, acquireRequestSlot: limiter });
    pool.start();
  }

  let producer: Producer | undefined;
  let closeServer: () => Promise<void>;
  let url: string;
  if (mode !== 'worker') {
    producer = new Producer({ queues, subscriptions: config.subscriptions, policy: config, metrics });
    const app = await buildApi({ config, producer, subscriptions: config.subscriptions, metrics, logger, queues, redis: producerRedis });
    url = await app.listen({ port: config.port, host: config.host });
    closeServer = () => app.close();
  } else {
    const server = await serveWorkerEndpoints(metrics, producerRedis, config.metricsPort ?? config.port, config.host);
    const { port } = server.address() as AddressInfo;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    closeServer = () => new Promise((resolve) => server.close(() => resolve()));
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    producer,
    pool,
    queues,
    metrics,
    close() {
      closing ??= (async () => {
        await closeServer();
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

// A worker-only process still serves its own /metrics and /health.
async function serveWorkerEndpoints(metrics: Metrics, redis: RedisConnection, port: number, host: string): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url === '/metrics') {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      } else if (req.method === 'GET' && req.url === '/health') {
        const ok = await Promise.race([redis.ping().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'redis unavailable' }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found: a worker serves GET /metrics and GET /health' }));
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
