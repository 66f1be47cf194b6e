// The one door into the producer: accept() checks and prepares the events once, refuses at once what
// cannot be queued (an invalid event, Redis not ready or nearly full, too many events already waiting
// for Redis), and resolves only once every job is in Redis. The HTTP API maps its answer to 400/503/200;
// publish(), the library call for Node pipelines and the import, reports it per event.
//
// Events are grouped: what fires for one subscription in one call, or in the calls of one group commit
// (group-commit.ts), becomes one job (split by the caps of events and bytes per job). A re-sent event
// (same messageId, same subscription, within the window) is left out by the message index.

import type { Metrics, ReceivedSource } from '../counts/metrics';
import type { JobsConfig } from '../config';
import { jobOptions, type Queues } from '../jobs/queues';
import { type RedisConnection } from '../redis/connection';
import { MessageIndex } from '../redis/message-index';
import { fitToCaps, GroupRedisError, GroupWriter, type GroupToWrite } from '../jobs/writer';
import type { FilterReason, Subscription } from '../core/subscriptions';
import type { SegmentEvent } from '../core/types';
import { OrderBook } from '../redis/order-book';
import { GroupCommitter } from './group-commit';
import { OrderRegistrar } from './order';
import { wakeHeldJobs } from '../jobs/wake';
import { prepareEvents, type Prepared, type Refused } from './prepare';

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

/** Per prepared event (same order): the subscriptions for which it was a re-send, if any. */
export type AlreadyQueued = Array<string[] | undefined>;

/**
 * Redis did not take the jobs: nothing was acknowledged, the caller should retry. `unconfirmed`: some of
 * the write may have reached Redis (a failed write whose rollback could not finish); false only when
 * nothing of it is in Redis (refused before writing, or rolled back whole). A re-send is queued once
 * either way: the message index recognises what did land.
 */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
  constructor(
    message: string,
    readonly unconfirmed = false,
  ) {
    super(message);
  }
}

/** What accept() did with the events of one call. */
export interface Accepted {
  /** The events refused for themselves; with `allOrNothing`, nothing was queued when there are any. */
  refused: Refused[];
  /** One result per event, in order; empty when the call was refused whole. */
  results: PublishResult[];
}

export interface AcceptOptions {
  /** Refuse the whole call when any event is refused (the HTTP API). Default true. */
  allOrNothing?: boolean;
  /** Why Redis cannot take events now though it answers (nearly full); asked once something fires. */
  gate?: () => string | undefined;
  /** The time of receipt (receivedAt); default the producer's clock. */
  now?: number;
}

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

/** The states of a connection's first connect (ioredis), before it was ever ready. */
const FIRST_CONNECT = new Set(['wait', 'connecting', 'connect']);

/** Where events come in: the `source` label of cio_events_received_total. */
export type EventSource = ReceivedSource;

interface CommitEntry {
  prepared: Prepared[];
  source: EventSource;
}

export class Producer {
  private readonly opts: ProducerOptions;
  private readonly writer: GroupWriter;
  private readonly index: MessageIndex;
  private readonly committer: GroupCommitter<CommitEntry, AlreadyQueued>;
  private readonly clock: () => number;
  /** Per-person order (ORDERING=person); undefined when it is off. */
  private readonly order?: OrderRegistrar;
  /** Events waiting for a commit or in one, until Redis answers (whatever the caller's own timeout). */
  private pendingEvents = 0;
  /** Bytes of JSON in the commits being written (measured as they are split into jobs). */
  private writingBytes = 0;
  /** The connection has been ready before: from then on, not ready means down. */
  private connectedOnce = false;

  constructor(opts: ProducerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.connectedOnce = opts.redis.status === 'ready';
    opts.redis.once('ready', () => (this.connectedOnce = true));
    if (opts.policy.ordering === 'person') this.order = new OrderRegistrar(new OrderBook(opts.redis, opts.queuePrefix, this.clock, wakeHeldJobs(opts.redis, opts.queuePrefix)), opts.subscriptions);
    const index = (this.index = new MessageIndex(opts.redis, opts.policy.completedRetentionSeconds, this.clock));
    this.writer = new GroupWriter(opts.queues, index, opts.queuePrefix, jobOptions(opts.policy), this.clock);
    this.committer = new GroupCommitter(
      { windowMs: opts.policy.groupCommitWindowMs, maxEvents: opts.policy.groupMaxEvents },
      (entries) => this.commit(entries),
    );
  }

