// The envelope of an event request: the write key, the body as an object, the event type of a
// one-event route, and the events of a batch with the batch's shared fields.

import type { FastifyRequest } from 'fastify';
import { EVENT_TYPES } from '../producer/prepare';
import type { KeyChecker } from './auth';
import { basicAuthUser } from './auth';
import { ApiError } from './errors';

export type EventType = (typeof EVENT_TYPES)[number];
type Body = Record<string, unknown>;

/** The body as an object without its `writeKey`, once the request's key checks out. */
export function authorizedBody(request: FastifyRequest, writeKeys: KeyChecker): Body {
  const body = request.body;
  if (writeKeys.required) {
    const inBody = isObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined;
    const key = basicAuthUser(request.headers.authorization) ?? inBody;
    if (key === undefined || key === '') {
      throw new ApiError('CIO_ERR_WRITE_KEY_MISSING', 'missing write key: send it as the Basic-auth user name (empty password) or as "writeKey" in the body');
    }
    if (!writeKeys.known(key)) throw new ApiError('CIO_ERR_WRITE_KEY_UNKNOWN', 'unknown write key');
  }
  if (body === undefined || body === null) throw new ApiError('CIO_ERR_BODY_EMPTY', 'request body is empty; expected a JSON object');
  if (!isObject(body)) {
    throw new ApiError('CIO_ERR_BODY_NOT_OBJECT', `request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  // The key never travels further: not into Redis, the dashboard or the log.
  const { writeKey: _key, ...rest } = body;
  return rest;
}

export function withPathType(event: Body, type: EventType): Body {
  const own = event.type;
  if (own === undefined || own === null || own === '') return { ...event, type };
  if (own !== type) {
    throw new ApiError('CIO_ERR_TYPE_MISMATCH', `the event's type ${JSON.stringify(own)} does not match the endpoint /v1/${type} (type "${type}")`);
  }
  return event;
}

/** The events of a /v1/batch body, each with the batch's context, integrations and sentAt under its own. */
export function batchEvents(body: Body): unknown[] {
  const { batch } = body;
  if (batch === undefined) throw new ApiError('CIO_ERR_BATCH_INVALID', 'request body has no "batch": expected {"batch": [event, …]}');
  if (!Array.isArray(batch)) throw new ApiError('CIO_ERR_BATCH_INVALID', `"batch" must be an array of events, got ${typeof batch}`);
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

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
