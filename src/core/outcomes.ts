// The outcome of an item, from Customer.io's answer to the label it is counted under, in one place:
//
//   Verdict (what an answer means: customerio/classify.ts reads it)
//     → Outcome of each item (outcomeOf, below)
//     → what becomes of the item's job (worker/settle.ts, by Outcome kind)
//     → the counter and label it is counted under (OUTCOMES, below; counts/metrics.ts countItems)
//
// A new class of outcome is one entry in OUTCOMES; the compiler then checks every switch and label that
// must know it. Pure: no I/O.

import { MAX_ITEM_BYTES } from './limits';
import type { CioItemError } from './types';

export type Verdict =
  /**
   * A 2xx whose every error names an item of the batch. Items in itemErrors failed for good; every other
   * item was accepted. Only this verdict may count an item delivered.
   */
  | { kind: 'delivered'; status: number; itemErrors: Map<number, CioItemError> }
  /**
   * A 2xx that carried errors we cannot match to items (a batch_index that is a string, negative, past the
   * batch; an `errors` that is not a list; a garbled body). Items in itemErrors failed for good; any other
   * item may have been refused, so none of them counts as delivered: send them again in smaller requests,
   * and a single item whose answer is still ambiguous fails. `anomaly` says what could not be matched.
   */
  | { kind: 'ambiguous'; status: number; itemErrors: Map<number, CioItemError>; anomaly: string }
  /** Pause the queue for retryAfterMs; the items wait and no attempt is used up. */
  | { kind: 'rate_limited'; status: 429; retryAfterMs: number }
  /** Pause the queue and keep the jobs until the credentials or region are fixed. */
  | { kind: 'auth_failed'; status: 401 | 403; reason: string }
  /** Split the batch and send the halves. */
  | { kind: 'too_large'; status: 413 }
  /** The whole request was refused: every item fails, no retry. */
  | { kind: 'rejected'; status: number; reason: string }
  /**
   * A whole-request 4xx whose errors name items of the batch by batch_index: those items fail for good with
   * their own errors. Customer.io processed none of the others: send them again without the named items.
   */
  | { kind: 'refused_for_items'; status: number; itemErrors: Map<number, CioItemError>; reason: string }
  /**
   * Retry: 5xx, 408, redirects, timeouts, connection errors. retryAfterMs is set when Customer.io said
   * when to come back (a readable Retry-After on a 5xx or 408); otherwise the usual backoff applies.
   */
  | { kind: 'transient'; status?: number; reason: string; retryAfterMs?: number };

/** What becomes of an item's job, by the Outcome kind that leads there. */
type JobFate = 'completed' | 'failed' | 'delayed' | 'waiting' | 'held';

/**
 * Every class of outcome an item can have, by the label it is counted under: the job it ends in
 * (`completed`: delivered; `failed`: a failed job of its own; `delayed`: a new job after backoff, using an
 * attempt; `waiting`: a new job that waits out the queue's pause without using one) and the counter.
 * The order of the failed classes is the order cio_items_failed_total's help lists them in.
 */
const DELIVERED = { job: 'completed', counter: 'cio_items_delivered_total' } as const;
const FAILED = { job: 'failed', counter: 'cio_items_failed_total' } as const;
const RETRIED = { job: 'delayed', counter: 'cio_items_retried_total' } as const;
const WAITING = { job: 'waiting', counter: 'cio_items_retried_total' } as const;
const HELD = { job: 'held', counter: 'cio_items_retried_total' } as const;

export const OUTCOMES = {
  delivered: DELIVERED,
  /** The mapped event is not a valid item for its action. */
  invalid: FAILED,
  /** Customer.io refused the item by its batch_index. */
  rejected: FAILED,
  /** Transient failures used up every attempt (JOB_ATTEMPTS). */
  retries_exhausted: FAILED,
  /** Over MAX_ITEM_BYTES, or a single item Customer.io answered 413 to. */
  too_large: FAILED,
  /** Customer.io refused the whole request (a 4xx). */
  request_rejected: FAILED,
  /** A 2xx with errors that name no item, on a request of one item. */
  ambiguous_answer: FAILED,
  /** The job's worker died too often while holding it (MAX_STALLED_COUNT). */
  stalled: FAILED,
  /** A bug of ours or an unreadable job. */
  internal: FAILED,
  /** 5xx, 408, redirects, timeouts, connection errors. */
  transient: RETRIED,
  /** A run of the job failed on an unforeseen error (Redis away while its items' new jobs were written); BullMQ runs it again. */
  internal_retry: RETRIED,
  /** 429: the queue pauses. */
  rate_limited: WAITING,
  /** 401/403: the queue pauses until the credentials are fixed. */
  auth: WAITING,
  /** Per-person order: an earlier operation of the item's person has no outcome yet; the item waits for it without using an attempt. */
  held: HELD,
} as const satisfies Record<string, { job: JobFate; counter: string }>;

export type OutcomeClass = keyof typeof OUTCOMES;
type ClassesEndingIn<J extends JobFate> = { [K in OutcomeClass]: (typeof OUTCOMES)[K]['job'] extends J ? K : never }[OutcomeClass];
/** cio_items_failed_total's reason label. */
export type FailReason = ClassesEndingIn<'failed'>;
/** Outcomes that wait out a pause of the queue. */
export type WaitReason = ClassesEndingIn<'waiting'>;
/** Outcomes that are tried again after a backoff, using an attempt. */
export type BackoffReason = ClassesEndingIn<'delayed'>;
/** cio_items_retried_total's reason label. */
export type RetryReason = ClassesEndingIn<'delayed' | 'waiting' | 'held'>;

