// Configuration: the environment plus the optional CIO_CONFIG file, read once, typed and checked.
// It is grouped by concern (redis, jobs, worker, http, customerio), so each part of the service takes its
// group; every default lives in DEFAULTS (defaults.ts), grouped the same way; units are in the names. A bad
// setting throws ConfigError with a message that names the setting and says what is expected.

import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parseRegion } from '../core/settings';
import { MAX_ITEM_BYTES } from '../core/limits';
import { DEFAULTS } from './defaults';
import { compileSubscriptions, ConfigError, type Subscription } from '../core/subscriptions';
import type { Region } from '../core/types';

export { ConfigError } from '../core/subscriptions';
export { DEFAULTS } from './defaults';

/** Redis: where it is, the prefix of every key, and when the API stops taking events because it is full. */
export interface RedisConfig {
  url: string;
  /** host:port seeds; set for Redis Cluster. */
  clusterNodes: string[];
  queuePrefix: string;
  memoryRefuseRatio: number;
  memoryPollMs: number;
}

/** The jobs: retries, how long they stay, and how events are grouped into them. */
export interface JobsConfig {
  attempts: number;
  backoffMs: number;
  completedRetentionSeconds: number;
  completedRetentionCount: number;
  failedRetentionSeconds: number;
  groupCommitWindowMs: number;
  groupMaxEvents: number;
  groupMaxBytes: number;
  producerMaxPendingEvents: number;
  producerMaxPendingBytes: number;
}

/** The workers: batching, concurrency, pauses, and taking back jobs whose worker died. */
export interface WorkerSettings {
  flushIntervalMs: number;
  /** Jobs held at once per action queue (WORKER_CONCURRENCY). */
  concurrency: number;
  /** WORKER_MAX_ITEMS: events a worker process holds at once, across its jobs and queues. */
  maxItems: number;
  requestConcurrency: number;
  authPauseMs: number;
  rateLimitPauseMs: number;
  /** Optional cap on requests per second to Customer.io, shared by all workers; 0 = none. */
  maxRequestsPerSecond: number;
  stalledIntervalMs: number;
  lockDurationMs: number;
  maxStalledCount: number;
}

/** The HTTP side: where it listens, who may post, how long it waits for a client, the dashboard. */
export interface HttpConfig {
  host: string;
  port: number;
  writeKeys: string[];
  /** Origins whose pages may post events from a browser (analytics.js); ['*'] = any. */
  corsOrigins: string[];
  /** REQUEST_TIMEOUT_MS and HEADERS_TIMEOUT_MS: how long the API waits for a client's request, and its headers. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  dashboard: { user?: string; password?: string; readOnly: boolean };
  /** Where a worker-only process serves /metrics and /health (METRICS_PORT). */
  metricsPort?: number;
}

export interface CustomerIoConfig {
  siteId: string;
  apiKey: string;
  region: Region;
  trackUrl?: string;
  timeoutMs: number;
}

export interface ServiceConfig {
  redis: RedisConfig;
  jobs: JobsConfig;
  worker: WorkerSettings;
  http: HttpConfig;
  customerio: CustomerIoConfig;
  shutdownTimeoutMs: number;
  subscriptions: Subscription[];
}

type Env = Record<string, string | undefined>;

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;

interface FileConfig {
  settings?: { siteId?: unknown; apiKey?: unknown; accountRegion?: unknown };
  subscriptions?: unknown;
}

