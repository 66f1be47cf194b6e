// Every Customer.io answer, and every failure to get one, is turned here into what happens next.
// The worker maps each Verdict onto job states (architecture.md, "Outcomes map onto job states");
// nothing else in the service looks at status codes.
//
// Reasons are written for an operator reading Bull Board or the logs: they say what Customer.io
// did, in words, and what to check. They never contain credentials: the inputs here are a
// response (which holds no request headers) or a CioTransportError (which holds none either).

import { STATUS_CODES } from 'node:http';
import type { CioItemError } from '../types';
import type { CioResponse } from './client';

export type Verdict =
  /** Any 2xx. Items listed in itemErrors (by batch_index) failed for good; every other item was accepted. */
  | { kind: 'delivered'; status: number; itemErrors: Map<number, CioItemError> }
  /** Pause the queue for retryAfterMs; the items wait and no attempt is used up. */
  | { kind: 'rate_limited'; status: 429; retryAfterMs: number }
  /** Pause the queue and keep the jobs until the credentials or region are fixed. */
  | { kind: 'auth_failed'; status: 401 | 403; reason: string }
  /** Split the batch and send the halves. */
  | { kind: 'too_large'; status: 413 }
  /** The whole request was refused: every item fails, no retry. */
  | { kind: 'rejected'; status: number; reason: string }
  /** Retry with backoff: 5xx, 408, redirects, timeouts, connection errors. */
  | { kind: 'transient'; status?: number; reason: string };

export interface ClassifyOptions {
  /** Wait used when a 429 has no usable Retry-After. */
  defaultRetryAfterMs: number;
  /** Upper bound on any Retry-After, so a bad header cannot stall the queue for hours. */
  maxRetryAfterMs: number;
  /** Clock for HTTP-date Retry-After values. */
  now: () => number;
}

export const CLASSIFY_DEFAULTS: Readonly<ClassifyOptions> = {
  defaultRetryAfterMs: 10_000,
  maxRetryAfterMs: 5 * 60_000, // customerio-node caps Retry-After at 300 s too
  now: () => Date.now(),
};

/** Longest piece of a Customer.io body quoted in a reason. */
const MAX_DETAIL_CHARS = 300;

export function classifyResponse(res: CioResponse, itemCount: number, opts?: Partial<ClassifyOptions>): Verdict {
  const o = { ...CLASSIFY_DEFAULTS, ...opts };
  const { status } = res;

  if (status >= 200 && status < 300) {
    return { kind: 'delivered', status, itemErrors: readItemErrors(res.body, itemCount) };
  }
  if (status === 429) {
    return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(header(res, 'retry-after'), o) };
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
    return { kind: 'transient', status, reason: `Customer.io answered ${statusLine(status)}: it gave up waiting for the request` };
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
    return {
      kind: 'rejected',
      status,
      reason: `Customer.io rejected the request (${statusLine(status)})${detail ? `: ${detail}` : ''}`,
    };
  }
  return { kind: 'transient', status, reason: withDetail(`Customer.io answered ${statusLine(status)}`, res.body) };
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

/** "Customer.io rejected the item: invalid attributes.plan: property value cannot be longer than 1000 bytes" */
export function describeItemError(e: CioItemError): string {
  const head = [e.reason, e.field].filter(isText).join(' ');
  const tail = isText(e.message) ? e.message : '';
  if (!head && !tail) return 'Customer.io rejected the item (it gave no details)';
  return `Customer.io rejected the item: ${[head, tail].filter(Boolean).join(': ')}`;
}

/** errors[] entries with an integer batch_index inside the posted batch; the first entry for an index wins. */
function readItemErrors(body: unknown, itemCount: number): Map<number, CioItemError> {
  const found = new Map<number, CioItemError>();
  const errors = isRecord(body) ? body.errors : undefined;
  if (!Array.isArray(errors)) return found;
  for (const entry of errors) {
    if (!isRecord(entry)) continue;
    const index = entry.batch_index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= itemCount) continue;
    if (found.has(index)) continue;
    found.set(index, {
      batch_index: index,
      ...(isText(entry.reason) && { reason: entry.reason }),
      ...(isText(entry.field) && { field: entry.field }),
      ...(isText(entry.message) && { message: entry.message }),
    });
  }
  return found;
}

function retryAfterMs(value: string | undefined, o: ClassifyOptions): number {
  const cap = (ms: number) => Math.min(Math.max(0, Math.round(ms)), o.maxRetryAfterMs);
  if (value === undefined || value.trim() === '') return cap(o.defaultRetryAfterMs);
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return cap(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return cap(o.defaultRetryAfterMs);
  return cap(at - o.now());
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
