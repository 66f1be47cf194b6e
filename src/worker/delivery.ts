// Delivery: collects built items per subscription, flushes them to Customer.io, and hands every item its
// own outcome. The decisions (when to flush, what a response means, what it means for each item) are made
// by the pure batcher, classify.ts and core/outcomes.ts; this module only wires them to the clock, the HTTP
// client and the waiting jobs.

import type pino from 'pino';
import { PATH_FOR } from '../core/actions';
import { ACTIONS } from '../core/actions/registry';
import { Batcher, type Pending } from '../core/batcher';
import { BATCH_BUDGET_BYTES, MAX_ITEM_BYTES } from '../core/limits';
import { itemRefused, itemTooLarge, outcomeOf, type Outcome, type Verdict } from '../core/outcomes';
import { classifyResponse, classifyTransportError, excerpt } from '../customerio/classify';
import type { CustomerIoClient } from '../customerio/client';
import { statusClass, type Metrics } from '../counts/metrics';
import type { Subscription } from '../core/subscriptions';
import type { CioItemError, CioPath } from '../core/types';
import type { RequestRecord } from '../jobs/result';
import { Semaphore } from '../util/semaphore';

/** How long a batch of `soon` items waits at most (or FLUSH_INTERVAL_MS, when shorter). */
export const SOON_MS = 50;
/** Their batches are kept apart from the subscription's own under this suffix (no subscription name has it). */
const SOON_KEY = '\u0000soon';

interface Waiting {
  json: string;
  resolve: (sent: Sent) => void;
}

/** An item's outcome, and the request that decided it (none when the item was not sent: too large). */
export interface Sent {
  outcome: Outcome;
  request?: RequestRecord;
}

export interface DeliveryOptions {
  client: CustomerIoClient;
  flushIntervalMs: number;
  /** Requests in flight at once for the one-item paths (/api/v2/entity, /api/v1/metrics). */
  requestConcurrency: number;
  authPauseMs: number;
  rateLimitPauseMs: number;
  metrics?: Metrics;
  logger: pino.Logger;
  /**
   * Pauses the subscription's queue: called once per pausing answer (429, refused credentials), and awaited
   * before any item of that answer gets its outcome, so the jobs its items wait in are written after the pause.
   */
  onPause?: (subscription: Subscription, ms: number, reason: string) => Promise<void>;
  /** Waits for a slot under the shared requests-per-second cap, if any. */
  acquireRequestSlot?: () => Promise<void>;
  clock?: () => number;
}

export class Delivery {
  private readonly batcher: Batcher<Waiting>;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly slots: Semaphore;
  private readonly now: () => number;

  constructor(private readonly opts: DeliveryOptions) {
    this.batcher = new Batcher<Waiting>({ maxBytes: BATCH_BUDGET_BYTES, maxItemBytes: MAX_ITEM_BYTES, maxWaitMs: opts.flushIntervalMs });
    this.slots = new Semaphore(opts.requestConcurrency);
    this.now = opts.clock ?? Date.now;
  }

  /** Resolves with the item's outcome once its request has been answered. */
  submit(subscription: Subscription, item: Record<string, unknown>): Promise<Outcome> {
    return this.send(subscription, item).then((sent) => sent.outcome);
  }

  /**
   * The same, with the request the item went in (for the job's result, which `trace` reads). `soon`: the
   * item goes in a batch of its own kind that waits at most SOON_MS (items a person's next operation waits
   * for, worker.ts), so a person's chain of operations does not wait FLUSH_INTERVAL_MS at every link.
   */
  send(subscription: Subscription, item: Record<string, unknown>, opts: { soon?: boolean } = {}): Promise<Sent> {
    const json = JSON.stringify(item);
    const bytes = Buffer.byteLength(json);
    const batched = subscription.enableBatching && ACTIONS[subscription.action].delivery === 'batch';
    if (!batched) return this.sendAlone(subscription, json, bytes);

    return new Promise<Sent>((resolve) => {
      const key = opts.soon ? `${subscription.name}${SOON_KEY}` : subscription.name;
      this.subscriptions.set(key, subscription);
      const added = this.batcher.add(key, { json, resolve }, bytes, this.now(), {
        maxItems: subscription.batchSize,
        ...(opts.soon ? { maxWaitMs: Math.min(SOON_MS, this.opts.flushIntervalMs) } : {}),
      });
      if (added.kind === 'too_large') {
        resolve({ outcome: itemTooLarge(bytes) });
        return;
      }
      for (const group of added.flush) this.track(this.sendBatch(subscription, group.items, group.why));
      this.schedule();
    });
  }

