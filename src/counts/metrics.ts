// The Prometheus metrics of the contract (GET /metrics). Each createMetrics() call builds its own
// registry, so tests and several workers in one process never collide on prom-client's global one.
//
// The cio_* counters are totals for the whole deployment, kept in a CounterStore (Redis in the
// service, see redis-store.ts), so every process's /metrics shows the same figures and a worker killed
// with SIGKILL takes none of its counts with it. A worker waits for an item's count to be stored
// before it moves the item's job to its final state; a job that comes back after a crash is then
// counted once, not twice (the `once` mark). The histograms stay per process.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { logger } from '../log/logger';
import { throttle, throttledErrorLog } from '../log/throttle';
import { DEFAULTS } from '../config/defaults';
import { FAIL_REASONS, OUTCOMES, RETRY_REASONS, type OutcomeClass } from '../core/outcomes';
import { FILTER_REASONS } from '../core/subscriptions';
import { withTimeout } from '../util/timeout';
import { memoryCounterStore, Tally, type CounterStore, type OnceMark } from './tally';

/** The values of the `source` label: where events come in (the producer's callers). */
export const RECEIVED_SOURCES = ['http', 'publish', 'import'] as const;
export type ReceivedSource = (typeof RECEIVED_SOURCES)[number];
/** The values of the `reason` label of cio_events_filtered_total: their home is core/subscriptions (matchEvent). */
export { FILTER_REASONS, type FilterReason } from '../core/subscriptions';
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'error';

export interface QueueDepth {
  action: string;
  /** A BullMQ job state: waiting, active, delayed, failed, … */
  state: string;
  count: number;
}

/** A counter of the deployment: inc() resolves once the increment is stored (it never rejects). */
export interface SharedCounter {
  inc(labels: Record<string, string>, value?: number, once?: OnceMark): Promise<void>;
}

export interface Metrics {
  registry: Registry;
  /** cio_events_received_total{source}: Segment events accepted by the producer. */
  eventsReceived: SharedCounter;
  /** cio_events_filtered_total{reason}: events that produced no job. */
  eventsFiltered: SharedCounter;
  /** cio_items_enqueued_total{action}: items queued (one event × one subscription); re-sends are not counted. */
  itemsEnqueued: SharedCounter;
  /** cio_events_deduplicated_total{action}: re-sent events (same messageId and subscription) queued once. */
  eventsDeduplicated: SharedCounter;
  /** cio_items_delivered_total{action}: items Customer.io accepted. */
  itemsDelivered: SharedCounter;
  /** cio_items_failed_total{action,reason}: items whose job failed for good. */
  itemsFailed: SharedCounter;
  /** cio_items_retried_total{action,reason}: items sent back to wait; no attempt used for rate_limited/auth. */
  itemsRetried: SharedCounter;
  /** Counts `items` items of `action` under their outcome class: the counter and label core/outcomes.ts gives it. */
  countItems(outcome: OutcomeClass, action: string, items: number, once?: OnceMark): Promise<void>;
  /** cio_batch_size{action}: items per request sent. */
  batchSize: Histogram<string>;
  /** cio_request_duration_seconds{action,status_class}: Customer.io request time. */
  requestDuration: Histogram<string>;
  /** cio_queue_jobs{action,state}: read from the queues at scrape time. */
  queueJobs: Gauge<string>;
  /** Stores the counts still in hand (before shutdown). */
  flush(): Promise<void>;
}

