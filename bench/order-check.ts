// The worst case of per-person order (bench/end-to-end.ts, part `order`): what arrived at the Customer.io
// stand-in, and whether any conflicting pair of one person arrived out of the order it was accepted in.
// Pure: it regenerates the run's synthetic events from their seed; nothing here touches Redis or HTTP.

import { syntheticChunk } from './shared';

/** [messageId, time the request carrying it was received, the request's place in the order received]. */
export type Arrival = [string, number, number];

/** What the worst-case run (all traffic for a few persons) saw arrive at the stand-in. */
export interface OrderCheck {
  published: number;
  /** Distinct events of the run that reached the stand-in. */
  arrived: number;
  /** Arrivals beyond the first of an event (re-sends). */
  duplicates: number;
  /** Pairs of one person's events, at least one an identify, whose accepted order is defined (README, "Order"). */
  pairs: number;
  /** Of those, pairs whose later one arrived in the same request as the earlier one or in an earlier request. */
  outOfOrder: number;
  /** Items the workers held behind an earlier operation of their person (an item held twice counts twice). */
  heldItems: number;
  /** Jobs written for held items. */
  heldJobs: number;
  /** Set when not every event arrived in time. */
  timedOut?: string;
}

/** When each publish() call (chunk k: events [k * chunk, (k + 1) * chunk)) was sent and answered, on one counter. */
export interface ChunkTicks {
  sent: number[];
  answered: number[];
}

interface Sent {
  index: number;
  identify: boolean;
  /** The request its first arrival came in (undefined: it never arrived). */
  place?: number;
}

/**
 * Pure: what arrived of the worst-case traffic, and how many conflicting pairs of one person arrived out of
 * their accepted order. Event a was accepted before b when both are in one publish() call and a comes first,
 * or a's call was answered before b's was sent; concurrent calls have no order between them (README,
 * "Order"). A pair conflicts unless both are track calls. It arrived in order when b's request reached the
 * stand-in after a's (the stand-in records requests as they come; a request sent only after a's answer
 * comes after it), judged on each event's first arrival.
 */
export function checkOrder(
  run: { runId: string; events: number; persons?: number; chunk: number },
  arrivals: readonly Arrival[],
  ticks: ChunkTicks,
): Omit<OrderCheck, 'heldItems' | 'heldJobs' | 'timedOut'> {
  const firstPlace = new Map<string, number>();
  let duplicates = 0;
  for (const [id, , place] of arrivals) {
    if (!id.startsWith(`${run.runId}-`)) continue;
    const seen = firstPlace.get(id);
    if (seen === undefined) firstPlace.set(id, place);
    else {
      duplicates++;
      if (place < seen) firstPlace.set(id, place);
    }
  }
  const byPerson = new Map<string, Sent[]>();
  for (let from = 0; from < run.events; from += run.chunk) {
    const chunk = syntheticChunk(from, Math.min(run.chunk, run.events - from), { runId: run.runId, persons: run.persons });
    chunk.forEach((event, k) => {
      const list = byPerson.get(String(event.userId)) ?? [];
      list.push({ index: from + k, identify: event.type === 'identify', place: firstPlace.get(String(event.messageId)) });
      byPerson.set(String(event.userId), list);
    });
  }
  const before = (a: number, b: number) => {
    const ca = Math.floor(a / run.chunk);
    const cb = Math.floor(b / run.chunk);
    return ca === cb ? a < b : ticks.answered[ca] < ticks.sent[cb];
  };
  let pairs = 0;
  let outOfOrder = 0;
  for (const list of byPerson.values()) {
    for (const a of list) {
      if (!a.identify) continue;
      for (const b of list) {
        // Each pair once: an identify with every track, two identifies from the earlier one.
        if (b === a || (b.identify && b.index < a.index)) continue;
        const [first, second] = before(a.index, b.index) ? [a, b] : before(b.index, a.index) ? [b, a] : [];
        if (!first || !second) continue;
        pairs++;
        if (first.place !== undefined && second.place !== undefined && second.place <= first.place) outOfOrder++;
      }
    }
  }
  return { published: run.events, arrived: firstPlace.size, duplicates, pairs, outOfOrder };
}
