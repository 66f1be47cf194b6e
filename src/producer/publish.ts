// publish(): the library call for Node pipelines, and what the HTTP API calls after its own checks.
// Resolves only once every job is in Redis.
//
// Events are grouped: what fires for one subscription in one call, or in the calls of one group commit
// (group-commit.ts), becomes one job (split by the caps of events and bytes per job). A re-sent event
// (same messageId, same subscription, within the window) is left out by the message index.

import type { Metrics } from '../counts/metrics';
import type { JobsConfig } from '../config';
import { jobOptions, type Queues } from '../jobs/queues';
import { type RedisConnection } from '../redis/connection';
import { MessageIndex } from '../redis/message-index';
import { fitToCaps, GroupWriter, type GroupToWrite } from '../jobs/writer';
import type { Subscription } from '../core/subscriptions';
import type { ActionKey, SegmentEvent } from '../core/types';
import { GroupCommitter } from './group-commit';
import { prepareEvents, type Prepared } from './prepare';

export interface PublishResult {
  messageId?: string;
  /** Names of the subscriptions that fired. */
  fired: string[];
  /** Why nothing fired: the integrations object turned the destination off, or no trigger matched. */
  filtered?: 'integrations' | 'no_subscription';
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

export type EventSource = 'http' | 'publish' | 'import';

interface CommitEntry {
  prepared: Prepared[];
  source: EventSource;
}

export class Producer {
  private readonly opts: ProducerOptions;
  private readonly writer: GroupWriter;
  private readonly committer: GroupCommitter<CommitEntry, void>;
  private readonly clock: () => number;

  constructor(opts: ProducerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
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
    await this.enqueue(prepared, source);
    const results: PublishResult[] = new Array(list.length);
    for (const r of refused) results[r.index] = { fired: [], error: r.error };
    for (const p of prepared) results[p.index] = resultOf(p);
    return results;
  }

  /**
   * Queues already prepared events with the next group commit; resolves once they are in Redis, rejects
   * with QueueUnavailableError when nothing of them was kept.
   */
  async enqueue(prepared: Prepared[], source: EventSource): Promise<void> {
    if (prepared.length === 0) return;
    const fired = prepared.reduce((n, p) => n + p.fired.length, 0);
    if (fired === 0) {
      this.countReceived([{ prepared, source }]);
      return;
    }
    await this.committer.submit({ prepared, source }, fired);
  }

  /** Writes what is waiting for a group commit (shutdown). */
  drain(): Promise<void> {
    return this.committer.drain();
  }

  private async commit(entries: CommitEntry[]): Promise<void[]> {
    const bySubscription = new Map<Subscription, SegmentEvent[]>();
    for (const { prepared } of entries) {
      for (const p of prepared) {
        for (const sub of p.fired) {
          const list = bySubscription.get(sub);
          if (list) list.push(p.event);
          else bySubscription.set(sub, [p.event]);
        }
      }
    }
    const caps = { maxEvents: this.opts.policy.groupMaxEvents, maxBytes: this.opts.policy.groupMaxBytes };
    const groups: GroupToWrite[] = [];
    for (const [sub, events] of bySubscription) {
      for (const piece of fitToCaps(events, caps)) groups.push({ action: sub.action, subscription: sub.name, events: piece.events, json: piece.json });
    }
    let written;
    try {
      written = await this.writer.write(groups, { dedupe: true, count: this.opts.metrics !== undefined });
    } catch (err) {
      throw new QueueUnavailableError(`the events could not be queued in Redis: ${(err as Error).message}`);
    }
    // The items stored and the re-sends left out were counted by the write itself (jobs/writer.ts).
    this.countReceived(entries);
    return entries.map(() => undefined);
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

function resultOf(p: Prepared): PublishResult {
  const result: PublishResult = { messageId: p.messageId, fired: p.fired.map((s) => s.name) };
  if (p.filtered) result.filtered = p.filtered;
  return result;
}