export interface MetricsOptions {
  /** Reads the queues' job counts; called on every scrape. Without it, cio_queue_jobs has no series. */
  collectQueueDepth?: () => Promise<QueueDepth[]>;
  /** Reads the per-person order's holds (persons held, and since when the oldest); without it, cio_order_* have no series. */
  collectOrderHolds?: () => Promise<{ persons: number; oldestSince?: number }>;
  /** A scrape waits at most this long for collectQueueDepth (Redis may be unreachable). Default DEFAULTS.counts.scrapeTimeoutMs. */
  collectTimeoutMs?: number;
  /**
   * Called when collectQueueDepth fails or times out (the scrape then goes on without cio_queue_jobs), or
   * when the counts cannot be read (it shows the last ones read; throttled as log/throttle.ts throttles errors). Default: a
   * warning in the log.
   */
  onCollectError?: (err: unknown) => void;
  /** Also expose Node's process metrics (CPU, memory, event loop, GC). Default false. */
  defaultMetrics?: boolean;
  /** Where the counters are kept. Default: this process's memory (tests, tools without Redis). */
  counterStore?: CounterStore;
}

/** The status_class label for an HTTP status; `undefined` (no response: timeout, connection error) is 'error'. */
export function statusClass(status: number | undefined): StatusClass {
  if (status === undefined || !Number.isInteger(status) || status < 200 || status > 599) return 'error';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const collectTimeoutMs = opts.collectTimeoutMs ?? DEFAULTS.counts.scrapeTimeoutMs;
  const onCollectError =
    opts.onCollectError ??
    ((err: unknown) => logger.warn({ err }, 'could not read queue depth; cio_queue_jobs is left out of this scrape'));

  const tally = new Tally(opts.counterStore ?? memoryCounterStore(), {
    onError: (err) => logger.warn({ err }, 'could not store counts in Redis; they are kept and stored later'),
  });
  // The counters read the store together on each scrape: one report for the lot, and one per window
  // while the store stays away (the log throttle).
  const onCountsError = opts.onCollectError
    ? throttle(opts.onCollectError)
    : throttledErrorLog({ logger, source: 'counts store (read by a scrape)', next: 'the scrape shows the last counts read', level: 'warn' });
  const shared = (name: string, help: string, labelNames: string[]) =>
    sharedCounter(tally, { name, help, labelNames, registers, collectTimeoutMs, onCollectError: onCountsError });

  const eventsReceived = shared(
    'cio_events_received_total',
    `Segment events received, by source (${RECEIVED_SOURCES.join(', ')}).`,
    ['source'],
  );
  const eventsFiltered = shared(
    'cio_events_filtered_total',
    'Events that produced no job, by reason (integrations: the event opted out of this destination; no_subscription: no trigger matched).',
    ['reason'],
  );
  const itemsEnqueued = shared(
    'cio_items_enqueued_total',
    'Items (one event for one subscription) added to the queues, by action. A re-sent event is not counted again.',
    ['action'],
  );
  const eventsDeduplicated = shared(
    'cio_events_deduplicated_total',
    'Re-sent events (same messageId, same subscription, within the dedupe window) that were queued once, by action.',
    ['action'],
  );
  const itemsDelivered = shared('cio_items_delivered_total', 'Items Customer.io accepted, by action.', ['action']);
  const itemsFailed = shared(
    'cio_items_failed_total',
    `Items that failed for good, by action and reason (${FAIL_REASONS.join(', ')}).`,
    ['action', 'reason'],
  );
  const itemsRetried = shared(
    'cio_items_retried_total',
    `Items put back to be sent again, by action and reason (${RETRY_REASONS.join(', ')}).`,
    ['action', 'reason'],
  );
  const batchSize = new Histogram({
    name: 'cio_batch_size',
    help: 'Items per request sent to Customer.io, by action.',
    labelNames: ['action'],
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers,
  });
  const requestDuration = new Histogram({
    name: 'cio_request_duration_seconds',
    help: 'Duration of requests to Customer.io, by action and status class (2xx, 4xx, 5xx, error: no response).',
    labelNames: ['action', 'status_class'],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  const collectQueueDepth = opts.collectQueueDepth;
  const queueJobs = new Gauge({
    name: 'cio_queue_jobs',
    help: 'Jobs in the queues by action and state, read at scrape time.',
    labelNames: ['action', 'state'],
    registers,
    async collect() {
      if (!collectQueueDepth) return;
      // Stale counts would look healthy, so a failed read leaves the series out rather than repeating them.
      this.reset();
      let depths: QueueDepth[];
      try {
        depths = await withTimeout(collectQueueDepth(), collectTimeoutMs, () => new Error(`queue depth not read within ${collectTimeoutMs} ms`));
      } catch (err) {
        onCollectError(err);
        return;
      }
      for (const { action, state, count } of depths) this.set({ action, state }, count);
    },
  });

  const collectOrderHolds = opts.collectOrderHolds;
  const readHolds = async () => {
    if (!collectOrderHolds) return undefined;
    try {
      return await withTimeout(collectOrderHolds(), collectTimeoutMs, () => new Error(`the per-person order's holds were not read within ${collectTimeoutMs} ms`));
    } catch (err) {
      onCollectError(err);
      return undefined;
    }
  };
  new Gauge({
    name: 'cio_order_held_persons',
    help: "Persons (or objects) whose items wait behind an earlier operation of theirs that has no outcome yet (per-person order), read at scrape time.",
    registers,
    async collect() {
      this.reset();
      const holds = await readHolds();
      if (holds) this.set(holds.persons);
    },
  });
  new Gauge({
    name: 'cio_order_oldest_hold_seconds',
    help: 'How long the longest current hold of a person has lasted (0 when none is held), read at scrape time.',
    registers,
    async collect() {
      this.reset();
      const holds = await readHolds();
      if (holds) this.set(holds.oldestSince === undefined ? 0 : Math.max(0, (Date.now() - holds.oldestSince) / 1000));
    },
  });

  // Series with a fixed set of label values start at 0, so rate() and alerts work before the first event.
  tally.declare('cio_events_received_total', RECEIVED_SOURCES.map((source) => ({ source })));
  tally.declare('cio_events_filtered_total', FILTER_REASONS.map((reason) => ({ reason })));

  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });

  const byCounter = { cio_items_delivered_total: itemsDelivered, cio_items_failed_total: itemsFailed, cio_items_retried_total: itemsRetried };
  const countItems = (outcome: OutcomeClass, action: string, items: number, once?: OnceMark) => {
    const { counter } = OUTCOMES[outcome];
    const labels: Record<string, string> = counter === 'cio_items_delivered_total' ? { action } : { action, reason: outcome };
    return byCounter[counter].inc(labels, items, once);
  };

  return {
    registry,
    countItems,
    eventsReceived,
    eventsFiltered,
    itemsEnqueued,
    eventsDeduplicated,
    itemsDelivered,
    itemsFailed,
    itemsRetried,
    batchSize,
    requestDuration,
    queueJobs,
    flush: () => tally.flush(),
  };
}

