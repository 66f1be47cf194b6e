// `npm run bench`: events per second through the whole service (producer → Redis → workers → a local
// Customer.io stand-in), next to the ceiling of plain BullMQ on the same Redis (issue 4); Redis memory per
// queued event; a backlog drained by a worker process (RSS, nothing lost); and latency at a light load.
//
//   node dist-bench/bench/end-to-end.js [--events 50000] [--repeat 3] [--backlog 1000000] [--skip-backlog]
//                                 [--skip-memory] [--latency-seconds 20] [--only e2e,baseline,backlog,latency,order]
//                                 [--inflight 4] [--standin child|inproc] [--profile DIR] [--persons 10]
//                                 [--worst-events N]
//
// The throughput comparison runs `--repeat` rounds of each side, alternating which goes first, and
// reports the medians: on a small shared machine one round is not enough. Both sides publish with
// `--inflight` calls in flight (default 4, as several clients of the HTTP API would), the same for each.
//
// The `order` part prices per-person order (issue 17): the service with ORDERING=person against
// ORDERING=off, the same way (throughput rounds alternating, Redis bytes per waiting event, latency at a
// light load), and a worst case where all traffic belongs to `--persons` persons (`--worst-events`, default
// the smaller of --events and 2,000), which also checks that nothing was lost and, with ordering on, that no
// conflicting pair of a person arrived out of order.
//
// Every measured part runs in a fresh child process of this script (so each starts with a cold heap
// and its RSS is its own); the Customer.io stand-in runs in a process of its own too, as Customer.io is
// not in the worker's process in production (`--standin inproc` puts it in the measured process).
// All queues live under a prefix of this run (cio-bench-<random>) and are obliterated at the end, also
// after Ctrl-C.

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import pino from 'pino';
import { DEFAULTS, loadConfig, type ServiceConfig } from '../src/config';
import { CustomerIoStandIn } from '../src/demo/customerio-stand-in';
import { createLogger } from '../src/log/logger';
import { normalize } from '../src/producer/prepare';
import type { Producer } from '../src/producer/publish';
import { queueDepth } from '../src/jobs/queues';
import { COUNTED_JOB_STATES, queuePrefix } from '../src/redis/keys';
import { startService } from '../src/service';
import { ACTION_KEYS } from '../src/core/types';
import { checkOrder, type Arrival, type ChunkTicks, type OrderCheck } from './order-check';
import { describeMachine, fmtInt, fmtMb, fmtRatio, infoFields, percentile, syntheticChunk, table } from './shared';

const REDIS_URL = process.env.REDIS_URL || DEFAULTS.redis.url;
const SITE_ID = 'bench-site';
const API_KEY = 'bench-key';
const CHUNK = 100;
/** The backlog run is capped so that Redis stays under this (the machine's other work needs the rest). */
const REDIS_BUDGET_BYTES = 8 * 1024 ** 3;
const BASELINE_QUEUE = 'baseline';

// ---------------------------------------------------------------------------------------------------
// Messages between the processes

interface StandInCounts {
  requests: number;
  items: number;
  rejectedItems: number;
}

type ToStandIn =
  | { cmd: 'watch'; id: number; target: number }
  | { cmd: 'counts'; id: number }
  | { cmd: 'arrivals'; id: number }
  | { cmd: 'close'; id: number };

type FromStandIn =
  | { type: 'ready'; url: string }
  | { type: 'reply'; id: number; at?: number; counts?: StandInCounts; arrivals?: Arrival[]; cpuMs?: number };

/** ORDERING for a phase; unset: the default installation's. */
type Ordering = 'person' | 'off';

type PhaseSpec =
  | { phase: 'e2e'; prefix: string; events: number; inflight: number; standin: 'child' | 'inproc'; ordering?: Ordering; persons?: number; warmup?: number }
  | { phase: 'baseline'; prefix: string; events: number; inflight: number }
  | { phase: 'fill'; prefix: string; events: number; inflight: number; baseline: boolean; ordering?: Ordering }
  | { phase: 'drain'; prefix: string; events: number; baseline: boolean; standin: 'child' | 'inproc'; ordering?: Ordering }
  | { phase: 'latency'; prefix: string; seconds: number; perSecond: number; standin: 'child' | 'inproc'; ordering?: Ordering };

interface PhaseResult {
  events: number;
  /** Wall ms from the first publish/addBulk to the last item at the stand-in (or the last job completed for the baseline). */
  elapsedMs: number;
  /** Wall ms from the first publish to the last job marked completed in Redis. */
  completedMs?: number;
  /** Wall ms spent publishing (the producer's side alone). */
  publishMs?: number;
  rssPeak: number;
  rssFinal: number;
  heapPeak: number;
  cpuMs: number;
  rssTimeline?: Array<[number, number]>;
  standIn?: StandInCounts & { cpuMs?: number };
  latencies?: number[];
  flushIntervalMs?: number;
  /** Redis CPU ms of the measured part alone, when the phase measured less than its whole process (a warm-up first). */
  windowRedisCpuMs?: number;
  notes?: string[];
  order?: OrderCheck;
}

// ---------------------------------------------------------------------------------------------------
// The stand-in, in a child process or in this one

interface StandInHandle {
  url: string;
  /** Resolves with the time (Date.now()) at which `target` items had arrived, accepted or rejected. */
  watch(target: number): Promise<{ at: number; counts: StandInCounts }>;
  counts(): Promise<StandInCounts & { cpuMs?: number }>;
  /** Item id (the event's messageId) → time the request carrying it was received, and that request's place. */
  arrivals(): Promise<Arrival[]>;
  close(): Promise<void>;
}

function watchCounts(standIn: CustomerIoStandIn, target: number): Promise<{ at: number; counts: StandInCounts }> {
  return new Promise((resolve) => {
    const check = () => {
      const c = standIn.counts;
      if (c.items + c.rejectedItems < target) return false;
      clearInterval(timer);
      resolve({ at: Date.now(), counts: { ...c } });
      return true;
    };
    const timer = setInterval(check, 1);
    check();
  });
}

function arrivalsOf(standIn: CustomerIoStandIn): Arrival[] {
  const out: Arrival[] = [];
  standIn.requests.forEach((req, place) => {
    const items: any[] = req.path === '/api/v2/batch' ? (req.body?.batch ?? []) : [req.body];
    for (const item of items) {
      // A track item carries the messageId as its id; an identify of the worst-case traffic as a trait.
      const id = typeof item?.id === 'string' ? item.id : item?.attributes?.bench_message_id;
      if (typeof id === 'string') out.push([id, req.receivedAt, place]);
    }
  });
  return out;
}