export function loadConfig(env: Env = process.env): ServiceConfig {
  const file = readConfigFile(env.CIO_CONFIG);
  const fileSettings = file.settings ?? {};
  const region = regionOf(env.CUSTOMERIO_REGION ?? fileSettings.accountRegion);
  const writeKeys = list(env.WRITE_KEYS);
  const host = env.HOST ?? (writeKeys.length > 0 ? '0.0.0.0' : '127.0.0.1');
  if (writeKeys.length === 0 && !isLoopback(host)) {
    throw new ConfigError(
      `HOST=${host} would accept events from other machines without a write key. Set WRITE_KEYS (comma-separated), or listen on 127.0.0.1.`,
    );
  }
  const dashboard = {
    user: env.DASHBOARD_USER || undefined,
    password: env.DASHBOARD_PASSWORD || undefined,
    readOnly: bool(env, 'DASHBOARD_READ_ONLY', false),
  };
  if (Boolean(dashboard.user) !== Boolean(dashboard.password)) {
    throw new ConfigError('DASHBOARD_USER and DASHBOARD_PASSWORD go together: set both, or neither.');
  }
  if (!dashboard.user && !isLoopback(host)) {
    throw new ConfigError(
      `HOST=${host} would show the dashboard (/admin/queues) to other machines without credentials. Set DASHBOARD_USER and DASHBOARD_PASSWORD.`,
    );
  }
  const trackUrl = env.CUSTOMERIO_TRACK_URL || undefined;
  if (trackUrl && !/^https?:\/\/[^\s/]+/.test(trackUrl)) {
    throw new ConfigError(`CUSTOMERIO_TRACK_URL must be an http(s) URL such as https://track.customer.io, got ${JSON.stringify(trackUrl)}`);
  }
  const corsOrigins = env.CORS_ORIGINS === undefined ? [...DEFAULTS.http.corsOrigins] : list(env.CORS_ORIGINS);
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(`CORS_ORIGINS holds origins such as https://www.example.com (no path), or *; got ${JSON.stringify(origin)}`);
    }
  }
  const redisUrl = env.REDIS_URL || DEFAULTS.redis.url;
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(redisUrl.replace(/:[^:@/]*@/, ':***@'))}`);
  const httpRequestTimeoutMs = int(env, 'REQUEST_TIMEOUT_MS', DEFAULTS.http.requestTimeoutMs, 100);
  const httpHeadersTimeoutMs = int(env, 'HEADERS_TIMEOUT_MS', Math.min(DEFAULTS.http.headersTimeoutMs, httpRequestTimeoutMs), 100);
  if (httpHeadersTimeoutMs > httpRequestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${httpHeadersTimeoutMs}) may not be over REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs}): the headers are part of the request`);
  }
  const queuePrefix = env.QUEUE_PREFIX || DEFAULTS.redis.queuePrefix;
  if (!/^[A-Za-z0-9_.-]+$/.test(queuePrefix)) throw new ConfigError(`QUEUE_PREFIX may hold letters, digits, '_', '.' and '-' only, got ${JSON.stringify(queuePrefix)}`);

  return {
    redis: {
      url: redisUrl,
      clusterNodes: list(env.REDIS_CLUSTER_NODES),
      queuePrefix,
      memoryRefuseRatio: ratio(env, 'REDIS_MEMORY_REFUSE_RATIO', DEFAULTS.redis.memoryRefuseRatio),
      memoryPollMs: int(env, 'REDIS_MEMORY_POLL_MS', DEFAULTS.redis.memoryPollMs, 50, 60_000),
    },
    jobs: {
      attempts: int(env, 'JOB_ATTEMPTS', DEFAULTS.jobs.attempts, 1, 1000),
      backoffMs: int(env, 'RETRY_BACKOFF_MS', DEFAULTS.jobs.backoffMs, 1, MAX_TIMER_MS),
      completedRetentionSeconds: int(env, 'COMPLETED_RETENTION_SECONDS', DEFAULTS.jobs.completedRetentionSeconds, 0),
      completedRetentionCount: int(env, 'COMPLETED_RETENTION_COUNT', DEFAULTS.jobs.completedRetentionCount, 0),
      failedRetentionSeconds: int(env, 'FAILED_RETENTION_SECONDS', DEFAULTS.jobs.failedRetentionSeconds, 0),
      groupCommitWindowMs: int(env, 'GROUP_COMMIT_WINDOW_MS', DEFAULTS.jobs.groupCommitWindowMs, 0, 100),
      groupMaxEvents: int(env, 'GROUP_MAX_EVENTS', DEFAULTS.jobs.groupMaxEvents, 1, 1000),
      groupMaxBytes: int(env, 'GROUP_MAX_BYTES', DEFAULTS.jobs.groupMaxBytes, MAX_ITEM_BYTES, 16 * 1024 * 1024),
      producerMaxPendingEvents: int(env, 'PRODUCER_MAX_PENDING_EVENTS', DEFAULTS.jobs.producerMaxPendingEvents, 1),
      producerMaxPendingBytes: int(env, 'PRODUCER_MAX_PENDING_BYTES', DEFAULTS.jobs.producerMaxPendingBytes, MAX_ITEM_BYTES),
    },
    worker: {
      flushIntervalMs: int(env, 'FLUSH_INTERVAL_MS', DEFAULTS.worker.flushIntervalMs, 1, 60_000),
      concurrency: int(env, 'WORKER_CONCURRENCY', DEFAULTS.worker.concurrency, 1, 10_000),
      maxItems: int(env, 'WORKER_MAX_ITEMS', DEFAULTS.worker.maxItems, 100, 1_000_000),
      requestConcurrency: int(env, 'REQUEST_CONCURRENCY', DEFAULTS.worker.requestConcurrency, 1, 1000),
      authPauseMs: int(env, 'AUTH_PAUSE_MS', DEFAULTS.worker.authPauseMs, 1, MAX_TIMER_MS),
      rateLimitPauseMs: int(env, 'RATE_LIMIT_PAUSE_MS', DEFAULTS.worker.rateLimitPauseMs, 1, MAX_TIMER_MS),
      maxRequestsPerSecond: int(env, 'MAX_REQUESTS_PER_SECOND', DEFAULTS.worker.maxRequestsPerSecond, 0),
      stalledIntervalMs: int(env, 'STALLED_INTERVAL_MS', DEFAULTS.worker.stalledIntervalMs, 100, MAX_TIMER_MS),
      lockDurationMs: int(env, 'LOCK_DURATION_MS', DEFAULTS.worker.lockDurationMs, 100, MAX_TIMER_MS),
      maxStalledCount: int(env, 'MAX_STALLED_COUNT', DEFAULTS.worker.maxStalledCount, 1),
    },
    http: {
      host,
      port: int(env, 'PORT', DEFAULTS.http.port, 0, 65535),
      writeKeys,
      corsOrigins,
      requestTimeoutMs: httpRequestTimeoutMs,
      headersTimeoutMs: httpHeadersTimeoutMs,
      dashboard,
      metricsPort: env.METRICS_PORT ? int(env, 'METRICS_PORT', 0, 0, 65535) : undefined,
    },
    customerio: {
      siteId: env.CUSTOMERIO_SITE_ID ?? str(fileSettings.siteId),
      apiKey: env.CUSTOMERIO_API_KEY ?? str(fileSettings.apiKey),
      region,
      trackUrl,
      timeoutMs: int(env, 'CUSTOMERIO_TIMEOUT_MS', DEFAULTS.customerio.timeoutMs, 100, MAX_TIMER_MS),
    },
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', DEFAULTS.shutdownTimeoutMs, 0, MAX_TIMER_MS),
    subscriptions: compileSubscriptions(file.subscriptions),
  };
}

