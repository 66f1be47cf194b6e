// The per-item view of a queue: what became of each event, across the group jobs that carried it.
// A completed group job delivered the items it did not move elsewhere (its result's `moved`); a failed
// job failed its items with its reason; a waiting, delayed or active job holds its items still.
import type { Job, JobType, Queue } from 'bullmq';
import { decodeGroup, type AnyJobData, type GroupJobData } from '../../src/jobs/group';
import type { GroupResult } from '../../src/jobs/result';
import type { SegmentEvent } from '../../src/core/types';

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

/**
 * One job-like record per item, for tests written against one event per job: `data.event` is the item's
 * event, `getState()` its fate ('completed' once delivered, 'failed' with its own reason, else the
 * state of the job holding it), `attemptsMade` the times it was tried.
 */
export interface ItemJob {
  id: string;
  data: { subscription: string; event: SegmentEvent };
  failedReason?: string;
  attemptsMade: number;
  stacktrace: string[];
  job: Job<AnyJobData>;
  getState(): Promise<string>;
}

export async function itemJobs(queue: Queue, states: JobType[] = STATES): Promise<ItemJob[]> {
  const wanted = new Set<string>(states);
  const out: ItemJob[] = [];
  for (const item of await itemsOf(queue)) {
    const state = item.state === 'delivered' ? 'completed' : item.state === 'failed' ? 'failed' : await item.job.getState();
    if (!wanted.has(state)) continue;
    out.push({
      id: item.job.id!,
      data: { subscription: item.job.data.subscription, event: item.event },
      failedReason: item.reason,
      attemptsMade: item.attempts,
      stacktrace: item.job.stacktrace ?? [],
      job: item.job,
      getState: async () => state,
    });
  }
  return out;
}

/** Items by state, counted like getJobCounts counts jobs. */
export async function itemCounts(queue: Queue): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const j of await itemJobs(queue)) {
    const s = await j.getState();
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return counts;
}
