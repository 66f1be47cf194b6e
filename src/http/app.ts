// The HTTP API as one fastify app: the tracking routes (ingest.ts), /health and /metrics (ops.ts), the
// dashboard (dashboard.ts), and how every refusal is answered.
//
// The event routes read their own bodies (body.ts: JSON whatever the content type, gzip or deflate, at most
// MAX_REQUEST_BYTES once decoded) so that every refusal is a 400 naming the problem, never fastify's 413.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type pino from 'pino';
import { DEFAULTS, type HttpConfig, type JobsConfig, type RedisConfig } from '../config';
import type { Metrics } from '../counts/metrics';
import type { Subscription } from '../core/subscriptions';
import { MAX_REQUEST_BYTES } from '../core/limits';
import { EVENT_TYPES } from '../producer/prepare';
import type { Producer } from '../producer/publish';
import type { RedisConnection } from '../redis/connection';
import type { Queues } from '../jobs/queues';
import { dashboard } from './dashboard';
import { badRequest, refusal } from './errors';
import { eventRoutes } from './ingest';
import { registerOpsRoutes } from './ops';

export { DASHBOARD_PATH, TRACE_PATH } from './dashboard';

/** The HTTP settings the API needs, and where the dashboard's trace looks (QUEUE_PREFIX) and how far back. */
export type ApiConfig = Pick<HttpConfig, 'writeKeys' | 'dashboard'> &
  Partial<Pick<HttpConfig, 'corsOrigins' | 'requestTimeoutMs' | 'headersTimeoutMs'>> &
  Partial<Pick<RedisConfig, 'queuePrefix'> & Pick<JobsConfig, 'completedRetentionSeconds'>>;

export interface ApiOptions {
  config: ApiConfig;
  producer: Producer;
  subscriptions: readonly Subscription[];
  metrics: Metrics;
  logger: pino.Logger;
  queues: Queues;
  /** The producer's connection: /health pings it, and the event routes answer 503 at once while it is down. */
  redis: RedisConnection;
  clock?: () => number;
  /** How long an event request waits for Redis to take its jobs before answering 503. Default DEFAULTS.http.enqueueTimeoutMs. */
  enqueueTimeoutMs?: number;
  /** How long /health waits for PING. Default DEFAULTS.http.healthTimeoutMs. */
  healthTimeoutMs?: number;
  /** Why Redis cannot take events now though it answers (nearly full: redis/health/memory-gate.ts), from its
   * last background reading; while it says so, events get 503 and /health reports it. */
  memoryGate?: { problem(): string | undefined };
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const log = opts.logger.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Two info lines per request would drown the log at ingestion rates; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_REQUEST_BYTES,
    ...serverTimeouts(opts.config),
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      log.error({ err, method: request.method, url: request.url }, 'request failed');
      return reply.code(status).send(refusal('CIO_ERR_INTERNAL', 'internal error while handling the request; the service log has the details'));
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const given = JSON.stringify(request.headers['content-type'] ?? '');
      return reply.code(400).send(badRequest('CIO_ERR_CONTENT_TYPE', `Content-Type ${given} is not a valid media type; send application/json`));
    }
    // Over the limit is a 400 like every other refusal of the body, never fastify's 413.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return reply.code(400).send(badRequest('CIO_ERR_BODY_TOO_LARGE', `request body is over ${MAX_REQUEST_BYTES} bytes; at most ${MAX_REQUEST_BYTES}`));
    }
    // Our refusals carry their own code; errors fastify raises keep fastify's (FST_ERR_…).
    const code = err.code || (status === 404 ? 'CIO_ERR_NOT_FOUND' : `HTTP_${status}`);
    if (status === 400) return reply.code(400).send(badRequest(code, err.message));
    return reply.code(status).send(refusal(code, err.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const hint = path.startsWith('/v1/') ? `; events go to POST /v1/{${[...EVENT_TYPES, 'batch', 'import'].join(',')}}` : '';
    return reply.code(404).send(refusal('CIO_ERR_NOT_FOUND', `no route ${request.method} ${path}${hint}`));
  });

  registerOpsRoutes(app, { metrics: opts.metrics, redis: opts.redis, healthTimeoutMs: opts.healthTimeoutMs, ingests: true, memoryGate: opts.memoryGate });
  await app.register(async (scope) => eventRoutes(scope, { ...opts, writeKeys: opts.config.writeKeys, corsOrigins: opts.config.corsOrigins }, log));
  await app.register(async (scope) =>
    dashboard(scope, {
      credentials: opts.config.dashboard,
      queues: opts.queues,
      redis: opts.redis,
      subscriptions: opts.subscriptions,
      queuePrefix: opts.config.queuePrefix ?? DEFAULTS.redis.queuePrefix,
      windowSeconds: opts.config.completedRetentionSeconds ?? DEFAULTS.jobs.completedRetentionSeconds,
    }),
  );
  return app;
}

/**
 * Fastify waits forever for a request by default: a client that sends its headers or body slowly, or
 * never finishes, would hold a connection (and its memory) for good. Node checks the deadlines every
 * connectionsCheckingInterval, so that is kept well under them.
 */
function serverTimeouts(config: ApiConfig) {
  const requestTimeout = config.requestTimeoutMs ?? DEFAULTS.http.requestTimeoutMs;
  const headersTimeout = Math.min(config.headersTimeoutMs ?? DEFAULTS.http.headersTimeoutMs, requestTimeout);
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4)));
  return { requestTimeout, http: { requestTimeout, headersTimeout, connectionsCheckingInterval } };
}
