// Waking held jobs: a job of items held behind an earlier operation of their person waits out a delay
// (ORDER_HOLD_RECHECK_MS, doubling); once that operation has its outcome, the order book names the held
// jobs that may go now, and they are moved on at once instead of waiting out the rest of their delay.

import { Job } from 'bullmq';
import { parseHolder } from '../redis/order-book';
import type { Queues } from './queues';

/** Moves the named held jobs (holders, as the order book writes them) out of their delay. */
export function wakeHeldJobs(queues: Queues): (holders: readonly string[]) => Promise<void> {
  return async (holders) => {
    await Promise.all(
      holders.map(async (holder) => {
        const parsed = parseHolder(holder);
        if (!parsed) return;
        const job = await Job.fromId(queues[parsed.action], parsed.jobId).catch(() => undefined);
        // Only a job still waiting out its delay is moved on; one already running or gone needs nothing.
        if (job) await job.promote().catch(() => undefined);
      }),
    );
  };
}
