// publish(): the library call for Node pipelines, and what the HTTP API calls after its own checks.
// Resolves only once every job is in Redis.
//
// Events are grouped: what fires for one subscription in one call, or in the calls of one group commit
// (group-commit.ts), becomes one job (split by the caps of events and bytes per job). A re-sent event
// (same messageId, same subscription, within the window) is left out by the message index.

import type { Metrics, ReceivedSource } from '../counts/metrics';
import type { JobsConfig } from '../config';
import { jobOptions, type Queues } from '../jobs/queues';
import { type RedisConnection } from '../redis/connection';
import { MessageIndex } from '../redis/message-index';
import { fitToCaps, GroupWriter, type GroupToWrite } from '../jobs/writer';
import type { FilterReason, Subscription } from '../core/subscriptions';
import type { ActionKey, SegmentEvent } from '../core/types';
import { OrderBook } from '../redis/order-book';
import { GroupCommitter } from './group-commit';
import { OrderRegistrar } from './order';
import { prepareEvents, type Prepared } from './prepare';

export interface PublishResult {
  messageId?: string;
  /** Names of the subscriptions that fired. */
  fired: string[];
  /** The subscriptions of `fired` for which the event was already queued (a re-send within the window): not queued again. */
  alreadyQueued?: string[];
  /** Why nothing fired: the integrations object turned the destination off, or no trigger matched. */
  filtered?: FilterReason;
  /** Why the event was refused (nothing was queued for it). */
  error?: string;
}

/** Redis did not take the jobs: nothing was acknowledged, the caller should retry. */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

/** What the producer needs of the job policy: retries for jobs, the dedupe window, group sizes. */
/** The producer reads the whole jobs group: the job options, and how events are grouped into jobs. */
export type ProducerPolicy = JobsConfig;

export interface ProducerOptions {
  queues: Queues;
  /** The connection of the queues (the message index lives beside them). */
  redis: RedisConnection;
  /** Queue key prefix (QUEUE_PREFIX). */
  queuePrefix: string;
  subscriptions: readonly Subscription[];
  policy: ProducerPolicy;
  metrics?: Metrics;
  clock?: () => number;
}

/** Where events come in: the `source` label of cio_events_received_total. */
export type EventSource = ReceivedSource;

interface CommitEntry {
  prepared: Prepared[];
  source: EventSource;
}

/** Per prepared event (same order): the subscriptions for which it was a re-send, if any. */
export type AlreadyQueued = Array<string[] | undefined>;

export class Producer {
  private readonly opts: ProducerOptions;
  private readonly writer: GroupWriter;
  private readonly committer: GroupCommitter<CommitEntry, AlreadyQueued>;
  private readonly clock: () => number;
  /** Per-person order (ORDERING=person); undefined when it is off. */
  private readonly order?: OrderRegistrar;

  constructor(opts: ProducerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    if (opts.policy.ordering === 'person') this.order = new OrderRegistrar(new OrderBook(opts.redis, opts.queuePrefix), opts.subscriptions);
    const index = new MessageIndex(opts.redis, opts.policy.completedRetentionSeconds, this.clock);
    this.writer = new GroupWriter(opts.queues, index, opts.queuePrefix, jobOptions(opts.policy), this.clock);
    this.committer = new GroupCommitter(
      { windowMs: opts.policy.groupCommitWindowMs, maxEvents: opts.policy.groupMaxEvents },
      (entries) => this.commit(entries),
    );
  }

  /** Queues the events for the subscriptions that fire. Invalid events are reported in their result, not queued. */
  async publish(events: SegmentEvent | SegmentEvent[], source: EventSource = 'publish'): Promise<PublishResult[]> {
    const list = Array.isArray(events) ? events : [events];
    const { prepared, refused } = prepareEvents(list, this.opts.subscriptions, this.clock());
    const already = await this.enqueue(prepared, source);
    const results: PublishResult[] = new Array(list.length);
    for (const r of refused) results[r.index] = { fired: [], error: r.error };
    prepared.forEach((p, i) => (results[p.index] = resultOf(p, already[i])));
    return results;
  }

