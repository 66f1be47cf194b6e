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

export function buildPayload({ type, action, payload }: EntityOperation): Record<string, unknown> {
  const {
    convert_timestamp: _convert,
    person_id,
    anonymous_id,
    email,
    object_id,
    object_type_id,
    timestamp,
    enable_batching: _enable,
    batch_size: _size,
    ...rest
  } = payload;

  if (convertsTimestamps(payload) && isPlainObject(rest.attributes)) {
    rest.attributes = convertAttributeTimestamps(rest.attributes);
  }
  if (timestamp) rest.timestamp = sendableTimestamp(timestamp);

  const body: Record<string, unknown> = { type, action, ...rest };
  if (anonymous_id) {
    body.attributes = { ...(isPlainObject(body.attributes) ? body.attributes : {}), anonymous_id };
  }
  if (action !== 'merge') {
    const identifiers = resolveIdentifiers({ person_id, anonymous_id, email, object_id, object_type_id });
    if (identifiers) {
      body.identifiers = identifiers;
      if ('anonymous_id' in identifiers && isPlainObject(body.attributes)) {
        const { anonymous_id: _dropped, ...attributes } = body.attributes;
        body.attributes = attributes;
      }
    }
  }
  return body;
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
