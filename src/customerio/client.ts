// The one module that speaks HTTP to Customer.io's Track API.
//
// It sends and measures; it does not decide. Every HTTP status comes back as a CioResponse (never
// thrown), so that classify.ts can turn it into what happens next. Only the failures where there
// is no response at all (timeout, refused or reset connection, DNS, TLS) are thrown, as a
// CioTransportError that carries no request headers, so it is safe to log.

import { DEFAULTS } from '../config/defaults';
import { basicAuthorization, trackBaseUrl } from '../core/settings';
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, AxiosRequestConfig } from 'axios';
import type { CioPath, CustomerIoCredentials, Region } from '../core/types';

export interface CioClientOptions extends CustomerIoCredentials {
  region: Region;
  /** Replaces the region's host (tests, proxies). A trailing slash is tolerated. */
  trackUrl?: string;
  /** Wall-clock limit for one request, connect to last byte. Default 10000 (as Segment and customerio-node). */
  timeoutMs?: number;
  /** Sockets per host in the keep-alive pool. Default 50. */
  maxSockets?: number;
}

export interface CioResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the raw string ('' when empty). */
  body: unknown;
  durationMs: number;
  /** Bytes of the request body as sent (UTF-8). */
  requestBytes: number;
}


export const CLIENT_DEFAULTS = {
  timeoutMs: DEFAULTS.customerio.timeoutMs,
  maxSockets: 50,
  /** Customer.io answers with a few bytes; anything past this is not Customer.io talking. */
  maxResponseBytes: 10 * 1024 * 1024,
  userAgent: `cio-relay (Node.js ${process.version})`,
} as const;

/**
 * No HTTP answer came back. Holds only what is safe to log: never the request headers, the
 * credentials or the request body.
 */
export class CioTransportError extends Error {
  override readonly name = 'CioTransportError';
  /** Node's or axios' code: 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', ... */
  readonly code: string;
  readonly method: string;
  readonly path: string;
  /** The base URL the request went to, without any user info. */
  readonly baseUrl: string;
  /** Set when code is 'ETIMEDOUT': the limit that was passed. */
  readonly timeoutMs?: number;

  constructor(fields: {
    code: string;
    method: string;
    path: string;
    baseUrl: string;
    message: string;
    timeoutMs?: number;
  }) {
    super(`${fields.method} ${fields.baseUrl}${fields.path} failed: ${fields.message} (${fields.code})`);
    this.code = fields.code;
    this.method = fields.method;
    this.path = fields.path;
    this.baseUrl = fields.baseUrl;
    if (fields.timeoutMs !== undefined) this.timeoutMs = fields.timeoutMs;
  }
}

export class CustomerIoClient {
  readonly baseUrl: string;
  private readonly safeBaseUrl: string;
  private readonly timeoutMs: number;
  private readonly authorization?: string;
  private readonly secrets: string[];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly axios: AxiosInstance;

  constructor(opts: CioClientOptions) {
    this.baseUrl = trackBaseUrl(opts.region, opts.trackUrl);
    this.safeBaseUrl = withoutUserInfo(this.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;

    this.authorization = basicAuthorization(opts.siteId, opts.apiKey);
    if (this.authorization) {
      const token = this.authorization.slice('Basic '.length);
      this.secrets = [token, opts.apiKey].filter((s) => s.length >= 4);
    } else {
      this.secrets = [];
    }

    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? CLIENT_DEFAULTS.maxSockets };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);

    this.axios = axios.create({
      baseURL: this.baseUrl,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Our deadline (see send) is the wall clock; axios' own timeout is the socket-idle guard.
      timeout: this.timeoutMs,
      transitional: { clarifyTimeoutError: true },
      validateStatus: () => true,
      // A redirect means the wrong region is configured; following it would send the data through
      // the other region and, across hosts, may drop or leak the Authorization header.
      maxRedirects: 0,
      // Environment proxies are ignored: axios cannot tunnel HTTPS through them reliably, and a
      // proxy can be named explicitly with CUSTOMERIO_TRACK_URL.
      proxy: false,
      responseType: 'text',
      maxContentLength: CLIENT_DEFAULTS.maxResponseBytes,
      transformRequest: [(data: unknown) => data],
      // A body that quotes the request (an error page, a proxy) must not carry our credentials onward.
      transformResponse: [(data: unknown) => parseBody(typeof data === 'string' ? this.redact(data) : data)],
    });
  }

  /**
   * POST a JSON body. A string body is taken as already-serialized JSON and sent as is, so a caller
   * that measured the bytes does not pay for a second JSON.stringify.
   */
  async post(path: CioPath, body: unknown): Promise<CioResponse> {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (payload === undefined) throw new TypeError(`cannot send ${typeof body} as a JSON body to ${path}`);
    return this.send('POST', path, payload);
  }

  /** GET /api/v1/accounts/region: 200 with {url, region, environment_id} when the credentials are good. */
  accountRegion(): Promise<CioResponse> {
    return this.send('GET', '/api/v1/accounts/region');
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private async send(method: 'GET' | 'POST', path: string, payload?: string): Promise<CioResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': CLIENT_DEFAULTS.userAgent,
    };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.authorization) headers.authorization = this.authorization;

    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.timeoutMs);

    const config: AxiosRequestConfig = { method, url: path, headers, data: payload, signal: deadline.signal };
    const started = performance.now();
    try {
      const res = await this.axios.request(config);
      return {
        status: res.status,
        headers: flattenHeaders(res.headers),
        body: res.data,
        durationMs: performance.now() - started,
        requestBytes: payload === undefined ? 0 : Buffer.byteLength(payload),
      };
    } catch (err) {
      throw this.toTransportError(err, method, path, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps only method, path, code and message: axios errors carry config.headers (the credentials). */
  private toTransportError(err: unknown, method: string, path: string, timedOut: boolean): CioTransportError {
    const e = (err ?? {}) as { code?: unknown; message?: unknown };
    let code = typeof e.code === 'string' && e.code ? e.code : 'EUNKNOWN';
    let message = typeof e.message === 'string' && e.message ? e.message : String(err);
    if (timedOut || code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
      code = 'ETIMEDOUT';
      message = `no answer within ${this.timeoutMs} ms`;
    }
    return new CioTransportError({
      code,
      method,
      path,
      baseUrl: this.safeBaseUrl,
      message: this.redact(message),
      timeoutMs: code === 'ETIMEDOUT' ? this.timeoutMs : undefined,
    });
  }

  private redact(text: string): string {
    let out = text.replace(/\/\/[^/@\s]*@/g, '//');
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** The body as JSON when it parses, else the raw string (Customer.io has been seen to send both). */
function parseBody(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  const text = data.trim();
  if (text === '') return data;
  try {
    return JSON.parse(text);
  } catch {
    return data;
  }
}

function flattenHeaders(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const source =
    raw && typeof (raw as { toJSON?: unknown }).toJSON === 'function'
      ? (raw as { toJSON(): Record<string, unknown> }).toJSON()
      : ((raw ?? {}) as Record<string, unknown>);
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function withoutUserInfo(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/, '//');
}
