// Writes groups of events as jobs, all or nothing: each event is first claimed in the message index (a
// re-sent event is dropped there), the jobs are then added, and when any part fails every job of the write
// is removed and every claim released, so the caller can answer "nothing was queued, retry".
//
// The producer's writes count what they store in the same step (`count`): a job and its items' count in
// cio_items_enqueued_total go in one MULTI/EXEC, re-sends are counted by the claim script, and a job
// removed by a rollback takes its count with it; a process killed at any point leaves counted = stored.
//
// One corner is left, and the README says so: a job that a worker took in the milliseconds between its
// write and the rollback cannot be removed. It is then delivered, and its claims stay, so the client's
// retry of the refused request is recognised as a re-send for those events and queues only the others.
// GroupRedisError says whether the rollback removed everything (`nothingKept`): only then may the caller
// say "nothing was queued".

import { randomBytes } from 'node:crypto';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import { writeCounts } from '../counts/redis-store';
import { queueKey, queuePrefix } from '../redis/keys';
import type { RedisConnection } from '../redis/connection';
import { type Queues } from './queues';
import type { ActionKey, SegmentEvent } from '../core/types';
import { encodeGroup, type GroupExtras, type GroupJobData } from './group';
import { indexField, PRODUCER_JOB_MARK, type MessageIndex } from '../redis/message-index';

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

/**
 * A job id of our own: unique, sortable by time in the dashboard, and without ':' (BullMQ refuses it). It
 * starts with PRODUCER_JOB_MARK, which the ids of jobs made from jobs never do (the message index tells
 * the two apart by it).
 */
export function newJobId(now: number): string {
  return `${PRODUCER_JOB_MARK}${now.toString(36)}${randomBytes(6).toString('base64url')}`;
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
  constructor(
    message: string,
    /** The rollback removed every job of the write: none of its events is in Redis. */
    readonly nothingKept: boolean,
  ) {
    super(message);
  }
}

export interface WriteOptions {
  /** Claim each event in the message index and leave out re-sends (new events); false for jobs made from jobs. */
  dedupe: boolean;
  /** Ids for the jobs, one per group (jobs made from jobs: the same ids when a job runs again). */
  jobIds?: string[];
  /** Delay before the jobs may run (a retry's backoff). */
  delayMs?: number;
  /**
   * Per-person order: the events take their places in their people's order, at the same time as they are
   * claimed and before any job is added, so a worker never sees a job whose places are not taken yet. Gets
   * each group with its job id; returns each group's `order` (GroupJobData, one entry per event), `release`
   * for the places of events found to be re-sends (not queued), and `undo` for when the write fails.
   */
  register?: (groups: ReadonlyArray<{ group: GroupToWrite; index: number; jobId: string }>) => Promise<Registered>;
  /** Count the items stored (cio_items_enqueued_total) and the re-sends left out in Redis, in the same step. */
  count?: boolean;
}

/** What the order registration did for one write (see WriteOptions.register). */
export interface Registered {
  order: Array<string[] | undefined>;
  release(group: number, positions: number[]): Promise<void>;
  undo(): Promise<void>;
}

/** A group whose new events are known, before its job is added. */
export interface ClaimedGroup {
  group: GroupToWrite;
  index: number;
  jobId: string;
  /** Positions in `group.events` of the events that are new. */
  queued: number[];
}

