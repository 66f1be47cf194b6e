// Segment's HTTP tracking API (/v1/track … /v1/batch), plus /health, /metrics and the dashboard.
//
// A request is all or nothing: every event in it is checked before anything is queued, and 200 is sent
// only once its jobs are in Redis. A client therefore never has to guess which half of a batch landed:
// 400 means fix and resend, 401 means the write key is wrong, 503 means retry the same request later
// (the job ids come from messageId, so a retried event is not queued twice).
//
// The event routes read their own bodies (JSON whatever the content type, gzip or deflate, at most
// MAX_REQUEST_BYTES once decoded) so that every refusal is a 400 naming the problem, never fastify's 413.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, inflate, inflateRaw } from 'node:zlib';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type pino from 'pino';
import { DEFAULTS, type ServiceConfig } from '../config';
import type { Metrics } from '../metrics';
import type { Queues, RedisConnection } from '../queues';
import { traceMessage } from '../jobs/trace';
import type { Subscription } from '../subscriptions';
import { EVENT_TYPES, MAX_REQUEST_BYTES, prepareEvents, type Refused } from './prepare';
import { QueueUnavailableError, type Producer } from './publish';

export interface ApiOptions {
  config: Pick<ServiceConfig, 'writeKeys' | 'dashboard'> &
    Partial<Pick<ServiceConfig, 'corsOrigins' | 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs' | 'queuePrefix' | 'completedRetentionSeconds'>>;
  producer: Producer;
  subscriptions: readonly Subscription[];
  metrics: Metrics;
  logger: pino.Logger;
  queues: Queues;
  /** The producer's connection: /health pings it, and the event routes answer 503 at once while it is down. */
  redis: RedisConnection;
  clock?: () => number;
  /** How long an event request waits for Redis to take its jobs before answering 503. Default 10000. */
  enqueueTimeoutMs?: number;
  /** How long /health waits for PING. Default 1000. */
  healthTimeoutMs?: number;
  /** Why Redis cannot take events now though it answers (nearly full: redis-health/memory-gate), from its
   * last background reading; while it says so, events get 503 and /health reports it. */
  memoryGate?: { problem(): string | undefined };
}

export const DASHBOARD_PATH = '/admin/queues';
/** GET /admin/trace/<messageId>: the trace of one event, as JSON (jobs/trace.ts). */
export const TRACE_PATH = '/admin/trace';
/** Deeper JSON is refused before parsing: later code (size checks, triggers, mappings) recurses. */
export const MAX_JSON_DEPTH = 64;
/** A body over the limit is still read (and thrown away) up to this size, so the answer can say how big it
 * was and the client reads a 400 rather than a reset connection. Past it the connection is closed. */
const MAX_DRAINED_BYTES = 4 * MAX_REQUEST_BYTES;
/** A refused batch lists at most this many per-event errors. */
const MAX_LISTED_ERRORS = 100;
const RETRY_AFTER_SECONDS = 5;
/** While Redis is down every request would log the same warning; once per this interval is enough. */
const UNAVAILABLE_LOG_INTERVAL_MS = 10_000;

type BoardServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];
type EventType = (typeof EVENT_TYPES)[number];
type Body = Record<string, unknown>;

/** A refusal with its HTTP status; its message is sent to the client as `{"error": message}`. */
class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
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
      return reply.code(status).send({ error: 'internal error while handling the request; the service log has the details' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const given = JSON.stringify(request.headers['content-type'] ?? '');
      return reply.code(400).send(badRequest(`Content-Type ${given} is not a valid media type; send application/json`));
    }
    // Over the limit is a 400 like every other refusal of the body, never fastify's 413.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return reply.code(400).send(badRequest(`request body is over ${MAX_REQUEST_BYTES} bytes; at most ${MAX_REQUEST_BYTES}`));
    }
    if (status === 400) return reply.code(400).send(badRequest(err.message));
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const hint = path.startsWith('/v1/') ? `; events go to POST /v1/{${[...EVENT_TYPES, 'batch', 'import'].join(',')}}` : '';
    return reply.code(404).send({ error: `no route ${request.method} ${path}${hint}` });
  });

  app.get('/health', async (_request, reply) => {
    const problem = (await redisProblem(opts.redis, opts.healthTimeoutMs ?? 1000)) ?? opts.memoryGate?.problem();
    if (problem) return reply.code(503).send({ status: 'unavailable', ingestion: 'refused', error: problem });
    return { status: 'ok' };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(text);
  });

  await app.register(async (scope) => eventRoutes(scope, opts, log));
  await app.register(async (scope) => dashboard(scope, opts));
  return app;
}

