// Every Customer.io answer, and every failure to get one, is turned here into what happens next.
// What each Verdict means for an item, its job and its count is in core/outcomes.ts; nothing else in the
// service looks at status codes.
//
// Reasons are written for an operator reading Bull Board or the logs: they say what Customer.io
// did, in words, and what to check. They never contain credentials: the inputs here are a
// response (which holds no request headers) or a CioTransportError (which holds none either).

import { STATUS_CODES } from 'node:http';
import { DEFAULTS } from '../config/defaults';
import type { Verdict } from '../core/outcomes';
import type { CioItemError } from '../core/types';
import type { CioResponse } from './client';

export type { Verdict } from '../core/outcomes';
export { describeItemError } from '../core/outcomes';

export interface ClassifyOptions {
  /** Wait used when a 429 has no usable Retry-After. */
  defaultRetryAfterMs: number;
  /** Upper bound on any Retry-After (429 and 5xx), so a bad header cannot stall the items for hours. */
  maxRetryAfterMs: number;
  /** Clock for HTTP-date Retry-After values. */
  now: () => number;
}

export const CLASSIFY_DEFAULTS: Readonly<ClassifyOptions> = {
  defaultRetryAfterMs: DEFAULTS.worker.rateLimitPauseMs,
  maxRetryAfterMs: DEFAULTS.customerio.maxRetryAfterMs,
  now: () => Date.now(),
};

/**
 * The shortest pause a 429 gives. Customer.io may send `Retry-After: 0`, a negative number or a date already
 * past; a pause of 0 ms is no pause for BullMQ (Redis refuses `SET … PX 0`, the job fails and uses an
 * attempt), and a client told "now" by a server that just refused it should still slow down.
 */
export const MIN_RATE_LIMIT_PAUSE_MS = 1000;

/** Longest piece of a Customer.io body quoted in a reason. */
const MAX_DETAIL_CHARS = 300;

export function classifyResponse(res: CioResponse, itemCount: number, opts?: Partial<ClassifyOptions>): Verdict {
  const o = { ...CLASSIFY_DEFAULTS, ...opts };
  const { status } = res;

  if (status >= 200 && status < 300) {
    const errors = readCioErrors(res.body, itemCount);
    if (errors.unattributed.length > 0) {
      return { kind: 'ambiguous', status, itemErrors: errors.byItem, anomaly: describeUnattributed(errors.unattributed) };
    }
    return { kind: 'delivered', status, itemErrors: errors.byItem };
  }
  if (status === 429) {
    // Unreadable: the configured pause. Readable but shorter than the floor (0, negative, past): the floor.
    const asked = readRetryAfterMs(header(res, 'retry-after'), o) ?? capRetryAfter(o.defaultRetryAfterMs, o);
    return { kind: 'rate_limited', status, retryAfterMs: Math.max(asked, MIN_RATE_LIMIT_PAUSE_MS) };
  }
  if (status === 401) {
    return {
      kind: 'auth_failed',
      status,
      reason: withDetail(
        `Customer.io refused the credentials (401): check CUSTOMERIO_SITE_ID / CUSTOMERIO_API_KEY and the region (CUSTOMERIO_REGION)`,
        res.body,
      ),
    };
  }
  if (status === 403) {
    return {
      kind: 'auth_failed',
      status,
      reason: withDetail(
        `Customer.io denied access (403): the credentials are not allowed to send to this workspace; check CUSTOMERIO_SITE_ID / CUSTOMERIO_API_KEY and the region (CUSTOMERIO_REGION)`,
        res.body,
      ),
    };
  }
  if (status === 413) return { kind: 'too_large', status };
  if (status === 408) {
    const reason = `Customer.io answered ${statusLine(status)}: it gave up waiting for the request`;
    return withRetryAfter({ kind: 'transient', status, reason }, res, o);
  }
  if (status >= 300 && status < 400) {
    // Customer.io redirects an EU account's requests sent to the US host. Following would route
    // the data through the other region; retrying gives the operator time to fix the setting.
    const location = header(res, 'location');
    return {
      kind: 'transient',
      status,
      reason:
        `Customer.io redirected the request (${statusLine(status)}${location ? ` to ${location}` : ''}): ` +
        `the region is probably wrong; set CUSTOMERIO_REGION (US/EU) or CUSTOMERIO_TRACK_URL`,
    };
  }
  if (status >= 400 && status < 500) {
    const detail = errorDetail(res.body);
    const reason = `Customer.io rejected the request (${statusLine(status)})${detail ? `: ${detail}` : ''}`;
    const { byItem } = readCioErrors(res.body, itemCount);
    if (byItem.size > 0) return { kind: 'refused_for_items', status, itemErrors: byItem, reason };
    return { kind: 'rejected', status, reason };
  }
  const reason = withDetail(`Customer.io answered ${statusLine(status)}`, res.body);
  return withRetryAfter({ kind: 'transient', status, reason }, res, o);
}

