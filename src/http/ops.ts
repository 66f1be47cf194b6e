// The operators' endpoints, GET /health and GET /metrics: the same answers from the API (a fastify app)
// and from a worker-only process (a bare node:http server, so a worker loads no web framework).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type pino from 'pino';
import { DEFAULTS } from '../config/defaults';
import type { Metrics } from '../counts/metrics';
import type { RedisConnection } from '../redis/connection';
import { refusal } from './errors';
import { withTimeout } from '../util/timeout';

export interface OpsOptions {
  metrics: Metrics;
  /** The connection /health pings. */
  redis: RedisConnection;
  /** How long /health waits for PING. Default DEFAULTS.http.healthTimeoutMs. */
  healthTimeoutMs?: number;
  /** The process takes events (the API): its 503 says that ingestion is refused. */
  ingests: boolean;
  /** Why Redis cannot take events now though it answers (nearly full: redis/health/memory-gate). */
  memoryGate?: { problem(): string | undefined };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** 200 `{status: ok}` once Redis answers PING and has room; else 503 and why. */
export async function healthAnswer(opts: OpsOptions): Promise<Answer> {
  const timeoutMs = opts.healthTimeoutMs ?? DEFAULTS.http.healthTimeoutMs;
  const problem = (await redisProblem(opts.redis, timeoutMs)) ?? opts.memoryGate?.problem();
  if (!problem) return json(200, { status: 'ok' });
  const refusing = opts.ingests ? { ingestion: 'refused' } : {};
  return json(503, { status: 'unavailable', ...refusing, error: problem });
}

export async function metricsAnswer(metrics: Metrics): Promise<Answer> {
  return { status: 200, contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/** The two routes on a fastify app (the API). */
export function registerOpsRoutes(app: FastifyInstance, opts: OpsOptions): void {
  const send = async (answer: Promise<Answer>, reply: FastifyReply) => {
    const { status, contentType, body } = await answer;
    return reply.code(status).type(contentType).send(body);
  };
  app.get('/health', async (_request, reply) => send(healthAnswer(opts), reply));
  app.get('/metrics', async (_request, reply) => send(metricsAnswer(opts.metrics), reply));
}

export interface WorkerEndpointsOptions {
  ops: OpsOptions;
  host: string;
  port: number;
  /** METRICS_PORT, when set. */
  metricsPort?: number;
  logger: pino.Logger;
}

/**
 * A worker-only process still serves its own /metrics and /health: on METRICS_PORT when set, else on
 * PORT, or, when PORT is taken (the API on the same host, another worker), on a free port it logs.
 */
export async function serveWorkerEndpoints(opts: WorkerEndpointsOptions): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    try {
      const answer =
        req.method === 'GET' && req.url === '/metrics'
          ? await metricsAnswer(opts.ops.metrics)
          : req.method === 'GET' && req.url === '/health'
            ? await healthAnswer(opts.ops)
            : json(404, refusal('CIO_ERR_NOT_FOUND', 'not found: a worker serves GET /metrics and GET /health'));
      res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(refusal('CIO_ERR_INTERNAL', (err as Error).message)));
    }
  });
  const { host, port, metricsPort, logger } = opts;
  if (metricsPort !== undefined) {
    try {
      await listen(server, metricsPort, host);
    } catch (err) {
      throw portError(err, metricsPort, host, 'METRICS_PORT');
    }
    return server;
  }
  try {
    await listen(server, port, host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw portError(err, port, host, 'PORT');
    await listen(server, 0, host);
    const { port: chosen } = server.address() as AddressInfo;
    logger.warn(
      { port: chosen, taken: port },
      `port ${port} is taken (the API or another worker on this host?): this worker serves /metrics and /health on port ${chosen}; set METRICS_PORT to choose one`,
    );
  }
  return server;
}

/** A listen failure in words that say what to change. */
export function portError(err: unknown, port: number, host: string, variable: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`Port ${port} on ${host} is already in use: stop what listens there, or set ${variable} to a free port.`);
  if (code === 'EACCES') return new Error(`Port ${port} on ${host} needs privileges this process does not have: set ${variable} to a port above 1023.`);
  if (code === 'EADDRNOTAVAIL') return new Error(`HOST=${host} is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0).`);
  return err instanceof Error ? err : new Error(String(err));
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

/** Why Redis cannot be used right now, or undefined once it answers PING. */
async function redisProblem(redis: RedisConnection, timeoutMs: number): Promise<string | undefined> {
  if (redis.status !== 'ready') return `Redis is not reachable (connection ${redis.status})`;
  try {
    await withTimeout(redis.ping(), timeoutMs, () => new Error(`no answer to PING within ${timeoutMs} ms`));
    return undefined;
  } catch (err) {
    return `Redis is not reachable (${(err as Error).message})`;
  }
}

function json(status: number, body: unknown): Answer {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) };
}