  /**
   * Queues the events for the subscriptions that fire. Invalid events are reported in their result, not
   * queued; the others are queued (the import relies on this: a bad line does not hold back its chunk).
   */
  async publish(events: SegmentEvent | SegmentEvent[], source: EventSource = 'publish'): Promise<PublishResult[]> {
    const list = Array.isArray(events) ? events : [events];
    return (await this.accept(list, source, { allOrNothing: false })).results;
  }

  /**
   * The one way in: checks and prepares the events, then queues them with the next group commit; resolves
   * once they are in Redis. Throws QueueUnavailableError when Redis does not take them: refused before
   * anything was written (not ready, `gate`, PRODUCER_MAX_PENDING_EVENTS reached), or a failed write.
   */
  async accept(events: unknown[], source: EventSource, opts: AcceptOptions = {}): Promise<Accepted> {
    const { prepared, refused } = prepareEvents(events, this.opts.subscriptions, opts.now ?? this.clock());
    if (refused.length > 0 && opts.allOrNothing !== false) return { refused, results: [] };
    const fired = prepared.reduce((n, p) => n + p.fired.length, 0);
    if (fired > 0) {
      // A connection that is down leaves BullMQ waiting for it; refuse now instead. Only its first connect,
      // at start-up, is waited for (a library caller publishes right after creating the producer).
      if (this.opts.redis.status !== 'ready' && (this.connectedOnce || !FIRST_CONNECT.has(this.opts.redis.status))) throw new QueueUnavailableError(`Redis is not reachable (connection ${this.opts.redis.status})`);
      const full = opts.gate?.();
      if (full) throw new QueueUnavailableError(full);
      const max = this.opts.policy.producerMaxPendingEvents;
      if (this.pendingEvents > 0 && this.pendingEvents + prepared.length > max) {
        throw new QueueUnavailableError(`${this.pendingEvents} events are already waiting for Redis to take them (PRODUCER_MAX_PENDING_EVENTS=${max})`);
      }
      const maxBytes = this.opts.policy.producerMaxPendingBytes;
      if (this.writingBytes >= maxBytes) {
        throw new QueueUnavailableError(`${this.writingBytes} bytes of events are already being written to Redis (PRODUCER_MAX_PENDING_BYTES=${maxBytes})`);
      }
    }
    const already = await this.enqueue(prepared, source);
    this.noteFiltered(prepared);
    const results: PublishResult[] = new Array(events.length);
    for (const r of refused) results[r.index] = { fired: [], error: r.error };
    prepared.forEach((p, i) => (results[p.index] = resultOf(p, already[i])));
    return { refused, results };
  }

  // Filtered events leave a note for `trace` ("filtered: …"). Not awaited: the answer does not depend on it,
  // and a request of filtered events only never waited for Redis.
  private noteFiltered(prepared: Prepared[]): void {
    const filtered = prepared.flatMap((p) => (p.filtered ? [{ messageId: p.messageId, reason: p.filtered }] : []));
    if (filtered.length === 0 || this.opts.redis.status !== 'ready') return;
    void this.index.noteFiltered(this.opts.queuePrefix, filtered).catch(() => undefined);
  }

  /** Events waiting for Redis now (for tests and the bound). */
  get pending(): number {
    return this.pendingEvents;
  }

  // Queues prepared events with the next group commit; resolves once they are in Redis.
  private async enqueue(prepared: Prepared[], source: EventSource): Promise<AlreadyQueued> {
    const fired = prepared.reduce((n, p) => n + p.fired.length, 0);
    if (fired === 0) {
      if (prepared.length > 0) this.countReceived([{ prepared, source }]);
      return prepared.map(() => undefined);
    }
    this.pendingEvents += prepared.length;
    try {
      return await this.committer.submit({ prepared, source }, fired);
    } finally {
      this.pendingEvents -= prepared.length;
    }
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
    const bytes = groups.reduce((n, g) => n + (g.json?.length ?? 0), 0);
    this.writingBytes += bytes;
    let written;
    try {
      const register = this.order?.hook(seqs, this.clock());
      written = await this.writer.write(groups, { dedupe: true, count: this.opts.metrics !== undefined, ...(register ? { register } : {}) });
    } catch (err) {
      const unconfirmed = !(err instanceof GroupRedisError && err.nothingKept);
      throw new QueueUnavailableError(`the events could not be queued in Redis: ${(err as Error).message}`, unconfirmed);
    } finally {
      this.writingBytes -= bytes;
    }
    // The items stored and the re-sends left out were counted by the write itself (jobs/writer.ts).
    this.countReceived(entries);
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
