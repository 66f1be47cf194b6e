// BullMQ workers, one per action queue, sharing one Delivery. A job carries a group of events for one
// subscription (jobs/group.ts): the worker maps each event, hands the items to Delivery (so one request
// to Customer.io can carry items of several jobs), waits until every item has an outcome, and then
// settles the job (settle.ts): delivered items are counted; each item refused for good becomes a failed
// job of its own, with its event and reason, so Bull Board shows it and `replay` re-queues it; items hit
// by a transient failure go back as one new job with backoff; items that wait out a 429 go back without
// using an attempt. The new jobs are written before the group job completes, with ids derived from it and
// its run, so a worker killed in between loses nothing: the job runs again, sends again the items that had
// their outcome, and leaves the moved ones to the jobs they moved to (earlier-runs.ts).

import { randomInt } from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type pino from 'pino';
import type { RedisConfig, ServiceConfig } from '../config';
import { CustomerIoClient } from '../customerio/client';
import type { Metrics } from '../counts/metrics';
import { type FailReason } from '../core/outcomes';
import { orderKeysOf, orderKindOf } from '../core/order/rule';
import { orderText, type EntryRef } from '../redis/order-book';
import { decodeGroup, eventOrders, groupCount, messageIdsOf, type AnyJobData, type GroupJobData } from '../jobs/group';
import { indexField, MessageIndex } from '../redis/message-index';
import { GroupWriter, type GroupToWrite } from '../jobs/writer';
import { completedRetention, createQueues, jobOptions, type Queues } from '../jobs/queues';
import { queueKey, queuePrefix } from '../redis/keys';
import { countAttemptOnce, countFinalOnce } from '../counts/redis-store';
import { type RedisConnection } from '../redis/connection';
import { sharedErrorLog } from '../log/throttle';
import { logQueueErrors } from '../log/queue-watch';
import { transform, type Subscription } from '../core/subscriptions';
import type { BuildResult } from '../core/actions/types';
import { ACTION_KEYS, type ActionKey, type SegmentEvent } from '../core/types';
import { Delivery, type Sent } from './delivery';
import { requestFacts, type GroupResult, type RequestRecord } from '../jobs/result';
import { ItemPermits } from './permits';
import { gateRequest, HOLD_IN_JOB_SHARE, placesOf, WorkerOrder, type GateRequest, type ItemGate } from './order';
import { settle, type ItemOutcome, type Settlement } from './settle';
import { childId, movedByEarlierRuns } from './earlier-runs';

/** What the workers read: their own group, the jobs', Customer.io's, the subscriptions and the queue prefix. */
export type WorkerConfig = Pick<ServiceConfig, 'worker' | 'jobs' | 'customerio' | 'subscriptions'> & { redis: Pick<RedisConfig, 'queuePrefix'> };

export interface WorkerPoolOptions {
  config: WorkerConfig;
  connection: RedisConnection;
  /** Kept for callers of the first version; the pool writes and pauses through queues of its own connection. */
  queues?: Queues;
  logger: pino.Logger;
  metrics?: Metrics;
  acquireRequestSlot?: () => Promise<void>;
  clock?: () => number;
  /** In [0, 1): spreads retries. */
  random?: () => number;
  /**
   * Called once a settled job's new jobs are written, before its counts and its completion. Tests use it
   * to stop a worker at that exact point, as a crash would.
   */
  afterItemJobsWritten?: (jobId: string) => Promise<void>;
}

export class WorkerPool {
  readonly workers: Worker<AnyJobData, GroupResult>[] = [];
  readonly delivery: Delivery;
  private readonly client: CustomerIoClient;
  private readonly subscriptions: Map<string, Subscription>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly queues: Queues;
  private readonly writer: GroupWriter;
  private readonly index: MessageIndex;
  /** The bound on events held at once by this process (WORKER_MAX_ITEMS). */
  readonly permits: ItemPermits;
  /** Per-person order (ORDERING=person); undefined when it is off. */
  readonly order?: WorkerOrder;
  /** Places of items that had their outcome in a job, let go once that job has completed (worker/order.ts). */
  private readonly releaseOnComplete = new Map<string, { action: ActionKey; refs: EntryRef[] }>();
  private closing?: Promise<void>;