interface SharedCounterOptions {
  name: string;
  help: string;
  labelNames: string[];
  registers: Registry[];
  collectTimeoutMs: number;
  onCollectError: (err: unknown) => void;
}

/**
 * A prom-client counter whose value is read from the tally at scrape time; increments go to the
 * tally (and from there to the store), never to prom-client.
 */
function sharedCounter(tally: Tally, opts: SharedCounterOptions): SharedCounter {
  const { name, labelNames } = opts;
  new Counter({
    name,
    help: opts.help,
    labelNames,
    registers: opts.registers,
    async collect() {
      let rows;
      try {
        rows = await withTimeout(tally.totals(), opts.collectTimeoutMs, () => new Error(`counts not read within ${opts.collectTimeoutMs} ms`));
      } catch (err) {
        opts.onCollectError(err);
        rows = tally.lastTotals();
      }
      this.reset();
      for (const row of rows) if (row.name === name) this.inc(row.labels, row.value);
    },
  });
  return {
    inc(labels, value = 1, once) {
      for (const key of Object.keys(labels)) {
        if (!labelNames.includes(key)) throw new Error(`${name} has no label "${key}" (its labels: ${labelNames.join(', ')})`);
      }
      if (!Number.isFinite(value) || value < 0) throw new Error(`${name} can only go up: inc(${value}) refused`);
      return tally.record({ name, labels, value }, once);
    },
  };
}
