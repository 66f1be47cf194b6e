// Where is event X? For each subscription, the message index names the job that took the event; from
// there the trail is followed through the jobs its item moved to (a retry, a refused item, a wait out of
// a 429) to where it is now. Used by `cio-relay trace` and the dashboard's /admin/trace endpoint.

import type { Job } from 'bullmq';
import { queuePrefix } from '../redis/keys';
import { type Queues } from './queues';
import { type RedisConnection } from '../redis/connection';
import type { Subscription } from '../core/subscriptions';
import type { ActionKey } from '../core/types';
import { decodeGroup, type AnyJobData, type GroupJobData } from './group';
import { indexField, MessageIndex } from '../redis/message-index';

export type TraceStatus = 'delivered' | 'failed' | 'retrying' | 'waiting' | 'sending' | 'gone';

export interface TraceStep {
  jobId: string;
  /** The job's state when traced (a BullMQ state, or `gone` once retention removed it). */
  state: string;
  /** When the job was added, and when it finished (epoch ms). */
  addedAt?: number;
  finishedAt?: number;
  /** What the job says about the item: the reason it failed, Customer.io's statuses, why it exists. */
  detail: string;
}

export interface SubscriptionTrace {
  subscription: string;
  action: ActionKey;
  status: TraceStatus;
  /** The event's receivedAt, as the producer stamped it. */
  receivedAt?: string;
  /** Customer.io's answer to the request that delivered it. */
  statuses?: number[];
  reason?: string;
  steps: TraceStep[];
}

export interface TraceAnswer {
  messageId: string;
  /** One entry per subscription the event was queued for within the window; empty: not seen. */
  found: SubscriptionTrace[];
  /** Why the event fired no subscription (`integrations`, `no_subscription`), when it was seen so. */
  filtered?: string;
  windowSeconds: number;
  queuePrefix: string;
}

const MAX_HOPS = 64;

export async function traceMessage(
  queues: Queues,
  redis: RedisConnection,
  opts: { queuePrefix: string; subscriptions: readonly Subscription[]; windowSeconds: number },
  messageId: string,
): Promise<TraceAnswer> {
  const index = new MessageIndex(redis, opts.windowSeconds);
  const found: SubscriptionTrace[] = [];
  for (const sub of opts.subscriptions) {
    const jobId = await index.lookup(queuePrefix(opts.queuePrefix, sub.action), indexField(sub.name, messageId));
    if (jobId) found.push(await follow(queues[sub.action], sub, jobId, messageId));
  }
  const answer: TraceAnswer = { messageId, found, windowSeconds: opts.windowSeconds, queuePrefix: opts.queuePrefix };
  if (found.length === 0) {
    const filtered = await index.filteredReason(opts.queuePrefix, messageId);
    if (filtered) answer.filtered = filtered;
  }
  return answer;
}

async function follow(queue: Queues[ActionKey], sub: Subscription, firstJobId: string, messageId: string): Promise<SubscriptionTrace> {
  const trace: SubscriptionTrace = { subscription: sub.name, action: sub.action, status: 'gone', steps: [] };
  let jobId: string | undefined = firstJobId;
  for (let hop = 0; jobId && hop < MAX_HOPS; hop++) {
    const job = (await queue.getJob(jobId)) as Job<AnyJobData> | undefined;
    if (!job) {
      trace.steps.push({ jobId, state: 'gone', detail: 'no longer in Redis (removed after its retention time)' });
      trace.status = 'gone';
      return trace;
    }
    const state = await job.getState();
    const data = job.data as GroupJobData;
    if (!trace.receivedAt) trace.receivedAt = receivedAtOf(job, messageId);
    const step: TraceStep = { jobId, state, addedAt: job.timestamp, finishedAt: job.finishedOn, detail: '' };
    trace.steps.push(step);
    jobId = undefined;
    switch (state) {
      case 'completed': {
        const result = job.returnvalue as { statuses?: number[]; moved?: Record<string, string[]> } | undefined;
        const next = Object.entries(result?.moved ?? {}).find(([, ids]) => ids.includes(messageId))?.[0];
        if (next) {
          step.detail = `sent; the item moved to job ${next}`;
          jobId = next;
          break;
        }
        trace.status = 'delivered';
        trace.statuses = result?.statuses;
        step.detail = `delivered: Customer.io answered ${(result?.statuses ?? []).join(', ') || '2xx'}`;
        break;
      }
      case 'failed':
        trace.status = 'failed';
        trace.reason = job.failedReason;
        step.detail = `failed: ${job.failedReason}`;
        break;
      case 'delayed':
        trace.status = 'retrying';
        step.detail = `waiting to be retried (attempt ${(data.attempt ?? 0) + 1}) at ${new Date(job.timestamp + (job.delay ?? 0)).toISOString()}`;
        break;
      case 'active':
        trace.status = 'sending';
        step.detail = 'in a worker: its batch is filling or its request is in flight';
        break;
      default:
        trace.status = data.attempt ? 'retrying' : 'waiting';
        step.detail = data.attempt ? `queued for attempt ${data.attempt + 1}` : 'queued, waiting for a worker';
    }
  }
  return trace;
}

function receivedAtOf(job: Job<AnyJobData>, messageId: string): string | undefined {
  try {
    const event = decodeGroup(job.data).find((e) => String(e.messageId) === messageId);
    return typeof event?.receivedAt === 'string' ? event.receivedAt : undefined;
  } catch {
    return undefined;
  }
}

const FILTERED_BECAUSE: Record<string, string> = {
  integrations: 'its integrations object turned this destination off ("All": false, or "Customer.io (Actions)": false)',
  no_subscription: 'no enabled subscription of this configuration has a trigger that matched it',
};

/** The answer in lines a person reads. */
export function describeTrace(answer: TraceAnswer): string[] {
  if (answer.found.length === 0 && answer.filtered) {
    return [`${answer.messageId}: filtered: ${FILTERED_BECAUSE[answer.filtered] ?? answer.filtered}; nothing was queued for it`];
  }
  if (answer.found.length === 0) {
    return [
      `${answer.messageId}: not seen within the retention window (${answer.windowSeconds} s) by any subscription of this configuration, under QUEUE_PREFIX=${answer.queuePrefix}`,
    ];
  }
  const lines: string[] = [];
  for (const t of answer.found) {
    const head = `${answer.messageId} → ${t.subscription} (${t.action}): ${t.status.toUpperCase()}`;
    lines.push(t.reason ? `${head}: ${t.reason}` : head);
    if (t.receivedAt) lines.push(`  received ${t.receivedAt}`);
    for (const s of t.steps) {
      const when = s.finishedAt ? `, finished ${new Date(s.finishedAt).toISOString()}` : s.addedAt ? `, added ${new Date(s.addedAt).toISOString()}` : '';
      lines.push(`  job ${s.jobId} [${s.state}${when}] ${s.detail}`);
    }
  }
  return lines;
}
