// `npm run stand-in`: the Customer.io stand-in as a server of its own, to try the real service without a
// Customer.io account. It prints the CUSTOMERIO_TRACK_URL to start the service with, logs every request it
// receives with its answer, and can be told to refuse a share of the items (207), or to answer a share of
// the requests with 429 or 500, so the dashboard shows what failures and retries look like.

import { CustomerIoStandIn, type Exchange } from './customerio-stand-in';
import { EXIT, UsageError, parseArgs, wholeNumber } from '../cli/args';

const DEFAULT_PORT = 4010;
/** Customer.io refuses attribute values over 1000 bytes; so does the stand-in, as a refusal that is always there. */
const MAX_ATTRIBUTE_BYTES = 1000;

const HELP = `Usage: npm run stand-in -- [options]

A local stand-in for Customer.io's Track API (/api/v2/batch, /api/v2/entity,
/api/v1/metrics, /api/v1/accounts/region). Start cio-relay with the
CUSTOMERIO_TRACK_URL it prints, send events, and watch them arrive here.
Like Customer.io, it refuses operations without a type, action or identifiers,
and attribute values over ${MAX_ATTRIBUTE_BYTES} bytes (listed in a 207 answer).

Options:
  --port N              where to listen (default ${DEFAULT_PORT}; 0 picks a free port)
  --host H              interface to listen on (default 127.0.0.1)
  --refuse-matching T   refuse every item whose JSON contains the text T
  --refuse-items P      refuse a share P (0 to 1) of the items, drawn at random
  --rate-limit P        answer 429 (Too Many Requests) to a share P of the requests
  --retry-after S       the Retry-After of those 429s, in seconds (default 1)
  --server-errors P     answer 500 to a share P of the requests
  --timeouts P          never answer a share P of the requests
  --latency MS          wait this long before every answer (default 0)
  --verbose             also log each item received, one line of compact JSON
                        per item (after its request's line)
  --site-id ID --api-key KEY
                        accept only these credentials (401 otherwise);
                        without them any credentials are accepted
  -h, --help            this text

Ctrl-C (or SIGTERM) stops it.`;

const options = {
  port: 'value',
  host: 'value',
  'refuse-matching': 'value',
  'refuse-items': 'value',
  'rate-limit': 'value',
  'retry-after': 'value',
  'server-errors': 'value',
  timeouts: 'value',
  latency: 'value',
  'site-id': 'value',
  'api-key': 'value',
  verbose: 'flag',
} as const;

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs<typeof options>>['options'];
  try {
    const parsed = parseArgs(argv, options);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    opts = parsed.options;
    if ((opts as { help?: boolean }).help) {
      out(HELP);
      return EXIT.ok;
    }
    if (Boolean(opts['site-id']) !== Boolean(opts['api-key'])) throw new UsageError('--site-id and --api-key go together: give both, or neither');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`stand-in: ${err.message}\nnpm run stand-in -- --help lists the options.\n`);
    return EXIT.cannotRun;
  }

  let standIn: CustomerIoStandIn;
  let settings: Settings;
  try {
    settings = readSettings(opts);
    standIn = await CustomerIoStandIn.start({
      port: settings.port,
      host: settings.host,
      siteId: opts['site-id'],
      apiKey: opts['api-key'],
      latencyMs: settings.latencyMs,
      keepRequests: false, // a long run keeps nothing: memory stays flat
      onExchange: (exchange) => out(describe(exchange, new Date(), { verbose: Boolean(opts.verbose) })),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      err instanceof UsageError
        ? err.message
        : code === 'EADDRINUSE'
          ? `port ${opts.port ?? DEFAULT_PORT} is in use (another stand-in?): stop it, or pass --port with another port (0 picks a free one)`
          : (err as Error).message;
    process.stderr.write(`stand-in: ${message}\n`);
    return EXIT.cannotRun;
  }

  standIn.rejectItemsWhere(refusalRule(settings));
  standIn.setFaults({
    rateLimitRate: settings.rateLimitShare,
    retryAfterSeconds: settings.retryAfterSeconds,
    serverErrorRate: settings.serverErrorShare,
    timeoutRate: settings.timeoutShare,
  });

  out(`Customer.io stand-in listening at ${standIn.url}`);
  out('Start cio-relay against it (in another terminal):');
  out(`  CUSTOMERIO_TRACK_URL=${standIn.url} CUSTOMERIO_SITE_ID=${opts['site-id'] ?? 'x'} CUSTOMERIO_API_KEY=${opts['api-key'] ? '<the key>' : 'y'} npm start`);
  for (const line of behaviour(settings)) out(line);
  out(opts.verbose ? 'Every request is logged below, with each of its items. Ctrl-C stops.\n' : 'Every request is logged below. Ctrl-C stops.\n');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await standIn.close();
  const { requests, items, rejectedItems } = standIn.counts;
  out(`\nStopped (${signal}): ${requests} request(s), ${items} item(s) accepted, ${rejectedItems} refused.`);
  return EXIT.ok;
}

interface Settings {
  port: number;
  host: string;
  refuseMatching?: string;
  refuseShare: number;
  rateLimitShare: number;
  retryAfterSeconds: number;
  serverErrorShare: number;
  timeoutShare: number;
  latencyMs: number;
}

function readSettings(opts: Partial<Record<Exclude<keyof typeof options, 'verbose'>, string>>): Settings {
  const settings: Settings = {
    port: opts.port === undefined ? DEFAULT_PORT : wholeNumber('port', opts.port, 0),
    host: opts.host ?? '127.0.0.1',
    refuseMatching: opts['refuse-matching'] || undefined,
    refuseShare: share('refuse-items', opts['refuse-items']),
    rateLimitShare: share('rate-limit', opts['rate-limit']),
    retryAfterSeconds: opts['retry-after'] === undefined ? 1 : wholeNumber('retry-after', opts['retry-after'], 0),
    serverErrorShare: share('server-errors', opts['server-errors']),
    timeoutShare: share('timeouts', opts.timeouts),
    latencyMs: opts.latency === undefined ? 0 : wholeNumber('latency', opts.latency, 0),
  };
  if (settings.port > 65535) throw new UsageError(`--port must be at most 65535, got ${settings.port}`);
  const requestShares = settings.rateLimitShare + settings.serverErrorShare + settings.timeoutShare;
  if (requestShares > 1) throw new UsageError(`--rate-limit, --server-errors and --timeouts add up to ${requestShares}; together at most 1`);
  return settings;
}

/** A share from 0 to 1 (`0.2`, or `20%`). */
function share(name: string, raw: string | undefined): number {
  if (raw === undefined) return 0;
  const percent = raw.trim().endsWith('%');
  const value = Number(percent ? raw.trim().slice(0, -1) : raw) / (percent ? 100 : 1);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`--${name} is a share of 0 to 1 (0.2, or 20%), got ${JSON.stringify(raw)}`);
  }
  return value;
}