/**
 * Fastify waits forever for a request by default: a client that sends its headers or body slowly, or
 * never finishes, would hold a connection (and its memory) for good. Node checks the deadlines every
 * connectionsCheckingInterval, so that is kept well under them.
 */
function serverTimeouts(config: ApiOptions['config']) {
  const requestTimeout = config.httpRequestTimeoutMs ?? DEFAULTS.httpRequestTimeoutMs;
  const headersTimeout = Math.min(config.httpHeadersTimeoutMs ?? DEFAULTS.httpHeadersTimeoutMs, requestTimeout);
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4)));
  return { requestTimeout, http: { requestTimeout, headersTimeout, connectionsCheckingInterval } };
}

// ---------------------------------------------------------------------------------------------------
// The tracking API

async function eventRoutes(api: FastifyInstance, opts: ApiOptions, log: pino.Logger): Promise<void> {
  const writeKeys = keyChecker(opts.config.writeKeys);
  const parseJson = api.getDefaultJsonParser('remove', 'remove');
  const clock = opts.clock ?? Date.now;
  const enqueueTimeoutMs = opts.enqueueTimeoutMs ?? 10_000;
  let lastUnavailableLog = 0;

  // Every content type is read as JSON: SDKs send application/json, sendBeacon sends text/plain, and a
  // few clients send nothing or something odd. Whatever is not JSON gets a 400 that says so.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const text = await readBody(payload, request.headers);
    return parseBody(text, parseJson, request);
  });

  // Browsers (analytics.js) post from the site's own origin. The answer carries the CORS header, refusals
  // too, so the page can read it; without it the SDK would take every event as failed and send it again.
  // Like Segment's API, any origin is allowed by default: the write key decides, not the origin.
  const cors = corsPolicy(opts.config.corsOrigins ?? ['*']);
  api.addHook('onRequest', async (request, reply) => {
    const allowed = cors(request.headers.origin);
    if (allowed) reply.header('access-control-allow-origin', allowed).header('vary', 'Origin');
  });
  api.options('/v1/*', async (request, reply) => {
    if (!cors(request.headers.origin)) return reply.code(403).send({ error: 'this origin may not post events here (CORS_ORIGINS)' });
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'content-type, authorization')
      .header('access-control-max-age', '86400')
      .send();
  });

  // Refusals at debug level: enough to tell why a client's events are missing, never headers or bodies.
  api.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 400) log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode }, 'request refused');
  });

  // A Basic-auth key that is wrong is refused before its body is read.
  api.addHook('onRequest', async (request, reply) => {
    if (!writeKeys.required) return;
    const key = basicAuthUser(request.headers.authorization);
    if (key !== undefined && !writeKeys.known(key)) return reply.code(401).send({ error: 'unknown write key' });
  });

  const accept = async (request: FastifyRequest, reply: FastifyReply, events: unknown[]) => {
    const { prepared, refused } = prepareEvents(events, opts.subscriptions, clock());
    if (refused.length > 0) return reply.code(400).send(refusal(refused, events.length));
    const jobs = prepared.reduce((n, p) => n + p.fired.length, 0);
    try {
      // A connection that never came up leaves BullMQ waiting for it; answer now instead.
      if (jobs > 0 && opts.redis.status !== 'ready') {
        throw new QueueUnavailableError(`Redis is not reachable (connection ${opts.redis.status})`);
      }
      const full = jobs > 0 ? opts.memoryGate?.problem() : undefined;
      if (full) throw new QueueUnavailableError(full);
      await withTimeout(opts.producer.enqueue(prepared, 'http'), enqueueTimeoutMs, () => {
        return new QueueUnavailableError(`Redis did not take the events within ${enqueueTimeoutMs} ms`);
      });
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      const now = Date.now();
      if (now - lastUnavailableLog >= UNAVAILABLE_LOG_INTERVAL_MS) {
        lastUnavailableLog = now;
        log.warn({ reason: err.message, url: request.url }, 'events refused with 503: Redis is unavailable');
      }
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send({ error: `${err.message}; nothing was queued, retry the request` });
    }
    return { success: true };
  };

  for (const type of EVENT_TYPES) {
    const one = async (request: FastifyRequest, reply: FastifyReply) => {
      const body = authorizedBody(request, writeKeys);
      return accept(request, reply, [withPathType(body, type)]);
    };
    api.post(`/v1/${type}`, one);
    // analytics.js (the browser SDK) posts to the one-letter forms: /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a
    api.post(`/v1/${type[0]}`, one);
  }
  const batch = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = authorizedBody(request, writeKeys);
    return accept(request, reply, batchEvents(body));
  };
  api.post('/v1/batch', batch);
  api.post('/v1/import', batch); // Segment's older name for the same endpoint
  api.post('/v1/b', batch); // analytics.js with batching on
}

