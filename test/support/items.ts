// The per-item view of a queue: what became of each event, across the group jobs that carried it.
// A completed group job delivered the items it did not move elsewhere (its result's `moved`); a failed
// job failed its items with its reason; a waiting, delayed or active job holds its items still.
import type { Job, JobType, Queue } from 'bullmq';
import { decodeGroup, type AnyJobData, type GroupJobData } from '../../src/jobs/group';
import type { GroupResult } from '../../src/worker/worker';
import type { SegmentEvent } from '../../src/types';

export interface ItemView {
  messageId: string;
  event: SegmentEvent;
  state: 'delivered' | 'failed' | 'pending';
  /** The failed job's reason. */
  reason?: string;
  /** Times the item was tried: the delivering try included, for a delivered one. */
  attempts: number;
  job: Job<AnyJobData>;
}

const STATES: JobType[] = ['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized'];

export async function itemsOf(queue: Queue, states: JobType[] = STATES): Promise<ItemView[]> {
  const jobs = (await queue.getJobs(states, 0, -1)) as Array<Job<AnyJobData, GroupResult>>;
  const items: ItemView[] = [];
  for (const job of jobs) {
    if (!job) continue;
    const state = await job.getState();
    const events = decodeGroup(job.data);
    const data = job.data as GroupJobData;
    const movedAway = new Set(Object.values(job.returnvalue?.moved ?? {}).flat());
    for (const event of events) {
      const messageId = String(event.messageId);
      if (state === 'completed') {
        if (!movedAway.has(messageId)) items.push({ messageId, event, state: 'delivered', attempts: (data.attempt ?? 0) + job.attemptsMade, job });
      } else if (state === 'failed') {
        items.push({ messageId, event, state: 'failed', reason: job.failedReason, attempts: data.fail?.attempts ?? job.attemptsMade, job });
      } else {
        items.push({ messageId, event, state: 'pending', attempts: data.attempt ?? 0, job });
      }
    }
  }
  return items;
}

/** Items by state, e.g. `(await itemStates(queue)).failed`. */
export async function itemStates(queue: Queue): Promise<Record<ItemView['state'], ItemView[]>> {
  const out: Record<ItemView['state'], ItemView[]> = { delivered: [], failed: [], pending: [] };
  for (const item of await itemsOf(queue)) out[item.state].push(item);
  return out;
}
