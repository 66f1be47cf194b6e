// The tracking API: POST /v1/{identify,track,page,screen,group,alias,batch,import} and analytics.js's
// one-letter forms. A request is all or nothing: every event in it is checked before anything is queued,
// and 200 is sent only once its jobs are in Redis. 400 means fix and resend, 401 means the write key is
// wrong, 503 means retry the same request later: CIO_ERR_UNAVAILABLE when nothing of it is in Redis,
// CIO_ERR_UNCONFIRMED when Redis did not confirm a write that may still land (the message index queues a
// re-sent event once, so the retry is safe either way).

import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';
import { DEFAULTS } from '../config/defaults';
import type { Subscription } from '../core/subscriptions';
import { EVENT_TYPES, type Refused } from '../producer/prepare';
import { QueueUnavailableError, type Producer } from '../producer/publish';
import type { RedisConnection } from '../redis/connection';
import { basicAuthUser, keyChecker } from './auth';
import { parseBody, readBody } from './body';
import { registerCors } from './cors';
import { authorizedBody, batchEvents, withPathType } from './envelope';
import { refusal, type BadRequest } from './errors';
import { throttledErrorLog } from '../log/throttle';
import { withTimeout } from '../util/timeout';

/** A refused batch lists at most this many per-event errors. */
const MAX_LISTED_ERRORS = 100;
const RETRY_AFTER_SECONDS = 5;

export interface IngestOptions {
  writeKeys: readonly string[];
  /** Origins whose pages may post events from a browser; default any. */
  corsOrigins?: string[];
  producer: Producer;
  subscriptions: readonly Subscription[];
  /** The producer's connection: the event routes answer 503 at once while it is down. */
  redis: RedisConnection;
  clock?: () => number;
  /** How long an event request waits for Redis to take its jobs before answering 503. Default DEFAULTS.http.enqueueTimeoutMs. */
  enqueueTimeoutMs?: number;
  /** Why Redis cannot take events now though it answers (nearly full). */
  memoryGate?: { problem(): string | undefined };
}

export async function eventRoutes(api: FastifyInstance, opts: IngestOptions, log: pino.Logger): Promise<void> {
  const writeKeys = keyChecker(opts.writeKeys);
  const parseJson = api.getDefaultJsonParser('remove', 'remove');
  const enqueueTimeoutMs = opts.enqueueTimeoutMs ?? DEFAULTS.http.enqueueTimeoutMs;
  // While Redis is down every request would log the same warning: the log throttle sums them up.
  const logUnavailable = throttledErrorLog({ logger: log, source: 'event intake', next: 'events are refused with 503 (nothing queued, or, for a write Redis did not confirm, perhaps queued: a re-send is queued once); clients retry', level: 'warn' });

  // Every content type is read as JSON: SDKs send application/json, sendBeacon sends text/plain, and a
  // few clients send nothing or something odd. Whatever is not JSON gets a 400 that says so.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const text = await readBody(payload, request.headers);
    return parseBody(text, parseJson, request);
  });

  registerCors(api, opts.corsOrigins ?? [...DEFAULTS.http.corsOrigins]);

  // Refusals at debug level: enough to tell why a client's events are missing, never headers or bodies.
  api.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 400) log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode }, 'request refused');
  });

  // A Basic-auth key that is wrong is refused before its body is read.
  api.addHook('onRequest', async (request, reply) => {
    if (!writeKeys.required) return;
    const key = basicAuthUser(request.headers.authorization);
    if (key !== undefined && !writeKeys.known(key)) return reply.code(401).send(refusal('CIO_ERR_WRITE_KEY_UNKNOWN', 'unknown write key'));
  });

  const clock = opts.clock ?? Date.now;
  const gate = opts.memoryGate ? () => opts.memoryGate!.problem() : undefined;
  const accept = async (request: FastifyRequest, reply: FastifyReply, events: unknown[]) => {
    try {
      // Past the timeout the write goes on and may still land: the answer says so (CIO_ERR_UNCONFIRMED).
      const accepted = await withTimeout(opts.producer.accept(events, 'http', { gate, now: clock() }), enqueueTimeoutMs, () => {
        return new QueueUnavailableError(`Redis did not confirm the events within ${enqueueTimeoutMs} ms`, true);
      });
      if (accepted.refused.length > 0) return reply.code(400).send(eventsRefused(accepted.refused, events.length));
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      logUnavailable(err, { url: request.url, unconfirmed: err.unconfirmed });
      reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
      if (err.unconfirmed) {
        return reply.send(
          refusal(
            'CIO_ERR_UNCONFIRMED',
            `${err.message}; the events may have been queued: send the same request again (same messageIds), and each event is queued once`,
          ),
        );
      }
      return reply.send(refusal('CIO_ERR_UNAVAILABLE', `${err.message}; nothing was queued, retry the request`));
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

function eventsRefused(refused: Refused[], total: number): BadRequest {
  const first = refused[0].error;
  const error =
    total === 1
      ? `${first}; nothing was queued`
      : `${refused.length} of ${total} events refused (first: ${first}); nothing was queued, the whole request must be sent again` +
        (refused.length > MAX_LISTED_ERRORS ? `; errors lists the first ${MAX_LISTED_ERRORS}` : '');
  return { error, code: 'CIO_ERR_EVENTS_REFUSED', errors: refused.slice(0, MAX_LISTED_ERRORS).map(({ index, error }) => ({ index, error })) };
}
