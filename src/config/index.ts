// Configuration: the environment plus the optional CIO_CONFIG file, read once, typed and checked.
// It is grouped by concern (redis, jobs, worker, http, customerio), so each part of the service takes its
// group. Each environment variable, its field, default, bounds and meaning are one entry of SETTINGS
// (settings.ts); this file reads the groups from it and adds what joins settings (the file's credentials,
// HOST's default, the dashboard's login). A bad setting throws ConfigError with a message that names the
// setting and says what is expected.

import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parseRegion } from '../core/settings';
import { unknownKeys } from '../core/suggest';
import { compileSubscriptions, ConfigError, type Subscription } from '../core/subscriptions';
import type { CustomerIoCredentials, Region } from '../core/types';
import { DEFAULTS } from './defaults';
import { given, read, readGroup, type SettingsGroup } from './settings';

export { ConfigError } from '../core/subscriptions';
export { DEFAULTS } from './defaults';

/** Redis: where it is (`clusterNodes`: host:port seeds, for Redis Cluster), the prefix of every key, and when the API stops taking events because it is full. */
export interface RedisConfig extends SettingsGroup<'redis'> {}

/** The jobs: retries, how long they stay, and how events are grouped into them. */
export interface JobsConfig extends SettingsGroup<'jobs'> {}

/** The workers: batching, concurrency (per queue, and `maxItems` across them), pauses, and taking back jobs whose worker died. */
export interface WorkerSettings extends SettingsGroup<'worker'> {}

/** The HTTP side: where it listens, who may post, how long it waits for a client, the dashboard's login. */
export interface HttpConfig extends SettingsGroup<'http'> {
  dashboard: DashboardLogin;
}

/** The dashboard's Basic-auth login (DASHBOARD_USER, DASHBOARD_PASSWORD: both or neither) and its mode. */
export interface DashboardLogin {
  user?: string;
  password?: string;
  readOnly: boolean;
}

/** Customer.io: the credentials (CustomerIoCredentials, from the environment or CIO_CONFIG), the region, the host, the timeout. */
export interface CustomerIoConfig extends SettingsGroup<'customerio'>, CustomerIoCredentials {}

export interface ServiceConfig extends SettingsGroup<'service'> {
  redis: RedisConfig;
  jobs: JobsConfig;
  worker: WorkerSettings;
  http: HttpConfig;
  customerio: CustomerIoConfig;
  subscriptions: Subscription[];
}

type Env = Record<string, string | undefined>;

/** The keys of CIO_CONFIG, and of its `settings` (the destination's settings, as Segment names them). */
const FILE_KEYS = ['settings', 'subscriptions'];
const FILE_SETTINGS_KEYS = ['siteId', 'apiKey', 'accountRegion'];

interface FileConfig {
  settings?: { siteId?: unknown; apiKey?: unknown; accountRegion?: unknown };
  subscriptions?: unknown;
}

export function loadConfig(env: Env = process.env): ServiceConfig {
  const file = readConfigFile(env.CIO_CONFIG);
  const fileSettings = file.settings ?? {};
  const http = readGroup(env, 'http');
  // Without write keys the API is open to anyone who can reach it: loopback only, unless HOST says otherwise.
  const host = given(env, 'HOST') ?? (http.writeKeys.length > 0 ? '0.0.0.0' : DEFAULTS.http.host);
  if (http.writeKeys.length === 0 && !isLoopback(host)) {
    throw new ConfigError(
      `HOST=${host} would accept events from other machines without a write key. Set WRITE_KEYS (comma-separated), or listen on 127.0.0.1.`,
    );
  }
  const dashboard = {
    user: read(env, 'DASHBOARD_USER'),
    password: read(env, 'DASHBOARD_PASSWORD'),
    readOnly: read(env, 'DASHBOARD_READ_ONLY'),
  };
  if (Boolean(dashboard.user) !== Boolean(dashboard.password)) {
    throw new ConfigError('DASHBOARD_USER and DASHBOARD_PASSWORD go together: set both, or neither.');
  }
  if (!dashboard.user && !isLoopback(host)) {
    throw new ConfigError(
      `HOST=${host} would show the dashboard (/admin/queues) to other machines without credentials. Set DASHBOARD_USER and DASHBOARD_PASSWORD.`,
    );
  }
  // The headers are part of the request: their limit follows a lower request limit unless set.
  const headersTimeoutMs = given(env, 'HEADERS_TIMEOUT_MS') ?? Math.min(DEFAULTS.http.headersTimeoutMs, http.requestTimeoutMs);
  if (headersTimeoutMs > http.requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${headersTimeoutMs}) may not be over REQUEST_TIMEOUT_MS (${http.requestTimeoutMs}): the headers are part of the request`);
  }
  const customerio = readGroup(env, 'customerio');

  return {
    ...readGroup(env, 'service'),
    redis: readGroup(env, 'redis'),
    jobs: readGroup(env, 'jobs'),
    worker: readGroup(env, 'worker'),
    http: { ...http, host, headersTimeoutMs, dashboard },
    customerio: {
      ...customerio,
      // The environment wins over CIO_CONFIG's settings.
      siteId: given(env, 'CUSTOMERIO_SITE_ID') ?? str(fileSettings.siteId),
      apiKey: given(env, 'CUSTOMERIO_API_KEY') ?? str(fileSettings.apiKey),
      region: given(env, 'CUSTOMERIO_REGION') ?? regionOf(fileSettings.accountRegion, `CIO_CONFIG=${env.CIO_CONFIG}: settings`),
    },
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
  // A misspelt key would otherwise be ignored: `acountRegion: "EU"` would send EU data to the US.
  const unknown = unknownKeys(Object.keys(parsed), FILE_KEYS);
  if (unknown) throw new ConfigError(`CIO_CONFIG=${path}: ${unknown}`);
  const settings = (parsed as FileConfig).settings;
  if (settings !== undefined) {
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw new ConfigError(`CIO_CONFIG=${path}: settings must be an object {"siteId": …, "apiKey": …, "accountRegion": …}`);
    }
    const unknownSetting = unknownKeys(Object.keys(settings), FILE_SETTINGS_KEYS);
    if (unknownSetting) throw new ConfigError(`CIO_CONFIG=${path}: settings: ${unknownSetting}`);
  }
  return parsed as FileConfig;
}

function regionOf(value: unknown, where: string): Region {
  try {
    return parseRegion(value);
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message}`);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}
