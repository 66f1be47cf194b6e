// Waking held jobs: a job of items held behind an earlier operation of their person waits out a delay
// (ORDER_HOLD_RECHECK_MS, doubling); once that operation has its outcome, the order book names the held
// jobs that may go now, and they are moved on at once, to the head of their queue (redis/wake-held.ts),
// instead of waiting out the rest of their delay.

import type { ActionKey } from '../core/types';
import type { RedisConnection } from '../redis/connection';
import { parseHolder } from '../redis/order-book';
import { wakeAtHead } from '../redis/wake-held';

/** Moves the named held jobs (holders, as the order book writes them) out of their delay: one call per queue. */
export function wakeHeldJobs(connection: RedisConnection, basePrefix: string): (holders: readonly string[]) => Promise<void> {
  return async (holders) => {
    const byAction = new Map<ActionKey, string[]>();
    for (const holder of holders) {
      const parsed = parseHolder(holder);
      if (!parsed) continue;
      const ids = byAction.get(parsed.action) ?? [];
      ids.push(parsed.jobId);
      byAction.set(parsed.action, ids);
    }
    // Only a job still waiting out its delay is moved on; one already running or gone needs nothing. A
    // wake-up that fails (Redis away) is not an error of the settle that asked for it: the held job looks
    // again by itself once its delay is over.
    await Promise.all([...byAction].map(([action, ids]) => wakeAtHead(connection, basePrefix, action, ids).catch(() => undefined)));
  };
}