/** What Customer.io's body says went wrong, read strictly (see readCioErrors). */
export interface CioErrors {
  /** Errors that name an item of the posted batch by an integer batch_index; the first per item wins. */
  byItem: Map<number, CioItemError>;
  /** Each error, or error-shaped part of the body, that names no item of the batch, in words. */
  unattributed: string[];
}

/**
 * The one reader of Customer.io's error bodies. An error counts against an item only when its
 * batch_index is a JSON integer inside the posted batch; everything else that may report an error is
 * listed as unattributed, so that no caller can mistake an answer it could not read for a success:
 * - `errors` present and not a list (a string, a number, an object, true);
 * - an `errors[]` entry that is not an object, or whose batch_index is missing, null, a string (even
 *   "0": the documented type is an integer, and a server that sends another type may number
 *   differently), fractional, negative or past the batch;
 * - a non-empty `error`, `meta.error` or `meta.errors` (other error styles);
 * - a body that is a non-empty JSON list, or text that looks like JSON but does not parse (cut short).
 * `errors: null` and `errors: []` report nothing. A text body that is not JSON-like ("Accepted") reports
 * nothing.
 */
export function readCioErrors(body: unknown, itemCount: number): CioErrors {
  const found: CioErrors = { byItem: new Map(), unattributed: [] };
  if (typeof body === 'string') {
    if (/^\s*[[{]/.test(body)) found.unattributed.push(`the body looks like JSON but does not parse: ${excerpt(body, 120)}`);
    return found;
  }
  if (Array.isArray(body)) {
    if (body.length > 0) found.unattributed.push(`the body is a list, not an object: ${excerpt(body, 120)}`);
    return found;
  }
  if (!isRecord(body)) return found;
  readErrorsField(body.errors, itemCount, found);
  if (isReported(body.error)) found.unattributed.push(`error: ${excerpt(body.error, 120)}`);
  if (isRecord(body.meta)) {
    if (isReported(body.meta.error)) found.unattributed.push(`meta.error: ${excerpt(body.meta.error, 120)}`);
    if (isReported(body.meta.errors)) found.unattributed.push(`meta.errors: ${excerpt(body.meta.errors, 120)}`);
  }
  return found;
}

function readErrorsField(errors: unknown, itemCount: number, found: CioErrors): void {
  if (errors === undefined || errors === null) return;
  if (!Array.isArray(errors)) {
    found.unattributed.push(`errors is ${typeName(errors)}, not a list: ${excerpt(errors, 120)}`);
    return;
  }
  errors.forEach((entry: unknown, position) => {
    const index = isRecord(entry) ? itemIndex(entry.batch_index, itemCount) : undefined;
    if (!isRecord(entry) || index === undefined) {
      found.unattributed.push(`errors[${position}] ${whyUnattributed(entry, itemCount)}: ${excerpt(entry, 120)}`);
      return;
    }
    if (found.byItem.has(index)) return;
    found.byItem.set(index, {
      batch_index: index,
      ...(isText(entry.reason) && { reason: entry.reason }),
      ...(isText(entry.field) && { field: entry.field }),
      ...(isText(entry.message) && { message: entry.message }),
    });
  });
}

/** The item a batch_index names, or undefined when it names none of the itemCount items sent. */
function itemIndex(value: unknown, itemCount: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < itemCount ? value : undefined;
}

function whyUnattributed(entry: unknown, itemCount: number): string {
  if (!isRecord(entry)) return `is ${typeName(entry)}, not an object`;
  if (!('batch_index' in entry)) return 'has no batch_index';
  const value = entry.batch_index;
  if (typeof value !== 'number') return `has a batch_index that is ${typeName(value)}, not an integer`;
  return `has batch_index ${value}, which is not one of the ${itemCount} items sent (0 to ${itemCount - 1})`;
}

/** Something an error field holds that reports a problem: not null, false, '' or an empty list/object. */
function isReported(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isRecord(v)) return Object.keys(v).length > 0;
  return true;
}

function describeUnattributed(unattributed: string[]): string {
  const shown = unattributed.slice(0, 3).join('; ');
  const more = unattributed.length > 3 ? `; and ${unattributed.length - 3} more` : '';
  return truncate(`${shown}${more}`);
}

/** A short, single-line quote of a body (or part of one) for logs and reasons. */
export function excerpt(value: unknown, maxChars = MAX_DETAIL_CHARS): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A transient verdict with the wait Customer.io asked for, when it sent a Retry-After we can read. */
function withRetryAfter(verdict: Verdict & { kind: 'transient' }, res: CioResponse, o: ClassifyOptions): Verdict {
  const ms = readRetryAfterMs(header(res, 'retry-after'), o);
  return ms === undefined ? verdict : { ...verdict, retryAfterMs: ms };
}

/** Network-level failures: no answer, so nothing is known about the items; retry. */
export function classifyTransportError(err: unknown): Verdict {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    message?: unknown;
    baseUrl?: unknown;
    timeoutMs?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : '';
  const host = typeof e.baseUrl === 'string' ? hostOf(e.baseUrl) : 'Customer.io';
  const message = typeof e.message === 'string' ? e.message : String(err);

  switch (code) {
    case 'ETIMEDOUT':
    case 'ECONNABORTED': {
      const within = typeof e.timeoutMs === 'number' ? `within ${e.timeoutMs} ms ` : '';
      return { kind: 'transient', reason: `Customer.io did not answer ${within}(timeout)` };
    }
    case 'ECONNREFUSED':
      return { kind: 'transient', reason: `connection refused by ${host}` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'transient', reason: `the connection to ${host} was closed before Customer.io answered (${code})` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'transient', reason: `could not resolve ${host} (${code}): check DNS and CUSTOMERIO_TRACK_URL` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return { kind: 'transient', reason: `the network cannot reach ${host} (${code})` };
    default:
      if (/CERT|TLS|SSL/i.test(code)) {
        return { kind: 'transient', reason: `the TLS connection to ${host} failed (${code})` };
      }
      return { kind: 'transient', reason: `the request to ${host} failed: ${message}` };
  }
}

/** Retry-After in ms (delta-seconds or an HTTP-date), capped; undefined when absent or unreadable. */
function readRetryAfterMs(value: string | undefined, o: ClassifyOptions): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  // A signed number is read as seconds too (a negative one is 0), not left to Date.parse's guesses ("-5" is a date in 2001).
  if (/^[-+]?\d+(\.\d+)?$/.test(text)) return capRetryAfter(Number(text) * 1000, o);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return capRetryAfter(at - o.now(), o);
}

function capRetryAfter(ms: number, o: ClassifyOptions): number {
  return Math.min(Math.max(0, Math.round(ms)), o.maxRetryAfterMs);
}

/**
 * What Customer.io said was wrong, from either body style:
 * v2 `{errors:[{reason, field, message}]}` or v1 `{meta:{error}}` / `{meta:{errors:[...]}}`.
 */
function errorDetail(body: unknown): string {
  if (!isRecord(body)) return '';
  const parts: string[] = [];
  if (Array.isArray(body.errors)) {
    for (const entry of body.errors) {
      if (isText(entry)) parts.push(entry);
      else if (isRecord(entry)) {
        const head = [entry.reason, entry.field].filter(isText).join(' ');
        parts.push([head, isText(entry.message) ? entry.message : ''].filter(Boolean).join(': '));
      }
    }
  }
  if (isRecord(body.meta)) {
    if (isText(body.meta.error)) parts.push(body.meta.error);
    if (Array.isArray(body.meta.errors)) parts.push(...body.meta.errors.filter(isText));
  }
  return truncate(parts.filter(Boolean).join('; '));
}

function withDetail(reason: string, body: unknown): string {
  const detail = errorDetail(body);
  return detail ? `${reason} (Customer.io said: ${detail})` : reason;
}

function statusLine(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `${status} ${text}` : String(status);
}

function header(res: CioResponse, name: string): string | undefined {
  for (const [key, value] of Object.entries(res.headers ?? {})) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function truncate(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
