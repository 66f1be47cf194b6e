// BullMQ workers, one per action queue, sharing one Delivery. Each job is one event for one subscription:
// the worker maps it, hands the item to Delivery, and turns the item's outcome into the job's state
// (architecture.md, "Outcomes map onto job states"), so Bull Board shows every item's fate.

import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type pino from 'pino';
import type { ServiceConfig } from '../config';
import { CustomerIoClient } from '../customerio/client';
import type { Metrics } from '../metrics';
import { countAttemptOnce, countFinalOnce, queuePrefix, completedRetention, type JobData, type Queues, type RedisConnection } from '../queues';
import { transform, type Subscription } from '../subscriptions';
import { ACTION_KEYS, type ActionKey } from '../types';
import { Delivery, type Outcome } from './delivery';

export type WorkerConfig = Pick<
  ServiceConfig,
  | 'customerio'
  | 'queuePrefix'
  | 'flushIntervalMs'
  | 'workerConcurrency'
  | 'requestConcurrency'
  | 'attempts'
  | 'authPauseMs'
  | 'rateLimitPauseMs'
  | 'stalledIntervalMs'
  | 'lockDurationMs'
  | 'maxStalledCount'
  | 'subscriptions'
  | 'completedRetentionSeconds'
  | 'completedRetentionCount'
>;

export interface WorkerPoolOptions {
  config: WorkerConfig;
  connection: RedisConnection;
  /** Queue handles, to pause a queue on 429 or refused credentials. */
  queues: Queues;
  logger: pino.Logger;
  metrics?: Metrics;
  acquireRequestSlot?: () => Promise<void>;
  clock?: () => number;
}

/** What a delivered job returns: shown in Bull Board as the job's result. */
export interface DeliveredResult {
  delivered: true;
  status: number;
}

export class WorkerPool {
  readonly workers: Worker<JobData, DeliveredResult>[] = [];
  readonly delivery: Delivery;
  private readonly client: CustomerIoClient;
  private readonly subscriptions: Map<string, Subscription>;
  private readonly clock: () => number;
  private closing?: Promise<void>;

  constructor(private readonly opts: WorkerPoolOptions) {
    const { config } = opts;
    this.clock = opts.clock ?? Date.now;
    this.subscriptions = new Map(config.subscriptions.map((s) => [s.name, s]));
    this.client = new CustomerIoClient({ ...config.customerio });
    this.delivery = new Delivery({
      client: this.client,
      flushIntervalMs: config.flushIntervalMs,
      requestConcurrency: config.requestConcurrency,
      authPauseMs: config.authPauseMs,
      rateLimitPauseMs: config.rateLimitPauseMs,
      metrics: opts.metrics,
      logger: opts.logger,
      acquireRequestSlot: opts.acquireRequestSlot,
      clock: this.clock,
      onPause: (subscription, ms, reason) => this.pause(subscription.action, ms, reason),
    });
  }

