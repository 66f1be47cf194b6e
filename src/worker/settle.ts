// Pure: what becomes of a group job once each of its items has an outcome (README.md, "How it works": what
// each answer does to an item). Delivered items are counted; each item refused for good becomes a job of its own
// that fails with its reason; items hit by a transient failure go back together as one new job with
// backoff, their attempts carried over, or, once those are used up, each fails on its own; items that
// wait out a 429 or refused credentials go back as one new job without using an attempt.

import type { FailReason, Outcome, WaitReason } from '../core/outcomes';
import type { SegmentEvent } from '../core/types';

export interface ItemOutcome {
  event: SegmentEvent;
  outcome: Outcome;
}

export interface RetryPolicy {
  /** Tries per item for transient failures (JOB_ATTEMPTS). */
  attempts: number;
  /** First retry delay; doubles each attempt (RETRY_BACKOFF_MS). */
  backoffMs: number;
}

export interface Settlement {
  delivered: SegmentEvent[];
  /** Each becomes its own failed job. */
  failed: Array<{ event: SegmentEvent; reason: string; metric: FailReason; attempts: number }>;
  /** Transient failures with attempts left: one job, after `delayMs`. */
  retry?: { events: SegmentEvent[]; attempt: number; delayMs: number; reason: string };
  /** Items that wait for the queue's pause to end (429, refused credentials); no attempt used. */
  wait?: { events: SegmentEvent[]; attempt: number; pauseMs: number; why: WaitReason; reason: string };
  /** Customer.io's statuses for the delivered items (distinct), for the job's result and trace. */
  statuses: number[];
}

/**
 * `attempt`: attempts the items have used so far (0 on a first try). `random` in [0, 1) spreads retries
 * (jitter), so items that failed together do not come back all at once.
 */
export function settle(items: ItemOutcome[], attempt: number, policy: RetryPolicy, random: () => number): Settlement {
  const result: Settlement = { delivered: [], failed: [], statuses: [] };
  const transient: ItemOutcome[] = [];
  const waiting: ItemOutcome[] = [];
  const statuses = new Set<number>();
  for (const item of items) {
    const o = item.outcome;
    switch (o.kind) {
      case 'delivered':
        result.delivered.push(item.event);
        statuses.add(o.status);
        break;
      case 'failed':
        result.failed.push({ event: item.event, reason: o.reason, metric: o.metric, attempts: attempt + 1 });
        break;
      case 'retry':
        transient.push(item);
        break;
      case 'wait':
        waiting.push(item);
        break;
    }
  }
  result.statuses = [...statuses].sort();
  if (transient.length > 0) {
    const next = attempt + 1;
    const first = transient[0].outcome as Extract<Outcome, { kind: 'retry' }>;
    if (next >= policy.attempts) {
      for (const item of transient) {
        const reason = (item.outcome as Extract<Outcome, { kind: 'retry' }>).reason;
        result.failed.push({
          event: item.event,
          reason: `${reason}; gave up after ${next} attempts (replay it once Customer.io answers again)`,
          metric: 'retries_exhausted',
          attempts: next,
        });
      }
    } else {
      const askedMs = transient.reduce((ms, item) => Math.max(ms, (item.outcome as Extract<Outcome, { kind: 'retry' }>).retryAfterMs ?? 0), 0);
      result.retry = {
        events: transient.map((i) => i.event),
        attempt: next,
        delayMs: Math.max(askedMs, backoffMs(next, policy.backoffMs, random)),
        reason: `${first.reason}; attempt ${next} of ${policy.attempts}, will retry`,
      };
    }
  }
  if (waiting.length > 0) {
    const first = waiting[0].outcome as Extract<Outcome, { kind: 'wait' }>;
    result.wait = {
      events: waiting.map((i) => i.event),
      attempt,
      pauseMs: Math.max(...waiting.map((i) => (i.outcome as Extract<Outcome, { kind: 'wait' }>).ms)),
      why: first.why,
      reason: first.reason,
    };
  }
  return result;
}

/** No retry waits longer than this, however many attempts are allowed (JOB_ATTEMPTS goes up to 1000). */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/** Exponential backoff with jitter: attempt 1 waits backoffMs × (0.5…1), each later attempt twice as long, up to an hour. */
export function backoffMs(attempt: number, baseMs: number, random: () => number): number {
  const full = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(40, Math.max(0, attempt - 1)));
  return Math.round(full * (0.5 + 0.5 * random()));
}