  constructor(private readonly opts: WorkerPoolOptions) {
    const { config } = opts;
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? (() => randomInt(1_000_000) / 1_000_000);
    this.subscriptions = new Map(config.subscriptions.map((s) => [s.name, s]));
    this.permits = new ItemPermits(config.worker.maxItems);
    // The worker connection waits out a Redis outage, so the jobs a settled job leaves behind are written
    // before it completes, however long Redis is away.
    this.queues = createQueues(opts.connection, config.redis.queuePrefix);
    logQueueErrors(this.queues, opts.logger);
    const index = (this.index = new MessageIndex(opts.connection, config.jobs.completedRetentionSeconds, this.clock));
    this.writer = new GroupWriter(this.queues, index, config.redis.queuePrefix, jobOptions(config.jobs), this.clock);
    this.client = new CustomerIoClient({ ...config.customerio });
    if (config.jobs.ordering === 'person') {
      this.order = new WorkerOrder({
        connection: opts.connection,
        queues: this.queues,
        basePrefix: config.redis.queuePrefix,
        orderOrphanMs: config.jobs.orderOrphanMs,
        logger: opts.logger,
        clock: this.clock,
      });
    }
    this.delivery = new Delivery({
      client: this.client,
      flushIntervalMs: config.worker.flushIntervalMs,
      requestConcurrency: config.worker.requestConcurrency,
      authPauseMs: config.worker.authPauseMs,
      rateLimitPauseMs: config.worker.rateLimitPauseMs,
      metrics: opts.metrics,
      logger: opts.logger,
      acquireRequestSlot: opts.acquireRequestSlot,
      clock: this.clock,
      onPause: (subscription, ms, reason) => this.pause(subscription.action, ms, reason),
    });
  }