/** The Access-Control-Allow-Origin value for a request's Origin, or undefined (no header). */
function corsPolicy(origins: string[]): (origin: string | undefined) => string | undefined {
  const any = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  return (origin) => {
    if (origin === undefined) return undefined;
    if (any) return '*';
    return allowed.has(origin.toLowerCase()) ? origin : undefined;
  };
}

/** The body as an object without its `writeKey`, once the request's key checks out. */
function authorizedBody(request: FastifyRequest, writeKeys: KeyChecker): Body {
  const body = request.body;
  if (writeKeys.required) {
    const inBody = isObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined;
    const key = basicAuthUser(request.headers.authorization) ?? inBody;
    if (key === undefined || key === '') {
      throw new ApiError(401, 'missing write key: send it as the Basic-auth user name (empty password) or as "writeKey" in the body');
    }
    if (!writeKeys.known(key)) throw new ApiError(401, 'unknown write key');
  }
  if (body === undefined || body === null) throw new ApiError(400, 'request body is empty; expected a JSON object');
  if (!isObject(body)) {
    throw new ApiError(400, `request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  // The key never travels further: not into Redis, the dashboard or the log.
  const { writeKey: _key, ...rest } = body;
  return rest;
}

function withPathType(event: Body, type: EventType): Body {
  const own = event.type;
  if (own === undefined || own === null || own === '') return { ...event, type };
  if (own !== type) {
    throw new ApiError(400, `the event's type ${JSON.stringify(own)} does not match the endpoint /v1/${type} (type "${type}")`);
  }
  return event;
}

/** The events of a /v1/batch body, each with the batch's context, integrations and sentAt under its own. */
function batchEvents(body: Body): unknown[] {
  const { batch } = body;
  if (batch === undefined) throw new ApiError(400, 'request body has no "batch": expected {"batch": [event, …]}');
  if (!Array.isArray(batch)) throw new ApiError(400, `"batch" must be an array of events, got ${typeof batch}`);
  const shared = { context: body.context, integrations: body.integrations };
  return batch.map((raw) => {
    if (!isObject(raw)) return raw; // refused with its index by prepareEvents
    const { writeKey: _dropped, ...event } = raw;
    for (const key of ['context', 'integrations'] as const) {
      const outer = shared[key];
      if (!isObject(outer)) continue;
      const own = event[key];
      if (own === undefined || own === null) event[key] = outer;
      else if (isObject(own)) event[key] = { ...outer, ...own };
    }
    // analytics-node puts sentAt on the batch; the clock-skew correction needs it on each event.
    if (event.sentAt === undefined && body.sentAt !== undefined) event.sentAt = body.sentAt;
    return event;
  });
}

/** Every 400 has this shape: `index` names the event at fault, null when the whole request is. */
interface BadRequest {
  error: string;
  errors: Array<{ index: number | null; error: string }>;
}

/** A refusal of the whole request (its body, its envelope), in the shape of every 400. */
function badRequest(message: string): BadRequest {
  return { error: message, errors: [{ index: null, error: message }] };
}

function refusal(refused: Refused[], total: number): BadRequest {
  const first = refused[0].error;
  const error =
    total === 1
      ? `${first}; nothing was queued`
      : `${refused.length} of ${total} events refused (first: ${first}); nothing was queued, the whole request must be sent again` +
        (refused.length > MAX_LISTED_ERRORS ? `; errors lists the first ${MAX_LISTED_ERRORS}` : '');
  return { error, errors: refused.slice(0, MAX_LISTED_ERRORS).map(({ index, error }) => ({ index, error })) };
}

// ---------------------------------------------------------------------------------------------------
// Reading the body

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

/** The body as text: read, decompressed, and at most MAX_REQUEST_BYTES; throws ApiError(400) otherwise. */
async function readBody(payload: Readable, headers: FastifyRequest['headers']): Promise<string> {
  const encoding = String(headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const compressed = encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate';
  if (!compressed && encoding !== 'identity' && encoding !== '') {
    throw new ApiError(400, `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or none`);
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_DRAINED_BYTES) throw tooLarge(declared, compressed);

  const raw = await readStream(payload, compressed ? MAX_DRAINED_BYTES : MAX_REQUEST_BYTES);
  if (raw.bytes > MAX_REQUEST_BYTES && !compressed) throw tooLarge(raw.complete ? raw.bytes : undefined, false);
  if (!raw.complete) throw tooLarge(undefined, compressed);
  if (!compressed) return raw.body.toString('utf8');

  const limit = { maxOutputLength: MAX_DRAINED_BYTES };
  let decoded: Buffer;
  try {
    if (encoding === 'deflate') {
      // "deflate" should be zlib-wrapped, but some clients send raw deflate; the header tells them apart.
      const zlibWrapped = raw.body.length >= 2 && (raw.body[0] & 0x0f) === 8 && raw.body.readUInt16BE(0) % 31 === 0;
      decoded = await (zlibWrapped ? inflateAsync(raw.body, limit) : inflateRawAsync(raw.body, limit));
    } else {
      decoded = await gunzipAsync(raw.body, limit);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(undefined, true);
    throw new ApiError(400, `request body is not valid ${encoding} data (${(err as Error).message})`);
  }
  if (decoded.length > MAX_REQUEST_BYTES) throw tooLarge(decoded.length, true);
  return decoded.toString('utf8');
}

function tooLarge(bytes: number | undefined, decoded: boolean): ApiError {
  const size = bytes === undefined ? `over ${MAX_DRAINED_BYTES}` : String(bytes);
  return new ApiError(400, `request body is ${size} bytes${decoded ? ' once decompressed' : ''}; at most ${MAX_REQUEST_BYTES}`);
}

/** Reads the stream, keeping at most `keep` bytes and counting up to MAX_DRAINED_BYTES; `complete` is
 * false when it stopped there. */
function readStream(stream: Readable, keep: number): Promise<{ body: Buffer; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (complete: boolean) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (!complete) stream.pause();
      resolve({ body: Buffer.concat(chunks), bytes, complete });
    };
    const onData = (chunk: Buffer) => {
      if (bytes + chunk.length <= keep) chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > MAX_DRAINED_BYTES) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (err: Error) => reject(new ApiError(400, `request body could not be read (${err.message})`));
    const onAborted = () => reject(new ApiError(400, 'request body was cut off: the client closed the connection'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}

function parseBody(
  text: string,
  parseJson: ReturnType<FastifyInstance['getDefaultJsonParser']>,
  request: FastifyRequest,
): unknown {
  if (text.trim() === '') throw new ApiError(400, 'request body is empty; expected a JSON object');
  const depth = jsonDepthOver(text, MAX_JSON_DEPTH);
  if (depth) throw new ApiError(400, `request body nests more than ${MAX_JSON_DEPTH} levels deep; refused`);
  let parsed: unknown;
  let failed = false;
  // Fastify's parser (secure-json-parse) drops __proto__ and constructor.prototype keys; its error says
  // nothing of where the JSON breaks, so JSON.parse is asked for that.
  parseJson(request, text, (err, body) => {
    failed = err !== null && err !== undefined;
    parsed = body;
  });
  if (failed) {
    let reason = 'invalid JSON';
    try {
      JSON.parse(text);
    } catch (err) {
      reason = (err as Error).message;
    }
    throw new ApiError(400, `request body is not valid JSON: ${reason}`);
  }
  return parsed;
}

/** True when the JSON text opens more than `max` objects/arrays inside one another. Strings are skipped. */
function jsonDepthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Keys and credentials

interface KeyChecker {
  required: boolean;
  known(key: string): boolean;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares digests, so neither the time taken nor a length difference says how close a guess was. */
function keyChecker(keys: readonly string[]): KeyChecker {
  const digests = keys.map(sha256);
  return {
    required: digests.length > 0,
    known: (key) => {
      const d = sha256(key);
      return digests.some((k) => timingSafeEqual(k, d));
    },
  };
}

/** The decoded "user:password" of a Basic Authorization header, or undefined. */
function basicCredentials(header: string | undefined): string | undefined {
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? Buffer.from(match[1], 'base64').toString('utf8') : undefined;
}

/** Segment's SDKs send the write key as the Basic-auth user name with an empty password. */
function basicAuthUser(header: string | undefined): string | undefined {
  const credentials = basicCredentials(header);
  if (credentials === undefined) return undefined;
  const colon = credentials.indexOf(':');
  return colon < 0 ? credentials : credentials.slice(0, colon);
}

// ---------------------------------------------------------------------------------------------------
// Dashboard

async function dashboard(scope: FastifyInstance, opts: ApiOptions): Promise<void> {
  const { user, password, readOnly } = opts.config.dashboard;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: Object.values(opts.queues).map((q) => new BullMQAdapter(q as unknown as Queue, { readOnlyMode: readOnly })),
    // @bull-board/fastify pins its own copy of @bull-board/api, one patch release apart from ours: the
    // same interface, but TypeScript sees two classes. The runtime contract is the same.
    serverAdapter: serverAdapter as unknown as BoardServerAdapter,
    options: { uiConfig: { boardTitle: 'cio-relay' } },
  });
  if (user && password) {
    const expected = sha256(`${user}:${password}`);
    scope.addHook('onRequest', async (request, reply) => {
      const given = basicCredentials(request.headers.authorization);
      if (given !== undefined && timingSafeEqual(sha256(given), expected)) return;
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="cio-relay dashboard", charset="UTF-8"')
        .send({ error: given === undefined ? 'the dashboard needs a user name and password' : 'wrong dashboard user name or password' });
    });
  }
  await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  // `cio-relay trace` over HTTP, behind the dashboard's credentials: where one event is now.
  scope.get<{ Params: { messageId: string } }>(`${TRACE_PATH}/:messageId`, async (request) =>
    traceMessage(
      opts.queues,
      opts.redis,
      {
        queuePrefix: opts.config.queuePrefix ?? DEFAULTS.queuePrefix,
        subscriptions: opts.subscriptions,
        windowSeconds: opts.config.completedRetentionSeconds ?? DEFAULTS.completedRetentionSeconds,
      },
      request.params.messageId,
    ),
  );
}

// ---------------------------------------------------------------------------------------------------
// Helpers

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

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