  /**
   * Queues already prepared events with the next group commit; resolves once they are in Redis, rejects
   * with QueueUnavailableError when nothing of them was kept.
   */
  async enqueue(prepared: Prepared[], source: EventSource): Promise<AlreadyQueued> {
    const fired = prepared.reduce((n, p) => n + p.fired.length, 0);
    if (fired === 0) {
      if (prepared.length > 0) this.countReceived([{ prepared, source }]);
      return prepared.map(() => undefined);
    }
    return this.committer.submit({ prepared, source }, fired);
  }

  /** Writes what is waiting for a group commit (shutdown). */
  drain(): Promise<void> {
    return this.committer.drain();
  }

  private async commit(entries: CommitEntry[]): Promise<AlreadyQueued[]> {
    // Each item (an event for one subscription) with its place in the commit's accepted order.
    const bySubscription = new Map<Subscription, { events: SegmentEvent[]; seqs: number[] }>();
    let seq = 0;
    for (const { prepared } of entries) {
      for (const p of prepared) {
        for (const sub of p.fired) {
          const list = bySubscription.get(sub);
          if (list) {
            list.events.push(p.event);
            list.seqs.push(seq++);
          } else bySubscription.set(sub, { events: [p.event], seqs: [seq++] });
        }
      }
    }
    const caps = { maxEvents: this.opts.policy.groupMaxEvents, maxBytes: this.opts.policy.groupMaxBytes };
    const groups: GroupToWrite[] = [];
    const seqs: number[][] = [];
    for (const [sub, { events, seqs: places }] of bySubscription) {
      let offset = 0;
      for (const piece of fitToCaps(events, caps)) {
        groups.push({ action: sub.action, subscription: sub.name, events: piece.events, json: piece.json });
        seqs.push(places.slice(offset, offset + piece.events.length));
        offset += piece.events.length;
      }
    }
    let written;
    try {
      const register = this.order?.hook(seqs, this.clock());
      written = await this.writer.write(groups, register ? { dedupe: true, register } : { dedupe: true });
    } catch (err) {
      throw new QueueUnavailableError(`the events could not be queued in Redis: ${(err as Error).message}`);
    }
    this.countReceived(entries);
    const m = this.opts.metrics;
    if (m) {
      const queued = new Map<ActionKey, number>();
      const duplicates = new Map<ActionKey, number>();
      groups.forEach((group, i) => {
        queued.set(group.action, (queued.get(group.action) ?? 0) + written[i].queued.length);
        duplicates.set(group.action, (duplicates.get(group.action) ?? 0) + written[i].duplicates.length);
      });
      // Not awaited: the events are in Redis already; the counts follow within a turn of the event loop.
      for (const [action, n] of queued) if (n > 0) void m.itemsEnqueued.inc({ action }, n);
      for (const [action, n] of duplicates) if (n > 0) void m.eventsDeduplicated.inc({ action }, n);
    }
    // The re-sends, back to the event and the call they came from (each prepared event is an object of its own).
    const origin = new Map<SegmentEvent, { entry: number; index: number }>();
    entries.forEach(({ prepared }, entry) => prepared.forEach((p, index) => origin.set(p.event, { entry, index })));
    const already: AlreadyQueued[] = entries.map(({ prepared }) => prepared.map(() => undefined));
    groups.forEach((group, g) => {
      for (const position of written[g].duplicates) {
        const o = origin.get(group.events[position])!;
        (already[o.entry][o.index] ??= []).push(group.subscription);
      }
    });
    return already;
  }

  private countReceived(entries: CommitEntry[]): void {
    const m = this.opts.metrics;
    if (!m) return;
    for (const { prepared, source } of entries) {
      void m.eventsReceived.inc({ source }, prepared.length);
      for (const p of prepared) if (p.filtered) void m.eventsFiltered.inc({ reason: p.filtered });
    }
  }
}

function resultOf(p: Prepared, alreadyQueued: string[] | undefined): PublishResult {
  const result: PublishResult = { messageId: p.messageId, fired: p.fired.map((s) => s.name) };
  if (alreadyQueued) result.alreadyQueued = alreadyQueued;
  if (p.filtered) result.filtered = p.filtered;
  return result;
}
