// Writes groups of events as jobs, all or nothing: each event is first claimed in the message index (a
// re-sent event is dropped there), the jobs are then added, and when any part fails every job of the write
// is removed and every claim released, so the caller can answer "nothing was queued, retry".
//
// One corner is left, and the README says so: a job that a worker took in the milliseconds between its
// write and the rollback cannot be removed. It is then delivered, and its claims stay, so the client's
// retry of the refused request is recognised as a re-send for those events and queues only the others.

import { randomBytes } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import { queueKey, queuePrefix } from '../redis/keys';
import { type Queues } from './queues';
import type { ActionKey, SegmentEvent } from '../core/types';
import { encodeGroup, type GroupExtras, type GroupJobData } from './group';
import { indexField, type MessageIndex } from '../redis/message-index';

/** The events of one subscription to be written, in order. */
export interface GroupToWrite {
  action: ActionKey;
  subscription: string;
  events: SegmentEvent[];
  extras?: GroupExtras;
  /** The events as JSON, when already made (fitToCaps): used when every event is new. */
  json?: string;
}

export interface GroupCaps {
  /** Events per job. */
  maxEvents: number;
  /** Bytes of events (as JSON, before compression) per job. */
  maxBytes: number;
}

export interface WrittenGroup {
  jobId?: string;
  /** Positions (in `events`) of the events that were new and are now in the job. */
  queued: number[];
  /** Positions of the events that were already queued within the window (re-sends). */
  duplicates: number[];
}

/**
 * Pure: splits a subscription's events into pieces of at most `maxEvents` events and `maxBytes` bytes of
 * JSON (an event is never split, so a piece of one event may be larger). Returns each piece with its
 * JSON, so it is serialized once.
 */
export function fitToCaps(events: SegmentEvent[], caps: GroupCaps): Array<{ events: SegmentEvent[]; json: string }> {
  const pieces: Array<{ events: SegmentEvent[]; json: string }> = [];
  const fit = (run: SegmentEvent[]) => {
    const json = JSON.stringify(run);
    if (run.length === 1 || Buffer.byteLength(json) <= caps.maxBytes) {
      pieces.push({ events: run, json });
      return;
    }
    const half = Math.ceil(run.length / 2);
    fit(run.slice(0, half));
    fit(run.slice(half));
  };
  for (let start = 0; start < events.length; start += caps.maxEvents) fit(events.slice(start, start + caps.maxEvents));
  return pieces;
}

/** A job id of our own: unique, sortable by time in the dashboard, and without ':' (BullMQ refuses it). */
export function newJobId(now: number): string {
  return `g${now.toString(36)}${randomBytes(6).toString('base64url')}`;
}

/** Like Promise.all, but waits for every promise to settle before it rejects (a rollback must see them all). */
async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export class GroupRedisError extends Error {
  override name = 'GroupRedisError';
}

export interface WriteOptions {
  /** Claim each event in the message index and leave out re-sends (new events); false for jobs made from jobs. */
  dedupe: boolean;
  /** Ids for the jobs, one per group (jobs made from jobs: the same ids when a job runs again). */
  jobIds?: string[];
  /** Delay before the jobs may run (a retry's backoff). */
  delayMs?: number;
  /**
   * Called once the claims are made and before any job is added (per-person order: the new events take
   * their places in their people's order, so a worker never sees a job whose places are not taken yet).
   * Gets each group with its job id and the positions of its events that are queued; returns each group's
   * `order` (see GroupJobData), or undefined. `undo` is called if the write fails after it.
   */
  register?: (claimed: ClaimedGroup[]) => Promise<{ order: Array<string[] | undefined>; undo(): Promise<void> }>;
}

/** A group whose new events are known, before its job is added. */
export interface ClaimedGroup {
  group: GroupToWrite;
  index: number;
  jobId: string;
  /** Positions in `group.events` of the events that are new. */
  queued: number[];
}

