// A local stand-in for Customer.io's Track API, for tests, `npm run demo` and the benchmark.
//
// It answers the way Customer.io documents its Track API (the v2 batch and entity endpoints, and v1): 200 `{}`
// when every item is accepted, 207 with `errors[]` by batch_index when some are not, 400 with a
// v2 `errors[]` body (or, on v1 paths, a `meta` body) when the whole request is refused, 401 for
// wrong credentials. Where the real API's answer is undocumented, the choice is written next to
// the code. Faults (5xx, 429, hangs) can be scripted one by one or drawn at random for chaos runs.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_ITEM_BYTES, MAX_REQUEST_BYTES } from '../core/limits';
import { basicAuthorization } from '../core/settings';
import type { CustomerIoCredentials } from '../core/types';

/** `apiKey`: when set, requests without Basic base64(siteId:apiKey) get 401. */
export interface StandInOptions extends Partial<CustomerIoCredentials> {
  port?: number;
  host?: string;
  /** Added before every answer. */
  latencyMs?: number;
  /** Keep requests[] and items() (default true); false for the benchmark, so memory stays flat. */
  keepRequests?: boolean;
  /** Request bodies above this get a 400 (default 500 KB, Customer.io's documented /batch limit). */
  maxRequestBytes?: number;
  /** Batch items (serialized) above this are listed in errors[] (default 32 KB, as documented). */
  maxItemBytes?: number;
  /** Told of every request once its answer is decided (`npm run stand-in` logs them). */
  onExchange?: (exchange: Exchange) => void;
}

/** One request and what the stand-in answered, for a log. */
export interface Exchange {
  method: string;
  path: string;
  /** Operations in the request: the batch's length, or 1 for a single entity or metric. */
  items: number;
  /** The operations themselves, as received (the batch's items, or the one entity or metric body). */
  received: unknown[];
  /** Undefined when the stand-in does not answer (a hang). */
  status?: number;
  /** The items refused in a 2xx answer, or the reasons of a whole-request refusal. */
  refusals: Array<{ batch_index?: number; reason?: string; field?: string; message: string }>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  /** All request headers, as node:http reports them (lower-case names). */
  headers: http.IncomingHttpHeaders;
  body: any;
  receivedAt: number;
}

export interface ScriptedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Never answer (until the client gives up or the stand-in closes). */
  hang?: boolean;
}

export interface StandInFaults {
  serverErrorRate?: number;
  rateLimitRate?: number;
  /** Retry-After on random 429s, in seconds (default 1). */
  retryAfterSeconds?: number;
  /** Share of requests that are never answered. */
  timeoutRate?: number;
  /** Source of randomness in [0, 1) (default Math.random), so chaos runs can be replayed. */
  random?: () => number;
}

/** What rejectItemsWhere's predicate may return: a message, or the whole error entry. */
export type ItemRejection = string | { message: string; field?: string; reason?: string } | undefined;

interface ItemError {
  batch_index?: number;
  reason: string;
  field: string;
  message: string;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const KB = 1024;
const HARD_BODY_LIMIT = 16 * 1024 * KB; // beyond this the connection is cut: nobody should send that
const TRACK_PATHS = new Set(['/api/v2/batch', '/api/v2/entity', '/api/v1/metrics']);

export class CustomerIoStandIn {
  readonly url: string;
  requests: RecordedRequest[] = [];
  private answerWhere?: (body: any) => ScriptedResponse | undefined;
  counts = { requests: 0, items: 0, rejectedItems: 0 };

  private readonly accepted: any[] = [];
  private readonly scripted: ScriptedResponse[] = [];
  private faults: StandInFaults | null = null;
  private rejectWhere: ((item: any) => ItemRejection) | null = null;
  private readonly hanging = new Set<http.ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly expectedAuth?: string;
  private readonly keep: boolean;
  private readonly maxRequestBytes: number;
  private readonly maxItemBytes: number;
  private readonly latencyMs: number;
  private readonly onExchange?: (exchange: Exchange) => void;