  /** Starts one worker per action queue that has a subscription. */
  start(): void {
    const actions = new Set(this.opts.config.subscriptions.map((s) => s.action));
    for (const action of ACTION_KEYS) {
      if (!actions.has(action)) continue;
      const worker = new Worker<JobData, DeliveredResult>(action, (job) => this.process(action, job), {
        connection: this.opts.connection,
        prefix: queuePrefix(this.opts.config.queuePrefix, action),
        concurrency: this.opts.config.workerConcurrency,
        stalledInterval: this.opts.config.stalledIntervalMs,
        lockDuration: this.opts.config.lockDurationMs,
        // A job caught by several worker deaths or Redis outages must come back each time, not fail.
        maxStalledCount: this.opts.config.maxStalledCount,
        // A limiter must be configured for queue.rateLimit() to hold jobs back; the cap itself is never reached.
        limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1000 },
        ...completedRetention(this.opts.config),
      });
      worker.on('error', (err) => this.opts.logger.error({ action, err: err.message }, 'worker error (it keeps running)'));
      // Failures decided by BullMQ rather than by process(): a job that stalled too often.
      worker.on('failed', (job, err) => {
        if (job && /stalled more than allowable limit/.test(err.message)) void this.opts.metrics?.itemsFailed.inc({ action, reason: 'stalled' });
      });
      this.workers.push(worker);
    }
  }

  /** Stops taking jobs, sends what is in hand, waits for the answers, then closes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = Promise.all(this.workers.map((w) => w.close()));
      await this.delivery.flushAll();
      await closed;
      await this.delivery.flushAll();
      this.client.close();
    })();
    return this.closing;
  }

  private async process(action: ActionKey, job: Job<JobData, DeliveredResult>): Promise<DeliveredResult> {
    const subscription = this.subscriptions.get(job.data.subscription);
    if (!subscription) {
      throw new UnrecoverableError(
        `The subscription "${job.data.subscription}" is not in this worker's configuration (CIO_CONFIG); restore it and replay the job.`,
      );
    }
    let built;
    try {
      built = transform(subscription, job.data.event, this.clock());
    } catch (err) {
      // A bug of ours, not a problem of the event: fail visibly (replay after the fix) rather than retry.
      await this.opts.metrics?.itemsFailed.inc({ action, reason: 'invalid' }, 1, countFinalOnce(job));
      throw new UnrecoverableError(`internal error while mapping the event: ${(err as Error).message}`);
    }
    if (!built.ok) {
      await this.opts.metrics?.itemsFailed.inc({ action, reason: 'invalid' }, 1, countFinalOnce(job));
      throw new UnrecoverableError(built.error);
    }
    const outcome = await this.delivery.submit(subscription, built.item);
    return this.settle(action, job, outcome);
  }

  // Each count is stored before the job moves on (the awaits), with a mark on the job, so a worker
  // killed in between neither loses the count nor, when the job runs again, doubles it (tally.ts).
  private async settle(action: ActionKey, job: Job<JobData, DeliveredResult>, outcome: Outcome): Promise<DeliveredResult> {
    const m = this.opts.metrics;
    switch (outcome.kind) {
      case 'delivered':
        await m?.itemsDelivered.inc({ action }, 1, countFinalOnce(job));
        return { delivered: true, status: outcome.status };
      case 'failed':
        await m?.itemsFailed.inc({ action, reason: outcome.metric }, 1, countFinalOnce(job));
        throw new UnrecoverableError(outcome.reason);
      case 'retry': {
        const attempts = job.opts.attempts ?? 1;
        const attempt = job.attemptsMade + 1;
        if (attempt >= attempts) {
          await m?.itemsFailed.inc({ action, reason: 'retries_exhausted' }, 1, countFinalOnce(job));
          throw new Error(`${outcome.reason}; gave up after ${attempt} attempts (retry it from the dashboard or with replay)`);
        }
        await m?.itemsRetried.inc({ action, reason: 'transient' }, 1, countAttemptOnce(job));
        if (outcome.retryAfterMs !== undefined) {
          // Customer.io said when to come back (Retry-After on a 5xx): this retry waits that long instead
          // of the backoff. BullMQ reads the backoff from this job object when it moves the job on; the
          // change is not stored, so later retries use the job's own backoff again.
          job.opts.backoff = { type: 'fixed', delay: outcome.retryAfterMs };
          throw new Error(`${outcome.reason}; attempt ${attempt} of ${attempts}, will retry in ${outcome.retryAfterMs} ms as Customer.io asked`);
        }
        throw new Error(`${outcome.reason}; attempt ${attempt} of ${attempts}, will retry`);
      }
      case 'wait':
        // The pause is set before the job goes back to waiting, so no worker picks it up early.
        // No mark: the attempt is not used up, so the job may wait again in this same attempt.
        await m?.itemsRetried.inc({ action, reason: outcome.why });
        await this.opts.queues[action].rateLimit(outcome.ms);
        throw Worker.RateLimitError();
    }
  }

  private pause(action: ActionKey, ms: number, reason: string): void {
    this.opts.logger.warn({ action, pauseMs: ms, reason }, `queue ${action} paused for ${ms} ms; its jobs wait`);
  }
}
