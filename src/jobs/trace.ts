// Where is event X, and what was sent for it? For each subscription, the message index names the job that
// took the event; from there the trail is followed through the jobs its item moved to (a retry, a refused
// item, a wait out of a 429) to where it is now, and back through `from` to the jobs before it. Each job
// that sent the item tells, in its result (jobs/result.ts), the request the item went in (time, status,
// size); Customer.io's answer for the item is the reason of the job it moved to, or "accepted".
//
// The item itself is not kept in Redis (a job result stays small): it is rebuilt from the event with the
// current configuration. The mapping is pure, so this is the item that was sent unless CIO_CONFIG changed
// since; the answer says so. Used by `cio-relay trace` and the dashboard's /admin/trace endpoint.

import type { Job } from 'bullmq';
import { queuePrefix } from '../redis/keys';
import { type Queues } from './queues';
import { type RedisConnection } from '../redis/connection';
import { transform, type Subscription } from '../core/subscriptions';
import type { ActionKey, SegmentEvent } from '../core/types';
import { decodeGroup, type AnyJobData, type GroupJobData } from './group';
import { requestOf, type GroupResult, type RequestRecord } from './result';
import { pauseEnd } from './pause';
import { indexField, MessageIndex } from '../redis/message-index';
import { orderKeysOf, orderKindOf } from '../core/order/rule';
import { parseHolder } from '../redis/order-book';

export type TraceStatus = 'delivered' | 'failed' | 'retrying' | 'waiting' | 'sending' | 'gone' | 'held';

export interface TraceStep {
  jobId: string;
  /** The job's state when traced (a BullMQ state, or `gone` once retention removed it). */
  state: string;
  /** When the job was added, and when it finished (epoch ms). */
  addedAt?: number;
  finishedAt?: number;
  /** The request the item went in from this job: when, Customer.io's status, how many items it carried. */
  request?: RequestRecord;
  /** Customer.io's answer for the item in that request: "accepted", its error, or why it goes again. */
  answer?: string;
  /** For a job held by its queue's pause (a 429, refused credentials): when the pause ends (epoch ms). */
  pausedUntil?: number;
  /** What the job says about the item: the reason it failed, Customer.io's statuses, why it exists. */
  detail: string;
}

export interface SubscriptionTrace {
  subscription: string;
  action: ActionKey;
  status: TraceStatus;
  /** The event's receivedAt, as the producer stamped it. */
  receivedAt?: string;
  /** The event as received (as its job carries it). */
  event?: SegmentEvent;
  /**
   * The Customer.io item the event becomes with the current configuration: the item that was sent,
   * unless CIO_CONFIG changed since (the item is rebuilt, not stored).
   */
  item?: Record<string, unknown>;
  /** Why the current configuration makes no item of the event (the mapping's or validation's message). */
  itemError?: string;
  /** Customer.io's answer to the request that delivered it. */
  statuses?: number[];
  reason?: string;
  /** The event waits for its queue's pause to end, at this time (epoch ms). */
  pausedUntil?: number;
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
  opts: { queuePrefix: string; subscriptions: readonly Subscription[]; windowSeconds: number; clock?: () => number },
  messageId: string,
): Promise<TraceAnswer> {
  const index = new MessageIndex(redis, opts.windowSeconds);
  const found: SubscriptionTrace[] = [];
  const now = opts.clock ?? Date.now;
  for (const sub of opts.subscriptions) {
    const jobId = await index.lookup(queuePrefix(opts.queuePrefix, sub.action), indexField(sub.name, messageId));
    if (!jobId) continue;
    const paused = () => pauseEnd(redis, opts.queuePrefix, sub.action, now());
    const behind = (holder: string, event: SegmentEvent | undefined) => describeBlocker(queues, opts.subscriptions, sub, holder, event, now());
    found.push(await follow(queues[sub.action], sub, jobId, messageId, paused, now, behind));
  }
  const answer: TraceAnswer = { messageId, found, windowSeconds: opts.windowSeconds, queuePrefix: opts.queuePrefix };
  if (found.length === 0) {
    const filtered = await index.filteredReason(opts.queuePrefix, messageId);
    if (filtered) answer.filtered = filtered;
  }
  return answer;
}

type AnyJob = Job<AnyJobData, GroupResult | undefined>;

