// `cio-relay check`: what the service understood of its configuration, whether Redis answers, and whether
// Customer.io takes the credentials in the configured region, each with a verdict that says what to do.

import { readFileSync } from 'node:fs';
import { missingCredentials, type ServiceConfig } from '../config';
import { CioTransportError, CustomerIoClient, type CioResponse } from '../customerio/client';
import { redactSecrets } from '../log/logger';
import { checkEvictionPolicy, REQUIRED_POLICY } from '../redis/health';
import { trackBaseUrl } from '../core/settings';
import { CannotRunError, EXIT, defineCommand, refuseArguments, table, type CliContext } from './args';
import { openRedis, redisWhere } from './redis';

const options = {} as const;

export const checkCommand = defineCommand({
  name: 'check',
  summary: 'validate the configuration and the Customer.io credentials',
  options,
  help: `Usage: cio-relay check

Loads the configuration as the service would and prints what it accepted: Redis,
the queue prefix, the Customer.io region and each subscription (name → action,
trigger, enabled, batch size, mapped fields), so a mapping pasted from Segment
can be checked against what was understood. Then it pings Redis and checks that
its maxmemory-policy is noeviction (any other policy may evict queued jobs), and
asks Customer.io which region the workspace is in (GET /api/v1/accounts/region)
with the credentials, and compares it with CUSTOMERIO_REGION.

Secrets (the API key, write keys, the Redis password) are never printed.

Environment: as for the service: CIO_CONFIG, CUSTOMERIO_SITE_ID,
CUSTOMERIO_API_KEY, CUSTOMERIO_REGION, CUSTOMERIO_TRACK_URL, REDIS_URL,
QUEUE_PREFIX, WRITE_KEYS…

The last line is the verdict: "All checks passed.", or "Check failed:" with each
part that failed (Redis, Customer.io credentials, region…).

Exit codes:
  0  configuration valid, Redis answers, credentials accepted, region matches
  1  the configuration is valid but a check failed: credentials missing or
     refused, the region is wrong, Customer.io or Redis cannot be reached,
     or Redis's maxmemory-policy is not noeviction
  2  the configuration is invalid (nothing else is checked)`,

  async run(ctx, { positionals }) {
    refuseArguments(positionals);
    const config = ctx.config();
    ctx.out('Configuration: valid');
    printSettings(ctx, config);
    printSubscriptions(ctx, config);
    ctx.out('');

    const failures: string[] = [];
    const redis = await checkRedis(ctx, config);
    if (redis) failures.push(redis);
    const missing = missingCredentials(config);
    if (missing) {
      ctx.out(`Customer.io: not checked.\n${missing}`);
      failures.push(`Customer.io credentials (missing: ${missingNames(config)})`);
    } else {
      const credentials = await checkCredentials(ctx, config);
      if (credentials) failures.push(credentials);
    }
    ctx.out('');
    ctx.out(failures.length === 0 ? 'All checks passed.' : `Check failed: ${failures.join('; ')}. The configuration itself is valid.`);
    return failures.length === 0 ? EXIT.ok : EXIT.problems;
  },
});

function missingNames(config: ServiceConfig): string {
  const cio = config.customerio;
  return [!cio.siteId && 'CUSTOMERIO_SITE_ID', !cio.apiKey && 'CUSTOMERIO_API_KEY'].filter(Boolean).join(' and ');
}

function printSettings(ctx: CliContext, config: ServiceConfig): void {
  const cio = config.customerio;
  const rows = [
    ['CIO_CONFIG', ctx.env.CIO_CONFIG || '(not set: the presets apply)'],
    ['Redis', `${redisWhere(config)}, QUEUE_PREFIX=${config.redis.queuePrefix}`],
    ['Customer.io site id', cio.siteId || '(not set)'],
    ['Customer.io API key', cio.apiKey ? 'set (not shown)' : '(not set)'],
    ['Customer.io region', `${cio.region} (${regionSource(ctx)})`],
    ['Track API', `${trackBaseUrl(cio.region, cio.trackUrl)}${cio.trackUrl ? ' (CUSTOMERIO_TRACK_URL)' : ''}`],
    ['Write keys', config.http.writeKeys.length ? `${config.http.writeKeys.length} set (not shown)` : 'none: ingestion takes events without a key, on loopback only'],
  ];
  for (const line of table(rows, ['left', 'left'])) ctx.out(`  ${line}`);
}

function printSubscriptions(ctx: CliContext, config: ServiceConfig): void {
  const subs = config.subscriptions;
  const fromFile = ctx.env.CIO_CONFIG ? 'from CIO_CONFIG' : 'the presets, with their default mappings (no CIO_CONFIG)';
  ctx.out(`Subscriptions: ${subs.length}, ${fromFile}; ${subs.filter((s) => s.spec.enabled).length} enabled`);
  for (const s of subs) {
    const batching = s.enableBatching ? `batch size ${s.batchSize}` : 'batching off (one request per item)';
    ctx.out(`  ${JSON.stringify(s.name)} → ${s.action}, ${s.spec.enabled ? 'enabled' : 'disabled'}, ${batching}`);
    ctx.out(`      trigger: ${s.spec.trigger}`);
    const fields = Object.keys(s.spec.mapping).filter((k) => k !== 'batch_size' && k !== 'enable_batching');
    ctx.out(`      mapped fields: ${fields.length ? fields.join(', ') : '(none)'}`);
  }
}

