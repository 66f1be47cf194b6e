// Per-person order in the worker: before a job's items are sent, each asks the order book whether an
// earlier operation of its person is still open (redis/order-book.ts); after the job, its items' places
// follow them (to the job they move to) or leave the book (they have their outcome), and the held jobs
// behind them are woken.
//
// When each step happens, and why (a worker may be killed between any two):
// - places of items that move to new jobs (retry, 429 wait, held) are moved once those jobs are written
//   and before this job completes: a rerun of this job then sees those items as another job's;
// - places of items with their outcome (delivered, failed for good) leave the book only after this job
//   completed: until then a rerun would send them again, so their people must keep waiting. A worker
//   killed in between leaves places whose job has finished: the next item held behind one finds that job
//   finished and lets the place go (`letGoOfOrphans`). So does a place whose job never reached Redis (its
//   writer died between taking the place and adding the job), once ORDER_ORPHAN_MS has passed since.

import type { Job } from 'bullmq';
import { setTimeout as delay } from 'node:timers/promises';
import type pino from 'pino';
import { orderKindOf } from '../core/order/rule';
import type { ActionKey } from '../core/types';
import type { Queues } from '../jobs/queues';
import type { RedisConnection } from '../redis/connection';
import { queueKey } from '../redis/keys';
import { wakeHeldJobs } from '../jobs/wake';
import { holderOf, OrderBook, parseHolder, parseOrderText, type EntryRef, type GateAnswer, type SettleOp, type ToRegister } from '../redis/order-book';

/** What the gate decided for one item. */
export type ItemGate =
  | { verdict: 'go'; refs: EntryRef[] }
  | { verdict: 'held'; refs: EntryRef[]; behind: string; reason: string }
  /** Another job holds the item now (this job ran before, and moved it), or it had its outcome already. */
  | { verdict: 'skip' };

export interface GateRequest {
  /** The item's person keys (empty: it names nobody and is not ordered). */
  keys: string[];
  /** Its tickets from the job (GroupJobData.order), if it has them. */
  tickets?: number[];
  /** It was free when placed: on a job's first run it goes without asking (places are only added at the end). */
  free?: boolean;
}

export interface WorkerOrderOptions {
  connection: RedisConnection;
  queues: Queues;
  basePrefix: string;
  orderOrphanMs: number;
  logger: pino.Logger;
  clock: () => number;
}

/** The time in a job id of ours (`g` + milliseconds in base 36 + random): when its writer made it. */
function writtenAt(jobId: string): number | undefined {
  if (!jobId.startsWith('g') || jobId.length < 10) return undefined;
  const ms = parseInt(jobId.slice(1, 9), 36);
  return Number.isFinite(ms) ? ms : undefined;
}

/** What the order book needs of an item: its person keys, and its tickets from the job (GroupJobData.order). */
export function gateRequest(keys: string[], order: string | undefined): GateRequest {
  return order ? { keys, ...parseOrderText(order) } : { keys };
}

/** The item's places as its job names them (none when its tickets do not match its keys). */
export function placesOf(r: GateRequest): EntryRef[] {
  return r.tickets && r.tickets.length === r.keys.length ? r.keys.map((key, k) => ({ key, ticket: r.tickets![k] })) : [];
}

/**
 * How long a held item waiting in its job (WorkerOrder.waitInJob) gives a job of this process it waits
 * behind, once that job's run has ended, to complete and let its places go.
 */
export const HOLD_IN_JOB_MS = 100;

/**
 * How long after its job finished a place may still be waiting for that job's worker to let it go (it does
 * so once the job has completed, within milliseconds): letting go of it then is routine, not a sign of a
 * stopped worker.
 */
export const RELEASE_GRACE_MS = 5_000;

/** The largest share of a job's items that may wait in it (or one item); more go to a held job at once. */
export const HOLD_IN_JOB_SHARE = 0.1;

/** A job this process is running, as waitInJob sees it. */
interface Running {
  /** The running jobs its items wait for until their runs end (holder → items), the edges of a graph kept free of cycles. */
  waitsFor: Map<string, number>;
  /** Settles when its run ends. */
  ended: Promise<void>;
}

export class WorkerOrder {
  readonly book: OrderBook;
  private readonly wake: (holders: readonly string[]) => Promise<void>;
  /** Items waiting in their job for a holder's places to be let go by this process (waitInJob), by holder. */
  private readonly waiting = new Map<string, Set<() => void>>();
  /** The jobs this process is running, by holder. */
  private readonly running = new Map<string, Running>();
  /** Jobs whose run ended here and that have not let their places go yet (they are completing), by holder. */
  private readonly finishing = new Set<string>();

