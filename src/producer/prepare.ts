// The pure half of ingestion: check each event, fill what Segment fills, and pick the subscriptions that fire.

import { matchEvent, type FilterReason, type Subscription } from '../core/subscriptions';
import type { SegmentEvent } from '../core/types';
import { MAX_ITEM_BYTES, MAX_JSON_DEPTH } from '../core/limits';
import { derivedMessageId, lacksMessageId } from './content-id';

export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;

export interface Prepared {
  index: number;
  event: SegmentEvent;
  messageId: string;
  fired: Subscription[];
  filtered?: FilterReason;
}

export interface Refused {
  index: number;
  error: string;
}

/** Why an event cannot be accepted at all, or undefined. Only the envelope is checked here: the fields an
 * action needs are checked per item later, so that one item's problem never refuses its neighbours'. */
export function envelopeProblem(event: unknown, bytes?: number): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'must be a JSON object';
  const type = (event as SegmentEvent).type;
  if (type === undefined || type === null || type === '') return `is missing "type" (one of ${EVENT_TYPES.join(', ')})`;
  if (!(EVENT_TYPES as readonly unknown[]).includes(type)) {
    return `has an unknown type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(', ')}`;
  }
  const idProblem = messageIdProblem((event as SegmentEvent).messageId);
  if (idProblem) return idProblem;
  let size = bytes;
  if (size === undefined) {
    const bound = jsonBytesAtMost(event, MAX_JSON_DEPTH);
    if (bound === TOO_DEEP) return `nests more than ${MAX_JSON_DEPTH} levels deep`;
    // Most events are far below the limit; only those that might not be are serialized to measure them.
    if (bound <= MAX_ITEM_BYTES) return undefined;
    try {
      size = Buffer.byteLength(JSON.stringify(event));
    } catch (err) {
      return `cannot be serialized as JSON (${(err as Error).message.split('\n')[0]})`;
    }
  }
  if (size > MAX_ITEM_BYTES) return `is ${size} bytes; an event may be at most ${MAX_ITEM_BYTES} bytes`;
  return undefined;
}

/**
 * Why a messageId cannot be an event's identity, or undefined (absent, null and '' are filled in by
 * normalize). It must be a string, as Segment's spec says: a number loses its identity before it gets here
 * (JSON.parse turns 12345678901234567890 and …891 into one double, 1e400 and 2e400 into Infinity), and
 * two ids that merge make the second event a "re-send" that is never delivered. A string must be
 * well-formed UTF-16: Redis stores it as UTF-8, where every lone surrogate becomes U+FFFD, so ids that
 * differ only there would merge the same way.
 */
export function messageIdProblem(messageId: unknown): string | undefined {
  if (messageId === undefined || messageId === null) return undefined;
  if (typeof messageId !== 'string') {
    const kind = Array.isArray(messageId) ? 'a list' : typeof messageId === 'object' ? 'an object' : `a ${typeof messageId}`;
    return `has a "messageId" that is ${kind}; "messageId" must be a string (send a number quoted: as a number it may lose digits and merge with another event's id)`;
  }
  if (!messageId.isWellFormed()) {
    return `has a "messageId" with a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair); "messageId" must be well-formed text, or it cannot be kept apart from other ids once stored`;
  }
  return undefined;
}

/**
 * Fills messageId, receivedAt and timestamp the way Segment does when a client left them out. A missing
 * messageId is derived from the event's content (content-id.ts), so a retried request gets the same ids;
 * `repeats` counts equal events already seen in the same request, to keep them apart.
 */
export function normalize(event: SegmentEvent, now: number, repeats?: Map<string, number>): SegmentEvent {
  const receivedAt = new Date(now).toISOString();
  const out: SegmentEvent = { ...event, receivedAt };
  if (lacksMessageId(event as Record<string, unknown>)) out.messageId = derivedMessageId(event as Record<string, unknown>, repeats);
  if (out.timestamp === undefined || out.timestamp === null || out.timestamp === '') {
    out.timestamp = correctedTimestamp(event, now) ?? receivedAt;
  }
  return out;
}

// Segment corrects the client's clock: timestamp = receivedAt - (sentAt - originalTimestamp).
function correctedTimestamp(event: SegmentEvent, now: number): string | undefined {
  const sentAt = typeof event.sentAt === 'string' ? Date.parse(event.sentAt) : NaN;
  const original = typeof event.originalTimestamp === 'string' ? Date.parse(event.originalTimestamp) : NaN;
  if (Number.isNaN(sentAt) || Number.isNaN(original)) return undefined;
  const corrected = now - (sentAt - original);
  // Outside Date's range (±8.64e15 ms) there is no such time: keep receivedAt.
  if (Math.abs(corrected) > 8.64e15) return undefined;
  return new Date(corrected).toISOString();
}

const TOO_DEEP = -1;
/** Longest JSON text of a number: `-1.2345678901234567e-300`. */
const MAX_NUMBER_CHARS = 24;
/** Characters that JSON.stringify writes as themselves, one byte each. */
const PLAIN_ASCII = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * An upper bound of the bytes of JSON.stringify(value), without building the text: cheap enough to run on
 * every event, so the exact (and costly) measurement is left to the few that may be near the limit.
 * TOO_DEEP when objects or arrays nest deeper than `max` (it stops descending there, so cycles end too);
 * Infinity when there is no cheap bound (a toJSON method, a bigint): the caller then measures.
 */
function jsonBytesAtMost(value: unknown, max: number, depth = 1): number {
  switch (typeof value) {
    case 'string':
      // Escapes (\uXXXX) are at most 6 bytes per UTF-16 unit, as are the UTF-8 bytes of any unit.
      return PLAIN_ASCII.test(value) ? value.length + 2 : value.length * 6 + 2;
    case 'number':
      return MAX_NUMBER_CHARS;
    case 'boolean':
      return 5;
    case 'object':
      break;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 4; // left out of objects, `null` in arrays
    default:
      return Infinity;
  }
  if (value === null) return 4;
  if (depth > max) return TOO_DEEP;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return Infinity;
  let total = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      const bytes = jsonBytesAtMost(item, max, depth + 1);
      if (bytes === TOO_DEEP) return TOO_DEEP;
      total += bytes + 1;
    }
    return total;
  }
  for (const key in value) {
    const bytes = jsonBytesAtMost((value as Record<string, unknown>)[key], max, depth + 1);
    if (bytes === TOO_DEEP) return TOO_DEEP;
    total += jsonBytesAtMost(key, max) + bytes + 2;
  }
  return total;
}

export function prepareEvents(
  events: unknown[],
  subscriptions: readonly Subscription[],
  now: number,
): { prepared: Prepared[]; refused: Refused[] } {
  const prepared: Prepared[] = [];
  const refused: Refused[] = [];
  const repeats = new Map<string, number>();
  events.forEach((raw, index) => {
    const problem = envelopeProblem(raw);
    if (problem) {
      refused.push({ index, error: `event ${index} ${problem}` });
      return;
    }
    const event = normalize(raw as SegmentEvent, now, repeats);
    const { fired, filtered } = matchEvent(subscriptions, event);
    prepared.push({ index, event, messageId: String(event.messageId), fired, filtered });
  });
  return { prepared, refused };
}
