// The jobs a group job makes from its items (a retry, a 429 wait, held items, one failed job per refused
// item) and what a later run of the same job must do about the ones an earlier run made.
//
// A run writes those jobs first and completes the group job after. A worker killed in between (or an
// unforeseen error there) leaves the group job to run again while the jobs it made already exist. The
// items in them are theirs now: sending them again from the group job would put a second copy of an item
// on the wire at a time its person's order no longer expects (its place was about to move to the new
// job), and an item whose outcome differs the second time could not be written (a job id is written
// once). So each run names its jobs after its own start (BullMQ's attemptsStarted, which grows with every
// run and is kept by replay), and a later run leaves out the items an earlier run already moved.

import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import type { RedisConnection } from '../redis/connection';
import { queueKey } from '../redis/keys';
import type { ActionKey } from '../core/types';
import { messageIdsOf, type AnyJobData } from '../jobs/group';

export type ChildKind = 'retry' | 'failed' | 'wait' | 'held';

/** Earlier runs looked at: a job that started more often than this has had its items moved long ago. */
const RUNS_LOOKED_AT = 8;

/** The number of the run a job is in (1 for its first), as BullMQ counts starts. */
function runOf(job: Job): number {
  return Math.max(1, job.attemptsStarted ?? 1);
}

function idOf(jobId: string, run: number, kind: ChildKind, index: number): string {
  const digest = createHash('sha1').update(`${jobId}|${run}|${kind}|${index}`).digest('base64url').slice(0, 16);
  return `${kind[0]}${digest}`;
}

/** The id of a job made from `job` in this run: each run its own, so two runs never write to the same id. */
export function childId(job: Job, kind: ChildKind, index: number): string {
  return idOf(job.id!, runOf(job), kind, index);
}

/** An item an earlier run moved: the job it is in now, and whether that job is its failure (refused for good). */
export interface MovedEarlier {
  jobId: string;
  failed: boolean;
}

/**
 * The items of `job` (by position in `messageIds`) that an earlier run of it moved to jobs it made. Only
 * a job that has run before pays for this (one HGET per possible job, answered together).
 */
export async function movedByEarlierRuns(
  connection: RedisConnection,
  basePrefix: string,
  action: ActionKey,
  job: Job,
  messageIds: readonly string[],
): Promise<Map<number, MovedEarlier>> {
  const moved = new Map<number, MovedEarlier>();
  const run = runOf(job);
  if (run <= 1) return moved;
  const candidates: Array<{ id: string; failed: boolean }> = [];
  for (let earlier = Math.max(1, run - RUNS_LOOKED_AT); earlier < run; earlier++) {
    for (const kind of ['retry', 'wait', 'held'] as const) candidates.push({ id: idOf(job.id!, earlier, kind, 0), failed: false });
    for (let i = 0; i < messageIds.length; i++) candidates.push({ id: idOf(job.id!, earlier, 'failed', i), failed: true });
  }
  const position = new Map(messageIds.map((id, i) => [id, i]));
  const found = await Promise.all(candidates.map((c) => connection.hget(queueKey(basePrefix, action, c.id), 'data')));
  found.forEach((data, n) => {
    if (data === null) return;
    for (const id of storedMessageIds(data)) {
      const i = position.get(id);
      if (i !== undefined && !moved.has(i)) moved.set(i, { jobId: candidates[n].id, failed: candidates[n].failed });
    }
  });
  return moved;
}

/** The messageIds a job's stored data names (nothing, when it cannot be read). */
function storedMessageIds(data: string): string[] {
  try {
    return messageIdsOf(JSON.parse(data) as AnyJobData).map(String);
  } catch {
    return [];
  }
}