type Rule = Parameters<CustomerIoStandIn['rejectItemsWhere']>[0];

function refusalRule(settings: Settings): Rule {
  return (item: any) => {
    const tooLong = Object.entries(item?.attributes ?? {}).find(([, v]) => typeof v === 'string' && Buffer.byteLength(v) > MAX_ATTRIBUTE_BYTES);
    if (tooLong) {
      return { reason: 'invalid', field: `attributes.${tooLong[0]}`, message: `property value cannot be longer than ${MAX_ATTRIBUTE_BYTES} bytes` };
    }
    if (settings.refuseMatching && JSON.stringify(item).includes(settings.refuseMatching)) {
      return { reason: 'invalid', field: '', message: `refused by the stand-in: the item contains ${JSON.stringify(settings.refuseMatching)} (--refuse-matching)` };
    }
    if (settings.refuseShare > 0 && Math.random() < settings.refuseShare) {
      return { reason: 'invalid', field: '', message: `refused by the stand-in at random (--refuse-items ${settings.refuseShare})` };
    }
    return undefined;
  };
}

/** What the stand-in will do besides accepting, in words, for the banner. */
function behaviour(settings: Settings): string[] {
  const lines: string[] = [];
  if (settings.refuseMatching) lines.push(`refuses items containing ${JSON.stringify(settings.refuseMatching)}`);
  if (settings.refuseShare > 0) lines.push(`refuses ${pct(settings.refuseShare)} of the items at random (207)`);
  if (settings.rateLimitShare > 0) lines.push(`answers 429 to ${pct(settings.rateLimitShare)} of the requests (Retry-After: ${settings.retryAfterSeconds})`);
  if (settings.serverErrorShare > 0) lines.push(`answers 500 to ${pct(settings.serverErrorShare)} of the requests`);
  if (settings.timeoutShare > 0) lines.push(`never answers ${pct(settings.timeoutShare)} of the requests`);
  if (settings.latencyMs > 0) lines.push(`waits ${settings.latencyMs} ms before every answer`);
  return lines.length ? [`It ${lines.join('; ')}.`] : ['It accepts every valid item (see --help to make it refuse items or fail requests).'];
}

function pct(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/**
 * `12:00:01  POST /api/v2/batch  3 items → 207, 1 refused`, then one line per refusal; with `verbose`,
 * one line per item received too (`    item 0 {…}`), so what the service sent can be read here.
 */
export function describe(exchange: Exchange, at: Date, opts: { verbose?: boolean } = {}): string {
  const time = at.toTimeString().slice(0, 8);
  const items = `${exchange.items} ${exchange.items === 1 ? 'item' : 'items'}`;
  const status = exchange.status === undefined ? 'no answer (--timeouts)' : String(exchange.status);
  const refused = exchange.status !== undefined && exchange.status < 300 && exchange.refusals.length > 0 ? `, ${exchange.refusals.length} refused` : '';
  const lines = [`${time}  ${exchange.method} ${exchange.path}  ${items} → ${status}${refused}`];
  for (const r of exchange.refusals) {
    const where = r.batch_index === undefined ? '' : `item ${r.batch_index}: `;
    const what = [r.reason, r.field].filter(Boolean).join(' ');
    lines.push(`    ${where}${what ? `${what}: ` : ''}${r.message}`);
  }
  if (opts.verbose) exchange.received.forEach((item, i) => lines.push(`    item ${i} ${JSON.stringify(item)}`));
  return lines.join('\n');
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`stand-in failed: ${err.stack ?? String(err)}\n`);
    process.exit(EXIT.cannotRun);
  },
);