  constructor(private readonly opts: WorkerOrderOptions) {
    this.wake = wakeHeldJobs(opts.connection, opts.basePrefix);
    this.book = new OrderBook(opts.connection, opts.basePrefix, opts.clock, this.wake);
  }

  /**
   * Decides for each item of `job` (undefined for an item without person keys). Items without tickets
   * (jobs written with ordering off, replayed jobs) and items whose places are gone take new places at the
   * end of their people's order first.
   */
  async gate(job: Job, action: ActionKey, requests: readonly GateRequest[]): Promise<Array<ItemGate | undefined>> {
    const owners = ownersOf(job, action);
    const own = owners[0];
    const refs: Array<EntryRef[] | undefined> = requests.map((r) => {
      const places = placesOf(r);
      return places.length > 0 ? places : undefined;
    });
    await this.registerAtEnd(requests, refs, own, action, (i) => refs[i] === undefined && requests[i].keys.length > 0);
    // A first run has moved nothing yet, so an item free when placed is free now: no need to ask. A run after
    // a crash asks for every item, since the earlier run may have moved some to other jobs.
    const firstRun = job.attemptsMade === 0 && !job.stalledCounter;
    const asked = refs.map((r, i) => (firstRun && requests[i].free ? undefined : r));

    let answers = await this.ask(asked, owners);
    if (firstRun) answers = answers.map((a, i) => a ?? (requests[i].free && refs[i] ? { verdict: 'go' } : undefined));
    const absent = answers.map((a, i) => a?.verdict === 'absent' && asked[i] !== undefined);
    if (absent.some(Boolean)) {
      if (await this.settledByEarlierRun(job, action)) {
        answers = answers.map((a, i) => (absent[i] ? { verdict: 'moved', holder: 'settled' } : a));
      } else {
        // A replayed item, or one whose place was let go while its job was still on the way: the end of the order.
        await this.registerAtEnd(requests, refs, own, action, (i) => absent[i]);
        const again = await this.ask(refs.map((r, i) => (absent[i] ? r : undefined)), owners);
        answers = answers.map((a, i) => (absent[i] ? again[i] : a));
      }
    }
    // Whether a blocker's job is still alive is asked (one Redis call per blocker) only once its item has
    // been held before: a blocker met for the first time is nearly always alive, and an item held behind
    // a dead one is then only held once more, for ORDER_HOLD_RECHECK_MS.
    const heldBefore = ((job.data as { held?: number }).held ?? 0) > 0 || !firstRun;
    if (heldBefore && (await this.letGoOfOrphans(answers, own))) {
      const held = answers.map((a) => a?.verdict === 'held');
      const again = await this.ask(refs.map((r, i) => (held[i] ? r : undefined)), owners);
      answers = answers.map((a, i) => (held[i] ? again[i] : a));
    }
    return answers.map((a, i) => {
      if (!a || !refs[i]) return undefined;
      if (a.verdict === 'moved') return { verdict: 'skip' };
      if (a.verdict === 'held') return { verdict: 'held', refs: refs[i]!, behind: a.blocker.holder, reason: holdReason(a) };
      return { verdict: 'go', refs: refs[i]! };
    });
  }

  /** The items' places now belong to the job they moved to. */
  async move(entries: ReadonlyArray<{ refs: EntryRef[]; action: ActionKey; jobId: string }>): Promise<void> {
    const ops: SettleOp[] = entries.flatMap(({ refs, action, jobId }) => refs.map((entry) => ({ op: 'move' as const, entry, holder: holderOf(action, jobId) })));
    if (ops.length > 0) await this.book.settle(ops);
  }

  /**
   * Items an earlier run of a job moved to other jobs before it died: their places follow them now,
   * unless the place has moved on already (the new job ran, and moved it further).
   */
  async adopt(job: Job, action: ActionKey, entries: ReadonlyArray<{ refs: EntryRef[]; jobId: string }>): Promise<void> {
    const from = ownersOf(job, action);
    const ops: SettleOp[] = entries.flatMap(({ refs, jobId }) => refs.map((entry) => ({ op: 'moveFrom' as const, entry, holder: holderOf(action, jobId), from })));
    if (ops.length > 0) await this.book.settle(ops);
  }

  /**
   * The items of job `jobId` have their outcome: their places leave the book (only while this job holds
   * them: a place another job took over stays), and the held jobs that may go now are woken.
   */
  async release(action: ActionKey, jobId: string, refs: readonly EntryRef[]): Promise<void> {
    if (refs.length === 0) return;
    const holder = holderOf(action, jobId);
    try {
      await this.book.settle(refs.map((entry) => ({ op: 'removeOrphan' as const, entry, holder })));
    } finally {
      // Whatever the answer, the items waiting behind this job ask the book again (it is the judge).
      this.finishing.delete(holder);
      const waiters = this.waiting.get(holder);
      this.waiting.delete(holder);
      for (const wakeUp of waiters ?? []) wakeUp();
    }
  }