async function startStandIn(where: 'child' | 'inproc', keepRequests: boolean): Promise<StandInHandle> {
  if (where === 'inproc') {
    const standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY, keepRequests });
    return {
      url: standIn.url,
      watch: (target) => watchCounts(standIn, target),
      counts: async () => ({ ...standIn.counts }),
      arrivals: async () => arrivalsOf(standIn),
      close: () => standIn.close(),
    };
  }
  const child = fork(__filename, ['--role', 'standin', '--keep', keepRequests ? '1' : '0'], { execArgv: [] });
  const pending = new Map<number, (m: Extract<FromStandIn, { type: 'reply' }>) => void>();
  let nextId = 1;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the stand-in exited with ${code} before it was ready`)));
    child.on('message', (m: FromStandIn) => {
      if (m.type === 'ready') resolve(m.url);
      else pending.get(m.id)?.(m);
    });
  });
  const ask = (msg: ToStandIn extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never) =>
    new Promise<Extract<FromStandIn, { type: 'reply' }>>((resolve) => {
      const id = nextId++;
      pending.set(id, (m) => {
        pending.delete(id);
        resolve(m);
      });
      child.send({ ...msg, id });
    });
  return {
    url,
    watch: async (target) => {
      const m = await ask({ cmd: 'watch', target });
      return { at: m.at!, counts: m.counts! };
    },
    counts: async () => {
      const m = await ask({ cmd: 'counts' });
      return { ...m.counts!, cpuMs: m.cpuMs };
    },
    arrivals: async () => (await ask({ cmd: 'arrivals' })).arrivals!,
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await ask({ cmd: 'close' });
      await exited;
    },
  };
}

async function standInRole(keepRequests: boolean): Promise<void> {
  const standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY, keepRequests });
  const send = (m: FromStandIn) => process.send!(m);
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  process.on('message', async (m: ToStandIn) => {
    switch (m.cmd) {
      case 'watch': {
        const { at, counts } = await watchCounts(standIn, m.target);
        send({ type: 'reply', id: m.id, at, counts });
        break;
      }
      case 'counts':
        send({ type: 'reply', id: m.id, counts: { ...standIn.counts }, cpuMs: cpuMs() });
        break;
      case 'arrivals':
        send({ type: 'reply', id: m.id, arrivals: arrivalsOf(standIn) });
        break;
      case 'close':
        await standIn.close();
        send({ type: 'reply', id: m.id });
        process.disconnect();
        break;
    }
  });
  send({ type: 'ready', url: standIn.url });
}

// ---------------------------------------------------------------------------------------------------
// Measuring inside a phase process

class Sampler {
  rssPeak = 0;
  heapPeak = 0;
  /** [ms since start, RSS bytes], every interval. */
  readonly timeline: Array<[number, number]> = [];
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly cpuStart = process.cpuUsage();
  constructor(intervalMs = 500) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  sample(): number {
    const m = process.memoryUsage();
    this.rssPeak = Math.max(this.rssPeak, m.rss);
    this.heapPeak = Math.max(this.heapPeak, m.heapUsed);
    this.timeline.push([Date.now() - this.startedAt, m.rss]);
    return m.rss;
  }
  stop(): { rssPeak: number; rssFinal: number; heapPeak: number; cpuMs: number; rssTimeline: Array<[number, number]> } {
    clearInterval(this.timer);
    const rssFinal = this.sample();
    const cpu = process.cpuUsage(this.cpuStart);
    return { rssPeak: this.rssPeak, rssFinal, heapPeak: this.heapPeak, cpuMs: (cpu.user + cpu.system) / 1000, rssTimeline: this.timeline };
  }
}

/** Service settings a run may override from the environment, for experiments; the headline figures use none. */
const TUNABLES = ['FLUSH_INTERVAL_MS', 'WORKER_CONCURRENCY', 'REQUEST_CONCURRENCY', 'ORDER_HOLD_RECHECK_MS'] as const;

function overrides(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of TUNABLES) if (process.env[name]) out[name] = process.env[name]!;
  return out;
}

function benchConfig(prefix: string, trackUrl: string, ordering?: Ordering): ServiceConfig {
  // Only what a bench needs to differ from a default installation: where Redis, the queues and Customer.io
  // are, and, for the order comparison, ORDERING.
  return loadConfig({
    ...overrides(),
    ...(ordering ? { ORDERING: ordering } : {}),
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    CUSTOMERIO_SITE_ID: SITE_ID,
    CUSTOMERIO_API_KEY: API_KEY,
    CUSTOMERIO_TRACK_URL: trackUrl,
    PORT: '0',
    HOST: '127.0.0.1',
  });
}

/** The service logs as it would in production (one JSON line per flush, level info), into /dev/null. */
function benchLogger(): pino.Logger {
  return createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: true }) as unknown as NodeJS.WritableStream });
}

/** Publishes events [0, n) in chunks of CHUNK, `inflight` publish calls at a time; returns the jobs queued. */
async function publishAll(
  producer: Producer,
  n: number,
  runId: string,
  inflight: number,
  progress?: (done: number) => void,
  more?: { persons?: number; ticks?: ChunkTicks },
): Promise<number> {
  let next = 0;
  let jobs = 0;
  let tick = 0;
  const lane = async () => {
    while (next < n) {
      const from = next;
      const count = Math.min(CHUNK, n - from);
      next += count;
      const chunk = Math.floor(from / CHUNK);
      if (more?.ticks) more.ticks.sent[chunk] = ++tick;
      const results = await producer.publish(syntheticChunk(from, count, { runId, persons: more?.persons }));
      if (more?.ticks) more.ticks.answered[chunk] = ++tick;
      for (const r of results) {
        if (r.error) throw new Error(`the producer refused a synthetic event: ${r.error}`);
        jobs += r.fired.length;
      }
      progress?.(from + count);
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return jobs;
}

/** The same events as plain BullMQ jobs: the data our producer queues ({subscription, event}), with our removeOnComplete. */
async function addAllPlain(queue: Queue, n: number, runId: string, inflight: number, progress?: (done: number) => void): Promise<void> {
  // The service's retention policy, spelled out here so the baseline keeps it whatever queues.ts does with it.
  const removeOnComplete = { age: DEFAULT_POLICY.jobs.completedRetentionSeconds, count: DEFAULT_POLICY.jobs.completedRetentionCount };
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const from = next;
      const count = Math.min(CHUNK, n - from);
      next += count;
      const now = Date.now();
      const jobs = syntheticChunk(from, count, { runId }).map((raw) => {
        const event = normalize(raw, now);
        const subscription = event.type === 'track' ? 'Track Event' : 'Create or Update Person';
        return { name: subscription, data: { subscription, event }, opts: { removeOnComplete } };
      });
      await queue.addBulk(jobs);
      progress?.(from + count);
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

const DEFAULT_POLICY = loadConfig(overrides());

function progressPrinter(label: string, total: number, everyMs = 4500): (done: number) => void {
  const start = Date.now();
  let last = start;
  return (done) => {
    const now = Date.now();
    if (now - last < everyMs && done < total) return;
    last = now;
    const rate = done / ((now - start) / 1000);
    console.log(`  ${label}: ${fmtInt(done)} / ${fmtInt(total)} (${fmtInt(rate)}/s, RSS ${fmtMb(process.memoryUsage().rss)})`);
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Failed jobs of our workers (each is one refused item: a bench run expects none). */
function countFailed(workers: readonly Worker[]): { failed: number } {
  const c = { failed: 0 };
  for (const w of workers) w.on('failed', () => c.failed++);
  return c;
}

async function waitForQueuesSettled(queues: Parameters<typeof queueDepth>[0], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const depth = await queueDepth(queues);
    if (depth.every((d) => d.count === 0 || d.state === 'completed' || d.state === 'failed')) return;
    if (Date.now() > until) throw new Error(`jobs still unfinished after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function countCompleted(workers: readonly Worker[]): { completed: number; failed: number } {
  const c = { completed: 0, failed: 0 };
  for (const w of workers) {
    w.on('completed', () => c.completed++);
    w.on('failed', () => c.failed++);
  }
  return c;
}

async function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  switch (spec.phase) {
    case 'e2e':
      return e2ePhase(spec);
    case 'baseline':
      return baselinePhase(spec);
    case 'fill':
      return fillPhase(spec);
    case 'drain':
      return drainPhase(spec);
    case 'latency':
      return latencyPhase(spec);
  }
}

