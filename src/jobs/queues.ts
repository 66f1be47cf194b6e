// The queues (one BullMQ queue per action type) and the options every job and worker carries. Their keys
// are laid out in redis/keys.ts.

import { Queue, type JobsOptions, type WorkerOptions } from 'bullmq';
import { ACTION_KEYS, type ActionKey } from '../core/types';
import type { AnyJobData } from './group';
import type { JobsConfig } from '../config';
import type { RedisConnection } from '../redis/connection';
import { COUNTED_JOB_STATES, queuePrefix } from '../redis/keys';

/** What a job carries: a group of events for one subscription (jobs/group.ts). */
export type JobData = AnyJobData;

export type Queues = Record<ActionKey, Queue<JobData>>;

export function createQueues(connection: RedisConnection, basePrefix: string): Queues {
  const queues = {} as Queues;
  for (const action of ACTION_KEYS) {
    queues[action] = new Queue<JobData>(action, { connection, prefix: queuePrefix(basePrefix, action) });
  }
  return queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** The job settings every job and worker carries (the group settings are the producer's). */
export type JobPolicy = Pick<JobsConfig, 'attempts' | 'backoffMs' | 'completedRetentionSeconds' | 'completedRetentionCount' | 'failedRetentionSeconds'>;

/**
 * What each job carries: attempts and backoff for a job whose run fails as a whole (Redis away while its
 * items' new jobs are written, an internal error; an item's own retries are counted in its data, see
 * worker/settle.ts), and how long it stays once failed. How long it stays once
 * completed is set on the workers (completedRetention), so the record of every job is smaller to write
 * and read; a failed job keeps its own, because BullMQ also fails jobs outside a worker's hands (one
 * that stalled too often) and then reads only the job's options.
 */
export function jobOptions(policy: JobPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    removeOnFail: { age: policy.failedRetentionSeconds },
  };
}

/** How long completed jobs stay in Redis (the dashboard, and dedupe by job id): a worker option. */
export function completedRetention(
  policy: Pick<JobPolicy, 'completedRetentionSeconds' | 'completedRetentionCount'>,
): Pick<WorkerOptions, 'removeOnComplete'> {
  return { removeOnComplete: { age: policy.completedRetentionSeconds, count: policy.completedRetentionCount } };
}

/** Job counts by action and state, for metrics and `stats`. */
export async function queueDepth(queues: Queues): Promise<Array<{ action: ActionKey; state: string; count: number }>> {
  const rows = await Promise.all(
    ACTION_KEYS.map(async (action) => {
      const counts = await queues[action].getJobCounts(...COUNTED_JOB_STATES);
      return COUNTED_JOB_STATES.map((state) => ({ action, state, count: counts[state] ?? 0 }));
    }),
  );
  return rows.flat();
}
