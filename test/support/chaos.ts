// Helpers for the chaos, fuzz and security tests: a private redis-server that a test may stop and restart,
// a seeded random generator, plain HTTP requests with full control over bytes and headers, queue
// inspection under a test's own prefix, and a CIO_CONFIG file.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job, JobType } from 'bullmq';
import IORedis from 'ioredis';
import { removeOrderBook } from '../../src/redis/order-book';
import { closeQueues, createQueues, type JobData, type Queues } from '../../src/jobs/queues';
import { UNFINISHED_JOB_STATES } from '../../src/redis/keys';
import { connectRedis, type RedisConnection } from '../../src/redis/connection';
import { presetSubscriptions } from '../../src/core/subscriptions';
import { itemCounts, itemJobs, type ItemJob } from './items';
import type { ActionKey } from '../../src/core/types';

/** `npm run chaos` sets CHAOS_LONG=1: bigger counts, longer runs. */
export const CHAOS_LONG = process.env.CHAOS_LONG === '1';

/** The short value in the normal suite, the long one under CHAOS_LONG=1. */
export function scale<T>(short: T, long: T): T {
  return CHAOS_LONG ? long : short;
}

export { TEST_REDIS_URL as SHARED_REDIS_URL } from './redis';
import { TEST_REDIS_URL as SHARED_REDIS_URL } from './redis';
import { trackSpec } from './track-subscription';
import { TEST_RUN } from './run-id';