/** Undefined when Redis answers and keeps what it is given; else the part that failed, for the verdict. */
async function checkRedis(ctx: CliContext, config: ServiceConfig): Promise<string | undefined> {
  let open;
  try {
    // A connection and reads, no queue objects: opening BullMQ queues would write to Redis.
    open = await openRedis(config);
  } catch (err) {
    if (!(err instanceof CannotRunError)) throw err;
    ctx.out(`Redis: ${err.message}`);
    return 'Redis (unreachable)';
  }
  let verdict;
  try {
    verdict = await checkEvictionPolicy(open.redis);
  } finally {
    await open.close();
  }
  if (verdict.problems.length > 0) {
    // Redis answered: the problem is what it does when full, and the verdict says so (not "unreachable").
    ctx.out(`Redis: ${open.where} answers, but may evict queued jobs.\n${verdict.problems.join('\n')}`);
    const policies = [...new Set(verdict.readings.map((r) => r.policy).filter((p) => p !== undefined && p !== REQUIRED_POLICY))];
    return `Redis (maxmemory-policy ${policies.join(', ')} may evict queued jobs; set ${REQUIRED_POLICY})`;
  }
  const policy = verdict.unreadable.length ? `maxmemory-policy could not be read (${verdict.unreadable.join('; ')}): make sure it is noeviction` : 'maxmemory-policy noeviction';
  ctx.out(`Redis: OK, ${open.where} answers, ${policy}`);
  return undefined;
}

/** Undefined when Customer.io takes the credentials in the configured region; else the part that failed. */
async function checkCredentials(ctx: CliContext, config: ServiceConfig): Promise<string | undefined> {
  const cio = config.customerio;
  const client = new CustomerIoClient({ ...cio });
  const secrets = [cio.siteId, cio.apiKey];
  ctx.out(`Customer.io: GET ${client.baseUrl}/api/v1/accounts/region`);
  let res: CioResponse;
  try {
    res = await client.accountRegion();
  } catch (err) {
    const reason = err instanceof CioTransportError ? `${err.code}${err.timeoutMs ? `, ${err.timeoutMs} ms` : ''}` : (err as Error).message;
    ctx.out(
      `Customer.io unreachable at ${client.baseUrl} (${redactSecrets(reason, secrets)}): check the network, ` +
        `${cio.trackUrl ? 'CUSTOMERIO_TRACK_URL' : 'a proxy or firewall'}, and try again`,
    );
    return 'Customer.io (unreachable)';
  } finally {
    client.close();
  }
  return verdict(ctx, config, res, (text) => redactSecrets(text, secrets));
}

function verdict(ctx: CliContext, config: ServiceConfig, res: CioResponse, redact: (text: string) => string): string | undefined {
  const configured = config.customerio.region;
  const setting = regionSetting(ctx, config);
  if (res.status === 401 || res.status === 403) {
    ctx.out(
      `Customer.io refused the credentials (${res.status}): check CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY. ` +
        'They are the Track API key pair (Settings → Workspace Settings → API and Webhook Credentials → Track API keys), ' +
        'not an App API key; a key from another workspace is refused too.',
    );
    return `Customer.io credentials (refused, ${res.status})`;
  }
  if (res.status >= 300 && res.status < 400) {
    ctx.out(`Customer.io answered ${res.status} (a redirect${res.headers.location ? ` to ${res.headers.location}` : ''}): the Track API host looks wrong; check CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL`);
    return `Customer.io (answered ${res.status}, a redirect)`;
  }
  if (res.status !== 200) {
    ctx.out(`Customer.io answered ${res.status}, not 200: ${redact(bodyText(res.body))}; try again, and check CUSTOMERIO_TRACK_URL if it is set`);
    return `Customer.io (answered ${res.status})`;
  }
  const region = typeof (res.body as { region?: unknown })?.region === 'string' ? ((res.body as { region: string }).region) : undefined;
  if (!region) {
    ctx.out(`credentials OK, but the answer names no region (${redact(bodyText(res.body))}); cannot tell whether ${setting} is right`);
    return 'Customer.io region (not named in the answer)';
  }
  const actual = region.trim().toUpperCase();
  if (actual === configured) {
    ctx.out(`credentials OK, workspace region ${region} matches ${setting}`);
    return undefined;
  }
  ctx.out(`credentials OK but the workspace is in ${actual} while ${setting}: set CUSTOMERIO_REGION=${actual}`);
  return `Customer.io region (the workspace is in ${actual})`;
}

/** `CUSTOMERIO_REGION=US`, or where else the region came from. */
function regionSetting(ctx: CliContext, config: ServiceConfig): string {
  const region = config.customerio.region;
  if (ctx.env.CUSTOMERIO_REGION) return `CUSTOMERIO_REGION=${region}`;
  return `the region ${region} (${regionSource(ctx)})`;
}

function regionSource(ctx: CliContext): string {
  if (ctx.env.CUSTOMERIO_REGION) return 'CUSTOMERIO_REGION';
  if (ctx.env.CIO_CONFIG) {
    // loadConfig has read and checked this file already; only whether it names a region is asked here.
    try {
      const file = JSON.parse(readFileSync(ctx.env.CIO_CONFIG, 'utf8')) as { settings?: { accountRegion?: unknown } };
      if (file.settings?.accountRegion !== undefined) return 'settings.accountRegion in CIO_CONFIG';
    } catch {
      // unreadable now: fall through to the default
    }
  }
  return 'the default: CUSTOMERIO_REGION is not set';
}

function bodyText(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}