  /** Starts one worker per action queue that has a subscription. */
  start(): void {
    const actions = new Set(this.opts.config.subscriptions.map((s) => s.action));
    for (const action of ACTION_KEYS) {
      if (!actions.has(action)) continue;
      const worker = new Worker<AnyJobData, GroupResult>(action, (job) => this.processCounted(action, job), {
        connection: this.opts.connection,
        prefix: queuePrefix(this.opts.config.redis.queuePrefix, action),
        concurrency: this.opts.config.worker.concurrency,
        stalledInterval: this.opts.config.worker.stalledIntervalMs,
        lockDuration: this.opts.config.worker.lockDurationMs,
        // A job caught by several worker deaths or Redis outages must come back each time, not fail.
        maxStalledCount: this.opts.config.worker.maxStalledCount,
        // A limiter must be configured for queue.rateLimit() to hold jobs back; the cap itself is never reached.
        limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1000 },
        ...completedRetention(this.opts.config.jobs),
      });
      worker.on('completed', (job) => void this.releasePlaces(job.id!));
      worker.on('error', (err) => sharedErrorLog(this.opts.logger, 'BullMQ worker', 'the worker keeps running and reconnects by itself')(err, { action }));
      // Failures decided by BullMQ rather than by process(): a job that stalled too often.
      worker.on('failed', (job, err) => {
        // A run that did not complete keeps its places (the job runs again, or they are let go once it has failed).
        if (job) this.releaseOnComplete.delete(job.id!);
        if (job && /stalled more than allowable limit/.test(err.message)) {
          void this.opts.metrics?.countItems('stalled', action, groupCount(job.data));
          this.opts.logger.error({ action, job: job.id, items: groupCount(job.data) }, 'job failed: it stalled too often (replay it)');
        }
      });
      this.workers.push(worker);
    }
  }

  /** Stops taking jobs, sends what is in hand, waits for the answers, then closes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = Promise.all(this.workers.map((w) => w.close()));
      await this.delivery.flushAll();
      await closed;
      await this.delivery.flushAll();
      this.client.close();
      await Promise.all(Object.values(this.queues).map((q) => q.close()));
    })();
    return this.closing;
  }

  /**
   * Every way a run can end counts: the outcomes process() counts itself, and here whatever it did not
   * foresee (Redis away while the items' new jobs are written, a bug): the job's items are counted as
   * retried (BullMQ runs the job again after its backoff) or, on its last attempt, failed, with the
   * reason class `internal`, and the error is logged.
   */
  private async processCounted(action: ActionKey, job: Job<AnyJobData, GroupResult>): Promise<GroupResult> {
    try {
      return await this.process(action, job);
    } catch (err) {
      if (err instanceof UnrecoverableError || err instanceof Error && err.name === 'RateLimitError') throw err;
      if (err instanceof LostLockError) {
        // Not this run's to count: the run that holds the job now settles and counts its items.
        this.opts.logger.warn({ action, job: job.id }, err.message);
        throw err;
      }
      const items = groupCount(job.data);
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) await this.countFailed(action, job, 'internal', items);
      else await this.opts.metrics?.countItems('internal_retry', action, items, countAttemptOnce(job));
      this.opts.logger.error(
        { action, job: job.id, items, attempt: job.attemptsMade + 1, err: (err as Error)?.message },
        last ? 'job failed on an unforeseen error (replay it once the cause is fixed)' : 'job failed on an unforeseen error; BullMQ runs it again',
      );
      throw err;
    }
  }

  private async process(action: ActionKey, job: Job<AnyJobData, GroupResult>): Promise<GroupResult> {
    const data = job.data;
    const subscription = this.subscriptions.get(data.subscription);
    if (!subscription) {
      await this.countFailed(action, job, 'internal', groupCount(data));
      this.opts.logger.error({ action, job: job.id, subscription: data.subscription }, 'job failed: its subscription is not in this configuration');
      throw new UnrecoverableError(
        `The subscription "${data.subscription}" is not in this worker's configuration (CIO_CONFIG); restore it and replay the job.`,
      );
    }
    // A job made for one refused item fails with its reason on its first run; run again by an operator
    // (the dashboard's retry, or replay, which also removes the mark), it is delivered like any other.
    const group = data as GroupJobData;
    if (group.fail && job.attemptsMade === 0) {
      await this.countFailed(action, job, group.fail.metric, 1);
      this.opts.logger.info({ action, job: job.id, from: group.from, reason: group.fail.metric }, `item failed: ${group.fail.reason}`);
      throw itemFailure(group.fail.reason);
    }
    // Events are decoded only once the process has room for them (permits.ts). A held job asks ahead of
    // the others: its few items were accepted before most of what waits, and their persons wait for them.
    const permits = await this.permits.acquire(groupCount(data), (group.held ?? 0) > 0);
    const ended = this.order?.run(job, action);
    try {
      return await this.processEvents(action, subscription, job);
    } finally {
      ended?.();
      this.permits.release(permits);
    }
  }

  private async processEvents(action: ActionKey, subscription: Subscription, job: Job<AnyJobData, GroupResult>): Promise<GroupResult> {
    const data = job.data;
    const group = data as GroupJobData;
    let events: SegmentEvent[];
    try {
      events = decodeGroup(data);
    } catch (err) {
      await this.countFailed(action, job, 'internal', groupCount(data));
      const reason = `internal error: the job's events cannot be read (${(err as Error).message})`;
      this.opts.logger.error({ action, job: job.id }, reason);
      throw new UnrecoverableError(reason);
    }
    // A copy of these events that another replica's job took over is that job's to deliver (message-index.ts).
    const elsewhere = new Set(
      group.from
        ? []
        : await this.index.ownedElsewhere(
            queuePrefix(this.opts.config.redis.queuePrefix, action),
            queueKey(this.opts.config.redis.queuePrefix, action, ''),
            job.id!,
            events.map((e) => indexField(subscription.name, String(e.messageId))),
          ),
    );
    // Items an earlier run of this job moved to jobs of their own before it died are theirs (earlier-runs.ts).
    const earlier = await movedByEarlierRuns(this.opts.connection, this.opts.config.redis.queuePrefix, action, job, messageIdsOf(data));
    const now = this.clock();
    const built = events.map((event) => build(subscription, event, now));
    // Per-person order: each item's keys and tickets, what the book says of it, and the places this job's
    // copy took for events another job delivers (let go with the others). The places of items an earlier
    // run moved follow them; those of items it failed for good are let go with the others.
    const orders = eventOrders(group);
    const requests = this.order ? orderRequests(action, built, orders) : [];
    const gates = this.order ? await this.order.gate(job, action, requests.map((r, i) => (elsewhere.has(i) || earlier.has(i) ? { keys: [] } : r))) : [];
    const placesOfItem = (i: number) => (requests[i] ? placesOf(requests[i]) : []);
    const failedEarlier = [...earlier].filter(([, m]) => m.failed).map(([i]) => i);
    const handedOn = [...earlier].filter(([, m]) => !m.failed);
    const leftOut = [...elsewhere, ...failedEarlier].flatMap(placesOfItem);
    if (this.order && handedOn.length > 0) await this.order.adopt(job, action, handedOn.map(([i, m]) => ({ refs: placesOfItem(i), jobId: m.jobId })));
    const places = new Map<SegmentEvent, EntryRef[]>();
    // Items that were held behind an earlier operation of their person go in a batch of their own that waits
    // only briefly (Delivery's `soon`): a person whose operations come one after another would otherwise
    // wait a whole FLUSH_INTERVAL_MS at each of them.
    const heldBefore = (group.held ?? 0) > 0;
    // Items another job delivers (a copy queued twice, or one an earlier run moved) are not this run's; nor
    // is one the book says another job holds now (gate `skip`).
    const notOurs = (i: number) => elsewhere.has(i) || earlier.has(i);
    const sendOne = async (i: number, gate: Exclude<ItemGate, { verdict: 'skip' }> | undefined, soon: boolean): Promise<ItemOutcome & { request?: RequestRecord }> => {
      const event = events[i];
      if (gate) places.set(event, gate.refs);
      const { outcome, request } = await this.send(subscription, built[i], gate, soon);
      // Its tickets go with it only when it moves to another job (delivered and failed items stay here).
      const moves = outcome.kind !== 'delivered' && outcome.kind !== 'failed';
      const order = moves ? (gate ? orderText(gate.refs.map((r) => r.ticket)) : orders?.[i]) : undefined;
      return { event, order, outcome, request };
    };
    const direct = events.map((_, i) => {
      const gate = gates[i];
      return notOurs(i) || gate?.verdict === 'held' || gate?.verdict === 'skip' ? undefined : sendOne(i, gate, heldBefore);
    });
    // A job with few held items (at most HOLD_IN_JOB_SHARE of them, or one) keeps them (WorkerOrder.waitInJob):
    // a held job costs as much for one item as for fifty. Each waits at most until what it waits behind
    // ends its run in this process or, behind anything else, until the job's other items have their
    // outcome. A job with many held items (a few persons sending everything) moves them to a held job at
    // once, so that the places of its other items are let go without waiting.
    const heldCount = gates.filter((g) => g?.verdict === 'held').length;
    const waitHere = heldCount > 0 && heldCount <= Math.max(1, Math.floor(events.length * HOLD_IN_JOB_SHARE));
    const until = waitHere ? Promise.allSettled(direct).then(() => undefined) : undefined;
    // In the job's order (trace reads the request of event i at sentIn[i]); an item another job holds now is left out.
    const sent = await Promise.all(
      events.map(async (_, i): Promise<(ItemOutcome & { request?: RequestRecord }) | undefined> => {
        const gate = gates[i];
        if (notOurs(i) || gate?.verdict === 'skip') return undefined;
        if (gate?.verdict !== 'held') return direct[i];
        if (!until || !this.order) return sendOne(i, gate, heldBefore);
        return sendOne(i, await this.order.waitInJob(job, action, gate, until), true);
      }),
    );
    const items = sent.filter((x): x is ItemOutcome & { request?: RequestRecord } => x !== undefined);
    const sentIn = sent.map((x) => x?.request);
    const attempt = (group.attempt ?? 0) + job.attemptsMade;
    const settlement = settle(items, attempt, this.opts.config.jobs, this.random, group.held ?? 0);
    const movedEarlier = [...earlier].map(([i, m]) => ({ jobId: m.jobId, messageId: String(events[i].messageId) }));
    return this.finish(action, subscription, job, settlement, places, sentIn, { leftOut, deduplicated: elsewhere.size, movedEarlier });
  }

  private async send(subscription: Subscription, built: Built, gate: ItemGate | undefined, soon = false): Promise<Sent> {
    if ('internal' in built) {
      // A bug of ours, not a problem of the event: fail it visibly (replay after the fix) rather than retry.
      return { outcome: { kind: 'failed', reason: `internal error while mapping the event: ${built.internal}`, metric: 'internal' } };
    }
    if (!built.ok) return { outcome: { kind: 'failed', reason: built.error, metric: 'invalid' } };
    if (gate?.verdict === 'held') return { outcome: { kind: 'held', behind: gate.behind, reason: gate.reason } };
    return this.delivery.send(subscription, built.item, { soon });
  }

  // The jobs the items move to are written first, then the items' places in their people's order follow
  // them, then the counts are stored (with a mark on this job, so a run after a crash does not count them
  // again: tally.ts), then the job completes; the places of the items that had their outcome here are let
  // go only after that (releasePlaces). `leftOut`: the places of events another producer job delivers
  // (`deduplicated` of them), let go with the others.
  private async finish(
    action: ActionKey,
    subscription: Subscription,
    job: Job<AnyJobData, GroupResult>,
    s: Settlement,
    places: Map<SegmentEvent, EntryRef[]>,
    sentIn: Array<RequestRecord | undefined>,
    elsewhere: { leftOut: EntryRef[]; deduplicated: number; movedEarlier: Array<{ jobId: string; messageId: string }> },
  ): Promise<GroupResult> {
    const base = { action, subscription: subscription.name };
    const from = job.id;
    // Where the items that do not end here go: each refused item to a failed job of its own, the waiting
    // items together, the held ones together, the transient ones together after their backoff.
    const moves: Array<{ group: GroupToWrite; id: string; delayMs?: number }> = s.failed.map((f, i) => ({
      group: { ...base, events: [f.event], extras: { fail: { reason: f.reason, metric: f.metric, attempts: f.attempts }, from, plain: true } },
      id: childId(job, 'failed', i),
    }));
    if (s.wait) moves.push({ group: { ...base, events: s.wait.events, extras: { attempt: s.wait.attempt, from, order: s.wait.order } }, id: childId(job, 'wait', 0) });
    if (s.held) {
      const extras = { attempt: s.held.attempt, from, order: s.held.order, held: s.held.holds, heldBehind: s.held.behind };
      moves.push({ group: { ...base, events: s.held.events, extras }, id: childId(job, 'held', 0), delayMs: s.held.delayMs });
    }
    if (s.retry) {
      const extras = { attempt: s.retry.attempt, from, order: s.retry.order };
      moves.push({ group: { ...base, events: s.retry.events, extras }, id: childId(job, 'retry', 0), delayMs: s.retry.delayMs });
    }
    // A run that lost its lock (Redis was away longer than LOCK_DURATION_MS, and the job was handed to
    // another run) writes nothing: the other run owns the items now, and a job this one wrote could send
    // an item again after its person's next operations (the other run lets its place go on completion).
    if (moves.length > 0) await this.stillOwned(job);
    // A 429 or refused credentials paused the queue when the answer came (Delivery's onPause), before
    // the items were settled, so no worker takes the waiting items' job early.
    await Promise.all(moves.map((m) => this.writer.write([m.group], { dedupe: false, jobIds: [m.id], ...(m.delayMs ? { delayMs: m.delayMs } : {}) })));
    if (this.opts.afterItemJobsWritten) await this.opts.afterItemJobsWritten(job.id!);
    if (this.order) await this.movePlaces(action, moves, places);

    const m = this.opts.metrics;
    const mark = countFinalOnce(job);
    const counts: Array<Promise<void>> = [];
    if (m && s.delivered.length > 0) counts.push(m.countItems('delivered', action, s.delivered.length, mark));
    if (m && s.retry) counts.push(m.countItems(s.retry.why, action, s.retry.events.length, mark));
    if (m && s.wait) counts.push(m.countItems(s.wait.why, action, s.wait.events.length, mark));
    if (m && s.held) counts.push(m.countItems('held', action, s.held.events.length, mark));
    if (m && elsewhere.deduplicated > 0) counts.push(m.eventsDeduplicated.inc({ action }, elsewhere.deduplicated, mark));
    await Promise.all(counts);

    if (this.order) {
      const settled = [...s.delivered, ...s.failed.map((f) => f.event)].flatMap((e) => places.get(e) ?? []).concat(elsewhere.leftOut);
      if (settled.length > 0) this.releaseOnComplete.set(job.id!, { action, refs: settled });
    }
    if (s.retry) this.opts.logger.warn({ action, job: job.id, items: s.retry.events.length, delayMs: s.retry.delayMs, retryJob: childId(job, 'retry', 0) }, s.retry.reason);
    if (s.held) this.opts.logger.info({ action, job: job.id, items: s.held.events.length, heldJob: childId(job, 'held', 0), holds: s.held.holds }, `items ${s.held.reason}`);
    const moved: Record<string, string[]> = {};
    for (const { group, id } of moves) moved[id] = group.events.map((e) => String(e.messageId));
    for (const { jobId, messageId } of elsewhere.movedEarlier) (moved[jobId] ??= []).push(messageId);
    const why: Record<string, string> = {};
    if (s.retry) why[childId(job, 'retry', 0)] = s.retry.reason;
    if (s.wait) why[childId(job, 'wait', 0)] = s.wait.reason;
    if (s.held) why[childId(job, 'held', 0)] = s.held.reason;
    return {
      delivered: s.delivered.length,
      statuses: s.statuses,
      failed: s.failed.length,
      retrying: s.retry?.events.length ?? 0,
      waiting: s.wait?.events.length ?? 0,
      ...(s.held ? { held: s.held.events.length } : {}),
      ...(Object.keys(moved).length > 0 ? { moved } : {}),
      // What `trace` tells of each item: the request it went in, and why the items that go again do.
      ...requestFacts(sentIn),
      ...(Object.keys(why).length > 0 ? { why } : {}),
    };
  }

  /** The places of the items that moved now belong to their new jobs; a held job whose blocker is gone goes at once. */
  private async movePlaces(action: ActionKey, moves: Array<{ group: GroupToWrite; id: string }>, places: Map<SegmentEvent, EntryRef[]>): Promise<void> {
    const order = this.order!;
    const entries = moves
      .filter((m) => !m.group.extras?.fail)
      .map((m) => ({ action, jobId: m.id, refs: m.group.events.flatMap((e) => places.get(e) ?? []), held: m.group.extras?.held !== undefined, events: m.group.events }));
    await order.move(entries);
    for (const e of entries) {
      if (e.held) await order.wakeIfFree(action, e.jobId, e.events.map((ev) => places.get(ev) ?? []).filter((r) => r.length > 0));
    }
  }

  /** After a job completed: the places of its items that had their outcome leave the book. */
  private async releasePlaces(jobId: string): Promise<void> {
    const pending = this.releaseOnComplete.get(jobId);
    if (!pending || !this.order) return;
    this.releaseOnComplete.delete(jobId);
    try {
      await this.order.release(pending.action, jobId, pending.refs);
    } catch (err) {
      // Not lost: the next item held behind one of these places finds this job finished and lets it go.
      this.opts.logger.warn({ job: jobId, err: (err as Error).message }, 'order: could not let go of places after the job completed; they are let go when next met');
    }
  }

  /**
   * Throws LostLockError when another run holds the job now (its lock is not this run's any more). Only a
   * run older than half LOCK_DURATION_MS can have lost it (the lock was set, with that lifetime, when the
   * job was taken), so younger runs are not asked: the question is a Redis round trip.
   */
  private async stillOwned(job: Job): Promise<void> {
    const lockMs = this.opts.config.worker.lockDurationMs;
    if (!job.token || (job.processedOn !== undefined && this.clock() - job.processedOn < lockMs / 2)) return;
    if ((await job.extendLock(job.token, lockMs)) !== 1) throw new LostLockError(job.id!);
  }

  private async countFailed(action: ActionKey, job: Job, reason: FailReason, items: number): Promise<void> {
    await this.opts.metrics?.countItems(reason, action, items, countFinalOnce(job));
  }

  /** The one place a queue is paused: once per answer that asks for it (a 429, refused credentials). */
  private async pause(action: ActionKey, ms: number, reason: string): Promise<void> {
    const pauseMs = Math.max(1000, Math.round(ms));
    await this.queues[action].rateLimit(pauseMs);
    this.opts.logger.warn({ action, pauseMs, reason }, `queue ${action} paused for ${pauseMs} ms; its jobs wait`);
  }
}

/** This run of a job lost its lock to another run (worker.ts stillOwned). */
export class LostLockError extends Error {
  override name = 'LostLockError';
  constructor(jobId: string) {
    super(`job ${jobId}: this run lost its lock (Redis was away or the worker stalled) and another run has the job now; this one writes nothing and leaves the items to it`);
  }
}

type Built = BuildResult | { internal: string };

function build(subscription: Subscription, event: SegmentEvent, now: number): Built {
  try {
    return transform(subscription, event, now);
  } catch (err) {
    return { internal: (err as Error).message };
  }
}

/** Each item's person keys (from the item its action built) and its tickets from the job. */
function orderRequests(action: ActionKey, built: Built[], order: string[] | undefined): GateRequest[] {
  const kind = orderKindOf(action);
  return built.map((b, i) => gateRequest('ok' in b && b.ok ? orderKeysOf(b.item, kind) : [], order?.[i]));
}

/**
 * An item's own failure: the reason is what Bull Board shows, without a stack trace of our files (it
 * would say nothing about the item). Internal errors keep theirs.
 */
function itemFailure(reason: string): UnrecoverableError {
  const err = new UnrecoverableError(reason);
  err.stack = reason;
  return err;
}
