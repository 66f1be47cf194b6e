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
import { refuseEvictingRedis, superviseRedis, type RedisSupervision } from './redis-health';

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
  /** Graceful stop: no new events or jobs, what is in hand is sent, then connections close. */
  close(): Promise<void>;
}

export async function startService(config: ServiceConfig, mode: ServiceMode, logger: pino.Logger): Promise<RunningService> {
  const producerRedis = connectRedis(config, 'producer');
  producerRedis.on('error', () => undefined); // reconnects by itself; /health and 503s report the state, superviseRedis logs it
  try {
    await waitForRedis(producerRedis, redactUrl(config.redisClusterNodes.length ? config.redisClusterNodes.join(',') : config.redisUrl));
    await refuseEvictingRedis(producerRedis, logger);
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

  let supervision: RedisSupervision;
  try {
    supervision = await superviseRedis({
      settings: config,
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
    const limiter = config.maxRequestsPerSecond > 0 ? createRequestLimiter(workerRedis, config.queuePrefix, config.maxRequestsPerSecond) : undefined;
    pool = new WorkerPool({ config, connection: workerRedis, queues, logger, metrics, acquireRequestSlot: limiter });
  }

  // The HTTP side listens first: if its port is taken, nothing has started taking jobs, and all that was
  // opened is closed again, so the process ends with the message instead of working half set up.
  let producer: Producer | undefined;
  let closeServer: () => Promise<void>;
  let url: string;
  try {
    if (mode !== 'worker') {
      producer = new Producer({ queues, redis: producerRedis, queuePrefix: config.queuePrefix, subscriptions: config.subscriptions, policy: config, metrics });
      const app = await buildApi({ config, producer, subscriptions: config.subscriptions, metrics, logger, queues, redis: producerRedis, memoryGate: supervision.memoryGate });
      try {
        url = await app.listen({ port: config.port, host: config.host });
      } catch (err) {
        await app.close();
        throw portError(err, config.port, config.host, 'PORT');
      }
      closeServer = () => app.close();
    } else {
      const server = await serveWorkerEndpoints(metrics, producerRedis, config, logger);
      const { port } = server.address() as AddressInfo;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      closeServer = () => new Promise((resolve) => server.close(() => resolve()));
    }
  } catch (err) {
    supervision.stop();
    await closeQueues(queues).catch(() => undefined);
    producerRedis.disconnect();
    workerRedis?.disconnect();
    throw err;
  }
  pool?.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    producer,
    pool,
    queues,
    redis: producerRedis,
    metrics,
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

// A worker-only process still serves its own /metrics and /health: on METRICS_PORT when set, else on
// PORT, or, when PORT is taken (the API on the same host, another worker), on a free port it logs.
async function serveWorkerEndpoints(metrics: Metrics, redis: RedisConnection, config: ServiceConfig, logger: pino.Logger): Promise<http.Server> {
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
  if (config.metricsPort !== undefined) {
    try {
      await listen(server, config.metricsPort, config.host);
    } catch (err) {
      throw portError(err, config.metricsPort, config.host, 'METRICS_PORT');
    }
    return server;
  }
  try {
    await listen(server, config.port, config.host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw portError(err, config.port, config.host, 'PORT');
    await listen(server, 0, config.host);
    const { port } = server.address() as AddressInfo;
    logger.warn(
      { port, taken: config.port },
      `port ${config.port} is taken (the API or another worker on this host?): this worker serves /metrics and /health on port ${port}; set METRICS_PORT to choose one`,
    );
  }
  return server;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A listen failure in words that say what to change. */
function portError(err: unknown, port: number, host: string, variable: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`Port ${port} on ${host} is already in use: stop what listens there, or set ${variable} to a free port.`);
  if (code === 'EACCES') return new Error(`Port ${port} on ${host} needs privileges this process does not have: set ${variable} to a port above 1023.`);
  if (code === 'EADDRNOTAVAIL') return new Error(`HOST=${host} is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0).`);
  return err instanceof Error ? err : new Error(String(err));
}
