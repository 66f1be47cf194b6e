// One JSON logger for the service. Secrets never reach the output: known secret fields are redacted by
// path, URLs with a password are shown without it, and HTTP-client errors are cut down to what helps.

import pino from 'pino';

export const REDACTED = '[redacted]';

/** Field names whose values are secrets wherever they appear (top level and two levels down). */
const SECRET_KEYS = [
  'apiKey',
  'api_key',
  'CUSTOMERIO_API_KEY',
  'password',
  'authorization',
  'Authorization',
  'cookie',
  'writeKey',
  'writeKeys',
  'WRITE_KEYS',
] as const;

/** Field names holding a connection URL: logged with the password hidden, so the host stays visible. */
const URL_KEYS = new Set(['redisUrl', 'REDIS_URL']);

/** `*.key` only reaches one level, so each key is listed at depths 0, 1 and 2 (`settings.apiKey`, `err.config.auth.password`…). */
function pathsFor(key: string): string[] {
  return [key, `*.${key}`, `*.*.${key}`];
}

export const REDACT_PATHS: readonly string[] = [
  ...new Set([
    ...[...SECRET_KEYS, ...URL_KEYS].flatMap(pathsFor),
    // Deeper than the generic depth: request headers inside a serialized HTTP-client error.
    'err.config.headers.Authorization',
    'err.config.headers.authorization',
    'err.response.config.headers.Authorization',
  ]),
];

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  if (URL_KEYS.has(key) && typeof value === 'string') return redactUrl(value);
  return REDACTED;
}

const LEVEL_NAMES = Object.keys(pino.levels.values).concat('silent');

/**
 * Errors from HTTP clients (axios) carry the request config (with its Authorization header), the raw
 * socket request and the whole response. Keep what a reader needs to act on and drop the rest.
 */
function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  const isAxiosError = !!err && typeof err === 'object' && (err as { isAxiosError?: unknown }).isAxiosError === true;
  if (isAxiosError && out !== err) {
    const e = err as {
      config?: { method?: string; url?: string; baseURL?: string; timeout?: number };
      response?: { status?: number; statusText?: string; data?: unknown };
    };
    delete out.request;
    delete out.config;
    delete out.response;
    out.request = { method: e.config?.method, url: e.config?.url, baseURL: e.config?.baseURL, timeout: e.config?.timeout };
    if (e.response) out.response = { status: e.response.status, statusText: e.response.statusText, data: e.response.data };
  }
  return out;
}

export function createLogger(
  opts: { level?: string; destination?: NodeJS.WritableStream; name?: string } = {},
): pino.Logger {
  const level = opts.level ?? 'info';
  if (!LEVEL_NAMES.includes(level)) {
    throw new Error(`unknown log level "${level}": use one of ${LEVEL_NAMES.join(', ')}`);
  }
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'cio-relay',
    level,
    redact: { paths: [...REDACT_PATHS], censor },
    serializers: { err: serializeError },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than numbers: log pipelines filter on "error" without a lookup table.
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination
    ? pino(options, opts.destination as unknown as pino.DestinationStream)
    : pino(options);
}

function defaultLogger(): pino.Logger {
  const fromEnv = process.env.LOG_LEVEL?.trim().toLowerCase();
  if (fromEnv && !LEVEL_NAMES.includes(fromEnv)) {
    const log = createLogger({ level: 'info' });
    log.warn({ LOG_LEVEL: process.env.LOG_LEVEL }, `LOG_LEVEL is not one of ${LEVEL_NAMES.join(', ')}; logging at info`);
    return log;
  }
  return createLogger({ level: fromEnv || 'info' });
}

/** The process-wide logger; level from LOG_LEVEL (default info). */
export const logger: pino.Logger = defaultLogger();

/**
 * Hides the password of a URL such as `redis://user:pass@host:6379/0` → `redis://user:***@host:6379/0`.
 * Anything without a password comes back unchanged. Works on the text, so the rest of the URL is not
 * re-encoded or normalised.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url;
  const start = scheme[0].length;
  const authorityEnd = url.slice(start).search(/[/?#]/);
  const authority = authorityEnd < 0 ? url.slice(start) : url.slice(start, start + authorityEnd);
  const at = authority.lastIndexOf('@'); // an unencoded '@' in a password still ends at the last one
  if (at < 0) return url;
  const colon = authority.indexOf(':');
  if (colon < 0 || colon > at) return url;
  const rest = url.slice(start + authority.length);
  return `${url.slice(0, start)}${authority.slice(0, colon)}:***${authority.slice(at)}${rest}`;
}

/**
 * Replaces every occurrence of each non-empty secret in free text (an error message, a response body)
 * by `[redacted]`. When the list holds a site id and an API key, the Basic-auth form
 * base64("siteId:apiKey") is redacted too: every ordered pair of secrets is tried (and "key:" with a
 * blank password), so the caller needs no knowledge of which is which.
 */
export function redactSecrets(text: string, secrets: string[]): string {
  const plain = [...new Set(secrets.filter((s) => s.length > 0))];
  const needles = new Set<string>();
  for (const a of plain) {
    for (const b of plain) {
      if (a !== b) needles.add(Buffer.from(`${a}:${b}`).toString('base64'));
    }
    needles.add(Buffer.from(`${a}:`).toString('base64')); // a key used as user name with a blank password
  }
  for (const s of plain) needles.add(s);
  // Longest first, so a secret that contains another is replaced whole.
  let out = text;
  for (const needle of [...needles].sort((x, y) => y.length - x.length)) {
    out = out.split(needle).join(REDACTED);
  }
  return out;
}
