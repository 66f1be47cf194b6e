// The shared step of every entity action: turn an action's payload into one Track API v2 operation.
// Follows the reference's buildPayload, except that timestamps are converted only inside `attributes`
// (deviation D2: names, ids and tokens are sent exactly as given).

import { resolveIdentifiers } from './identifiers';
import type { BuildResult } from './types';
import { convertAttributeTimestamps, isPlainObject, sendableTimestamp } from './timestamps';

export interface EntityOperation {
  type: 'person' | 'object';
  action: string;
  payload: Record<string, unknown>;
}

/** Whether the payload asks for ISO strings in attributes to become epoch seconds. */
export function convertsTimestamps(payload: Record<string, unknown>): boolean {
  return 'convert_timestamp' in payload && payload.convert_timestamp !== false;
}

/** What steers an operation without being sent as it is. */
export interface Steering {
  convert: boolean;
  person_id?: unknown;
  anonymous_id?: unknown;
  email?: unknown;
  object_id?: unknown;
  object_type_id?: unknown;
  timestamp?: unknown;
}

/**
 * Completes an operation whose own keys the action has already written into `body` (type, action, then
 * its fields in the reference's order): converts the attributes' dates, adds the timestamp, the anonymous
 * id and the identifiers. Actions write their keys directly rather than through object rest and spread:
 * this runs for every item, and those copies were the largest cost of building one.
 */
export function finishEntity(body: Record<string, unknown>, steering: Steering): Record<string, unknown> {
  // attributes we made ourselves (a converted copy) may be changed in place; the event's own may not
  let ownAttributes = false;
  if (steering.convert && isPlainObject(body.attributes)) {
    body.attributes = convertAttributeTimestamps(body.attributes);
    ownAttributes = true;
  }
  if (steering.timestamp) body.timestamp = sendableTimestamp(steering.timestamp);

  const identifiers = body.action === 'merge' ? undefined : resolveIdentifiers(steering);
  const anonymousId = steering.anonymous_id;
  if (anonymousId) {
    // The anonymous id rides in the attributes (so Customer.io can link earlier anonymous activity),
    // unless it is the identifier itself; an `attributes` object is there either way.
    const identifiedAnonymously = identifiers !== undefined && 'anonymous_id' in identifiers;
    const current = isPlainObject(body.attributes) ? body.attributes : undefined;
    if (!identifiedAnonymously) {
      if (current && ownAttributes) current.anonymous_id = anonymousId;
      else body.attributes = { ...current, anonymous_id: anonymousId };
    } else if (!current) {
      body.attributes = {};
    } else if ('anonymous_id' in current) {
      const { anonymous_id: _dropped, ...rest } = current;
      body.attributes = rest;
    }
  }
  if (identifiers) body.identifiers = identifiers;
  return body;
}

const STEERING_KEYS = new Set([
  'convert_timestamp',
  'person_id',
  'anonymous_id',
  'email',
  'object_id',
  'object_type_id',
  'timestamp',
  'enable_batching',
  'batch_size',
]);

/** The reference's buildPayload, from a payload in its shape: every key not steering the operation is sent. */
export function buildPayload({ type, action, payload }: EntityOperation): Record<string, unknown> {
  const body: Record<string, unknown> = { type, action };
  for (const key in payload) if (!STEERING_KEYS.has(key)) body[key] = payload[key];
  return finishEntity(body, { ...payload, convert: convertsTimestamps(payload) });
}

export const NEEDS_PERSON = 'person identifier (a userId, an email or an anonymousId)';
export const NEEDS_OBJECT = "object_id (the object's identifier)";

/**
 * Deviation D4: Customer.io refuses an operation without identifiers, so we never send one; the item
 * fails on its own with a reason that names what is missing.
 */
export function withIdentifiers(body: Record<string, unknown>, missing: string): BuildResult {
  if (body.identifiers) return { ok: true, item: body };
  return { ok: false, error: `The item has no ${missing}, so Customer.io would refuse it; it was not sent.` };
}