  private constructor(
    private readonly server: http.Server,
    opts: StandInOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
    if (opts.apiKey) {
      this.expectedAuth = basicAuthorization(opts.siteId ?? '', opts.apiKey);
    }
    this.keep = opts.keepRequests ?? true;
    this.maxRequestBytes = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.maxItemBytes = opts.maxItemBytes ?? MAX_ITEM_BYTES;
    this.latencyMs = opts.latencyMs ?? 0;
    this.onExchange = opts.onExchange;
  }

  static async start(opts: StandInOptions = {}): Promise<CustomerIoStandIn> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const standIn = new CustomerIoStandIn(server, opts);
    server.on('request', (req, res) => standIn.handle(req, res));
    return standIn;
  }

  /** Every accepted item, in arrival order: batch items, entity bodies and metrics bodies. */
  items(): any[] {
    return this.accepted;
  }

  /** Scripted answers, consumed one per request, before any validation or random fault. */
  respondNext(...responses: ScriptedResponse[]): void {
    this.scripted.push(...responses);
  }

  setFaults(f: StandInFaults | null): void {
    this.faults = f;
  }

  /** Answers requests whose body the predicate picks with its answer (e.g. a 500 for one person's items), before any random fault. */
  answerRequestsWhere(pred: ((body: any) => ScriptedResponse | undefined) | null): void {
    this.answerWhere = pred ?? undefined;
  }

  rejectItemsWhere(pred: ((item: any) => ItemRejection) | null): void {
    this.rejectWhere = pred;
  }

