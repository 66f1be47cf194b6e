// What a job carries: the events of one subscription that arrived together (a group), compressed when
// that makes them smaller. Pure: no Redis here, only the shape of a job's data and its (de)compression.
//
// The fields an operator reads in Bull Board stay plain JSON beside the compressed events: the
// subscription, how many events, their messageIds and their size. A job made for one refused item
// (`fail`) keeps its one event uncompressed, so the dashboard shows the event next to the reason.

import zlib from 'node:zlib';
import type { FailReason } from '../core/outcomes';
import type { SegmentEvent } from '../core/types';

export type GroupEncoding = 'zstd' | 'gzip' | 'json';

export interface GroupJobData {
  subscription: string;
  /** Number of events in the job. */
  count: number;
  /** The events' messageIds, in the order of the events. */
  messageIds: string[];
  /** Bytes of the events as JSON, before compression. */
  bytes: number;
  encoding: GroupEncoding;
  /** The events: base64 of the compressed JSON array, or the array itself (`json`). */
  events: string | SegmentEvent[];
  /** Attempts the items have used on transient failures (5xx, timeouts), carried from job to job. */
  attempt?: number;
  /**
   * Set on a job made for one item refused for good: the job fails with this reason when first run.
   * `attempts`: how many times the item was tried (for the reader; it plays no part in what follows).
   */
  fail?: { reason: string; metric: FailReason; attempts?: number };
  /** The job whose items these were (a retry, a refused item, items that wait out a 429). */
  from?: string;
  /**
   * Each event's place in its people's order (per-person order, redis/order-book.ts): its tickets, one per
   * person key, in base 36, comma-separated, after a '+' when the item was free when placed (nothing open
   * before it conflicted: it stays free, so a first run need not ask again); '' for an event that names
   * nobody. One string, the events' parts separated by ' ' (a list would cost two quotes more per event);
   * jobs written before kept a list. Absent when ordering is off. Read it with `eventOrders`.
   */
  order?: string | string[];
  /** How many times in a row these items were held behind an earlier operation of their person. */
  held?: number;
  /** For each event of a held job, the job (order-book holder: action code + job id) it waits behind. */
  heldBehind?: string[];
}

/** Each event's order text (GroupJobData.order), or undefined when the job has none. */
export function eventOrders(data: GroupJobData): string[] | undefined {
  const order = data.order;
  if (order === undefined) return undefined;
  return Array.isArray(order) ? order : order.split(' ');
}

/** A job written by the first version (one event per job); still read, so an upgrade loses nothing. */
export interface LegacyJobData {
  subscription: string;
  event: SegmentEvent;
}

export type AnyJobData = GroupJobData | LegacyJobData;

/** zstd where the runtime has it (Node ≥ 22.15), else gzip. */
export const PREFERRED_ENCODING: GroupEncoding = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function' ? 'zstd' : 'gzip';

/** Below this many bytes compression rarely pays for the base64 it needs. */
const COMPRESS_FROM_BYTES = 512;

export interface GroupExtras {
  attempt?: number;
  fail?: GroupJobData['fail'];
  from?: string;
  order?: string[];
  held?: number;
  heldBehind?: string[];
  /** Leave the events readable (jobs of one refused item). */
  plain?: boolean;
}

/**
 * Builds a job's data; `events` are already normalized (each has a messageId). `json`: the events as
 * JSON, when the caller has it already (it is the costliest step for a large group).
 */
export function encodeGroup(subscription: string, events: SegmentEvent[], extras: GroupExtras = {}, json = JSON.stringify(events)): GroupJobData {
  const bytes = Buffer.byteLength(json);
  const data: GroupJobData = {
    subscription,
    count: events.length,
    messageIds: events.map((e) => String(e.messageId)),
    bytes,
    encoding: 'json',
    events,
  };
  if (!extras.plain && bytes >= COMPRESS_FROM_BYTES) {
    const packed = compress(PREFERRED_ENCODING, json).toString('base64');
    if (packed.length < bytes) {
      data.encoding = PREFERRED_ENCODING;
      data.events = packed;
    }
  }
  if (extras.attempt) data.attempt = extras.attempt;
  if (extras.fail) data.fail = extras.fail;
  if (extras.from) data.from = extras.from;
  if (extras.order && extras.order.some((tickets) => tickets !== '')) data.order = extras.order.join(' ');
  if (extras.held) data.held = extras.held;
  if (extras.heldBehind) data.heldBehind = extras.heldBehind;
  return data;
}

/** The events of a job, whatever version wrote it. Throws on data that is not a job of ours. */
export function decodeGroup(data: AnyJobData): SegmentEvent[] {
  if ('event' in data && !('events' in data)) return [data.event];
  const group = data as GroupJobData;
  if (group.encoding === 'json') {
    if (!Array.isArray(group.events)) throw new Error('job data: "events" is not an array');
    return group.events;
  }
  if (typeof group.events !== 'string') throw new Error(`job data: "events" should be ${group.encoding} text in base64`);
  const json = decompress(group.encoding, Buffer.from(group.events, 'base64'));
  const events = JSON.parse(json) as unknown;
  if (!Array.isArray(events)) throw new Error('job data: the decompressed events are not an array');
  return events as SegmentEvent[];
}

/** The number of events a job carries, whatever version wrote it. */
/** The messageIds of a job's events, in order: a group's list, or a legacy job's one event's id. */
export function messageIdsOf(data: AnyJobData): string[] {
  if ('messageIds' in data && Array.isArray(data.messageIds)) return data.messageIds;
  return 'event' in data && data.event?.messageId !== undefined ? [String(data.event.messageId)] : [];
}

export function groupCount(data: AnyJobData | undefined): number {
  if (!data) return 1;
  return 'count' in data && Number.isInteger(data.count) ? data.count : 1;
}

// The fastest levels: events of one group share most of their keys and values, so even these shrink a
// group several times, for a fraction of the CPU of the default levels.
const ZSTD_FAST = { params: { [zlib.constants.ZSTD_c_compressionLevel ?? 100]: 1 } };

function compress(encoding: GroupEncoding, text: string): Buffer {
  if (encoding === 'zstd') return zlib.zstdCompressSync(text, ZSTD_FAST);
  return zlib.gzipSync(text, { level: 1 });
}

function decompress(encoding: GroupEncoding, bytes: Buffer): string {
  if (encoding === 'zstd') return zlib.zstdDecompressSync(bytes).toString('utf8');
  if (encoding === 'gzip') return zlib.gunzipSync(bytes).toString('utf8');
  throw new Error(`job data: unknown encoding ${JSON.stringify(encoding)}`);
}