export class GroupWriter {
  constructor(
    private readonly queues: Queues,
    private readonly index: MessageIndex,
    private readonly basePrefix: string,
    private readonly jobOptions: JobsOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Writes each group as one job (callers split them with fitToCaps first); all of them, or none. Three
   * steps: every group's events are claimed in the message index, the new ones take their places in their
   * people's order (`register`), then the jobs are added.
   */
  async write(groups: GroupToWrite[], opts: WriteOptions): Promise<WrittenGroup[]> {
    const now = this.clock();
    const claims: Array<{ action: ActionKey; jobId: string; fields: string[] }> = [];
    const added: Array<{ queue: Queue; jobId: string }> = [];
    const results: WrittenGroup[] = [];
    let undoRegister: (() => Promise<void>) | undefined;
    const claimOne = async (group: GroupToWrite, g: number): Promise<ClaimedGroup> => {
      await this.queues[group.action].waitUntilReady();
      const prefix = queuePrefix(this.basePrefix, group.action);
      const fields = group.events.map((e) => indexField(group.subscription, String(e.messageId)));
      const jobId = opts.jobIds?.[g] ?? newJobId(now);
      let queued = group.events.map((_, i) => i);
      if (opts.dedupe) {
        claims.push({ action: group.action, jobId, fields });
        queued = await this.index.claim(prefix, queueKey(this.basePrefix, group.action, ''), jobId, fields);
      }
      const kept = new Set(queued);
      results[g] = { queued, duplicates: group.events.map((_, i) => i).filter((i) => !kept.has(i)) };
      return { group, index: g, jobId, queued };
    };
    const addOne = async ({ group, index: g, jobId, queued }: ClaimedGroup, order: string[] | undefined) => {
      if (queued.length === 0) return;
      results[g].jobId = jobId;
      const prefix = queuePrefix(this.basePrefix, group.action);
      const all = queued.length === group.events.length;
      const events = all ? group.events : queued.map((i) => group.events[i]);
      const queue = this.queues[group.action];
      const jobOpts: JobsOptions = { ...this.jobOptions, jobId };
      if (opts.delayMs && opts.delayMs > 0) jobOpts.delay = Math.round(opts.delayMs);
      // Counted before the write: a Redis out of memory may refuse a write command half-way through
      // BullMQ's script (the job's hash written, its list entry not), and the rollback removes that too.
      added.push({ queue, jobId });
      const json = all ? group.json : undefined;
      const extras = order ? { ...group.extras, order } : group.extras;
      await queue.add(group.subscription, encodeGroup(group.subscription, events, extras, json), jobOpts);
      if (!opts.dedupe) {
        const fields = queued.map((i) => indexField(group.subscription, String(group.events[i].messageId)));
        await this.index.point(prefix, fields.map((field) => ({ field, jobId })));
      }
    };
    try {
      // The queues' connection is ready after its first use; before that, a command would be refused at once.
      const claimed = await settleAll(groups.map((group, g) => claimOne(group, g)));
      const registered = opts.register ? await opts.register(claimed) : undefined;
      undoRegister = registered?.undo;
      await settleAll(claimed.map((c, i) => addOne(c, registered?.order[i] ?? c.group.extras?.order)));
      return results;
    } catch (err) {
      // Jobs made from jobs are rolled back too: a half-written one would otherwise stand in the way of the
      // same id when the job that makes them runs again.
      await this.rollback(added, claims);
      if (undoRegister) await undoRegister().catch(() => undefined);
      throw new GroupRedisError((err as Error)?.message ?? String(err));
    }
  }

  // Removes what was added and releases the claims; a job a worker already holds stays, with its claims.
  private async rollback(added: Array<{ queue: Queue; jobId: string }>, claims: Array<{ action: ActionKey; jobId: string; fields: string[] }>): Promise<void> {
    const kept = new Set<string>();
    await Promise.all(
      added.map(async ({ queue, jobId }) => {
        const removed = await queue.remove(jobId).then((n) => n === 1, () => false);
        if (!removed) kept.add(jobId);
      }),
    );
    await Promise.allSettled(
      claims.filter((c) => !kept.has(c.jobId)).map((c) => this.index.release(queuePrefix(this.basePrefix, c.action), c.jobId, c.fields)),
    );
  }
}
