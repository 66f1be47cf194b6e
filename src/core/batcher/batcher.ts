/*
 * The batcher decides WHEN a group of items must be sent. It never sends, never sets a timer and never
 * reads the clock: the caller passes `now` and owns the one timer (see `nextDeadline`).
 *
 * A key (one subscription) is in one of two states:
 *
 *   absent ──add──▶ open ──count / bytes (from add), time (from due), shutdown (from drain)──▶ absent
 *
 * - open: the group holds 1..maxItems items. Its deadline is fixed when its first item arrives:
 *   firstItem.addedAt + maxWaitMs. Later items never push the deadline back, so no item waits longer
 *   than maxWaitMs (plus however late the caller's timer fires).
 * - An item that would take the group's body to maxBytes or beyond first flushes the group ('bytes') and
 *   then opens a fresh group for the key. An item that fills the group (maxItems, or so close to maxBytes
 *   that nothing else fits) flushes it together with the item ('count' / 'bytes').
 * - An item over maxItemBytes is never batched ('too_large'): the caller fails it on its own.
 *
 * The trade-off is latency against throughput. Customer.io counts requests, not items, so bigger batches
 * mean fewer requests for the same traffic; waiting for a batch to fill costs each item up to maxWaitMs.
 * A busy subscription fills batches by count or bytes long before the wait runs out; a quiet one sends
 * small batches every maxWaitMs. maxWaitMs is the knob.
 *
 * Byte accounting is exact for the body `{"batch":[i1,i2,...]}`: the wrapper plus one comma between
 * items plus the items' own JSON byte lengths, so a flushed body is always strictly below maxBytes
 * (Customer.io: "under 500 KB").
 *
 * Cost: `add` is O(1). Groups are kept per distinct maxWaitMs in a Map, whose iteration order is the order
 * the groups opened; within one such lane deadlines only grow (while `now` does not go backwards), so
 * `due` and `nextDeadline` look only at the head of each lane, never at every item. There is one lane
 * per distinct maxWaitMs value in use, usually one.
 */

import { BATCH_ITEMS } from '../limits';

/** Limits for one key. `maxBytes` is exclusive: a flushed body is always `< maxBytes`. */
export interface BatchLimits {
  /** The subscription's batch_size: at most this many items per request (an integer >= 1; Segment allows 1..100). */
  maxItems: number;
  /** Request body budget in bytes, exclusive (the worker passes BATCH_BUDGET_BYTES, core/limits.ts). */
  maxBytes: number;
  /** An item whose JSON is longer than this is refused (the worker passes MAX_ITEM_BYTES). */
  maxItemBytes: number;
  /** How long the oldest item of a group may wait before the group is due. */
  maxWaitMs: number;
}

export interface Pending<T> {
  value: T;
  /** Byte length of the item's JSON (`Buffer.byteLength(JSON.stringify(item))`). */
  bytes: number;
  /** The `now` passed to `add`. */
  addedAt: number;
}

export type FlushReason = 'count' | 'bytes' | 'time' | 'shutdown';

export interface Flush<T, Why extends FlushReason = FlushReason> {
  key: string;
  items: Pending<T>[];
  why: Why;
}

export type AddResult<T> =
  /** The item is over maxItemBytes; it was not added. */
  | { kind: 'too_large'; bytes: number }
  /** The item was added; `flush` lists the groups that became ready because of it (0, 1 or 2 of them). */
  | { kind: 'added'; flush: Array<Flush<T, 'count' | 'bytes'>> };


/** `{"batch":[` + `]}` */
const WRAPPER_BYTES = Buffer.byteLength('{"batch":[]}');
/** The smallest item that could still follow: one byte of JSON plus its comma. */
const SMALLEST_NEXT_ITEM_BYTES = 2;

/** Exact byte length of `{"batch":[i1,i2,...]}` given each item's JSON byte length. */
export function batchBodyBytes(itemBytes: readonly number[]): number {
  let total = WRAPPER_BYTES;
  for (const b of itemBytes) total += b;
  return total + Math.max(0, itemBytes.length - 1);
}

interface Group<T> {
  key: string;
  limits: BatchLimits;
  items: Pending<T>[];
  /** Exact body size so far: batchBodyBytes(items.map(i => i.bytes)). */
  bodyBytes: number;
  deadline: number;
}

export class Batcher<T> {
  private readonly defaults: BatchLimits;
  private readonly groups = new Map<string, Group<T>>();
  /** maxWaitMs → the groups with that wait, in the order they opened (so in deadline order). */
  private readonly lanes = new Map<number, Map<string, Group<T>>>();
  private itemCount = 0;
  private itemBytes = 0;

  constructor(defaults: Omit<BatchLimits, 'maxItems'> & { maxItems?: number }) {
    this.defaults = checkLimits({ ...defaults, maxItems: defaults.maxItems ?? BATCH_ITEMS.default });
  }