  /** Sends every item in hand now (shutdown), and waits for all requests in flight. */
  async flushAll(): Promise<void> {
    for (const group of this.batcher.drain()) {
      const subscription = this.subscriptions.get(group.key);
      if (subscription) this.track(this.sendBatch(subscription, group.items, group.why));
    }
    this.clearTimer();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  pending(): { items: number; requests: number } {
    return { items: this.batcher.size().items, requests: this.inFlight.size };
  }

  // One timer for all groups, set to the earliest deadline.
  private schedule(): void {
    const deadline = this.batcher.nextDeadline();
    if (deadline === undefined) return this.clearTimer();
    if (this.timer && deadline >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, deadline - this.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    for (const group of this.batcher.due(this.now())) {
      const subscription = this.subscriptions.get(group.key);
      if (subscription) this.track(this.sendBatch(subscription, group.items, group.why));
    }
    this.schedule();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async sendAlone(subscription: Subscription, json: string, bytes: number): Promise<Sent> {
    if (bytes > MAX_ITEM_BYTES) return { outcome: itemTooLarge(bytes) };
    const path = PATH_FOR[ACTIONS[subscription.action].delivery].single;
    await this.slots.acquire();
    try {
      const [verdict, request] = await this.post(subscription, path, json, 1);
      return { outcome: outcomeOf(verdict, 0, this.opts.authPauseMs), request };
    } finally {
      this.slots.release();
    }
  }

  private async sendBatch(subscription: Subscription, items: Pending<Waiting>[], why: string): Promise<void> {
    const body = `{"batch":[${items.map((i) => i.value.json).join(',')}]}`;
    const [verdict, request] = await this.post(subscription, '/api/v2/batch', body, items.length, why);
    if (verdict.kind === 'too_large' && items.length > 1) {
      // Customer.io found the request too large: send each half on its own.
      await this.sendInHalves(subscription, items, 'split');
      return;
    }
    if (verdict.kind === 'ambiguous' && items.length > 1) {
      // Errors we cannot match to items: the items Customer.io named fail; any other may have been
      // refused, so they go again in halves until each answer is unambiguous (one item at the least).
      await this.sendInHalves(subscription, this.failNamed(verdict.itemErrors, items, request), 'split_ambiguous');
      return;
    }
    if (verdict.kind === 'refused_for_items') {
      // The request was refused because of the named items; Customer.io processed none of the others.
      const others = this.failNamed(verdict.itemErrors, items, request);
      if (others.length > 0) await this.sendBatch(subscription, others, 'resend_without_refused');
      return;
    }
    items.forEach((item, index) => item.value.resolve({ outcome: outcomeOf(verdict, index, this.opts.authPauseMs), request }));
  }

  private async sendInHalves(subscription: Subscription, items: Pending<Waiting>[], why: string): Promise<void> {
    if (items.length <= 1) {
      if (items.length === 1) await this.sendBatch(subscription, items, why);
      return;
    }
    const half = Math.ceil(items.length / 2);
    await Promise.all([this.sendBatch(subscription, items.slice(0, half), why), this.sendBatch(subscription, items.slice(half), why)]);
  }

  /** Fails the items Customer.io named by batch_index, each with its own error; returns the others. */
  private failNamed(itemErrors: Map<number, CioItemError>, items: Pending<Waiting>[], request: RequestRecord): Pending<Waiting>[] {
    const others: Pending<Waiting>[] = [];
    items.forEach((item, index) => {
      const error = itemErrors.get(index);
      if (error) item.value.resolve({ outcome: itemRefused(error), request });
      else others.push(item);
    });
    return others;
  }

  /** The verdict on a request, and the request's record (one object, shared by the items it carried). */
  private async post(subscription: Subscription, path: CioPath, body: string, items: number, why?: string): Promise<[Verdict, RequestRecord]> {
    const started = this.now();
    let verdict: Verdict;
    let status: number | undefined;
    let answer: unknown;
    try {
      if (this.opts.acquireRequestSlot) await this.opts.acquireRequestSlot();
      const res = await this.opts.client.post(path, body);
      status = res.status;
      answer = res.body;
      verdict = classifyResponse(res, items, { defaultRetryAfterMs: this.opts.rateLimitPauseMs });
    } catch (err) {
      verdict = classifyTransportError(err);
    }
    const durationMs = this.now() - started;
    const action = subscription.action;
    this.opts.metrics?.batchSize.observe({ action }, items);
    this.opts.metrics?.requestDuration.observe({ action, status_class: statusClass(status) }, durationMs / 1000);
    const failed = 'itemErrors' in verdict ? verdict.itemErrors.size : verdict.kind === 'rejected' ? items : 0;
    const line = { action, subscription: subscription.name, path, items, status: status ?? verdict.kind, durationMs, failed, flush: why };
    if (verdict.kind === 'delivered') this.opts.logger.info(line, 'flush');
    else if (verdict.kind === 'ambiguous') {
      const next = items > 1 ? 'the items it does not name go again in smaller requests' : 'the item is not counted delivered and fails';
      this.opts.logger.warn({ ...line, verdict: verdict.kind, anomaly: verdict.anomaly, body: excerpt(answer, 1000) }, `flush answer has errors that name no item: ${next}`);
    } else if (verdict.kind === 'auth_failed') this.opts.logger.error({ ...line, reason: verdict.reason }, 'flush refused: credentials');
    else this.opts.logger.warn({ ...line, verdict: verdict.kind, reason: 'reason' in verdict ? verdict.reason : undefined }, 'flush not delivered');
    const pause =
      verdict.kind === 'rate_limited' ? { ms: verdict.retryAfterMs, reason: 'Customer.io answered 429 Too Many Requests' }
      : verdict.kind === 'auth_failed' ? { ms: this.opts.authPauseMs, reason: verdict.reason }
      : undefined;
    if (pause && this.opts.onPause) {
      await this.opts.onPause(subscription, pause.ms, pause.reason).catch((err: Error) => {
        // The items still wait in a job of their own; without the pause a worker may try them sooner.
        this.opts.logger.warn({ action, err: err.message }, 'could not pause the queue; its waiting items may be tried before the pause would have ended');
      });
    }
    return [verdict, { at: started, ...(status === undefined ? {} : { status }), size: items }];
  }
}
