// --rate N: at most N events a second, so a backfill leaves room for live traffic.

import { setTimeout as sleep } from 'node:timers/promises';

/** Events per producer.publish call (one addBulk per action queue each), unless a rate cap shrinks it. */
const CHUNK_EVENTS = 500;

/** Under a rate cap, chunks shrink so that the events go out evenly, about five chunks a second. */
export function eventsPerChunk(rate: number | undefined): number {
  return rate ? Math.max(1, Math.min(CHUNK_EVENTS, Math.floor(rate / 5))) : CHUNK_EVENTS;
}

/** Under a rate cap, waits until the `eventsSent` since `startedAt` are within it; without one, returns at once. */
export async function holdToRate(rate: number | undefined, startedAt: number, eventsSent: number): Promise<void> {
  if (!rate) return;
  const due = startedAt + (eventsSent / rate) * 1000;
  const wait = due - Date.now();
  if (wait > 0) await sleep(wait);
}
