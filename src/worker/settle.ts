// Pure: what becomes of a group job once each of its items has an outcome (README.md, "How it works": what
// each answer does to an item). Delivered items are counted; each item refused for good becomes a job of its
// own that fails with its reason; items hit by a transient failure go back together as one new job with
// backoff, their attempts carried over, or, once those are used up, each fails on its own; items that wait
// out a 429 or refused credentials go back as one new job without using an attempt; items held behind an
// earlier operation of their person (README.md, "Order") go back as one new job that waits to be woken,
// without using an attempt.

import { unhandled, type BackoffReason, type FailReason, type Outcome, type WaitReason } from '../core/outcomes';
import type { SegmentEvent } from '../core/types';

export interface ItemOutcome {
  event: SegmentEvent;
  outcome: Outcome;
  /** The item's tickets in its people's order (GroupJobData.order), carried to the job it moves to. */
  order?: string;
}

export interface RetryPolicy {
  /** Tries per item for transient failures (JOB_ATTEMPTS). */
  attempts: number;
  /** First retry delay; doubles each attempt (RETRY_BACKOFF_MS). */
  backoffMs: number;
}

export interface HoldPolicy {
  /** First wait of a held item before it looks again by itself (ORDER_HOLD_RECHECK_MS); doubles each time. */
  orderHoldRecheckMs: number;
  orderHoldMaxMs: number;
}

/** Items that go on together in one new job. */
export interface MovedItems {
  events: SegmentEvent[];
  /** Their tickets (GroupJobData.order), one per event. */
  order: string[];
}

export interface Settlement {
  delivered: SegmentEvent[];
  /** Each becomes its own failed job. */
  failed: Array<{ event: SegmentEvent; reason: string; metric: FailReason; attempts: number }>;
  /** Transient failures with attempts left: one job, after `delayMs`. */
  retry?: MovedItems & { attempt: number; delayMs: number; reason: string; why: BackoffReason };
  /** Items that wait for the queue's pause to end (429, refused credentials); no attempt used. */
  wait?: MovedItems & { attempt: number; pauseMs: number; why: WaitReason; reason: string };
  /** Items held behind an earlier operation of their person; no attempt used. `holds`: times in a row. */
  held?: MovedItems & { attempt: number; holds: number; delayMs: number; reason: string; behind: string[] };
  /** Customer.io's statuses for the delivered items (distinct), for the job's result and trace. */
  statuses: number[];
}

type Of<K extends Outcome['kind']> = { item: ItemOutcome; outcome: Extract<Outcome, { kind: K }> };

/**
 * `attempt`: attempts the items have used so far (0 on a first try). `holds`: times in a row the job's
 * items were held already. `random` in [0, 1) spreads retries (jitter), so items that failed together do
 * not come back all at once.
 */
export function settle(items: ItemOutcome[], attempt: number, policy: RetryPolicy & HoldPolicy, random: () => number, holds = 0): Settlement {
  const result: Settlement = { delivered: [], failed: [], statuses: [] };
  const transient: Array<Of<'retry'>> = [];
  const waiting: Array<Of<'wait'>> = [];
  const held: Array<Of<'held'>> = [];
  const statuses = new Set<number>();
  for (const item of items) {
    const outcome = item.outcome;
    switch (outcome.kind) {
      case 'delivered':
        result.delivered.push(item.event);
        statuses.add(outcome.status);
        break;
      case 'failed':
        result.failed.push({ event: item.event, reason: outcome.reason, metric: outcome.metric, attempts: attempt + 1 });
        break;
      case 'retry':
        transient.push({ item, outcome });
        break;
      case 'wait':
        waiting.push({ item, outcome });
        break;
      case 'held':
        held.push({ item, outcome });
        break;
      default:
        unhandled(outcome);
    }
  }
  result.statuses = [...statuses].sort();
  if (transient.length > 0) settleTransient(result, transient, attempt, policy, random);
  if (waiting.length > 0) {
    const first = waiting[0].outcome;
    result.wait = {
      ...moved(waiting),
      attempt,
      pauseMs: Math.max(...waiting.map((w) => w.outcome.ms)),
      why: first.why,
      reason: first.reason,
    };
  }
  if (held.length > 0) {
    result.held = {
      ...moved(held),
      attempt,
      holds: holds + 1,
      delayMs: Math.min(policy.orderHoldMaxMs, policy.orderHoldRecheckMs * 2 ** Math.min(30, holds)),
      reason: held[0].outcome.reason,
      behind: held.map((h) => h.outcome.behind),
    };
  }
  return result;
}

function settleTransient(result: Settlement, transient: Array<Of<'retry'>>, attempt: number, policy: RetryPolicy, random: () => number): void {
  const next = attempt + 1;
  const first = transient[0].outcome;
  if (next >= policy.attempts) {
    for (const { item, outcome } of transient) {
      result.failed.push({
        event: item.event,
        reason: `${outcome.reason}; gave up after ${next} attempts (replay it once Customer.io answers again)`,
        metric: 'retries_exhausted',
        attempts: next,
      });
    }
    return;
  }
  const askedMs = transient.reduce((ms, t) => Math.max(ms, t.outcome.retryAfterMs ?? 0), 0);
  result.retry = {
    ...moved(transient),
    attempt: next,
    delayMs: Math.max(askedMs, backoffMs(next, policy.backoffMs, random)),
    reason: `${first.reason}; attempt ${next} of ${policy.attempts}, will retry`,
    why: first.why,
  };
}

function moved(list: Array<{ item: ItemOutcome }>): MovedItems {
  return { events: list.map((l) => l.item.event), order: list.map((l) => l.item.order ?? '') };
}

/** No retry waits longer than this, however many attempts are allowed (JOB_ATTEMPTS goes up to 1000). */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/** Exponential backoff with jitter: attempt 1 waits backoffMs × (0.5…1), each later attempt twice as long, up to an hour. */
export function backoffMs(attempt: number, baseMs: number, random: () => number): number {
  const full = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(40, Math.max(0, attempt - 1)));
  return Math.round(full * (0.5 + 0.5 * random()));
}