/** Customer.io credentials are needed to deliver; the API alone can run without them. */
export function missingCredentials(config: ServiceConfig): string | undefined {
  const missing = [
    !config.customerio.siteId && 'CUSTOMERIO_SITE_ID',
    !config.customerio.apiKey && 'CUSTOMERIO_API_KEY',
  ].filter(Boolean);
  if (missing.length === 0) return undefined;
  return [
    `Customer.io credentials are missing: set ${missing.join(' and ')} (Customer.io → Settings → Workspace Settings → API and Webhook Credentials → Track API keys),`,
    'and CUSTOMERIO_REGION=EU for an EU workspace. Or see the service work first against a built-in Customer.io stand-in: npm run demo',
  ].join('\n');
}

function readConfigFile(path: string | undefined): FileConfig {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`CIO_CONFIG=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`CIO_CONFIG=${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`CIO_CONFIG=${path}: must be a JSON object {"settings": {...}, "subscriptions": [...]}`);
  }
  const known = new Set(['settings', 'subscriptions']);
  const unknown = Object.keys(parsed).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ConfigError(`CIO_CONFIG=${path}: unknown key(s) ${unknown.join(', ')}; expected settings and subscriptions`);
  return parsed as FileConfig;
}

function regionOf(value: unknown): Region {
  try {
    return parseRegion(value);
  } catch (err) {
    throw new ConfigError(`CUSTOMERIO_REGION: ${(err as Error).message}`);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Decimal digits only: Number() would also take '0x10', '1e3' and '  ' (as 0).
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A share above 0 and at most 1, such as 0.9. */
function ratio(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\s*[0-9.]+\s*$/.test(raw) || !(value > 0 && value <= 1)) {
    throw new ConfigError(`${name} must be a number above 0 and at most 1 (0.9 = 90%), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}