  /** Marks a job's run, for waitInJob; call the returned function when the run ends. */
  run(job: Job, action: ActionKey): () => void {
    const holder = holderOf(action, job.id!);
    let end: () => void = () => undefined;
    const entry: Running = { waitsFor: new Map(), ended: new Promise<void>((resolve) => (end = resolve)) };
    this.running.set(holder, entry);
    return () => {
      if (this.running.get(holder) === entry) this.running.delete(holder);
      this.finishing.add(holder);
      // Completing takes milliseconds; a job that completes without a release (nothing to let go) is forgotten here.
      setTimeout(() => this.finishing.delete(holder), 1000).unref();
      end();
    };
  }

  /**
   * An item the gate held waits in its job, in no batch, for what holds it to be let go by this process,
   * asking the book again each time it is (the book is the judge). Most holds at a busy pipeline's mix
   * end within a batch or two (what the item waits behind is being sent), and a held job of its own costs
   * as many Redis writes and runs for one item as for fifty. How long it waits:
   * - behind a job this process is running: until that job's run ended and HOLD_IN_JOB_MS more (it then
   *   completes and lets its places go), unless that job waits, through others, for this one: jobs that
   *   wait for each other until their runs end could wait forever, so such a wait is never begun;
   * - behind a job whose run just ended here (it is completing): HOLD_IN_JOB_MS;
   * - behind anything else (a job of another process or not started yet, a retry waiting out its backoff,
   *   a job that waits for this one): until `until` (the item's own job is done with its other items).
   * Never waits for its own job. Returns `go`, or `held` still: the item then moves to a held job, as before.
   */
  async waitInJob(job: Job, action: ActionKey, gate: Extract<ItemGate, { verdict: 'held' }>, until: Promise<void>): Promise<Exclude<ItemGate, { verdict: 'skip' }>> {
    const owners = ownersOf(job, action);
    const own = this.running.get(owners[0]);
    let current = gate;
    for (;;) {
      if (owners.includes(current.behind)) return current;
      const behind = current.behind;
      const blocker = this.running.get(behind);
      const untilItEnds = own !== undefined && blocker !== undefined && !this.reaches(behind, owners[0]);
      let limit = until;
      if (untilItEnds) {
        own.waitsFor.set(behind, (own.waitsFor.get(behind) ?? 0) + 1);
        limit = blocker.ended.then(() => delay(HOLD_IN_JOB_MS));
      } else if (this.finishing.has(behind)) limit = delay(HOLD_IN_JOB_MS);
      const released = this.whenReleased(behind);
      const woken = await Promise.race([released.promise.then(() => true), limit.then(() => false)]);
      released.cancel();
      if (untilItEnds) {
        const left = own.waitsFor.get(behind)! - 1;
        if (left > 0) own.waitsFor.set(behind, left);
        else own.waitsFor.delete(behind);
      }
      const [answer] = await this.ask([current.refs], owners);
      if (answer?.verdict === 'go') return { verdict: 'go', refs: current.refs };
      // Gone or moved meanwhile (a replay, an orphan sweep): the held job's own run sorts it out, as before.
      if (answer?.verdict !== 'held') return current;
      current = { verdict: 'held', refs: current.refs, behind: answer.blocker.holder, reason: holdReason(answer) };
      if (!woken) return current;
    }
  }

