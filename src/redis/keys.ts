// Where things live in Redis: each queue's key prefix, and the keys of BullMQ's job states under it.
//
// One BullMQ queue per action type. Each queue's keys carry the action as a Redis Cluster hash tag
// (`cio:{trackEvent}:trackEvent:wait`), so a queue's keys share one slot (BullMQ's scripts need that) while
// different queues spread over the cluster.

import type { ActionKey } from '../core/types';

/** Per-queue key prefix: the action in braces is the Redis Cluster hash tag. */
export function queuePrefix(basePrefix: string, action: ActionKey): string {
  return `${basePrefix}:{${action}}`;
}

/**
 * A key of an action's queue in BullMQ's layout, `<queue prefix>:<queue name>:<suffix>`: a state (`wait`),
 * `meta`, or a job's id (its hash). With an empty suffix, the prefix of every job key of the queue.
 */
export function queueKey(basePrefix: string, action: ActionKey, suffix: string): string {
  return `${queuePrefix(basePrefix, action)}:${action}:${suffix}`;
}

/**
 * The job states, in the order a job moves through them, each with its key in BullMQ's layout
 * (<queue prefix>:<queue name>:<key>) and the kind of that key. `unfinished`: a job there is still to be
 * sent. `bullmq`: Queue.getJobCounts knows the state; BullMQ 6 keeps a paused queue's jobs in `wait`, so
 * `paused` is only read from its list (by `stats`, for jobs an older version left there).
 */
export const JOB_STATES = {
  waiting: { key: 'wait', kind: 'list', unfinished: true, bullmq: true },
  prioritized: { key: 'prioritized', kind: 'zset', unfinished: true, bullmq: true },
  active: { key: 'active', kind: 'list', unfinished: true, bullmq: true },
  delayed: { key: 'delayed', kind: 'zset', unfinished: true, bullmq: true },
  failed: { key: 'failed', kind: 'zset', unfinished: false, bullmq: true },
  completed: { key: 'completed', kind: 'zset', unfinished: false, bullmq: true },
  paused: { key: 'paused', kind: 'list', unfinished: true, bullmq: false },
} as const;

export type JobState = keyof typeof JOB_STATES;
export const ALL_JOB_STATES = Object.keys(JOB_STATES) as JobState[];
/** A state Queue.getJobCounts knows. */
export type CountedJobState = { [K in JobState]: (typeof JOB_STATES)[K]['bullmq'] extends true ? K : never }[JobState];
/** The states Queue.getJobCounts reads (cio_queue_jobs). */
export const COUNTED_JOB_STATES = ALL_JOB_STATES.filter((s): s is CountedJobState => JOB_STATES[s].bullmq);
/** The states of jobs still to be sent, as getJobCounts reads them (a queue has settled when all are 0). */
export const UNFINISHED_JOB_STATES = COUNTED_JOB_STATES.filter((s) => JOB_STATES[s].unfinished);