type Counter = (typeof OUTCOMES)[OutcomeClass]['counter'];
function classesCountedIn(counter: Counter): OutcomeClass[] {
  return (Object.keys(OUTCOMES) as OutcomeClass[]).filter((k) => OUTCOMES[k].counter === counter);
}
/** The reason labels of cio_items_failed_total, in the table's order. */
export const FAIL_REASONS = classesCountedIn('cio_items_failed_total') as FailReason[];
/** The reason labels of cio_items_retried_total, in the table's order. */
export const RETRY_REASONS = classesCountedIn('cio_items_retried_total') as RetryReason[];

/** What happens to one item's job. */
export type Outcome =
  | { kind: 'delivered'; status: number }
  /** Refused for good: the item fails now, without retry. */
  | { kind: 'failed'; reason: string; metric: FailReason }
  /**
   * Transient: the item is retried, using up an attempt; after retryAfterMs when Customer.io said when to
   * come back (Retry-After on a 5xx or 408), else with the usual backoff.
   */
  | { kind: 'retry'; reason: string; retryAfterMs?: number; why: BackoffReason }
  /** The queue pauses for `ms`; the item waits without using up an attempt. */
  | { kind: 'wait'; ms: number; reason: string; why: WaitReason }
  /**
   * Per-person order: an earlier operation of the item's person (`behind`: the job holding it) has no
   * outcome yet. The item waits in a job of its own, without using an attempt, until that one has its outcome.
   */
  | { kind: 'held'; behind: string; reason: string };

/** The counting class of an outcome: the label it is counted under (OUTCOMES). */
export function classOf(outcome: Outcome): OutcomeClass {
  switch (outcome.kind) {
    case 'delivered':
      return 'delivered';
    case 'failed':
      return outcome.metric;
    case 'retry':
    case 'wait':
      return outcome.why;
    case 'held':
      return 'held';
    default:
      return unhandled(outcome);
  }
}

/** The compiler's check that a switch over a union handles every member: a new member fails to compile. */
export function unhandled(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

/** The outcome of the item at `index` of a request answered with `verdict`. */
export function outcomeOf(verdict: Verdict, index: number, authPauseMs: number): Outcome {
  switch (verdict.kind) {
    case 'delivered': {
      const error = verdict.itemErrors.get(index);
      return error ? itemRefused(error) : { kind: 'delivered', status: verdict.status };
    }
    case 'ambiguous': {
      const error = verdict.itemErrors.get(index);
      if (error) return itemRefused(error);
      return {
        kind: 'failed',
        reason:
          `Customer.io answered ${verdict.status}, but with errors that name no item (${verdict.anomaly}); ` +
          `this item may have been refused, so it is not counted as delivered and is not retried. ` +
          `Check Customer.io's activity log, and replay the job if the item is missing.`,
        metric: 'ambiguous_answer',
      };
    }
    case 'rejected':
      return { kind: 'failed', reason: verdict.reason, metric: 'request_rejected' };
    case 'refused_for_items': {
      const error = verdict.itemErrors.get(index);
      if (error) return itemRefused(error);
      const named = [...verdict.itemErrors.keys()].join(', ');
      return {
        kind: 'failed',
        reason: `${verdict.reason}; Customer.io refused the request because of item(s) ${named} of it, and this item was not sent again`,
        metric: 'request_rejected',
      };
    }
    case 'too_large':
      return { kind: 'failed', reason: 'Customer.io answered 413: the item is too large to send on its own', metric: 'too_large' };
    case 'transient':
      return verdict.retryAfterMs === undefined
        ? { kind: 'retry', reason: verdict.reason, why: 'transient' }
        : { kind: 'retry', reason: verdict.reason, retryAfterMs: verdict.retryAfterMs, why: 'transient' };
    case 'rate_limited':
      return { kind: 'wait', ms: verdict.retryAfterMs, reason: 'Customer.io answered 429 Too Many Requests', why: 'rate_limited' };
    case 'auth_failed':
      return { kind: 'wait', ms: authPauseMs, reason: verdict.reason, why: 'auth' };
    default:
      return unhandled(verdict);
  }
}

/** An item Customer.io refused by its batch_index. */
export function itemRefused(error: CioItemError): Outcome {
  return { kind: 'failed', reason: describeItemError(error), metric: 'rejected' };
}

/** An item over the limit, failed without being sent. */
export function itemTooLarge(bytes: number): Outcome {
  return {
    kind: 'failed',
    reason: `The item is ${bytes} bytes; Customer.io accepts at most ${MAX_ITEM_BYTES} bytes per item. It was not sent.`,
    metric: 'too_large',
  };
}

/** "Customer.io rejected the item: invalid attributes.plan: property value cannot be longer than 1000 bytes" */
export function describeItemError(e: CioItemError): string {
  const head = [e.reason, e.field].filter(isText).join(' ');
  const tail = isText(e.message) ? e.message : '';
  if (!head && !tail) return 'Customer.io rejected the item (it gave no details)';
  return `Customer.io rejected the item: ${[head, tail].filter(Boolean).join(': ')}`;
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