async function follow(
  queue: Queues[ActionKey],
  sub: Subscription,
  firstJobId: string,
  messageId: string,
  paused: () => Promise<number | undefined>,
  now: () => number,
  behind?: Blocker,
): Promise<SubscriptionTrace> {
  const trace: SubscriptionTrace = { subscription: sub.name, action: sub.action, status: 'gone', steps: [] };
  const getJob = async (id: string) => (await queue.getJob(id)) as AnyJob | undefined;
  // The jobs before the one the index names (it names the first, unless a job was written over it).
  const earlier: Array<{ job: AnyJob; state: string }> = [];
  for (let from = (await getJob(firstJobId))?.data as GroupJobData | undefined; from?.from && earlier.length < MAX_HOPS; ) {
    const read = await jobAndState(queue, from.from);
    if (!read) break;
    earlier.unshift(read);
    from = read.job.data as GroupJobData;
  }
  for (const { job, state } of earlier) trace.steps.push(await describeJob(job, state, messageId, trace, undefined));

  let jobId: string | undefined = firstJobId;
  for (let hop = 0; jobId && hop < MAX_HOPS; hop++) {
    const read = await jobAndState(queue, jobId);
    if (!read) {
      trace.steps.push({ jobId, state: 'gone', detail: 'no longer in Redis (removed after its retention time)' });
      trace.status = 'gone';
      break;
    }
    const step = await describeJob(read.job, read.state, messageId, trace, paused, behind);
    trace.steps.push(step);
    jobId = step.state === 'completed' ? movedTo(read.job.returnvalue, messageId) : undefined;
  }
  if (trace.event) {
    // The clock the worker mapped with: when the item was first sent (the mapping may stamp a time).
    const sentAt = trace.steps.find((s) => s.request)?.request?.at;
    const built = rebuild(sub, trace.event, sentAt ?? trace.steps[0]?.addedAt ?? now());
    if (built.ok) trace.item = built.item;
    else trace.itemError = built.error;
  }
  return trace;
}

/** One job of the trail: its state, the request the item went in from it, and what became of the item. */
async function describeJob(
  job: AnyJob,
  state: string,
  messageId: string,
  trace: SubscriptionTrace,
  paused: (() => Promise<number | undefined>) | undefined,
  behind?: Blocker,
): Promise<TraceStep> {
  const jobId = job.id!;
  const data = job.data as GroupJobData;
  const events = eventsOf(job);
  const at = events.findIndex((e) => String(e.messageId) === messageId);
  if (!trace.event && at >= 0) {
    trace.event = events[at];
    if (typeof events[at].receivedAt === 'string') trace.receivedAt = events[at].receivedAt as string;
  }
  const step: TraceStep = { jobId, state, addedAt: job.timestamp, finishedAt: job.finishedOn, detail: '' };
  // The job before this one sent the item; this job's reason is Customer.io's answer for it there.
  const previous = trace.steps[trace.steps.length - 1];
  switch (state) {
    case 'completed': {
      const result = job.returnvalue ?? undefined;
      const request = requestOf(result, at);
      if (request) step.request = request;
      const next = movedTo(result, messageId);
      if (next) {
        step.detail = `${request ? 'sent' : 'not sent'}; the item moved to job ${next}`;
        if (request && result?.why?.[next]) step.answer = result.why[next];
        break;
      }
      trace.status = 'delivered';
      trace.statuses = result?.statuses;
      if (request) step.answer = 'accepted';
      step.detail = `delivered: Customer.io answered ${(request?.status ?? result?.statuses?.join(', ')) || '2xx'}`;
      break;
    }
    case 'failed':
      trace.status = 'failed';
      trace.reason = job.failedReason;
      step.detail = `failed: ${job.failedReason}`;
      if (previous?.request && !previous.answer) previous.answer = job.failedReason;
      break;
    case 'delayed':
      if (data.held && data.heldBehind && at >= 0) {
        // Per-person order: the item waits for an earlier operation of its person to have its outcome.
        trace.status = 'held';
        const blocker = behind ? await behind(data.heldBehind[at], events[at]) : data.heldBehind[at];
        step.detail = `held behind ${blocker}; it goes once that has its outcome (looks again by itself at ${new Date(job.timestamp + (job.delay ?? 0)).toISOString()})`;
        break;
      }
      trace.status = 'retrying';
      step.detail = `waiting to be retried (attempt ${(data.attempt ?? 0) + 1}) at ${new Date(job.timestamp + (job.delay ?? 0)).toISOString()}`;
      await notePause(step, trace, paused);
      break;
    case 'active':
      trace.status = 'sending';
      step.detail = 'in a worker: its batch is filling or its request is in flight';
      break;
    default: {
      trace.status = data.attempt ? 'retrying' : 'waiting';
      step.detail = data.attempt ? `queued for attempt ${data.attempt + 1}` : 'queued, waiting for a worker';
      await notePause(step, trace, paused);
    }
  }
  return step;
}

/** A job still to run waits, besides, for its queue's pause (a 429, refused credentials) to end. */
async function notePause(step: TraceStep, trace: SubscriptionTrace, paused: (() => Promise<number | undefined>) | undefined): Promise<void> {
  const until = paused && (await paused());
  if (!until) return;
  step.pausedUntil = trace.pausedUntil = until;
  step.detail += `; paused until ${new Date(until).toISOString()} (the queue waits out a 429 or refused credentials)`;
}

type Blocker = (holder: string, event: SegmentEvent | undefined) => Promise<string>;

