// The Prometheus metrics of the contract (GET /metrics). Each createMetrics() call builds its own
// registry, so tests and several workers in one process never collide on prom-client's global one.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { logger } from './logger';

/** Label values, for callers that want the compiler to check them. */
export type ReceivedSource = 'http' | 'publish' | 'import';
export type FilterReason = 'integrations' | 'no_subscription';
export type FailReason = 'invalid' | 'rejected' | 'retries_exhausted' | 'too_large' | 'request_rejected' | 'stalled';
export type RetryReason = 'transient' | 'rate_limited' | 'auth';
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'error';

export interface QueueDepth {
  action: string;
  /** A BullMQ job state: waiting, active, delayed, failed, paused, … */
  state: string;
  count: number;
}

export interface Metrics {
  registry: Registry;
  /** cio_events_received_total{source}: Segment events accepted by the producer. */
  eventsReceived: Counter<string>;
  /** cio_events_filtered_total{reason}: events that produced no job. */
  eventsFiltered: Counter<string>;
  /** cio_items_enqueued_total{action}: jobs added (one event × one subscription). */
  itemsEnqueued: Counter<string>;
  /** cio_items_delivered_total{action}: items Customer.io accepted. */
  itemsDelivered: Counter<string>;
  /** cio_items_failed_total{action,reason}: items whose job failed for good. */
  itemsFailed: Counter<string>;
  /** cio_items_retried_total{action,reason}: items sent back to wait; no attempt used for rate_limited/auth. */
  itemsRetried: Counter<string>;
  /** cio_batch_size{action}: items per request sent. */
  batchSize: Histogram<string>;
  /** cio_request_duration_seconds{action,status_class}: Customer.io request time. */
  requestDuration: Histogram<string>;
  /** cio_queue_jobs{action,state}: read from the queues at scrape time. */
  queueJobs: Gauge<string>;
}

export interface MetricsOptions {
  /** Reads the queues' job counts; called on every scrape. Without it, cio_queue_jobs has no series. */
  collectQueueDepth?: () => Promise<QueueDepth[]>;
  /** A scrape waits at most this long for collectQueueDepth (Redis may be unreachable). Default 2000. */
  collectTimeoutMs?: number;
  /** Called when collectQueueDepth fails or times out; the scrape then goes on without cio_queue_jobs. Default: a warning in the log. */
  onCollectError?: (err: unknown) => void;
  /** Also expose Node's process metrics (CPU, memory, event loop, GC). Default false. */
  defaultMetrics?: boolean;
}

const RECEIVED_SOURCES: readonly ReceivedSource[] = ['http', 'publish', 'import'];
const FILTER_REASONS: readonly FilterReason[] = ['integrations', 'no_subscription'];

/** The status_class label for an HTTP status; `undefined` (no response: timeout, connection error) is 'error'. */
export function statusClass(status: number | undefined): StatusClass {
  if (status === undefined || !Number.isInteger(status) || status < 200 || status > 599) return 'error';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const collectTimeoutMs = opts.collectTimeoutMs ?? 2_000;
  const onCollectError =
    opts.onCollectError ??
    ((err: unknown) => logger.warn({ err }, 'could not read queue depth; cio_queue_jobs is left out of this scrape'));

  const eventsReceived = new Counter({
    name: 'cio_events_received_total',
    help: 'Segment events received, by source (http, publish, import).',
    labelNames: ['source'],
    registers,
  });
  const eventsFiltered = new Counter({
    name: 'cio_events_filtered_total',
    help: 'Events that produced no job, by reason (integrations: the event opted out of this destination; no_subscription: no trigger matched).',
    labelNames: ['reason'],
    registers,
  });
  const itemsEnqueued = new Counter({
    name: 'cio_items_enqueued_total',
    help: 'Items (one event for one subscription) added to the queues, by action.',
    labelNames: ['action'],
    registers,
  });
  const itemsDelivered = new Counter({
    name: 'cio_items_delivered_total',
    help: 'Items Customer.io accepted, by action.',
    labelNames: ['action'],
    registers,
  });
  const itemsFailed = new Counter({
    name: 'cio_items_failed_total',
    help: 'Items that failed for good, by action and reason (invalid, rejected, retries_exhausted, too_large, request_rejected).',
    labelNames: ['action', 'reason'],
    registers,
  });
  const itemsRetried = new Counter({
    name: 'cio_items_retried_total',
    help: 'Items put back to be sent again, by action and reason (transient, rate_limited, auth).',
    labelNames: ['action', 'reason'],
    registers,
  });
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
        depths = await withTimeout(collectQueueDepth(), collectTimeoutMs);
      } catch (err) {
        onCollectError(err);
        return;
      }
      for (const { action, state, count } of depths) this.set({ action, state }, count);
    },
  });

  // Series with a fixed set of label values start at 0, so rate() and alerts work before the first event.
  for (const source of RECEIVED_SOURCES) eventsReceived.inc({ source }, 0);
  for (const reason of FILTER_REASONS) eventsFiltered.inc({ reason }, 0);

  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });

  return {
    registry,
    eventsReceived,
    eventsFiltered,
    itemsEnqueued,
    itemsDelivered,
    itemsFailed,
    itemsRetried,
    batchSize,
    requestDuration,
    queueJobs,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`queue depth not read within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