export function chaosPrefix(kind: string): string {
  return `cio-${kind}-${TEST_RUN}${randomBytes(4).toString('hex')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true; throws with `what` (and the last detail) after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, detail?: () => unknown): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) {
      const extra = detail ? `; ${JSON.stringify(await detail())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
    }
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------------
// Seeded randomness

/** The benchmarks' seeded generator: a fuzz or chaos run replays from its seed. */
export { seededRandom } from '../../bench/shared';

/** The seed from the environment variable `name` (to replay a run), else a fresh one; printed either way. */
export function seedFor(label: string, name = 'CHAOS_SEED'): number {
  const given = process.env[name];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : randomBytes(4).readUInt32LE(0);
  // eslint-disable-next-line no-console
  console.log(`      ${label}: seed ${seed} (replay with ${name}=${seed})`);
  return seed;
}

// ---------------------------------------------------------------------------------------------------
// A private redis-server

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export function redisServerAvailable(): boolean {
  return existsSync(REDIS_SERVER_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export interface PrivateRedis {
  port: number;
  dir: string;
  password?: string;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  isRunning(): boolean;
  /** Starts redis-server again on the same port and directory (the AOF brings the data back). */
  start(): Promise<void>;
  /** Stops it: SIGKILL for a crash, SIGTERM for a clean shutdown. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** A client of its own (for reading what is stored). */
  client(): IORedis;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free loopback port, with AOF (`appendfsync always`, so whatever
 * Redis acknowledged survives even a SIGKILL) in a temporary directory. `args` are more redis-server
 * arguments, which win over these (`--appendonly no`, `--maxmemory 8mb`).
 */
export async function startPrivateRedis(opts: { password?: string; args?: string[] } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cio-chaos-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  if (opts.password) args.push('--requirepass', opts.password);
  args.push(...(opts.args ?? []));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const output: string[] = [];

  const start = async () => {
    if (child) throw new Error('the private redis-server is already running');
    const c = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d) => output.push(String(d)));
    c.stderr!.on('data', (d) => output.push(String(d)));
    exited = new Promise((r) => c.once('exit', () => {
      if (child === c) child = undefined;
      r();
    }));
    const probe = new IORedis({ port, host: '127.0.0.1', password: opts.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitUntil(async () => {
        if (!child) throw new Error(`redis-server exited at start: ${output.join('').slice(-2000)}`);
        try {
          if (probe.status !== 'ready') {
            probe.disconnect();
            await probe.connect();
          }
          // LOADING while the AOF is read: wait for a real PONG.
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        }
      }, 10_000, `redis-server on port ${port}`);
    } finally {
      probe.disconnect();
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c) return;
    c.kill(signal);
    await exited;
  };

  await start();
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    port,
    dir,
    password: opts.password,
    url: `redis://${auth}127.0.0.1:${port}`,
    isRunning: () => child !== undefined,
    start,
    stop,
    client: () => new IORedis({ port, host: '127.0.0.1', password: opts.password, maxRetriesPerRequest: 1 }),
    async destroy() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// HTTP

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One request with exactly the given bytes and headers (node:http, so nothing is added or checked). */
export function request(
  url: string,
  opts: { method?: string; body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
    const headers: Record<string, string | number> = { ...opts.headers };
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = body.length;
    const req = http.request(url, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST JSON to the tracking API, the write key (if any) as the Basic-auth user name, as Segment's SDKs do. */
export function postJson(baseUrl: string, path: string, body: unknown, opts: { writeKey?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.writeKey !== undefined) headers.authorization = `Basic ${Buffer.from(`${opts.writeKey}:`).toString('base64')}`;
  return request(`${baseUrl}${path}`, { body: JSON.stringify(body), headers });
}

// ---------------------------------------------------------------------------------------------------
// Events, subscriptions and queues

/** A track event with a messageId of its own. */
export function trackEvent(messageId: string, n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    event: `Chaos ${n % 10}`,
    userId: `user-${n % 50}`,
    messageId,
    timestamp: '2024-03-15T12:34:56.789Z',
    properties: { n },
    ...extra,
  };
}

/** One Track Event subscription (Customer.io item `id` = the event's messageId) and its batch size. */
export function trackOnly(batchSize = 20): unknown[] {
  return [trackSpec({ mapping: { batch_size: batchSize } })];
}

/** One subscription per event type (preset mappings, trigger `type = "…"`): each accepted event makes one job. */
export const ONE_PER_TYPE: Record<string, ActionKey> = {
  track: 'trackEvent',
  identify: 'createUpdatePerson',
  page: 'trackPageView',
  screen: 'trackScreenView',
  group: 'createUpdateObject',
  alias: 'mergePeople',
};

export function onePerType(): unknown[] {
  const presets = presetSubscriptions();
  return Object.entries(ONE_PER_TYPE).map(([type, action]) => {
    const preset = presets.find((p) => p.action === action)!;
    return { ...preset, name: `Fuzz ${type}`, trigger: `type = "${type}"` };
  });
}

/** A temporary directory holding CIO_CONFIG; `path` is the file, `remove()` deletes the directory. */
export function writeConfigFile(subscriptions: unknown[], settings?: Record<string, unknown>): { path: string; dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cio-chaos-config-'));
  const path = join(dir, 'cio.json');
  writeFileSync(path, JSON.stringify({ ...(settings && { settings }), subscriptions }, null, 2));
  return { path, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface QueueInspector {
  redis: RedisConnection;
  queues: Queues;
  /** One record per item of an action whose fate is one of the given states (default: every state); see support/items.ts. */
  jobs(action: ActionKey, states?: JobType[]): Promise<ItemJob[]>;
  /** Items by fate (completed = delivered, failed, or the state of the job holding them). */
  counts(action: ActionKey): Promise<Record<string, number>>;
  /** "messageId: reason" of the failed jobs (for assertion messages). */
  failures(action: ActionKey): Promise<string[]>;
  /** Jobs not yet completed or failed. */
  unfinished(action: ActionKey): Promise<number>;
  /** Removes every queue of the prefix and closes the connection. */
  destroy(): Promise<void>;
  close(): Promise<void>;
}

const ALL_STATES: JobType[] = ['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

export async function inspectQueues(redisUrl: string, prefix: string): Promise<QueueInspector> {
  const redis = connectRedis({ url: redisUrl }, 'worker');
  redis.on('error', () => undefined);
  await redis.ping();
  const queues = createQueues(redis, prefix);
  for (const q of Object.values(queues)) q.on('error', () => undefined);
  const close = async () => {
    await closeQueues(queues);
    redis.disconnect();
  };
  return {
    redis,
    queues,
    jobs: (action, states = ALL_STATES) => itemJobs(queues[action], states),
    counts: (action) => itemCounts(queues[action]),
    async failures(action) {
      const failed = await itemJobs(queues[action], ['failed']);
      return failed.map((j) => `${String(j.data.event?.messageId)}: ${j.failedReason}`).sort();
    },
    async unfinished(action) {
      const c = await queues[action].getJobCounts(...UNFINISHED_JOB_STATES);
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
    async destroy() {
      await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => undefined)));
      await removeOrderBook(redis, prefix).catch(() => undefined);
      await close();
    },
    close,
  };
}

/** The value of one Prometheus sample, e.g. metric(text, 'cio_items_failed_total', {action: 'trackEvent', reason: 'rejected'}). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]] = pair[2];
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