/** Ours: the service (API, producer and workers in one process, default settings), publishing while the workers deliver. */
async function e2ePhase(spec: Extract<PhaseSpec, { phase: 'e2e' }>): Promise<PhaseResult> {
  // The worst case (few persons) keeps the requests, to check what arrived and in which order.
  const checking = spec.persons !== undefined;
  const standIn = await startStandIn(spec.standin, checking);
  const service = await startService(benchConfig(spec.prefix, standIn.url, spec.ordering), 'all', benchLogger());
  const workers = service.pool!.workers;
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const warmup = spec.warmup ?? 0;
  const redis = warmup > 0 ? new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 }) : undefined;
  if (warmup > 0) await warmUp(service, standIn, spec, warmup);
  const redisCpuBefore = redis ? await redisCpuMsOf(redis) : 0;
  const done = countFailed(workers);
  const held = countHeld(workers);
  // The stand-in's CPU during the run only, not its start-up.
  const standInBefore = await standIn.counts();
  const sampler = new Sampler();
  const ticks: ChunkTicks = { sent: [], answered: [] };

  const start = Date.now();
  const arrived = standIn.watch(warmup + spec.events);
  const jobs = await publishAll(service.producer!, spec.events, spec.prefix, spec.inflight, undefined, { persons: spec.persons, ticks });
  const publishMs = Date.now() - start;
  if (jobs !== spec.events) throw new Error(`expected one item per event, the presets fired ${jobs} for ${spec.events} events`);
  // A held item that is never let go would wait here for ever: the worst case gives up after a bound and says so.
  const boundMs = checking ? WORST_CASE_BOUND_MS : undefined;
  const got = await (boundMs === undefined ? arrived : Promise.race([arrived, new Promise<undefined>((r) => setTimeout(() => r(undefined), boundMs).unref())]));
  let timedOut: string | undefined;
  if (got === undefined) timedOut = `not every event reached the stand-in within ${boundMs! / 1000} s of the start`;
  // Jobs carry groups of events: the run is over when no job is left unfinished.
  if (!timedOut) await waitForQueuesSettled(service.queues, checking ? WORST_CASE_BOUND_MS : 120_000).catch((err: Error) => (timedOut = err.message));
  const completedMs = Date.now() - start;
  const usage = sampler.stop();
  const windowRedisCpuMs = redis ? (await redisCpuMsOf(redis)) - redisCpuBefore : undefined;
  redis?.disconnect();
  const counts = await standIn.counts();
  if (counts.cpuMs !== undefined && standInBefore.cpuMs !== undefined) counts.cpuMs -= standInBefore.cpuMs;
  // What the warm-up sent is not this run's.
  counts.requests -= standInBefore.requests;
  counts.items -= standInBefore.items;
  counts.rejectedItems -= standInBefore.rejectedItems;
  const order = checking ? { ...checkOrder({ runId: spec.prefix, events: spec.events, persons: spec.persons, chunk: CHUNK }, await standIn.arrivals(), ticks), heldItems: held.items, heldJobs: held.jobs, timedOut } : undefined;
  await service.close();
  await standIn.close();
  const elapsedMs = (got?.at ?? Date.now()) - start;
  return { events: spec.events, elapsedMs, completedMs, publishMs, ...usage, standIn: counts, notes: failedNote(done.failed), order, windowRedisCpuMs };
}

/**
 * Sends `events` events (their own messageIds) through the service and waits until every one arrived and
 * every job finished: a process compiles its hot code in its first seconds, and a round of a few seconds
 * would mostly measure that. Nothing of it is counted.
 */
async function warmUp(service: Awaited<ReturnType<typeof startService>>, standIn: StandInHandle, spec: Extract<PhaseSpec, { phase: 'e2e' }>, events: number): Promise<void> {
  const arrived = standIn.watch(events);
  await publishAll(service.producer!, events, `${spec.prefix}-warmup`, spec.inflight);
  await arrived;
  await waitForQueuesSettled(service.queues, 120_000);
}

/** One section of Redis's INFO, field by field. */
async function redisInfoOf(redis: IORedis, section: string): Promise<Record<string, string>> {
  return infoFields(await redis.info(section));
}

