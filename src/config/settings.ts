// Every environment variable of the service, in one table: its group of the configuration, its field there,
// its default, how it is read and checked, and what it does. config/index.ts reads the environment through
// it, defaults.ts takes the defaults from it, and README.md's configuration table and .env.example are
// written from it (`npm run docs:settings`; test/config/settings-docs.test.ts checks they are current).
// A new setting is one entry here: its field then appears in its group of ServiceConfig.

import { MAX_ITEM_BYTES } from '../core/limits';
import { parseRegion } from '../core/settings';
import { ConfigError } from '../core/subscriptions';
import type { Region } from '../core/types';

/** The groups of ServiceConfig (`service`: the process itself, fields at the top of ServiceConfig). */
export const GROUPS = ['customerio', 'redis', 'http', 'jobs', 'worker', 'service'] as const;
export type Group = (typeof GROUPS)[number];

/** Reads a set value (never called for an unset one); throws ConfigError naming the variable. */
export type Parser<T> = (raw: string, name: string) => T;

export interface Setting<T = unknown, G extends Group = Group, F extends string | null = string | null> {
  group: G;
  /** Its field in its group; null when config/index.ts reads it itself into a shape of its own. */
  field: F;
  default: T;
  parse: Parser<T>;
  /** What it does, for README's table (Markdown, one line). */
  doc: string;
  /** README's default column when it is not just the default's value (Markdown). */
  defaultDoc?: string;
  /** '' is a value to read, not "unset" (e.g. CORS_ORIGINS= means no origin). */
  emptyIsValue?: boolean;
  /**
   * In .env.example, set (not commented out) to this: docker compose needs it. Secrets are left empty, so
   * compose refuses an unedited copy and names the variable (docker-compose.yml's `${VAR:?…}`).
   */
  example?: string;
  /** In .env.example, a comment line above it. */
  note?: string;
  /** Read by another module than config/index.ts (named), or by docker compose only. */
  readBy?: string;
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

function entry<G extends Group, F extends string | null, T>(
  group: G,
  field: F,
  def: T,
  parse: Parser<T>,
  doc: string,
  more: Omit<Setting, 'group' | 'field' | 'default' | 'parse' | 'doc'> = {},
): Setting<T, G, F> {
  return { group, field, default: def, parse, doc, ...more };
}

// ---- Parsers ------------------------------------------------------------------------------------------

/** A whole number in [min, max]; decimal digits only: Number() would also take '0x10', '1e3' and '  ' (as 0). */
function int(min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (raw, name) => {
    const text = raw.trim();
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/** A share above 0 and at most 1, such as 0.9. */
const ratio: Parser<number> = (raw, name) => {
  const value = Number(raw);
  if (!/^\s*[0-9.]+\s*$/.test(raw) || !(value > 0 && value <= 1)) {
    throw new ConfigError(`${name} must be a number above 0 and at most 1 (0.9 = 90%), got ${JSON.stringify(raw)}`);
  }
  return value;
};

const bool: Parser<boolean> = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
};

const text: Parser<string> = (raw) => raw;

const ordering: Parser<'person' | 'off'> = (raw, name) => {
  const value = raw.trim();
  if (value === 'person' || value === 'off') return value;
  throw new ConfigError(`${name} must be "person" (a person's operations reach Customer.io in the order they were accepted) or "off", got ${JSON.stringify(raw)}`);
};

/** Comma-separated, blanks dropped. */
export const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A parser whose unset value is undefined. */
function optional<T>(parse: Parser<T>): Parser<T | undefined> {
  return parse;
}

const region: Parser<Region> = (raw, name) => {
  try {
    return parseRegion(raw);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
};

const redisUrl: Parser<string> = (raw, name) => {
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError(`${name} must start with redis:// or rediss://, got ${JSON.stringify(raw.replace(/:[^:@/]*@/, ':***@'))}`);
  return raw;
};

const queuePrefix: Parser<string> = (raw, name) => {
  if (!/^[A-Za-z0-9_.-]+$/.test(raw)) throw new ConfigError(`${name} may hold letters, digits, '_', '.' and '-' only, got ${JSON.stringify(raw)}`);
  return raw;
};

const trackUrl: Parser<string> = (raw, name) => {
  if (!/^https?:\/\/[^\s/]+/.test(raw)) throw new ConfigError(`${name} must be an http(s) URL such as https://track.customer.io, got ${JSON.stringify(raw)}`);
  return raw;
};

const origins: Parser<string[]> = (raw, name) => {
  const all = list(raw, name);
  for (const origin of all) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(`${name} holds origins such as https://www.example.com (no path), or *; got ${JSON.stringify(origin)}`);
    }
  }
  return all;
};

// ---- The table ----------------------------------------------------------------------------------------
// In the order README's table and .env.example show them, group by group.

export const SETTINGS = {
  CUSTOMERIO_SITE_ID: entry('customerio', 'siteId', '', text, "Track API site id (Basic auth). Also readable from `CIO_CONFIG`'s `settings` (`siteId`); the environment wins", {
    defaultDoc: '—', emptyIsValue: true, example: '', note: 'Customer.io Track API credentials (Settings → Workspace Settings → API and Webhook Credentials).',
  }),
  CUSTOMERIO_API_KEY: entry('customerio', 'apiKey', '', text, "Track API key (Basic auth). Also readable from `CIO_CONFIG`'s `settings` (`apiKey`); the environment wins", {
    defaultDoc: '—', emptyIsValue: true, example: '',
  }),
  CUSTOMERIO_REGION: entry('customerio', 'region', 'US' as Region, region, "`US` or `EU`, any case (Segment's `US 🇺🇸` / `EU 🇪🇺` accepted). Anything else (`EU1`, `eu-1`) is an error, never a silent fallback to US nor a guess at EU. Also readable from `CIO_CONFIG`'s `settings` (`accountRegion`); the environment wins", {
    emptyIsValue: true,
  }),
  CUSTOMERIO_TRACK_URL: entry('customerio', 'trackUrl', undefined, optional(trackUrl), 'replaces `https://track.customer.io` / `https://track-eu.customer.io` (a proxy, a stand-in)', {
    defaultDoc: "region's host",
  }),
  CUSTOMERIO_TIMEOUT_MS: entry('customerio', 'timeoutMs', 10_000, int(100, MAX_TIMER_MS), 'longest a request to Customer.io may take'),

  REDIS_URL: entry('redis', 'url', 'redis://127.0.0.1:6379', redisUrl, '`redis://user:password@host:port`, `rediss://` for TLS', {
    note: 'docker compose sets REDIS_URL to its own Redis (redis://redis:6379).',
  }),
  REDIS_CLUSTER_NODES: entry('redis', 'clusterNodes', [] as string[], list, '`host:port,host:port`: use Redis Cluster (credentials and TLS from `REDIS_URL`)', { defaultDoc: '—' }),
  QUEUE_PREFIX: entry('redis', 'queuePrefix', 'cio', queuePrefix, 'key prefix; queues are `<prefix>:{<action>}:<action>`'),
  REDIS_MEMORY_REFUSE_RATIO: entry('redis', 'memoryRefuseRatio', 0.9, ratio, "the API answers 503 to events while Redis's `used_memory` is above this share of its `maxmemory` (above 0, at most 1), so Redis is never filled to the point of refusing part of a request"),
  REDIS_MEMORY_POLL_MS: entry('redis', 'memoryPollMs', 1000, int(50, 60_000), 'how often the API reads `INFO memory` for that check (in the background, never per request)'),

  WRITE_KEYS: entry('http', 'writeKeys', [] as string[], list, 'comma-separated write keys accepted by the API. Without any, the API accepts events without a key and listens on loopback only', {
    defaultDoc: '—', example: '', note: "Write keys your SDKs send (comma-separated), and the dashboard's login: the API listens beyond loopback.",
  }),
  DASHBOARD_USER: entry('http', null, undefined, optional(text), 'Basic auth user for `/admin/queues`; required (with `DASHBOARD_PASSWORD`) when `HOST` is not loopback', {
    defaultDoc: '—', example: 'admin',
  }),
  DASHBOARD_PASSWORD: entry('http', null, undefined, optional(text), 'Basic auth password for `/admin/queues`; set with `DASHBOARD_USER`', { defaultDoc: '—', example: '' }),
  DASHBOARD_READ_ONLY: entry('http', null, false, bool, 'Bull Board without retry/remove buttons'),
  PORT: entry('http', 'port', 3000, int(0, 65535), 'where the API listens. A worker-only process serves its own `/metrics` and `/health` on `METRICS_PORT` when set, else on `PORT`, or, when that is taken (the API or another worker on the same host), on a free port it names in a warning. A port that is taken otherwise stops start-up with a message naming the setting', {
    note: 'docker compose sets HOST=0.0.0.0 and PORT=3000 inside the container; PORT here is the host port it publishes.',
  }),
  HOST: entry('http', 'host', '127.0.0.1', text, 'the address the API listens on. Setting `WRITE_KEYS` alone thus opens it to other machines, and start-up then also asks for `DASHBOARD_USER`/`DASHBOARD_PASSWORD` (the message names `HOST=0.0.0.0`); set `HOST=127.0.0.1` to keep it on loopback', {
    defaultDoc: '`127.0.0.1` (`0.0.0.0` when `WRITE_KEYS` is set)', emptyIsValue: true,
  }),
  METRICS_PORT: entry('http', 'metricsPort', undefined, optional(int(0, 65535)), 'where a worker-only process serves `/metrics` and `/health` (see `PORT`)', {
    defaultDoc: '—', note: 'A worker-only process serves /metrics and /health here (docker compose: 9464).',
  }),
  CORS_ORIGINS: entry('http', 'corsOrigins', ['*'], origins, 'origins whose pages may post events from a browser (analytics.js), comma-separated, e.g. `https://www.example.com`; `*` any (as Segment\'s API: the write key decides); empty: none. Answers carry `Access-Control-Allow-Origin`, and preflights (`OPTIONS /v1/…`) are answered. With a list, any request carrying an `Origin` not on it is refused (403, nothing queued), a simple `text/plain` POST too; requests without `Origin` (servers, SDKs outside a browser) are not affected. See [what each control protects](#sending-events)', {
    emptyIsValue: true,
  }),
  REQUEST_TIMEOUT_MS: entry('http', 'requestTimeoutMs', 30_000, int(100), 'longest a client may take to send a whole request to the API; a client that is slower, or never finishes, gets a 408 and its connection is closed, so slow clients cannot hold connections open'),
  HEADERS_TIMEOUT_MS: entry('http', 'headersTimeoutMs', 10_000, int(100), "longest a client may take to send a request's headers (408 and the connection closed); at most `REQUEST_TIMEOUT_MS`", {
    defaultDoc: '`10000` (or `REQUEST_TIMEOUT_MS` when lower)',
  }),

  JOB_ATTEMPTS: entry('jobs', 'attempts', 12, int(1, 1000), 'tries per item for transient failures (5xx, timeouts, connection errors), carried from job to job; 429s and credential pauses use no attempt. A job whose run fails as a whole (Redis away while its items\' new jobs are written) is retried by BullMQ with the same settings'),
  RETRY_BACKOFF_MS: entry('jobs', 'backoffMs', 1000, int(1, MAX_TIMER_MS), 'first retry delay: exponential backoff with jitter, each wait at most an hour (about an hour in all with the default attempts)'),
  COMPLETED_RETENTION_SECONDS: entry('jobs', 'completedRetentionSeconds', 3600, int(0), 'how long finished jobs stay, and the re-send window of the message index (dedupe and `trace`: each event is known at least this long, at most twice)'),
  COMPLETED_RETENTION_COUNT: entry('jobs', 'completedRetentionCount', 100_000, int(0), 'how many finished jobs stay, at most, per queue'),
  FAILED_RETENTION_SECONDS: entry('jobs', 'failedRetentionSeconds', 7 * 24 * 3600, int(0), 'how long failed jobs stay for inspection and replay'),
  GROUP_COMMIT_WINDOW_MS: entry('jobs', 'groupCommitWindowMs', 2, int(0, 100), 'longest a request waits for others to share its write to Redis (0–100; 0: the next turn of the event loop)'),
  GROUP_MAX_EVENTS: entry('jobs', 'groupMaxEvents', 100, int(1, 1000), 'events per job at most'),
  GROUP_MAX_BYTES: entry('jobs', 'groupMaxBytes', 256 * 1024, int(MAX_ITEM_BYTES, 16 * 1024 * 1024), 'bytes of events (their JSON, before compression) per job at most; one larger event is a job of its own'),
  PRODUCER_MAX_PENDING_EVENTS: entry('jobs', 'producerMaxPendingEvents', 50_000, int(1), "events an API process holds that Redis has not yet taken (waiting for a commit, or in one); past it, requests get 503 + `Retry-After` at once, nothing queued, so a hung Redis cannot make the API's memory grow"),
  PRODUCER_MAX_PENDING_BYTES: entry('jobs', 'producerMaxPendingBytes', 64 * 1024 * 1024, int(MAX_ITEM_BYTES), 'bytes of events (their JSON) in the commits an API process is writing; past it, requests get 503 + `Retry-After` at once, nothing queued (the bound for large events)'),
  ORDERING: entry('jobs', 'ordering', 'person' as 'person' | 'off', ordering, "`person`: a person's operations reach Customer.io in the order they were accepted (see [Order](#order)); `off`: no ordering, nothing registered or checked"),
  ORDER_HOLD_RECHECK_MS: entry('jobs', 'orderHoldRecheckMs', 1000, int(10, MAX_TIMER_MS), 'a held item is woken as soon as what it waits behind has its outcome; if that wake-up is missed (its worker was killed), it looks again by itself after this long, doubling each time up to `ORDER_HOLD_MAX_MS`'),
  ORDER_HOLD_MAX_MS: entry('jobs', 'orderHoldMaxMs', 60_000, int(10, MAX_TIMER_MS), 'the longest a held item waits before it looks again by itself'),
  ORDER_ORPHAN_MS: entry('jobs', 'orderOrphanMs', 60_000, int(1000, MAX_TIMER_MS), "a person's place whose job never reached Redis (the API was killed between taking the place and writing the job) is let go after this long"),

  FLUSH_INTERVAL_MS: entry('worker', 'flushIntervalMs', 500, int(1, 60_000), 'longest an item waits in a worker for its batch to fill'),
  WORKER_CONCURRENCY: entry('worker', 'concurrency', 200, int(1, 10_000), 'jobs each worker process holds per action queue (enough to fill several batches)'),
  WORKER_MAX_ITEMS: entry('worker', 'maxItems', 10_000, int(100, 1_000_000), 'events each worker process holds at once, across its jobs and queues: a job carries up to `GROUP_MAX_EVENTS` events, so this, not `WORKER_CONCURRENCY`, bounds the events a worker holds under a backlog (the 1,000,000-event drain ran flat at 470–511 MB RSS, 236 MB of it V8 heap, with the defaults and the benchmark\'s small events). A worker\'s memory grows with event size × `WORKER_MAX_ITEMS`: at 30 KB per event the 10,000 events it may hold are 300 MB of JSON text alone, before their parsed objects and mapped items, so with large events lower `WORKER_MAX_ITEMS` (or raise the memory limit) and watch the RSS. A job waiting for room holds only its compressed data'),
  REQUEST_CONCURRENCY: entry('worker', 'requestConcurrency', 16, int(1, 1000), 'requests in flight per process on the one-item paths (`/api/v2/entity`, `/api/v1/metrics`)'),
  AUTH_PAUSE_MS: entry('worker', 'authPauseMs', 30_000, int(1, MAX_TIMER_MS), 'how long a queue pauses after Customer.io refuses the credentials (401/403) before trying again'),
  RATE_LIMIT_PAUSE_MS: entry('worker', 'rateLimitPauseMs', 10_000, int(1, MAX_TIMER_MS), 'pause after a 429 without `Retry-After`'),
  MAX_REQUESTS_PER_SECOND: entry('worker', 'maxRequestsPerSecond', 0, int(0), "cap on requests to Customer.io, shared by every worker through Redis. Customer.io's published limits disagree (100 to 1000 req/s), so it is yours to set", {
    defaultDoc: '`0` (none)',
  }),
  STALLED_INTERVAL_MS: entry('worker', 'stalledIntervalMs', 30_000, int(100, MAX_TIMER_MS), 'how often a worker looks for the jobs of a dead worker (their lock expired) and takes them back'),
  LOCK_DURATION_MS: entry('worker', 'lockDurationMs', 30_000, int(100, MAX_TIMER_MS), 'how long a job stays locked to its worker without a renewal: how soon the jobs of a dead worker come back'),
  MAX_STALLED_COUNT: entry('worker', 'maxStalledCount', 10, int(1), 'how many times a job may come back from a dead worker (or a long Redis outage) before it fails (`cio_items_failed_total{reason="stalled"}`)'),

  CIO_CONFIG: entry('service', null, undefined, optional(text), 'JSON file with `settings` and `subscriptions` (see below). Without subscriptions, the 15 presets apply', {
    defaultDoc: '—', note: 'The JSON file with settings and subscriptions (none: the 15 presets apply). docker compose sets it to the file it mounts.',
  }),
  CIO_CONFIG_FILE: entry('service', null, './cio-config.json', text, 'docker compose only: the file it mounts read-only as `CIO_CONFIG`', { readBy: 'docker-compose.yml' }),
  SHUTDOWN_TIMEOUT_MS: entry('service', 'shutdownTimeoutMs', 30_000, int(0, MAX_TIMER_MS), 'longest a graceful stop may take'),
  LOG_LEVEL: entry('service', null, 'info', text, 'pino level', { readBy: 'log/logger.ts' }),
  REDIS_SERVER_BIN: entry('service', null, undefined, optional(text), '`npm run demo` and `npm test` only: the `redis-server` to start when no Redis answers at `REDIS_URL` (default: the one on `PATH`)', { defaultDoc: '—', readBy: 'demo/private-redis.ts' }),
} as const satisfies Record<string, Setting<any, Group, string | null>>;

export type SettingName = keyof typeof SETTINGS;
type Table = typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T, Group, string | null> ? T : never;

type FieldOf<S, G extends Group> = S extends { group: G; field: infer F extends string } ? F : never;

/** A group's fields, as the table gives them: each setting with a field, typed by its parser; optional when it may be unset. */
export type SettingsGroup<G extends Group> = {
  -readonly [K in keyof Table as undefined extends ValueOf<Table[K]> ? never : FieldOf<Table[K], G>]: ValueOf<Table[K]>;
} & {
  -readonly [K in keyof Table as undefined extends ValueOf<Table[K]> ? FieldOf<Table[K], G> : never]?: ValueOf<Table[K]>;
};

type Env = Record<string, string | undefined>;

function isUnset(setting: Setting, raw: string | undefined): raw is undefined {
  return raw === undefined || (raw === '' && !setting.emptyIsValue);
}

/** The setting's value in `env`, or undefined when it is not set there. */
export function given<N extends SettingName>(env: Env, name: N): ValueOf<Table[N]> | undefined {
  const setting: Setting = SETTINGS[name];
  const raw = env[name];
  return isUnset(setting, raw) ? undefined : (setting.parse(raw, name) as ValueOf<Table[N]>);
}

/** The setting's value in `env`, or its default. */
export function read<N extends SettingName>(env: Env, name: N): ValueOf<Table[N]> {
  const value = given(env, name);
  if (value !== undefined) return value;
  const fallback: unknown = SETTINGS[name].default;
  // A copy: a default list is shared by every configuration read.
  return (Array.isArray(fallback) ? [...fallback] : fallback) as ValueOf<Table[N]>;
}

function entriesOf(group: Group): Array<[SettingName, Setting]> {
  return (Object.entries(SETTINGS) as Array<[SettingName, Setting]>).filter(([, s]) => s.group === group && s.field !== null);
}

/** Every field of a group, read from `env` (a setting left out there takes its default). */
export function readGroup<G extends Group>(env: Env, group: G): SettingsGroup<G> {
  return Object.fromEntries(entriesOf(group).map(([name, s]) => [s.field, read(env, name)])) as SettingsGroup<G>;
}

/** Every field of a group at its default. */
export function defaultsOf<G extends Group>(group: G): SettingsGroup<G> {
  return readGroup({}, group);
}