  reset(): void {
    this.requests.length = 0;
    this.accepted.length = 0;
    Object.assign(this.counts, { requests: 0, items: 0, rejectedItems: 0 });
    this.scripted.length = 0;
    this.faults = null;
    this.rejectWhere = null;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > HARD_BODY_LIMIT) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => this.respond(req, res, Buffer.concat(chunks)));
    req.on('error', () => res.destroy());
  }

  private respond(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    const text = raw.toString('utf8');
    let body: any = text;
    let malformed = false;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        malformed = true;
      }
    }
    this.counts.requests += 1;
    if (this.keep) {
      this.requests.push({ method, path, authorization: req.headers.authorization, headers: req.headers, body, receivedAt: Date.now() });
    }

    const script = this.scripted.shift();
    if (script) {
      if (!script.hang && isTrackPost(method, path) && script.status >= 200 && script.status < 300 && !malformed) {
        this.recordScriptedOutcome(path, body, script.body);
      }
      return this.finish(res, method, path, body, script.hang ? 'hang' : script, script.delayMs);
    }
    const chosen = this.answerWhere?.(body);
    if (chosen) return this.finish(res, method, path, body, chosen.hang ? 'hang' : chosen, chosen.delayMs);
    const fault = this.drawFault();
    this.finish(res, method, path, body, fault ?? this.answer(method, path, req.headers.authorization, body, raw.length, malformed));
  }

  private finish(res: http.ServerResponse, method: string, path: string, body: unknown, answer: Answer | 'hang', delayMs?: number): void {
    this.onExchange?.(describeExchange(method, path, body, answer));
    if (answer === 'hang') return this.hang(res);
    this.send(res, answer, delayMs);
  }

  private answer(
    method: string,
    path: string,
    authorization: string | undefined,
    body: any,
    bytes: number,
    malformed: boolean,
  ): Answer {
    const known = (method === 'POST' && TRACK_PATHS.has(path)) || (method === 'GET' && path === '/api/v1/accounts/region');
    if (!known) return v2Error(404, 'not_found', 'path', `no such endpoint: ${method} ${path}`);
    // Customer.io documents no 401 body; this is the wording of its documented 401 description.
    if (this.expectedAuth && authorization !== this.expectedAuth) {
      return { status: 401, body: { meta: { error: 'Unauthorized request. Make sure that you provided the right credentials.' } } };
    }
    if (path === '/api/v1/accounts/region') {
      return { status: 200, body: { url: this.url, region: 'us', environment_id: 1 } };
    }
    const v1 = path === '/api/v1/metrics';
    if (malformed) return v1 ? v1Error('malformed JSON body') : v2Error(400, 'invalid', 'body', 'malformed JSON body');
    // Customer.io does not document its answer to an oversize request (it could be 413, 400 or a
    // silent drop). We answer 400, the status Customer.io's own Pipelines SDK treats as
    // "malformed or size exceeded", so the worker learns nothing it could not learn from the real
    // API; a 413 can still be scripted with respondNext.
    const limit = path === '/api/v2/batch' ? this.maxRequestBytes : this.maxItemBytes;
    if (bytes > limit) {
      return v1 ? v1Error('request too large') : v2Error(400, 'invalid', path === '/api/v2/batch' ? 'batch' : 'body', 'request too large');
    }
    if (path === '/api/v2/batch') return this.acceptBatch(body, bytes);
    if (path === '/api/v2/entity') return this.acceptSingle(body, (e) => v2Error(400, e.reason, e.field, e.message));
    return this.acceptSingle(body, (e) => v1Error(e.field ? `${e.field}: ${e.message}` : e.message), checkMetric);
  }

  private acceptBatch(body: any, requestBytes: number): Answer {
    if (!isRecord(body) || !Array.isArray(body.batch)) {
      return v2Error(400, 'required', 'batch', 'batch is required and must be an array');
    }
    // An empty batch is undocumented; refusing it exposes a sender bug instead of hiding it.
    if (body.batch.length === 0) return v2Error(400, 'invalid', 'batch', 'batch must contain at least one item');
    const errors: ItemError[] = [];
    // No item can be over the item limit when the whole request is not: skip measuring each one.
    const measure = requestBytes > this.maxItemBytes;
    body.batch.forEach((item: unknown, index: number) => {
      const problem = checkEntity(item) ?? (measure ? this.checkSize(item) : undefined) ?? this.customRejection(item);
      if (problem) errors.push({ batch_index: index, ...problem });
      else this.accept(item);
    });
    this.counts.rejectedItems += errors.length;
    return errors.length ? { status: 207, body: { errors } } : { status: 200, body: {} };
  }

  private acceptSingle(body: any, refuse: (e: ItemError) => Answer, check: (item: unknown) => ItemError | undefined = checkEntity): Answer {
    const problem = check(body) ?? this.customRejection(body);
    if (problem) {
      this.counts.rejectedItems += 1;
      return refuse(problem);
    }
    this.accept(body);
    return { status: 200, body: {} };
  }

  /** A scripted 2xx still means Customer.io took the items not listed in its errors[]. */
  private recordScriptedOutcome(path: string, requestBody: any, responseBody: unknown): void {
    const items: unknown[] =
      path === '/api/v2/batch' ? (isRecord(requestBody) && Array.isArray(requestBody.batch) ? requestBody.batch : []) : [requestBody];
    const listed = new Set<number>();
    const errors = isRecord(responseBody) && Array.isArray(responseBody.errors) ? responseBody.errors : [];
    for (const e of errors) if (isRecord(e) && typeof e.batch_index === 'number') listed.add(e.batch_index);
    items.forEach((item, index) => {
      if (listed.has(index)) this.counts.rejectedItems += 1;
      else this.accept(item);
    });
  }

  private accept(item: unknown): void {
    this.counts.items += 1;
    if (this.keep) this.accepted.push(item);
  }

  private checkSize(item: unknown): ItemError | undefined {
    const bytes = Buffer.byteLength(JSON.stringify(item));
    if (bytes <= this.maxItemBytes) return undefined;
    return { reason: 'invalid', field: '', message: `item is ${bytes} bytes; the limit is ${this.maxItemBytes}` };
  }

  private customRejection(item: unknown): ItemError | undefined {
    const out = this.rejectWhere?.(item);
    if (out === undefined) return undefined;
    if (typeof out === 'string') return { reason: 'invalid', field: '', message: out };
    return { reason: out.reason ?? 'invalid', field: out.field ?? '', message: out.message };
  }

  private drawFault(): Answer | 'hang' | undefined {
    const f = this.faults;
    if (!f) return undefined;
    const r = (f.random ?? Math.random)();
    let edge = f.timeoutRate ?? 0;
    if (r < edge) return 'hang';
    edge += f.rateLimitRate ?? 0;
    if (r < edge) {
      return {
        status: 429,
        headers: { 'retry-after': String(f.retryAfterSeconds ?? 1) },
        body: { meta: { error: 'Too Many Requests' } },
      };
    }
    edge += f.serverErrorRate ?? 0;
    if (r < edge) return { status: 500, body: { meta: { error: 'Internal Server Error' } } };
    return undefined;
  }

  private hang(res: http.ServerResponse): void {
    this.hanging.add(res);
    res.on('close', () => this.hanging.delete(res));
  }

  private send(res: http.ServerResponse, answer: Answer, extraDelayMs = 0): void {
    const delay = this.latencyMs + extraDelayMs;
    const write = () => {
      if (res.destroyed) return;
      const payload = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
        ...answer.headers,
      });
      res.end(payload);
    };
    if (delay <= 0) return write();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      write();
    }, delay);
    this.timers.add(timer);
  }
}