/** "<messageId> (retrying, attempt 3)": the earlier operation a held item waits behind, as trace tells it. */
async function describeBlocker(queues: Queues, subscriptions: readonly Subscription[], sub: Subscription, holder: string, event: SegmentEvent | undefined, now: number): Promise<string> {
  const parsed = parseHolder(holder);
  if (!parsed) return `an earlier operation (${holder})`;
  const first = await jobAndState(queues[parsed.action], parsed.jobId);
  if (!first) return `an earlier operation in job ${parsed.jobId} of ${parsed.action}, no longer in Redis (its place is let go when next met)`;
  let { job, state } = first;
  const data0 = job.data as GroupJobData;
  const events = eventsOf(job);
  const blockerSub = subscriptions.find((s) => s.name === data0.subscription);
  // The blocker's event of the same person: the first of its job whose item shares a person key with this one.
  const mine = event ? rebuild(sub, event, now) : undefined;
  const keys = new Set(mine?.ok ? orderKeysOf(mine.item, orderKindOf(sub.action)) : []);
  const match =
    events.find((e) => {
      if (!blockerSub) return false;
      const built = rebuild(blockerSub, e, now);
      return built.ok && orderKeysOf(built.item, orderKindOf(blockerSub.action)).some((k) => keys.has(k));
    }) ?? (events.length === 1 ? events[0] : undefined);
  if (!match) return `an operation in job ${parsed.jobId} of ${parsed.action}`;
  const id = String(match.messageId);
  // The place may be named by the job the blocker was in when the item was held; follow it to where it is now.
  for (let hop = 0; state === 'completed' && hop < MAX_HOPS; hop++) {
    const next = movedTo(job.returnvalue, id);
    const read = next ? await jobAndState(queues[parsed.action], next) : undefined;
    if (!read) break;
    ({ job, state } = read);
  }
  const data = job.data as GroupJobData;
  const attempt = (data.attempt ?? 0) + (job.attemptsMade ?? 0) + 1;
  const status =
    state === 'delayed' && data.held ? 'itself held behind an earlier one'
    : state === 'delayed' ? `retrying, attempt ${attempt}`
    : state === 'active' ? 'being sent'
    : state === 'waiting' || state === 'prioritized' ? (data.attempt ? `queued for attempt ${attempt}` : 'queued')
    : state === 'completed' ? 'delivered; the held item goes next'
    : state;
  const what = id;
  return `${what} (${status}, ${parsed.action})`;
}

/**
 * A job and its state, the state read first. A job can finish between two reads; read the other way round,
 * its state could say completed while the job read before it has no result yet, and trace would call an
 * item delivered that had moved on to a retry job.
 */
async function jobAndState(queue: Queues[ActionKey], jobId: string): Promise<{ job: AnyJob; state: string } | undefined> {
  const state = await queue.getJobState(jobId);
  if (state === 'unknown') return undefined;
  const job = (await queue.getJob(jobId)) as AnyJob | undefined;
  return job ? { job, state } : undefined;
}

function movedTo(result: GroupResult | null | undefined, messageId: string): string | undefined {
  return Object.entries(result?.moved ?? {}).find(([, ids]) => ids.includes(messageId))?.[0];
}

function eventsOf(job: AnyJob): SegmentEvent[] {
  try {
    return decodeGroup(job.data);
  } catch {
    return [];
  }
}

function rebuild(sub: Subscription, event: SegmentEvent, now: number): ReturnType<typeof transform> {
  try {
    return transform(sub, event, now);
  } catch (err) {
    return { ok: false, error: `internal error while mapping the event: ${(err as Error).message}` };
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
    if (t.pausedUntil) lines.push(`  paused until ${new Date(t.pausedUntil).toISOString()}`);
    if (t.receivedAt) lines.push(`  received ${t.receivedAt}`);
    if (t.event) lines.push(`  event as received: ${JSON.stringify(t.event)}`);
    if (t.item) lines.push(`  item as it would be sent now (rebuilt from the event with the current CIO_CONFIG): ${JSON.stringify(t.item)}`);
    if (t.itemError) lines.push(`  no item with the current CIO_CONFIG: ${t.itemError}`);
    for (const s of t.steps) {
      const when = s.finishedAt ? `, finished ${new Date(s.finishedAt).toISOString()}` : s.addedAt ? `, added ${new Date(s.addedAt).toISOString()}` : '';
      lines.push(`  job ${s.jobId} [${s.state}${when}] ${s.detail}`);
      if (s.request) {
        const r = s.request;
        const size = `${r.size} ${r.size === 1 ? 'item' : 'items'}`;
        lines.push(`    request sent ${new Date(r.at).toISOString()}: ${r.status ?? 'no answer'}, ${size}; Customer.io's answer for this item: ${s.answer ?? 'unknown'}`);
      }
    }
  }
  return lines;
}