/** Redis's CPU time so far (user and system), in ms. */
async function redisCpuMsOf(redis: IORedis): Promise<number> {
  const cpu = await redisInfoOf(redis, 'cpu');
  return (Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1000;
}

/**
 * Events of the worst-case run unless --worst-events says otherwise: with ordering on, each person's
 * identifies and tracks go one after the other, so the run takes about as long per identify of a person as
 * a hold and its wake-up do (about a second in the first runs): 2,000 events (40 identifies per person) is
 * about a minute.
 */
const WORST_CASE_EVENTS = 2_000;

/**
 * Events each throughput round of the order part sends before the measured ones (`--warmup`). A fresh
 * process publishing 20,000 events six times, the sides alternating, spent 95, 47 and 33 µs of CPU per
 * event on the passes with ordering on and 51, 34 and 31 on those with it off: unwarmed rounds of a few
 * seconds measure compiling more than ordering.
 */
const ORDER_WARMUP_EVENTS = 10_000;
/** How long the worst-case run may take before it reports what had arrived by then. */
const WORST_CASE_BOUND_MS = 600_000;

/** Items held by our workers, from each job's result (`held`: the items moved to a held job). */
function countHeld(workers: readonly Worker[]): { items: number; jobs: number } {
  const c = { items: 0, jobs: 0 };
  for (const w of workers) {
    w.on('completed', (_job, result: { held?: number } | undefined) => {
      if (result?.held) {
        c.items += result.held;
        c.jobs++;
      }
    });
  }
  return c;
}

/** The ceiling: plain BullMQ, addBulk of 100 and a no-op processor (concurrency 100), at the same time, one process. */
async function baselinePhase(spec: Extract<PhaseSpec, { phase: 'baseline' }>): Promise<PhaseResult> {
  const producerConn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const workerConn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(BASELINE_QUEUE, { connection: producerConn, prefix: spec.prefix });
  const worker = new Worker(BASELINE_QUEUE, async () => undefined, { connection: workerConn, prefix: spec.prefix, concurrency: 100 });
  await worker.waitUntilReady();
  const done = countCompleted([worker]);
  const sampler = new Sampler();

  const start = Date.now();
  await addAllPlain(queue, spec.events, spec.prefix, spec.inflight);
  const publishMs = Date.now() - start;
  await waitFor(() => done.completed + done.failed >= spec.events, 'the jobs to complete', 120_000);
  const elapsedMs = Date.now() - start;
  const usage = sampler.stop();
  await worker.close();
  await queue.close();
  producerConn.disconnect();
  workerConn.disconnect();
  return { events: spec.events, elapsedMs, completedMs: elapsedMs, publishMs, ...usage, notes: failedNote(done.failed) };
}

/** Queues events with no worker running: the API side of the service alone (or plain addBulk for the baseline). */
async function fillPhase(spec: Extract<PhaseSpec, { phase: 'fill' }>): Promise<PhaseResult> {
  const sampler = new Sampler();
  const progress = spec.events >= 200_000 ? progressPrinter('queued', spec.events) : undefined;
  const start = Date.now();
  if (spec.baseline) {
    const conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(BASELINE_QUEUE, { connection: conn, prefix: spec.prefix });
    await addAllPlain(queue, spec.events, spec.prefix, spec.inflight, progress);
    await queue.close();
    conn.disconnect();
  } else {
    // Without credentials checks or workers: `npm run api`.
    const service = await startService(benchConfig(spec.prefix, 'http://127.0.0.1:9', spec.ordering), 'api', benchLogger());
    const jobs = await publishAll(service.producer!, spec.events, spec.prefix, spec.inflight, progress);
    if (jobs !== spec.events) throw new Error(`expected one item per event, the presets fired ${jobs} for ${spec.events} events`);
    await service.close();
  }
  const elapsedMs = Date.now() - start;
  return { events: spec.events, elapsedMs, publishMs: elapsedMs, ...sampler.stop() };
}

/** Drains a queued backlog: a worker process (`npm run worker`), or the plain no-op worker for the baseline. */
async function drainPhase(spec: Extract<PhaseSpec, { phase: 'drain' }>): Promise<PhaseResult> {
  const progress = spec.events >= 200_000 ? progressPrinter('delivered', spec.events) : undefined;
  if (spec.baseline) {
    const conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const sampler = new Sampler();
    const start = Date.now();
    const worker = new Worker(BASELINE_QUEUE, async () => undefined, { connection: conn, prefix: spec.prefix, concurrency: 100 });
    const done = countCompleted([worker]);
    await waitFor(() => done.completed + done.failed >= spec.events, 'the jobs to complete', 3_600_000);
    const elapsedMs = Date.now() - start;
    const usage = sampler.stop();
    await worker.close();
    conn.disconnect();
    return { events: spec.events, elapsedMs, completedMs: elapsedMs, ...usage, notes: failedNote(done.failed) };
  }
  const standIn = await startStandIn(spec.standin, false);
  const sampler = new Sampler();
  const start = Date.now();
  const service = await startService(benchConfig(spec.prefix, standIn.url, spec.ordering), 'worker', benchLogger());
  // The workers start inside startService, so their events cannot all be counted from here: ask the stand-in and the queues.
  let reporter: NodeJS.Timeout | undefined;
  if (progress) reporter = setInterval(() => void standIn.counts().then((c) => progress(c.items)), 5000);
  const { at } = await standIn.watch(spec.events);
  let failed = 0;
  for (;;) {
    const depth = await queueDepth(service.queues);
    failed = depth.filter((d) => d.state === 'failed').reduce((n, d) => n + d.count, 0);
    if (depth.every((d) => d.count === 0 || d.state === 'completed' || d.state === 'failed')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const completedMs = Date.now() - start;
  clearInterval(reporter);
  const usage = sampler.stop();
  // Let stray duplicates (there should be none) arrive before counting.
  await new Promise((r) => setTimeout(r, 500));
  const counts = await standIn.counts();
  await service.close();
  await standIn.close();
  return { events: spec.events, elapsedMs: at - start, completedMs, ...usage, standIn: counts, notes: failedNote(failed) };
}

/** A light, steady load: one track event every 1000/perSecond ms; latency from publish() to the request at the stand-in. */
async function latencyPhase(spec: Extract<PhaseSpec, { phase: 'latency' }>): Promise<PhaseResult> {
  const standIn = await startStandIn(spec.standin, true);
  const config = benchConfig(spec.prefix, standIn.url, spec.ordering);
  const service = await startService(config, 'all', benchLogger());
  await Promise.all(service.pool!.workers.map((w) => w.waitUntilReady()));
  const sampler = new Sampler();
  const total = Math.round(spec.seconds * spec.perSecond);
  const published = new Map<string, number>();
  const start = Date.now();
  const intervalMs = 1000 / spec.perSecond;
  const sends: Promise<unknown>[] = [];
  for (let i = 0, n = 0; n < total; i++) {
    const [event] = syntheticChunk(i, 1, { runId: spec.prefix });
    if (event.type !== 'track') continue; // only track items carry the messageId (as their id) to match on
    const due = start + n * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    published.set(String(event.messageId), Date.now());
    sends.push(service.producer!.publish(event));
    n++;
  }
  await Promise.all(sends);
  await standIn.watch(total);
  const usage = sampler.stop();
  const arrivals = await standIn.arrivals();
  const latencies: number[] = [];
  for (const [id, at] of arrivals) {
    const sent = published.get(id);
    if (sent !== undefined) latencies.push(at - sent);
  }
  await service.close();
  await standIn.close();
  return { events: total, elapsedMs: Date.now() - start, ...usage, latencies, flushIntervalMs: config.worker.flushIntervalMs };
}

function failedNote(failed: number): string[] | undefined {
  return failed > 0 ? [`${failed} jobs FAILED`] : undefined;
}

// ---------------------------------------------------------------------------------------------------
// The orchestrating process

const PARTS = ['e2e', 'baseline', 'backlog', 'latency', 'order'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  events: number;
  backlog: number;
  skipBacklog: boolean;
  skipMemory: boolean;
  repeat: number;
  latencySeconds: number;
  /** The parts to run (all when empty). */
  only: Part[];
  inflight: number;
  standin: 'child' | 'inproc';
  profile?: string;
  /** Persons of the worst-case traffic in the order part. */
  persons: number;
  /** Events of the worst-case run (default: --events, at most WORST_CASE_EVENTS). */
  worstEvents?: number;
  /** Events each throughput round of the order part sends first, not counted (0: none). */
  warmup: number;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { events: 50_000, backlog: 1_000_000, skipBacklog: false, skipMemory: false, repeat: 3, latencySeconds: 20, only: [], inflight: 4, standin: 'child', persons: 10, warmup: ORDER_WARMUP_EVENTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const count = (min: number) => {
      const raw = value();
      const n = Number(raw.replace(/_/g, ''));
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
      return n;
    };
    switch (flag) {
      case '--events':
        opts.events = Math.round(count(CHUNK));
        break;
      case '--backlog':
        opts.backlog = Math.round(count(CHUNK));
        break;
      case '--skip-backlog':
        opts.skipBacklog = true;
        break;
      case '--skip-memory':
        opts.skipMemory = true;
        break;
      case '--repeat':
        opts.repeat = Math.round(count(1));
        break;
      case '--latency-seconds':
        opts.latencySeconds = count(1);
        break;
      case '--inflight':
        opts.inflight = Math.round(count(1));
        break;
      case '--only': {
        const parts = value().split(',').map((p) => p.trim());
        const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
        if (unknown.length) throw new Error(`--only takes ${PARTS.join(', ')} (comma-separated), got ${JSON.stringify(unknown.join(','))}`);
        opts.only.push(...(parts as Part[]));
        break;
      }
      case '--standin': {
        const v = value();
        if (v !== 'child' && v !== 'inproc') throw new Error(`--standin must be child or inproc, got ${JSON.stringify(v)}`);
        opts.standin = v;
        break;
      }
      case '--profile':
        opts.profile = value();
        break;
      case '--persons':
        opts.persons = Math.round(count(1));
        break;
      case '--worst-events':
        opts.worstEvents = Math.round(count(CHUNK));
        break;
      case '--warmup':
        opts.warmup = Math.round(count(0));
        break;
      case '-h':
      case '--help':
        console.log(
          'usage: node dist-bench/bench/end-to-end.js [--events 50000] [--repeat 3] [--backlog 1000000] [--skip-backlog] [--skip-memory]\n' +
            '                                     [--latency-seconds 20] [--only e2e,baseline,backlog,latency,order] [--inflight 4]\n' +
            '                                     [--standin child|inproc] [--profile DIR] [--persons 10] [--worst-events N] [--warmup 10000]',
        );
        process.exit(0);
      default:
        throw new Error(`unknown option ${flag} (try --help)`);
    }
  }
  return opts;
}

class Orchestrator {
  readonly base = `cio-bench-${randomBytes(4).toString('hex')}`;
  private readonly redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
  private readonly children = new Set<ChildProcess>();
  private cleaning?: Promise<void>;

  constructor(private readonly opts: Options) {}

  /** Runs one phase in a fresh process; Redis CPU seconds are read around it. */
  async phase(spec: PhaseSpec): Promise<PhaseResult & { redisCpuMs: number }> {
    const cpuBefore = await this.redisCpuMs();
    const execArgv = this.opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${this.opts.profile}`, `--cpu-prof-name=${spec.phase}-${Date.now()}.cpuprofile`] : [];
    const child = fork(__filename, ['--role', 'phase', '--spec', JSON.stringify(spec)], { execArgv });
    this.children.add(child);
    const result = await new Promise<PhaseResult>((resolve, reject) => {
      let got: PhaseResult | undefined;
      child.on('message', (m: { type: 'result'; result: PhaseResult } | { type: 'error'; message: string }) => {
        if (m.type === 'result') got = m.result;
        else reject(new Error(`${spec.phase}: ${m.message}`));
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        if (got) resolve(got);
        else reject(new Error(`${spec.phase}: the process exited with ${signal ?? code} before reporting`));
      });
    });
    return { ...result, redisCpuMs: result.windowRedisCpuMs ?? (await this.redisCpuMs()) - cpuBefore };
  }

  redisInfo(section: string): Promise<Record<string, string>> {
    return redisInfoOf(this.redis, section);
  }

  redisCpuMs(): Promise<number> {
    return redisCpuMsOf(this.redis);
  }

  /** used_memory once it has stopped moving (freeing after a delete is lazy). */
  async usedMemory(): Promise<number> {
    let last = Number((await this.redisInfo('memory')).used_memory);
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const now = Number((await this.redisInfo('memory')).used_memory);
      if (Math.abs(now - last) < 64 * 1024) return now;
      last = now;
    }
    return last;
  }

  /** MEMORY USAGE summed over the keys under a prefix: a cross-check of used_memory that other Redis users cannot disturb. */
  async keyBytes(prefix: string): Promise<{ keys: number; bytes: number }> {
    let keys = 0;
    let bytes = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (batch.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', 0);
      for (const [, n] of (await pipeline.exec()) ?? []) bytes += Number(n ?? 0);
      keys += batch.length;
    } while (cursor !== '0');
    return { keys, bytes };
  }

  async jobCounts(prefix: string, baseline: boolean): Promise<Record<string, number>> {
    const names = baseline ? [[BASELINE_QUEUE, prefix]] : ACTION_KEYS.map((a) => [a, queuePrefix(prefix, a)]);
    const total: Record<string, number> = {};
    for (const [name, p] of names) {
      const q = new Queue(name, { connection: this.redis, prefix: p });
      const counts = await q.getJobCounts(...COUNTED_JOB_STATES);
      for (const [k, v] of Object.entries(counts)) total[k] = (total[k] ?? 0) + v;
      await q.close();
    }
    return total;
  }

  /** Obliterates every queue of a sub-prefix, then removes whatever key of this run is left. */
  async removeQueues(prefix: string): Promise<void> {
    const queues = [
      ...ACTION_KEYS.map((a) => new Queue(a, { connection: this.redis, prefix: queuePrefix(prefix, a) })),
      new Queue(BASELINE_QUEUE, { connection: this.redis, prefix }),
    ];
    for (const q of queues) {
      await q.obliterate({ force: true, count: 5000 }).catch(() => undefined);
      await q.close().catch(() => undefined);
    }
    await this.unlinkMatching(`${prefix}:*`);
  }

  private async unlinkMatching(pattern: string): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (batch.length) removed += await this.redis.unlink(...batch);
    } while (cursor !== '0');
    return removed;
  }

  /** Stops the children, removes every key of this run. Safe to call more than once. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const child of this.children) child.kill('SIGTERM');
      await Promise.all(
        [...this.children].map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(undefined) : c.once('exit', resolve)))),
      );
      for (const sub of ['e2e', 'baseline', 'mem', 'mem-baseline', 'backlog', 'latency', ...ORDER_SUBPREFIXES]) await this.removeQueues(`${this.base}-${sub}`);
      const left = await this.unlinkMatching(`${this.base}*`);
      if (left > 0) console.log(`(removed ${left} further keys under ${this.base})`);
      this.redis.disconnect();
    })();
    return this.cleaning;
  }
}

interface MemoryResult {
  bytesPerEvent: number;
  keyBytesPerEvent?: number;
  fill: PhaseResult & { redisCpuMs: number };
  drain: PhaseResult & { redisCpuMs: number };
  afterDrainBytes: number;
  counts: Record<string, number>;
}

async function orchestrate(opts: Options): Promise<void> {
  const o = new Orchestrator(opts);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now
    interrupted = true;
    console.log(`\n${signal}: stopping the benchmark processes and removing the queues under ${o.base} (Ctrl-C again to leave at once)`);
    o.cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const server = await o.redisInfo('server');
    const mem0 = await o.redisInfo('memory');
    console.log(`bench (end to end)  ${new Date().toISOString()}`);
    console.log(`machine             ${describeMachine()}`);
    console.log(`redis               ${REDIS_URL}, Redis ${server.redis_version}, maxmemory ${mem0.maxmemory === '0' ? 'none' : mem0.maxmemory} (${mem0.maxmemory_policy}), used ${fmtMb(Number(mem0.used_memory))} before the run`);
    console.log(`queue prefix        ${o.base}-*`);
    console.log(`load average        ${loadAverage()} at the start (1/5/15 min; other processes on these cores or this Redis move the figures)`);
    const defaults = DEFAULT_POLICY;
    const changed = Object.entries(overrides());
    console.log(
      `settings            ${changed.length ? `NOT the defaults: ${changed.map(([k, v]) => `${k}=${v}`).join(' ')}; ` : 'defaults: '}FLUSH_INTERVAL_MS ${defaults.worker.flushIntervalMs}, WORKER_CONCURRENCY ${defaults.worker.concurrency}, the ${defaults.subscriptions.length} preset subscriptions (batch size 50), ` +
        `removeOnComplete {age ${defaults.jobs.completedRetentionSeconds}s, count ${defaults.jobs.completedRetentionCount}} in both ours (on the workers) and the baseline (on each job)`,
    );
    const sample = syntheticChunk(0, 1000, { runId: o.base });
    const meanBytes = sample.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0) / sample.length;
    console.log(`traffic             80% track, 20% identify (each fires one preset), ~${Math.round(meanBytes)} bytes of JSON per event, ${CHUNK} events per publish()/addBulk, ${opts.inflight} call(s) in flight; stand-in: ${opts.standin === 'child' ? 'its own process' : 'in the measured process'}\n`);

    const want = (part: Part) => opts.only.length === 0 || opts.only.includes(part);
    let ours: (PhaseResult & { redisCpuMs: number }) | undefined;
    let base: (PhaseResult & { redisCpuMs: number }) | undefined;
    let oursMem: MemoryResult | undefined;
    let baseMem: MemoryResult | undefined;

    // Rounds alternate which side goes first; the table shows the median round of each side.
    const oursRuns: Array<PhaseResult & { redisCpuMs: number }> = [];
    const baseRuns: Array<PhaseResult & { redisCpuMs: number }> = [];
    for (let round = 0; round < opts.repeat; round++) {
      const sides = [want('e2e') && 'e2e', want('baseline') && 'baseline'].filter(Boolean) as Array<'e2e' | 'baseline'>;
      if (round % 2 === 1) sides.reverse();
      for (const side of sides) {
        const tag = opts.repeat > 1 ? ` (round ${round + 1} of ${opts.repeat})` : '';
        if (side === 'e2e') {
          console.log(`[e2e] ${fmtInt(opts.events)} events through the service, publishing and delivering at the same time${tag}…`);
          const r = await o.phase({ phase: 'e2e', prefix: `${o.base}-e2e`, events: opts.events, inflight: opts.inflight, standin: opts.standin });
          console.log(`      ${fmtInt(rate(r))} events/s (${(r.elapsedMs / 1000).toFixed(2)} s)`);
          oursRuns.push(r);
          await o.removeQueues(`${o.base}-e2e`);
        } else {
          console.log(`[baseline] ${fmtInt(opts.events)} jobs through plain BullMQ (addBulk 100, no-op processor, concurrency 100)${tag}…`);
          const r = await o.phase({ phase: 'baseline', prefix: `${o.base}-baseline`, events: opts.events, inflight: opts.inflight });
          console.log(`      ${fmtInt(rate(r))} jobs/s (${(r.elapsedMs / 1000).toFixed(2)} s)`);
          baseRuns.push(r);
          await o.removeQueues(`${o.base}-baseline`);
        }
      }
    }
    ours = medianRun(oursRuns);
    base = medianRun(baseRuns);
    if (opts.repeat > 1 && oursRuns.length && baseRuns.length) {
      console.log(`rounds: ours ${oursRuns.map((r) => fmtInt(rate(r))).join(', ')}; baseline ${baseRuns.map((r) => fmtInt(rate(r))).join(', ')} (events/s)`);
    }
    if (want('e2e') && !opts.skipMemory) {
      console.log(`[memory] ${fmtInt(opts.events)} events queued with the workers stopped, then drained…`);
      oursMem = await queueThenDrain(o, `${o.base}-mem`, opts.events, false, opts);
    }
    if (want('baseline') && !opts.skipMemory) {
      console.log(`[memory, baseline] ${fmtInt(opts.events)} plain jobs queued with no worker, then drained…`);
      baseMem = await queueThenDrain(o, `${o.base}-mem-baseline`, opts.events, true, opts);
    }
    if (ours || base || oursMem || baseMem) printComparison(ours, base, oursMem, baseMem);

    if (want('backlog') && !opts.skipBacklog) await backlog(o, opts, oursMem);
    if (want('latency')) await latency(o, opts);
    if (want('order')) await orderComparison(o, opts);
    console.log(`load average        ${loadAverage()} at the end`);
  } finally {
    if (!interrupted) await o.cleanup();
  }
}

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** The round with the median rate (the lower middle one for an even count). */
function medianRun<T extends PhaseResult>(runs: T[]): T | undefined {
  if (runs.length === 0) return undefined;
  return [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor((runs.length - 1) / 2)];
}

function rate(r: PhaseResult): number {
  return r.events / (r.elapsedMs / 1000);
}

async function queueThenDrain(o: Orchestrator, prefix: string, events: number, baseline: boolean, opts: Options, ordering?: Ordering): Promise<MemoryResult> {
  const before = await o.usedMemory();
  const fill = await o.phase({ phase: 'fill', prefix, events, inflight: Math.max(opts.inflight, 4), baseline, ordering });
  const after = await o.usedMemory();
  const measureKeys = events <= 200_000;
  const keyBytes = measureKeys ? await o.keyBytes(prefix) : undefined;
  const drain = await o.phase({ phase: 'drain', prefix, events, baseline, standin: opts.standin, ordering });
  const afterDrainBytes = (await o.usedMemory()) - before;
  const counts = await o.jobCounts(prefix, baseline);
  await o.removeQueues(prefix);
  return {
    bytesPerEvent: (after - before) / events,
    keyBytesPerEvent: keyBytes ? keyBytes.bytes / events : undefined,
    fill,
    drain,
    afterDrainBytes,
    counts,
  };
}

/** CPU of the measured process, Redis and the stand-in together, in ms. */
function cpuMsOfAll(p: PhaseResult & { redisCpuMs: number }): number {
  return p.cpuMs + p.redisCpuMs + (p.standIn?.cpuMs ?? 0);
}

/** The same, per event, in µs. */
function cpuPerEvent(p: PhaseResult & { redisCpuMs: number }): number {
  return (cpuMsOfAll(p) * 1000) / p.events;
}

function printComparison(ours?: PhaseResult & { redisCpuMs: number }, base?: PhaseResult & { redisCpuMs: number }, oursMem?: MemoryResult, baseMem?: MemoryResult): void {
  const cell = (v: number | undefined, f: (n: number) => string) => (v === undefined || !Number.isFinite(v) ? '–' : f(v));
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? fmtRatio(a / b) : '–');
  const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rows = [
    ['', 'ours (service)', 'baseline (plain BullMQ)', 'ratio'],
    ['events/s, end to end', cell(ours && rate(ours), fmtInt), cell(base && rate(base), fmtInt), ratio(ours && rate(ours), base && rate(base))],
    ['wall time', cell(ours?.elapsedMs, secs), cell(base?.elapsedMs, secs), ''],
    ['  of which publishing', cell(ours?.publishMs, secs), cell(base?.publishMs, secs), ''],
    ['  last job completed in Redis', cell(ours?.completedMs, secs), cell(base?.completedMs, secs), ''],
    ['process RSS, peak (sampled 500 ms)', cell(ours?.rssPeak, fmtMb), cell(base?.rssPeak, fmtMb), ''],
    ['process CPU', cell(ours?.cpuMs, secs), cell(base?.cpuMs, secs), ''],
    ['Redis CPU', cell(ours?.redisCpuMs, secs), cell(base?.redisCpuMs, secs), ''],
    ['stand-in CPU (its own process, during the run)', cell(ours?.standIn?.cpuMs, secs), '', ''],
    ['CPU per event, all three (µs)', cell(ours && cpuPerEvent(ours), fmtInt), cell(base && cpuPerEvent(base), fmtInt), ratio(base && cpuPerEvent(base), ours && cpuPerEvent(ours))],
    ['requests to Customer.io (items/request)', ours?.standIn ? `${fmtInt(ours.standIn.requests)} (${(ours.standIn.items / ours.standIn.requests).toFixed(1)})` : '–', '', ''],
    ['Redis used_memory per queued event', cell(oursMem?.bytesPerEvent, fmtInt), cell(baseMem?.bytesPerEvent, fmtInt), ratio(oursMem?.bytesPerEvent, baseMem?.bytesPerEvent)],
    ['  MEMORY USAGE of the run\'s keys / event', cell(oursMem?.keyBytesPerEvent, fmtInt), cell(baseMem?.keyBytesPerEvent, fmtInt), ''],
    ['queue-only rate (no worker), events/s', cell(oursMem && rate(oursMem.fill), fmtInt), cell(baseMem && rate(baseMem.fill), fmtInt), ratio(oursMem && rate(oursMem.fill), baseMem && rate(baseMem.fill))],
    ['drain-only rate (backlog), events/s', cell(oursMem && rate(oursMem.drain), fmtInt), cell(baseMem && rate(baseMem.drain), fmtInt), ratio(oursMem && rate(oursMem.drain), baseMem && rate(baseMem.drain))],
    ['drain: worker RSS peak', cell(oursMem?.drain.rssPeak, fmtMb), cell(baseMem?.drain.rssPeak, fmtMb), ''],
    ['Redis memory left after drain (retained completed jobs)', cell(oursMem?.afterDrainBytes, fmtMb), cell(baseMem?.afterDrainBytes, fmtMb), ''],
  ];
  console.log('\n' + table(rows));
  const notes = [...(ours?.notes ?? []), ...(base?.notes ?? []), ...(oursMem?.drain.notes ?? []), ...(baseMem?.drain.notes ?? [])];
  if (ours?.standIn && ours.standIn.rejectedItems > 0) notes.push(`the stand-in rejected ${ours.standIn.rejectedItems} items`);
  for (const [label, mem] of [['ours', oursMem], ['baseline', baseMem]] as const) {
    const c = mem?.counts;
    const unfinished = c ? (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) : 0;
    if (c && ((c.failed ?? 0) > 0 || unfinished > 0)) notes.push(`memory run, ${label}: ${c.failed ?? 0} jobs failed, ${unfinished} unfinished after the drain`);
  }
  for (const note of notes) console.log(`NOTE: ${note}`);
  if (oursMem && baseMem) {
    const m = oursMem.bytesPerEvent / baseMem.bytesPerEvent;
    console.log(`\nRedis bytes per queued event ours / baseline: ${fmtRatio(m)}   goal <= 0.25: ${m <= 0.25 ? 'met' : 'NOT met'}`);
    console.log(`\nHours of Customer.io outage a Redis of this size absorbs (waiting events only, at the bytes per event above):`);
    console.log(table(outageRows(oursMem.bytesPerEvent, baseMem.bytesPerEvent)));
  }
  if (ours && base) {
    const r = rate(ours) / rate(base);
    console.log(`\nthroughput ours / baseline: ${fmtRatio(r)}   goal >= 2.0 (group-commit issue): ${r >= 2 ? 'met' : 'NOT met'}`);
    const cores = os.cpus().length;
    const busy = (p: PhaseResult & { redisCpuMs: number }) => cpuMsOfAll(p) / p.elapsedMs / cores;
    console.log(
      `cores busy         ours ${(100 * busy(ours)).toFixed(0)} %, baseline ${(100 * busy(base)).toFixed(0)} % of ${cores}: ` +
        `when both are near 100 %, the ratio follows the CPU per event ratio above`,
    );
  }
  console.log('');
}

async function backlog(o: Orchestrator, opts: Options, estimate?: MemoryResult): Promise<void> {
  let n = opts.backlog;
  const prefix = `${o.base}-backlog`;
  let perEvent = estimate?.bytesPerEvent;
  if (perEvent === undefined) {
    console.log('[backlog] estimating Redis memory per queued event with 50,000 events first…');
    perEvent = (await queueThenDrain(o, `${o.base}-mem`, 50_000, false, opts)).bytesPerEvent;
  }
  const needed = perEvent * n;
  console.log(`[backlog] ${fmtInt(n)} events would take about ${fmtMb(needed)} of Redis memory (${fmtInt(perEvent)} bytes per event)`);
  if (needed > REDIS_BUDGET_BYTES) {
    n = Math.floor(REDIS_BUDGET_BYTES / perEvent / CHUNK) * CHUNK;
    console.log(`[backlog] that is over the ${fmtMb(REDIS_BUDGET_BYTES)} budget: capped at ${fmtInt(n)} events`);
  }
  const before = await o.usedMemory();
  console.log(`[backlog] queueing ${fmtInt(n)} events with no worker running…`);
  const fill = await o.phase({ phase: 'fill', prefix, events: n, inflight: Math.max(opts.inflight, 4), baseline: false });
  const queued = await o.usedMemory();
  const countsQueued = await o.jobCounts(prefix, false);
  console.log(`[backlog] queued in ${(fill.elapsedMs / 1000).toFixed(1)} s (${fmtInt(rate(fill))}/s); Redis +${fmtMb(queued - before)} (${fmtInt((queued - before) / n)} bytes per event); ${fmtInt(countsQueued.waiting ?? 0)} jobs waiting`);
  console.log(`[backlog] starting a worker process (npm run worker, default settings) to drain it…`);
  const drain = await o.phase({ phase: 'drain', prefix, events: n, baseline: false, standin: opts.standin });
  const after = await o.usedMemory();
  const counts = await o.jobCounts(prefix, false);
  const delivered = drain.standIn?.items ?? 0;
  const unfinished = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
  const lost = n - delivered;
  console.log('\n' + table([
    ['backlog', ''],
    ['events queued', fmtInt(n)],
    ['Redis used_memory while queued', `+${fmtMb(queued - before)} (${fmtInt((queued - before) / n)} bytes per event)`],
    ['drain time (first worker start to last item at the stand-in)', `${(drain.elapsedMs / 1000).toFixed(1)} s (${fmtInt(rate(drain))} events/s)`],
    ['worker process RSS: peak / final (sampled every 500 ms)', `${fmtMb(drain.rssPeak)} / ${fmtMb(drain.rssFinal)}`],
    ['worker process heap used, peak', fmtMb(drain.heapPeak)],
    ['items delivered to the stand-in', `${fmtInt(delivered)} (rejected ${fmtInt(drain.standIn?.rejectedItems ?? 0)}, in ${fmtInt(drain.standIn?.requests ?? 0)} requests)`],
    ['jobs after the drain', `completed ${fmtInt(counts.completed ?? 0)} (kept: removeOnComplete count ${fmtInt(DEFAULT_POLICY.jobs.completedRetentionCount)} per queue), failed ${fmtInt(counts.failed ?? 0)}, unfinished ${fmtInt(unfinished)}`],
    ['Redis used_memory after the drain', `+${fmtMb(after - before)}`],
    ['nothing lost', lost === 0 && (counts.failed ?? 0) === 0 && unfinished === 0 ? 'yes: delivered == queued, no failed or unfinished job' : `NO: ${fmtInt(lost)} missing, ${counts.failed ?? 0} failed, ${unfinished} unfinished`],
  ]));
  const timeline = drain.rssTimeline ?? [];
  if (timeline.length > 2) {
    const points = Array.from({ length: 11 }, (_, k) => timeline[Math.min(timeline.length - 1, Math.round((k / 10) * (timeline.length - 1)))]);
    console.log(`worker RSS over the drain: ${points.map(([t, rss]) => `${(t / 1000).toFixed(0)}s ${Math.round(rss / 1024 ** 2)}`).join(' · ')} (MB)`);
  }
  for (const note of drain.notes ?? []) console.log(`NOTE: ${note}`);
  console.log('');
  await o.removeQueues(prefix);
}

interface LatencyFigures {
  p99: number;
  /** FLUSH_INTERVAL_MS + 100: the bound p99 should stay within. */
  goal: number;
  count: number;
  events: number;
}

async function latency(o: Orchestrator, opts: Options, ordering?: Ordering, sub = 'latency'): Promise<LatencyFigures> {
  const perSecond = 20;
  const label = ordering ? `[latency, ORDERING=${ordering}]` : '[latency]';
  console.log(`${label} ${perSecond} track events/s for ${opts.latencySeconds} s, one publish() each; time from publish() to the request at the stand-in…`);
  const r = await o.phase({ phase: 'latency', prefix: `${o.base}-${sub}`, seconds: opts.latencySeconds, perSecond, standin: opts.standin, ordering });
  const l = [...(r.latencies ?? [])].sort((a, b) => a - b);
  const goal = (r.flushIntervalMs ?? 0) + 100;
  const p99 = percentile(l, 99);
  console.log('\n' + table([
    [ordering ? `latency, publish → Customer.io, ORDERING=${ordering}` : 'latency, publish → Customer.io', 'ms'],
    ['events', `${l.length} of ${r.events}`],
    ['p50', String(percentile(l, 50))],
    ['p90', String(percentile(l, 90))],
    ['p99', String(p99)],
    ['max', String(l[l.length - 1])],
    ['goal: p99 <= FLUSH_INTERVAL_MS + 100', `${goal} → ${p99 <= goal ? 'met' : 'NOT met'}`],
  ]));
  console.log('');
  await o.removeQueues(`${o.base}-${sub}`);
  return { p99, goal, count: l.length, events: r.events };
}

// ---------------------------------------------------------------------------------------------------
// The price of per-person order (issue 17): ORDERING=person against ORDERING=off, in one run

const ORDER_SIDES: readonly Ordering[] = ['person', 'off'];
const ORDER_SUBPREFIXES = ORDER_SIDES.flatMap((side) => [`order-${side}`, `order-mem-${side}`, `order-latency-${side}`, `order-worst-${side}`]);
/** The goals of issue 17: throughput on >= 0.9 x off; at most 64 more Redis bytes per waiting event. */
const ORDER_THROUGHPUT_GOAL = 0.9;
const ORDER_BYTES_GOAL = 64;

type Measured = PhaseResult & { redisCpuMs: number };

async function orderComparison(o: Orchestrator, opts: Options): Promise<void> {
  const runs: Record<Ordering, Measured[]> = { person: [], off: [] };
  for (let round = 0; round < opts.repeat; round++) {
    const sides = round % 2 === 1 ? [...ORDER_SIDES].reverse() : [...ORDER_SIDES];
    for (const side of sides) {
      const tag = opts.repeat > 1 ? ` (round ${round + 1} of ${opts.repeat})` : '';
      const warm = opts.warmup > 0 ? `, after ${fmtInt(opts.warmup)} warm-up events` : '';
      console.log(`[order] ${fmtInt(opts.events)} events through the service with ORDERING=${side}${warm}${tag}…`);
      const prefix = `${o.base}-order-${side}`;
      const r = await o.phase({ phase: 'e2e', prefix, events: opts.events, inflight: opts.inflight, standin: opts.standin, ordering: side, warmup: opts.warmup });
      console.log(`      ${fmtInt(rate(r))} events/s (${(r.elapsedMs / 1000).toFixed(2)} s)`);
      runs[side].push(r);
      await o.removeQueues(prefix);
    }
  }
  const mem: Partial<Record<Ordering, MemoryResult>> = {};
  if (!opts.skipMemory) {
    for (const side of ORDER_SIDES) {
      console.log(`[order, memory] ${fmtInt(opts.events)} events queued with the workers stopped (ORDERING=${side}), then drained…`);
      mem[side] = await queueThenDrain(o, `${o.base}-order-mem-${side}`, opts.events, false, opts, side);
    }
  }
  const lat = {} as Record<Ordering, LatencyFigures>;
  for (const side of ORDER_SIDES) lat[side] = await latency(o, opts, side, `order-latency-${side}`);
  const worst = {} as Record<Ordering, Measured>;
  const worstEvents = opts.worstEvents ?? Math.min(opts.events, WORST_CASE_EVENTS);
  for (const side of ORDER_SIDES) {
    console.log(`[order, worst case] ${fmtInt(worstEvents)} events (80% track, 20% identify), all for ${opts.persons} persons, ORDERING=${side}…`);
    const prefix = `${o.base}-order-worst-${side}`;
    const r = await o.phase({ phase: 'e2e', prefix, events: worstEvents, inflight: opts.inflight, standin: opts.standin, ordering: side, persons: opts.persons });
    console.log(`      ${fmtInt(rate(r))} events/s (${(r.elapsedMs / 1000).toFixed(2)} s), ${fmtInt(r.order?.heldItems ?? 0)} items held`);
    worst[side] = r;
    await o.removeQueues(prefix);
  }
  printOrderComparison(runs, mem, lat, worst, opts);
}

function printOrderComparison(
  runs: Record<Ordering, Measured[]>,
  mem: Partial<Record<Ordering, MemoryResult>>,
  lat: Record<Ordering, LatencyFigures>,
  worst: Record<Ordering, Measured>,
  opts: Options,
): void {
  const on = medianRun(runs.person)!;
  const off = medianRun(runs.off)!;
  const metGoal = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const throughput = rate(on) / rate(off);
  const us = (ms: number, events: number) => fmtInt((ms * 1000) / events);
  const bytesOn = mem.person?.bytesPerEvent;
  const bytesOff = mem.off?.bytesPerEvent;
  const signed = (n: number) => `${n >= 0 ? '+' : ''}${fmtInt(n)}`;
  const keyOn = mem.person?.keyBytesPerEvent;
  const keyOff = mem.off?.keyBytesPerEvent;
  const check = (r: Measured) => r.order!;
  const lost = (r: Measured) => check(r).published - check(r).arrived;
  const rows: string[][] = [
    ['per-person order', 'ORDERING=person', 'ORDERING=off', 'on vs off', 'goal'],
    [`events/s, end to end (median of ${runs.person.length}${opts.warmup > 0 ? `, each after ${fmtInt(opts.warmup)} warm-up events` : ''})`, fmtInt(rate(on)), fmtInt(rate(off)), `${fmtRatio(throughput)} x`, `>= ${ORDER_THROUGHPUT_GOAL} x: ${metGoal(throughput >= ORDER_THROUGHPUT_GOAL)}`],
    ['  rounds', runs.person.map((r) => fmtInt(rate(r))).join(' / '), runs.off.map((r) => fmtInt(rate(r))).join(' / '), '', ''],
    ['  process CPU per event (µs)', us(on.cpuMs, on.events), us(off.cpuMs, off.events), '', ''],
    ['  Redis CPU per event (µs)', us(on.redisCpuMs, on.events), us(off.redisCpuMs, off.events), '', ''],
    ['  requests to Customer.io (items/request)', itemsPerRequest(on), itemsPerRequest(off), '', ''],
  ];
  if (bytesOn !== undefined && bytesOff !== undefined) {
    rows.push(['Redis used_memory per waiting event (bytes)', fmtInt(bytesOn), fmtInt(bytesOff), signed(bytesOn - bytesOff), `<= +${ORDER_BYTES_GOAL}: ${metGoal(bytesOn - bytesOff <= ORDER_BYTES_GOAL)}`]);
    if (keyOn !== undefined && keyOff !== undefined) rows.push(["  MEMORY USAGE of the run's keys / event", fmtInt(keyOn), fmtInt(keyOff), signed(keyOn - keyOff), '']);
    // Queueing and draining apart: the producer's share of the cost (mapping each item, taking its places)
    // and the worker's (gate, moves, letting go).
    for (const [label, of] of [['queue-only (no worker)', (m: MemoryResult) => m.fill], ['drain-only (backlog)', (m: MemoryResult) => m.drain]] as const) {
      const a = of(mem.person!);
      const b = of(mem.off!);
      rows.push([`  ${label}: events/s`, fmtInt(rate(a)), fmtInt(rate(b)), `${fmtRatio(rate(a) / rate(b))} x`, '']);
      rows.push([`    process CPU / Redis CPU per event (µs)`, `${us(a.cpuMs, a.events)} / ${us(a.redisCpuMs, a.events)}`, `${us(b.cpuMs, b.events)} / ${us(b.redisCpuMs, b.events)}`, '', '']);
    }
  }
  rows.push([
    'latency p99 at 20 events/s (ms)',
    String(lat.person.p99),
    String(lat.off.p99),
    signed(lat.person.p99 - lat.off.p99),
    `<= ${lat.person.goal}: on ${metGoal(lat.person.p99 <= lat.person.goal)}, off ${metGoal(lat.off.p99 <= lat.off.goal)}`,
  ]);
  const w = worst.person;
  const wOff = worst.off;
  rows.push(
    [`worst case, ${opts.persons} persons: events/s`, fmtInt(rate(w)), fmtInt(rate(wOff)), `${fmtRatio(rate(w) / rate(wOff))} x`, 'says what happens'],
    ['  items held (in held jobs)', `${fmtInt(check(w).heldItems)} (${fmtInt(check(w).heldJobs)})`, `${fmtInt(check(wOff).heldItems)} (${fmtInt(check(wOff).heldJobs)})`, '', ''],
    ['  requests to Customer.io (items/request)', itemsPerRequest(w), itemsPerRequest(wOff), '', ''],
    ['  events lost (published − arrived)', fmtInt(lost(w)), fmtInt(lost(wOff)), '', `0: on ${metGoal(lost(w) === 0)}, off ${metGoal(lost(wOff) === 0)}`],
    ['  conflicting pairs out of order', `${fmtInt(check(w).outOfOrder)} of ${fmtInt(check(w).pairs)}`, `${fmtInt(check(wOff).outOfOrder)} of ${fmtInt(check(wOff).pairs)}`, '', `0 with ordering on: ${metGoal(check(w).outOfOrder === 0)}`],
    ['  events sent more than once', fmtInt(check(w).duplicates), fmtInt(check(wOff).duplicates), '', ''],
  );
  console.log('\n' + table(rows));
  for (const [side, r] of [['person', w], ['off', wOff]] as const) {
    if (r.order?.timedOut) console.log(`NOTE: worst case, ORDERING=${side}: ${r.order.timedOut}`);
  }
  const notes = [...runs.person, ...runs.off, w, wOff].flatMap((r) => r.notes ?? []);
  for (const note of notes) console.log(`NOTE: ${note}`);
  console.log(
    'pairs: one person\'s identify with each of its tracks and other identifies, where one was accepted before the other ' +
      '(same publish() call, or a call answered before the other was sent); out of order: the later one reached the stand-in ' +
      'in the same request as the earlier one or in an earlier request.\n',
  );
}

function itemsPerRequest(r: PhaseResult): string {
  return r.standIn && r.standIn.requests > 0 ? `${fmtInt(r.standIn.requests)} (${(r.standIn.items / r.standIn.requests).toFixed(1)})` : '–';
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const roleAt = argv.indexOf('--role');
  if (roleAt === -1) return orchestrate(parseOptions(argv));

  // A child: leave when the parent goes (its IPC channel closes), and on Ctrl-C (the parent cleans up).
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const role = argv[roleAt + 1];
  if (role === 'standin') return standInRole(argv[argv.indexOf('--keep') + 1] === '1');
  if (role === 'phase') {
    const spec = JSON.parse(argv[argv.indexOf('--spec') + 1]) as PhaseSpec;
    try {
      const result = await runPhase(spec);
      process.send!({ type: 'result', result }, () => process.exit(0));
    } catch (err) {
      process.send!({ type: 'error', message: (err as Error).stack ?? String(err) }, () => process.exit(1));
    }
    return;
  }
  throw new Error(`unknown role ${role}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

/** Hours of backlog that 1, 4 and 16 GB of Redis hold at 1,000 and 5,000 events/s. */
function outageRows(oursBytes: number, baseBytes: number): string[][] {
  const hours = (gb: number, bytes: number, perSecond: number) => `${((gb * 1024 ** 3) / bytes / perSecond / 3600).toFixed(1)} h`;
  const rows = [['Redis memory', 'ours, 1,000/s', 'ours, 5,000/s', 'baseline, 1,000/s', 'baseline, 5,000/s']];
  for (const gb of [1, 4, 16]) {
    rows.push([`${gb} GB`, hours(gb, oursBytes, 1000), hours(gb, oursBytes, 5000), hours(gb, baseBytes, 1000), hours(gb, baseBytes, 5000)]);
  }
  return rows;
}