function describeExchange(method: string, path: string, body: unknown, answer: Answer | 'hang'): Exchange {
  const received: unknown[] = isRecord(body) && Array.isArray(body.batch) ? body.batch : body === '' ? [] : [body];
  const items = received.length;
  if (answer === 'hang') return { method, path, items, received, refusals: [] };
  const out = isRecord(answer.body) ? answer.body : {};
  const refusals: Exchange['refusals'] = [];
  if (Array.isArray(out.errors)) {
    for (const e of out.errors) if (isRecord(e)) refusals.push({ batch_index: e.batch_index, reason: e.reason, field: e.field, message: String(e.message ?? '') });
  }
  if (isRecord(out.meta)) {
    if (Array.isArray(out.meta.errors)) for (const m of out.meta.errors) refusals.push({ message: String(m) });
    else if (typeof out.meta.error === 'string') refusals.push({ message: out.meta.error });
  }
  return { method, path, items, received, status: answer.status, refusals };
}

/** What the real API refuses in an entity operation: a missing type, action or identifiers. */
function checkEntity(item: unknown): ItemError | undefined {
  if (!isRecord(item)) return { reason: 'invalid', field: '', message: 'an operation must be a JSON object' };
  if (!isFilled(item.type)) return { reason: 'required', field: 'type', message: 'type is required' };
  if (!isFilled(item.action)) return { reason: 'required', field: 'action', message: 'action is required' };
  if (item.action === 'merge') {
    if (!isNonEmptyRecord(item.primary)) return { reason: 'required', field: 'primary', message: 'primary is required' };
    if (!isNonEmptyRecord(item.secondary)) return { reason: 'required', field: 'secondary', message: 'secondary is required' };
    return undefined;
  }
  if (!isNonEmptyRecord(item.identifiers)) {
    return { reason: 'required', field: 'identifiers', message: 'identifiers is required' };
  }
  return undefined;
}

/** /api/v1/metrics needs a delivery_id and a metric. */
function checkMetric(item: unknown): ItemError | undefined {
  if (!isRecord(item)) return { reason: 'invalid', field: '', message: 'the body must be a JSON object' };
  if (!isFilled(item.delivery_id)) return { reason: 'required', field: 'delivery_id', message: 'delivery_id is required' };
  if (!isFilled(item.metric)) return { reason: 'required', field: 'metric', message: 'metric is required' };
  return undefined;
}

function isTrackPost(method: string, path: string): boolean {
  return method === 'POST' && TRACK_PATHS.has(path);
}

function v2Error(status: number, reason: string, field: string, message: string): Answer {
  return { status, body: { errors: [{ reason, field, message }] } };
}

function v1Error(message: string): Answer {
  return { status: 400, body: { meta: { errors: [message] } } };
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonEmptyRecord(v: unknown): boolean {
  return isRecord(v) && Object.keys(v).length > 0;
}

function isFilled(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}