interface Added {
  queue: Queue;
  jobId: string;
  /** Where its items were counted, and how many. */
  counted?: { key: string; series: string; items: number };
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
    const claims: Array<{ action: ActionKey; jobId: string; fields: Buffer[] }> = [];
    const added: Added[] = [];
    const results: WrittenGroup[] = [];
    const jobIds = groups.map((_, g) => opts.jobIds?.[g] ?? newJobId(now));
    const claimOne = async (group: GroupToWrite, g: number): Promise<ClaimedGroup> => {
      const prefix = queuePrefix(this.basePrefix, group.action);
      const fields = group.events.map((e) => indexField(group.subscription, String(e.messageId)));
      const jobId = jobIds[g];
      const counts = opts.count ? writeCounts(this.basePrefix, group.action) : undefined;
      let queued = group.events.map((_, i) => i);
      if (opts.dedupe) {
        claims.push({ action: group.action, jobId, fields });
        const counted = counts && { key: counts.key, series: counts.deduplicated };
        queued = await this.index.claim(prefix, queueKey(this.basePrefix, group.action, ''), jobId, fields, counted);
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
      const counts = opts.count ? writeCounts(this.basePrefix, group.action) : undefined;
      const counted = counts && { key: counts.key, series: counts.enqueued, items: events.length };
      added.push({ queue, jobId, counted });
      const json = all ? group.json : undefined;
      const extras = order ? { ...group.extras, order } : group.extras;
      const data = encodeGroup(group.subscription, events, extras, json);
      if (counted) await addCounted(queue, group.subscription, data, jobOpts, counted);
      else await queue.add(group.subscription, data, jobOpts);
      if (!opts.dedupe) {
        const fields = queued.map((i) => indexField(group.subscription, String(group.events[i].messageId)));
        await this.index.point(prefix, fields.map((field) => ({ field, jobId })));
      }
    };
    // The queues' connection is ready after its first use; before that, a command would be refused at once.
    await Promise.all([...new Set(groups.map((g) => g.action))].map((action) => this.queues[action].waitUntilReady()));
    const registering = opts.register?.(groups.map((group, index) => ({ group, index, jobId: jobIds[index] })));
    try {
      const [claimed, registered] = await Promise.all([settleAll(groups.map((group, g) => claimOne(group, g))), registering]);
      const releases: Array<Promise<void>> = [];
      const adds = claimed.map((c, i) => {
        const order = registered?.order[i];
        if (!order) return addOne(c, c.group.extras?.order);
        // The places of the events that turned out to be re-sends are let go: they take no new place.
        if (c.queued.length < c.group.events.length) {
          const kept = new Set(c.queued);
          releases.push(registered!.release(i, c.group.events.map((_, p) => p).filter((p) => !kept.has(p))));
        }
        return addOne(c, c.queued.map((p) => order[p]));
      });
      await settleAll([...adds, ...releases]);
      return results;
    } catch (err) {
      // Jobs made from jobs are rolled back too: a half-written one would otherwise stand in the way of the
      // same id when the job that makes them runs again.
      const nothingKept = await this.rollback(added, claims);
      // The places taken for the write go too (even when the claims failed first), unless a job stayed.
      const registered = await registering?.catch(() => undefined);
      if (registered && nothingKept) await registered.undo().catch(() => undefined);
      throw new GroupRedisError((err as Error)?.message ?? String(err), nothingKept);
    }
  }

  // Removes what was added and releases the claims; a job a worker already holds stays, with its claims.
  // True when every job is known to be gone (removed, or never written).
  private async rollback(added: Added[], claims: Array<{ action: ActionKey; jobId: string; fields: Buffer[] }>): Promise<boolean> {
    const kept = new Set<string>();
    await Promise.all(
      added.map(async (a) => {
        const removed = await removeCounted(a).catch(() => false);
        if (!removed) kept.add(a.jobId);
      }),
    );
    const released = await Promise.allSettled(
      claims.filter((c) => !kept.has(c.jobId)).map((c) => this.index.release(queuePrefix(this.basePrefix, c.action), c.jobId, c.fields)),
    );
    return kept.size === 0 && released.every((r) => r.status === 'fulfilled');
  }
}

type Transaction = { hincrby(key: string, field: string, n: number): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };

/** Adds the job and counts its items in one MULTI/EXEC (same slot: the counts hash is the queue's). */
async function addCounted(queue: Queue, name: string, data: GroupJobData, opts: JobsOptions, counted: NonNullable<Added['counted']>): Promise<void> {
  const client = (await queue.backend.client) as unknown as RedisConnection;
  const multi = (client as unknown as { multi(): Transaction }).multi();
  const job = new Job(queue, name, data, opts, opts.jobId);
  const queuedAdd = job.addJob(multi as never);
  multi.hincrby(counted.key, counted.series, counted.items);
  const results = await multi.exec();
  await queuedAdd;
  if (!results) throw new Error('Redis aborted the transaction that adds the job');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
}

/**
 * Removes a job the rollback takes back, with its count in the same step; resolves true when the job is
 * gone, false when a worker holds it (it is then delivered, and its count stays).
 */
async function removeCounted({ queue, jobId, counted }: Added): Promise<boolean> {
  if (!counted) return (await queue.remove(jobId)) === 1;
  const client = (await queue.backend.client) as unknown as RedisConnection;
  // The job and its count were written in one transaction: no job, no count (a refused or lost write).
  if ((await client.exists(`${queue.qualifiedName}:${jobId}`)) === 0) return true;
  // removeArgs is BullMQ's own argument list for its removeJob script (protected in its types).
  const backend = queue.backend as unknown as { execCommand(client: unknown, command: string, args: unknown[]): unknown; removeArgs(id: string, children: boolean): unknown[] };
  const multi = (client as unknown as { multi(): Transaction }).multi();
  backend.execCommand(multi, 'removeJob', backend.removeArgs(jobId, false));
  multi.hincrby(counted.key, counted.series, -counted.items);
  const results = await multi.exec();
  if (!results || results.some(([err]) => err)) return false;
  if (results[0][1] === 1) return true;
  // A worker holds the job: it stays, and so does its count.
  await client.hincrby(counted.key, counted.series, counted.items);
  return false;
}
