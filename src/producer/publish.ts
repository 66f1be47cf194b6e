// publish(): the library call for Node pipelines, and what the HTTP API calls after its own checks.
// Resolves only once every job is in Redis.

import type { Metrics } from '../metrics';
import { jobIdFor, jobOptions, type JobData, type JobPolicy, type Queues } from '../queues';
import type { Subscription } from '../subscriptions';
import type { ActionKey, SegmentEvent } from '../types';
import { prepareEvents, type Prepared } from './prepare';

export interface PublishResult {
  messageId?: string;
  /** Names of the subscriptions that fired: one job each. */
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

export interface ProducerOptions {
  queues: Queues;
  subscriptions: readonly Subscription[];
  policy: JobPolicy;
  metrics?: Metrics;
  clock?: () => number;
}

export type EventSource = 'http' | 'publish' | 'import';

export class Producer {
  private readonly opts: ProducerOptions;
  private readonly jobOpts: ReturnType<typeof jobOptions>;

  constructor(opts: ProducerOptions) {
    this.opts = opts;
    this.jobOpts = jobOptions(opts.policy);
  }

  /** Queues one job per subscription that fires. Invalid events are reported in their result, not queued. */
  async publish(events: SegmentEvent | SegmentEvent[], source: EventSource = 'publish'): Promise<PublishResult[]> {
    const list = Array.isArray(events) ? events : [events];
    const { prepared, refused } = prepareEvents(list, this.opts.subscriptions, (this.opts.clock ?? Date.now)());
    await this.enqueue(prepared, source);
    const results: PublishResult[] = new Array(list.length);
    for (const r of refused) results[r.index] = { fired: [], error: r.error };
    for (const p of prepared) results[p.index] = resultOf(p);
    return results;
  }

  /** Adds the jobs of already prepared events, one addBulk per queue. */
  async enqueue(prepared: Prepared[], source: EventSource): Promise<void> {
    const byAction = new Map<ActionKey, Array<{ name: string; data: JobData; opts: ReturnType<typeof jobOptions> }>>();
    for (const p of prepared) {
      for (const sub of p.fired) {
        const jobs = byAction.get(sub.action) ?? [];
        jobs.push({
          name: sub.name,
          data: { subscription: sub.name, event: p.event },
          opts: { ...this.jobOpts, jobId: jobIdFor(sub.name, p.messageId) },
        });
        byAction.set(sub.action, jobs);
      }
    }
    try {
      await Promise.all([...byAction].map(([action, jobs]) => this.opts.queues[action].addBulk(jobs)));
    } catch (err) {
      throw new QueueUnavailableError(`the events could not be queued in Redis: ${(err as Error).message}`);
    }
    this.count(prepared, byAction, source);
  }

  private count(prepared: Prepared[], byAction: Map<ActionKey, unknown[]>, source: EventSource): void {
    const m = this.opts.metrics;
    if (!m) return;
    // Not awaited: the events are in Redis already; the counts follow within a turn of the event loop.
    void m.eventsReceived.inc({ source }, prepared.length);
    for (const p of prepared) if (p.filtered) void m.eventsFiltered.inc({ reason: p.filtered });
    for (const [action, jobs] of byAction) void m.itemsEnqueued.inc({ action }, jobs.length);
  }
}

function resultOf(p: Prepared): PublishResult {
  const result: PublishResult = { messageId: p.messageId, fired: p.fired.map((s) => s.name) };
  if (p.filtered) result.filtered = p.filtered;
  return result;
}