  /**
   * Adds one item under `key`. `limits` (the subscription's batch_size, …) apply from the moment a group
   * opens until it flushes; limits passed while a group is open take effect for the key's next group.
   */
  add(key: string, value: T, bytes: number, now: number, limits?: Partial<BatchLimits>): AddResult<T> {
    if (!Number.isInteger(bytes) || bytes < 1) {
      throw new RangeError(`Batcher.add: bytes must be the item's JSON byte length (an integer >= 1), got ${bytes}`);
    }
    // The item is judged by the limits passed with it; an open group keeps the limits it opened with.
    const limitsNow = this.resolve(limits);
    if (bytes > limitsNow.maxItemBytes) {
      return { kind: 'too_large', bytes };
    }

    const flush: Array<Flush<T, 'count' | 'bytes'>> = [];
    let group = this.groups.get(key);
    if (group && group.bodyBytes + 1 + bytes >= group.limits.maxBytes) {
      flush.push(this.take(group, 'bytes'));
      group = undefined;
    }
    if (!group) group = this.open(key, now, limitsNow);

    group.bodyBytes += (group.items.length > 0 ? 1 : 0) + bytes;
    group.items.push({ value, bytes, addedAt: now });
    this.itemCount += 1;
    this.itemBytes += bytes;

    if (group.items.length >= group.limits.maxItems) {
      flush.push(this.take(group, 'count'));
    } else if (group.bodyBytes + SMALLEST_NEXT_ITEM_BYTES >= group.limits.maxBytes) {
      flush.push(this.take(group, 'bytes'));
    }
    return { kind: 'added', flush };
  }

  /** Removes and returns the groups whose oldest item has waited at least its maxWaitMs. */
  due(now: number): Array<Flush<T, 'time'>> {
    const out: Array<Flush<T, 'time'>> = [];
    for (const lane of this.lanes.values()) {
      // A lane is in deadline order, so stop at its first group that is not due.
      for (const group of lane.values()) {
        if (group.deadline > now) break;
        out.push(this.take(group, 'time'));
      }
    }
    return out;
  }

  /** The earliest time a group becomes due, or undefined when nothing is held. */
  nextDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const lane of this.lanes.values()) {
      const head = lane.values().next();
      if (!head.done && (earliest === undefined || head.value.deadline < earliest)) {
        earliest = head.value.deadline;
      }
    }
    return earliest;
  }

  /** Removes and returns every group, oldest first within each wait, for shutdown. */
  drain(): Array<Flush<T, 'shutdown'>> {
    const out: Array<Flush<T, 'shutdown'>> = [];
    for (const lane of [...this.lanes.values()]) {
      for (const group of [...lane.values()]) out.push(this.take(group, 'shutdown'));
    }
    return out;
  }

  /** What is held: open groups, items, and the sum of the items' JSON bytes (wrappers not counted). */
  size(): { groups: number; items: number; bytes: number } {
    return { groups: this.groups.size, items: this.itemCount, bytes: this.itemBytes };
  }

  private resolve(limits: Partial<BatchLimits> | undefined): BatchLimits {
    if (!limits) return this.defaults;
    return checkLimits({
      maxItems: limits.maxItems ?? this.defaults.maxItems,
      maxBytes: limits.maxBytes ?? this.defaults.maxBytes,
      maxItemBytes: limits.maxItemBytes ?? this.defaults.maxItemBytes,
      maxWaitMs: limits.maxWaitMs ?? this.defaults.maxWaitMs,
    });
  }

  private open(key: string, now: number, limits: BatchLimits): Group<T> {
    const group: Group<T> = { key, limits, items: [], bodyBytes: WRAPPER_BYTES, deadline: now + limits.maxWaitMs };
    this.groups.set(key, group);
    let lane = this.lanes.get(limits.maxWaitMs);
    if (!lane) {
      lane = new Map();
      this.lanes.set(limits.maxWaitMs, lane);
    }
    lane.set(key, group);
    return group;
  }

  private take<Why extends FlushReason>(group: Group<T>, why: Why): Flush<T, Why> {
    this.groups.delete(group.key);
    const lane = this.lanes.get(group.limits.maxWaitMs)!;
    lane.delete(group.key);
    if (lane.size === 0) this.lanes.delete(group.limits.maxWaitMs);
    this.itemCount -= group.items.length;
    this.itemBytes -= group.bodyBytes - WRAPPER_BYTES - (group.items.length - 1);
    return { key: group.key, items: group.items, why };
  }
}

function checkLimits(limits: BatchLimits): BatchLimits {
  const { maxItems, maxBytes, maxItemBytes, maxWaitMs } = limits;
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw new RangeError(`batch limits: maxItems must be an integer >= 1, got ${maxItems}`);
  }
  if (!Number.isFinite(maxItemBytes) || maxItemBytes < 1) {
    throw new RangeError(`batch limits: maxItemBytes must be >= 1, got ${maxItemBytes}`);
  }
  if (!Number.isFinite(maxBytes) || maxBytes <= WRAPPER_BYTES + maxItemBytes) {
    throw new RangeError(
      `batch limits: maxBytes (${maxBytes}) must leave room for one item of maxItemBytes (${maxItemBytes}) ` +
        `plus the ${WRAPPER_BYTES}-byte {"batch":[]} wrapper`,
    );
  }
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new RangeError(`batch limits: maxWaitMs must be >= 0, got ${maxWaitMs}`);
  }
  return limits;
}