  /** Whether the running job `from` waits, directly or through others, until the run of `to` ends. */
  private reaches(from: string, to: string): boolean {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const at = stack.pop()!;
      if (at === to) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      for (const next of this.running.get(at)?.waitsFor.keys() ?? []) stack.push(next);
    }
    return false;
  }

  private whenReleased(holder: string): { promise: Promise<void>; cancel(): void } {
    let wakeUp: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => (wakeUp = resolve));
    const set = this.waiting.get(holder) ?? new Set();
    set.add(wakeUp);
    this.waiting.set(holder, set);
    return {
      promise,
      cancel: () => {
        set.delete(wakeUp);
        if (set.size === 0 && this.waiting.get(holder) === set) this.waiting.delete(holder);
      },
    };
  }

  /** A held job just written: if what held its items has had its outcome meanwhile, it goes now. */
  async wakeIfFree(action: ActionKey, jobId: string, refs: ReadonlyArray<EntryRef[]>): Promise<void> {
    const answers = await this.book.gate(refs, [holderOf(action, jobId)], this.opts.clock());
    if (answers.some((a) => a.verdict === 'go')) await this.wake([holderOf(action, jobId)]);
  }

  private async ask(refs: Array<EntryRef[] | undefined>, owners: string[]): Promise<Array<GateAnswer | undefined>> {
    const asked = refs.map((r, i) => ({ r, i })).filter((x): x is { r: EntryRef[]; i: number } => x.r !== undefined);
    const answers: Array<GateAnswer | undefined> = refs.map(() => undefined);
    if (asked.length === 0) return answers;
    const got = await this.book.gate(asked.map((x) => x.r), owners, this.opts.clock());
    asked.forEach((x, n) => (answers[x.i] = got[n]));
    return answers;
  }

  private async registerAtEnd(requests: readonly GateRequest[], refs: Array<EntryRef[] | undefined>, holder: string, action: ActionKey, which: (i: number) => boolean): Promise<void> {
    const picked = requests.map((_, i) => i).filter(which);
    if (picked.length === 0) return;
    const items: ToRegister[] = picked.map((i) => ({ keys: requests[i].keys, kind: orderKindOf(action), holder }));
    const tickets = await this.book.register(items);
    picked.forEach((i, n) => (refs[i] = requests[i].keys.map((key, k) => ({ key, ticket: tickets[n][k] }))));
  }

  /** Whether this job ran before and got as far as storing its counts: then every item of it was settled. */
  private async settledByEarlierRun(job: Job, action: ActionKey): Promise<boolean> {
    if (!job.stalledCounter) return false;
    const mark = await this.opts.connection.hget(queueKey(this.opts.basePrefix, action, job.id!), 'cioCounted.final');
    return mark !== null;
  }

  /**
   * Places held by a job that has finished (its worker died before letting them go) or that never reached
   * Redis (past ORDER_ORPHAN_MS) are let go. Returns whether any was.
   */
  private async letGoOfOrphans(answers: Array<GateAnswer | undefined>, own: string): Promise<boolean> {
    const blockers = new Map<string, EntryRef[]>();
    for (const a of answers) {
      if (a?.verdict !== 'held' || a.blocker.holder === own) continue;
      const list = blockers.get(a.blocker.holder) ?? [];
      list.push({ key: a.key, ticket: a.blocker.ticket });
      blockers.set(a.blocker.holder, list);
    }
    const ops: SettleOp[] = [];
    await Promise.all(
      [...blockers].map(async ([holder, entries]) => {
        const orphan = await this.orphanOf(holder);
        if (orphan === 'alive') return;
        // A job that finished moments ago is completing: its own worker lets its places go in a moment (a
        // busy pipeline meets this often), so only a place left behind for longer says a worker died.
        if (orphan === 'completing') this.opts.logger.debug({ holder, entries: entries.length }, 'order: letting go of a place whose job has just finished');
        else this.opts.logger.warn({ holder, entries: entries.length }, 'order: letting go of a place whose job finished long ago or never reached Redis (a worker or API process stopped half-way)');
        for (const entry of entries) ops.push({ op: 'removeOrphan', entry, holder });
      }),
    );
    if (ops.length === 0) return false;
    await this.book.settle(ops);
    return true;
  }

  /** Whether a holder's places may be let go: `alive` (no), `completing` (finished within RELEASE_GRACE_MS), `orphan`. */
  private async orphanOf(holder: string): Promise<'alive' | 'completing' | 'orphan'> {
    const parsed = parseHolder(holder);
    if (!parsed) return 'orphan';
    const [timestamp, finishedOn] = await this.opts.connection.hmget(queueKey(this.opts.basePrefix, parsed.action, parsed.jobId), 'timestamp', 'finishedOn');
    if (finishedOn !== null) return this.opts.clock() - Number(finishedOn) <= RELEASE_GRACE_MS ? 'completing' : 'orphan';
    if (timestamp !== null) return 'alive';
    // Not in Redis: its writer may still be adding it; only a job id that says when it was made can tell how long ago.
    const at = writtenAt(parsed.jobId);
    return at === undefined || this.opts.clock() - at > this.opts.orderOrphanMs ? 'orphan' : 'alive';
  }
}

/** The holders a job answers for in the book: itself, and the job it was made from (the book may not have been told of the move yet). */
function ownersOf(job: Job, action: ActionKey): string[] {
  const from = (job.data as { from?: string }).from;
  const own = holderOf(action, job.id!);
  return from ? [own, holderOf(action, from)] : [own];
}

function holdReason(a: Extract<GateAnswer, { verdict: 'held' }>): string {
  const blocker = parseHolder(a.blocker.holder);
  const what = a.blocker.kind === 'operation' ? 'operation' : 'event';
  return `held behind an earlier ${what} of ${a.key} (job ${blocker?.jobId ?? a.blocker.holder} of ${blocker?.action ?? 'an unknown action'}) until it has its outcome`;
}
