// The messageId of an event that came without one, derived from its content, so that a client sending the
// same request again (after a 503, a timeout, a lost answer) gets the same ids and therefore the same job
// ids: the retry is recognised as a re-send instead of queuing every event twice.
//
// One rule on every path: an HTTP request, a publish() call and an imported file are each one "request"
// (the file as a whole, resumed or not), and derivedMessageId below is the only place an id is made.
//
// The id is a hash of the event's canonical JSON (keys sorted, so a re-serialization in another key order
// hashes alike) as received, without `sentAt`: that is when the client sent this attempt, not what the
// event is, and a client retrying sets a new one. Events that are the same in every other field are
// told apart by their order among equal events in the same request (the second gets `-2`, …), so two equal
// events sent together stay two events, and a retry of that request maps onto them again. Equal events
// sent in separate requests cannot be told from a re-send and count once within the dedupe window; Segment's
// SDKs always set messageId (and a timestamp), so this touches only hand-made clients.
//
// Cost: only events without a messageId are serialized and hashed; the others pay nothing.

import { createHash } from 'node:crypto';

/** Left out of the hash: set per sending attempt, or the field being made. */
const NOT_CONTENT = new Set(['sentAt', 'messageId']);

/** 128 bits of SHA-256: two different events get the same id with a chance of about n²/2¹²⁹ (n events). */
const ID_HEX_CHARS = 32;

/** Whether an event came without a messageId of its own (absent, null or ''): it gets a derived one. */
export function lacksMessageId(event: Record<string, unknown>): boolean {
  return event.messageId === undefined || event.messageId === null || event.messageId === '';
}

/**
 * The messageId of an event without one. `repeats` counts, per content hash, the equal events already seen
 * in the same request (or imported file), so the second equal event gets `-2`; it is updated here.
 */
export function derivedMessageId(event: Record<string, unknown>, repeats?: Map<string, number>): string {
  const hash = contentHash(event);
  const occurrence = repeats?.get(hash) ?? 0;
  repeats?.set(hash, occurrence + 1);
  return contentMessageId(hash, occurrence);
}

/** The hash of an event's content (hex): equal events, as described above, have equal hashes. */
export function contentHash(event: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(event, true)).digest('hex').slice(0, ID_HEX_CHARS);
}

/** The messageId of the `occurrence`-th (from 0) event with this content hash in one request. */
export function contentMessageId(hash: string, occurrence: number): string {
  return occurrence === 0 ? `api-${hash}` : `api-${hash}-${occurrence + 1}`;
}

/** JSON with object keys in sorted order; the rest as JSON.stringify writes it. */
export function canonicalJson(value: unknown, topLevel = false): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (skipped(item) ? 'null' : canonicalJson(item))).join(',')}]`;
  const parts: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (skipped(item) || (topLevel && NOT_CONTENT.has(key))) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${parts.join(',')}}`;
}

function skipped(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}
