// Fuzz: the HTTP tracking API of a running `api` process, fed what clients and attackers send by mistake
// or on purpose. Every answer is a 200 `{"success": true}` or a 4xx JSON `{"error": "..."}` that names the
// problem; never a 5xx, never a crash. A request is all or nothing: what is refused queues nothing, what
// is accepted queues one job per event (each event type has exactly one subscription here, and no worker
// runs, so every job stays in Redis to be counted).
//
// The random part is seeded; the seed is printed, and FUZZ_SEED=<seed> replays a run.
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { itemJobs } from '../support/items';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS } from '../../src/config';
import { createLogger } from '../../src/log/logger';
import { createMetrics } from '../../src/counts/metrics';
import { buildApi } from '../../src/http/app';
import { Producer } from '../../src/producer/publish';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { EVENT_TYPES } from '../../src/producer/prepare';
import { MAX_ITEM_BYTES as MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_REQUEST_BYTES } from '../../src/core/limits';
import { openTestQueues, type TestQueues } from '../support/redis';
import type { ActionKey } from '../../src/core/types';
import {
  chaosPrefix,
  inspectQueues,
  ONE_PER_TYPE,
  onePerType,
  request,
  scale,
  seededRandom,
  seedFor,
  SHARED_REDIS_URL,
  writeConfigFile,
  type HttpAnswer,
  type QueueInspector,
} from '../support/chaos';
import { startServiceProcess, stopAllServiceProcesses, type ServiceProcess } from '../support/process';

const WRITE_KEY = 'fuzz-write-key-3b9d';
const BASIC = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const ACTIONS = Object.values(ONE_PER_TYPE) as ActionKey[];

interface Req {
  path?: string;
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** 'header' (default): the write key as Basic user; 'body': none in the header; 'none'; or a header value. */
  auth?: 'header' | 'body' | 'none' | { authorization: string };
}

interface Case extends Req {
  name: string;
  status: number;
  error?: RegExp;
  /** Jobs a 200 adds. */
  jobs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

describe('fuzz: the HTTP tracking API', function () {
  this.timeout(scale(90_000, 900_000));
  let api: ServiceProcess;
  let inspect: QueueInspector;
  let config: ReturnType<typeof writeConfigFile>;
  let id = 0;
  const uid = (tag: string) => `fz-${tag}-${++id}`;

  before(async () => {
    const prefix = chaosPrefix('fuzz');
    config = writeConfigFile(onePerType());
    inspect = await inspectQueues(SHARED_REDIS_URL, prefix);
    api = await startServiceProcess({
      mode: 'api',
      env: { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path, WRITE_KEYS: `other-key,${WRITE_KEY}` },
    });
  });

  after(async () => {
    await stopAllServiceProcesses();
    await inspect?.destroy();
    config?.remove();
  });

  async function jobCount(): Promise<number> {
    const counts = await Promise.all(ACTIONS.map((a) => inspect.counts(a)));
    return counts.reduce((n, c) => n + Object.values(c).reduce((x, y) => x + y, 0), 0);
  }

  function send(r: Req): Promise<HttpAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...r.headers };
    const auth = r.auth ?? 'header';
    if (auth === 'header') headers.authorization = BASIC;
    else if (typeof auth === 'object') headers.authorization = auth.authorization;
    for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
    return request(`${api.url}${r.path ?? '/v1/batch'}`, { method: r.method, body: r.body, headers });
  }

  /** What every answer must be, whatever was sent. */
  function checkShape(label: string, res: HttpAnswer): void {
    expect(res.status, `${label}: ${res.text.slice(0, 300)}`).to.be.oneOf([200, 400, 401, 404]);
    expect(res.headers['content-type'], label).to.match(/^application\/json/);
    if (res.status === 200) {
      expect(res.json, label).to.deep.equal({ success: true });
    } else {
      expect(res.json, `${label}: ${res.text.slice(0, 300)}`).to.be.an('object');
      expect(res.json.error, label).to.be.a('string').and.not.equal('');
      expect(res.json.error.length, `${label}: an error short enough to read`).to.be.lessThan(2000);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Bodies

  const ev = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'track', event: 'Fuzzed', userId: 'u-1', messageId: uid('ev'), ...extra });
  const batchOf = (events: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ batch: events, ...extra });
  const nested = (levels: number, open = '{"a":', close = '}', leaf = '1') => open.repeat(levels) + leaf + close.repeat(levels);

  /** A track event whose JSON is exactly `bytes` bytes long (padded with `unit`, which may be multi-byte). */
  function eventOfBytes(bytes: number, unit = 'x'): Record<string, unknown> {
    const event = ev({ properties: { pad: '' } });
    const base = Buffer.byteLength(JSON.stringify(event));
    const unitBytes = Buffer.byteLength(unit);
    const units = Math.floor((bytes - base) / unitBytes);
    const fill = 'x'.repeat(bytes - base - units * unitBytes);
    (event.properties as { pad: string }).pad = unit.repeat(units) + fill;
    expect(Buffer.byteLength(JSON.stringify(event))).to.equal(bytes);
    return event;
  }

  /** A /v1/batch body of exactly `bytes` bytes: events of ~30 KB, the last one padded to fit. */
  function batchOfBytes(bytes: number): { body: string; events: number } {
    const events: Record<string, unknown>[] = [];
    const frame = (list: unknown[]) => Buffer.byteLength(batchOf(list));
    while (bytes - frame(events) > 2 * 30_000) events.push(eventOfBytes(30_000));
    const rest = bytes - frame([...events, {}]) + 2; // the last event replaces the "{}" placeholder
    events.push(eventOfBytes(rest));
    const body = batchOf(events);
    expect(Buffer.byteLength(body)).to.equal(bytes);
    return { body, events: events.length };
  }

  function fixedCases(): Case[] {
    const ok = (name: string, body: string | Buffer, jobs: number, extra: Partial<Case> = {}): Case => ({ name, body, status: 200, jobs, ...extra });
    const bad = (name: string, body: string | Buffer, error: RegExp, extra: Partial<Case> = {}): Case => ({ name, body, status: 400, error, ...extra });
    const zeros = Buffer.alloc(64 * 1024 * 1024, 0x20); // 64 MB of spaces: a few dozen KB compressed
    const thousands = Array.from({ length: 3000 }, (_, n) => ({ type: 'track', event: 'Bulk', userId: `u-${n}`, messageId: uid('bulk') }));
    const under = batchOfBytes(MAX_REQUEST_BYTES);
    const over = batchOfBytes(MAX_REQUEST_BYTES + 1);
    const depthOk = MAX_JSON_DEPTH - 3; // body {, batch [, event {, then the properties' own levels
    return [
      // Malformed JSON and bodies that are not an object
      bad('truncated JSON', '{"batch": [{"type": "track"', /not valid JSON/),
      bad('trailing garbage', `${batchOf([ev()])} x`, /not valid JSON/),
      bad('single quotes', "{'batch': []}", /not valid JSON/),
      bad('empty body', '', /empty/),
      bad('whitespace body', ' \n\t ', /empty/),
      bad('JSON null', 'null', /empty|object/),
      bad('a JSON array', '[]', /must be a JSON object, got an array/),
      bad('a JSON string', '"batch"', /must be a JSON object, got string/),
      bad('a JSON number', '5', /must be a JSON object, got number/),
      bad('NaN literal', '{"batch": NaN}', /not valid JSON/),
      // Wrong types
      bad('type: 5', batchOf([ev({ type: 5 })]), /event 0 has an unknown type 5/),
      bad('type: "bogus"', batchOf([ev({ type: 'bogus' })]), /unknown type "bogus"/),
      bad('type: {}', batchOf([ev({ type: {} })]), /unknown type/),
      bad('no type in a batch', batchOf([{ event: 'x', userId: 'u' }]), /event 0 is missing "type"/),
      bad('type against the path', JSON.stringify(ev({ type: 'identify' })), /does not match the endpoint \/v1\/track/, { path: '/v1/track' }),
      bad('messageId: {}', batchOf([ev({ messageId: {} })]), /"messageId" must be a string/),
      bad('messageId: []', batchOf([ev({ messageId: [] })]), /"messageId" must be a string/),
      bad('messageId: true', batchOf([ev({ messageId: true })]), /"messageId" must be a string/),
      // The envelope is checked at the door; the fields an action needs are checked per item by the worker.
      ok('event: {}', batchOf([ev({ event: {} })]), 1),
      ok('properties: "x"', batchOf([ev({ properties: 'x' })]), 1),
      ok('userId: 12345', batchOf([ev({ userId: 12345 })]), 1),
      bad('messageId as a number', batchOf([ev({ messageId: 900_000_000 + id })]), /"messageId" that is a number; "messageId" must be a string/),
      bad('messageId with a lone surrogate', '{"batch":[{"type":"track","userId":"u","messageId":"m-\\udfff"}]}', /"messageId" with a lone UTF-16 surrogate/),
      bad('batch: "x"', '{"batch": "x"}', /"batch" must be an array of events, got string/),
      bad('batch: {}', '{"batch": {}}', /"batch" must be an array of events, got object/),
      bad('no batch', '{"events": []}', /no "batch"/),
      ok('empty batch', '{"batch": []}', 0),
      bad('batch of non-objects', '{"batch": [1, "x", null, []]}', /4 of 4 events refused \(first: event 0 must be a JSON object\)/),
      // All or nothing
      bad('five valid events beside a bad one', batchOf([ev(), ev(), ev(), ev(), ev(), ev({ type: 5 })]), /1 of 6 events refused .*nothing was queued/),
      bad('a bad event first, then valid ones', batchOf([{ type: 'track', messageId: {} }, ev(), ev()]), /1 of 3 events refused/),
      bad('150 bad events: the list is cut', batchOf(Array.from({ length: 150 }, () => ({ type: 9 }))), /150 of 150 events refused.*errors lists the first 100/),
      // Deep nesting
      bad('10 000 nested objects', `{"batch":[{"type":"track","properties":${nested(10_000)}}]}`, /nests more than 64 levels/),
      bad('10 000 nested arrays', nested(10_000, '[', ']', ''), /nests more than 64 levels/),
      bad('10 000 unclosed braces', '{'.repeat(10_000), /nests more than 64 levels/),
      ok(`nesting of exactly ${MAX_JSON_DEPTH} levels`, `{"batch":[${JSON.stringify(ev()).slice(0, -1)},"properties":${nested(depthOk)}}]}`, 1),
      bad(`nesting of ${MAX_JSON_DEPTH + 1} levels`, `{"batch":[${JSON.stringify(ev()).slice(0, -1)},"properties":${nested(depthOk + 1)}}]}`, /nests more than 64 levels/),
      ok('brackets inside strings do not count as nesting', batchOf([ev({ properties: { s: '{['.repeat(5000), t: '\\"{{{', u: '\\\\"' } })]), 1),
      // Sizes: an event at the limit and one byte over, in bytes, not characters
      ok('an event of exactly 32768 bytes', JSON.stringify(eventOfBytes(MAX_EVENT_BYTES)), 1, { path: '/v1/track' }),
      bad('an event of 32769 bytes', JSON.stringify(eventOfBytes(MAX_EVENT_BYTES + 1)), /is 32769 bytes; an event may be at most 32768 bytes/, { path: '/v1/track' }),
      bad('an event over the limit in bytes but not in characters', batchOf([ev({ properties: { s: '😀'.repeat(9000) } })]), /event 0 is 36\d\d\d bytes/),
      ok('a request of exactly 512000 bytes', under.body, under.events),
      bad('a request of 512001 bytes', over.body, /request body is 512001 bytes; at most 512000/),
      // Within the 2 MB the API still reads (and throws away) to answer; past that it closes the connection,
      // and a client still writing sees the reset (EPIPE) rather than the 400, depending on timing.
      bad('a request of 1.5 MB', batchOf([ev({ properties: { s: 'x'.repeat(1.5 * 1024 * 1024) } })]), /request body is .*bytes; at most 512000/),
      ok('3000 events in one request', batchOf(thousands), 3000),
      // Unicode
      ok('emoji, RTL and bidi overrides', batchOf([ev({ event: '🎉 שלום مرحبا \u202Eevil\u202C', userId: '👩‍👩‍👧', properties: { '🔑': '🌍', rtl: '\u200F\u061C' } })]), 1),
      ok('lone surrogates, escaped', `{"batch":[{"type":"track","event":"\\ud800","userId":"\\udfffx","messageId":"${uid('sur')}","properties":{"\\udc00":"\\ud83d"}}]}`, 1),
      ok('NUL and control characters, escaped', batchOf([ev({ event: '\u0000\u0001\u001f', properties: { 'k\u0000': 'v\u0007' } })]), 1),
      ok('invalid UTF-8 bytes inside a string', Buffer.concat([Buffer.from(`{"batch":[{"type":"track","userId":"u","messageId":"${uid('utf8')}","event":"`), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}]}')]), 1),
      // Prototype pollution attempts (checked from outside below: a polluted Object.prototype.type would let a typeless event in)
      ok('__proto__ in an event', `{"batch":[{"type":"track","event":"p","userId":"u","messageId":"${uid('proto')}","__proto__":{"polluted":"yes","type":"track","batch":[]}}]}`, 1),
      ok('__proto__ at the top', `{"__proto__":{"polluted":"yes","type":"track"},"batch":[${JSON.stringify(ev())}]}`, 1),
      ok('constructor.prototype in an event', `{"batch":[{"type":"track","event":"p","userId":"u","messageId":"${uid('ctor')}","constructor":{"prototype":{"polluted":"yes","type":"track"}}}]}`, 1),
      ok('__proto__, constructor and prototype inside properties', `{"batch":[{"type":"track","event":"p","userId":"u","messageId":"${uid('props')}","properties":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}},"context":{"__proto__":{"polluted":1}}}]}`, 1),
      ok('__proto__ on /v1/track', `{"__proto__":{"type":"identify","polluted":"yes"},"event":"p","userId":"u","messageId":"${uid('t')}"}`, 1, { path: '/v1/track' }),
      bad('after the pollution attempts, an event without type is still refused', '{"batch":[{"event":"no type","userId":"u"}]}', /event 0 is missing "type"/),
      bad('after the pollution attempts, a body without batch is still refused', '{}', /no "batch"/),
      // Content types: every one is read as JSON
      ok('text/plain (sendBeacon)', batchOf([ev()]), 1, { headers: { 'content-type': 'text/plain;charset=UTF-8' } }),
      ok('application/x-www-form-urlencoded holding JSON', batchOf([ev()]), 1, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      ok('application/octet-stream', batchOf([ev()]), 1, { headers: { 'content-type': 'application/octet-stream' } }),
      ok('no content type', batchOf([ev()]), 1, { headers: { 'content-type': '' } }),
      bad('a form body', 'batch=1&type=track', /not valid JSON/, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      bad('multipart garbage', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', /not valid JSON/, { headers: { 'content-type': 'multipart/form-data; boundary=x' } }),
      bad('a malformed content type', batchOf([ev()]), /Content-Type|media type/, { headers: { 'content-type': ';;;' } }),
      // Compression
      ok('gzip', gzipSync(batchOf([ev(), ev()])), 2, { headers: { 'content-encoding': 'gzip' } }),
      ok('deflate (zlib)', deflateSync(batchOf([ev()])), 1, { headers: { 'content-encoding': 'deflate' } }),
      ok('deflate (raw)', deflateRawSync(batchOf([ev()])), 1, { headers: { 'content-encoding': 'deflate' } }),
      bad('a gzip bomb (64 MB of spaces)', gzipSync(zeros), /once decompressed; at most 512000/, { headers: { 'content-encoding': 'gzip' } }),
      bad('a deflate bomb', deflateSync(zeros), /once decompressed; at most 512000/, { headers: { 'content-encoding': 'deflate' } }),
      bad('a gzip bomb inside gzip', gzipSync(gzipSync(zeros)), /not valid JSON/, { headers: { 'content-encoding': 'gzip' } }),
      bad('"gzip" that is not gzip', batchOf([ev()]), /not valid gzip data/, { headers: { 'content-encoding': 'gzip' } }),
      bad('truncated gzip', gzipSync(batchOf([ev()])).subarray(0, 20), /not valid gzip data/, { headers: { 'content-encoding': 'gzip' } }),
      bad('an unsupported encoding', batchOf([ev()]), /Content-Encoding "br" is not supported/, { headers: { 'content-encoding': 'br' } }),
      // Write keys
      { name: 'no write key', body: batchOf([ev()]), auth: 'none', status: 401, error: /missing write key/ },
      { name: 'a wrong write key', body: batchOf([ev()]), auth: { authorization: `Basic ${Buffer.from('nope:').toString('base64')}` }, status: 401, error: /unknown write key/ },
      { name: 'Basic with garbage', body: batchOf([ev()]), auth: { authorization: 'Basic %%%!!!' }, status: 401, error: /write key/ },
      { name: 'a Bearer token', body: batchOf([ev()]), auth: { authorization: 'Bearer abc' }, status: 401, error: /missing write key/ },
      { name: 'the write key in the body', body: batchOf([ev()], { writeKey: WRITE_KEY }), auth: 'body', status: 200, jobs: 1 },
      { name: 'a wrong write key in the body', body: batchOf([ev()], { writeKey: 'nope' }), auth: 'body', status: 401, error: /unknown write key/ },
      { name: 'a write key of the wrong type in the body', body: batchOf([ev()], { writeKey: 5 }), auth: 'body', status: 401, error: /missing write key/ },
      // Routes and methods
      { name: 'GET on an event route', method: 'GET', status: 404, error: /no route GET \/v1\/batch/ },
      { name: 'an unknown /v1 route', path: '/v1/trak', body: batchOf([ev()]), status: 404, error: /events go to POST/ },
      { name: 'a path with a query', path: '/v1/batch?x=%00%ff', body: batchOf([ev()]), status: 200, jobs: 1 },
    ];
  }

  it('answers every malformed, oversized, hostile or odd request with a 4xx naming the problem, or a 200; what is refused queues nothing', async () => {
    const failures: string[] = [];
    for (const c of fixedCases()) {
      const before = await jobCount();
      const res = await send(c);
      const after = await jobCount();
      try {
        checkShape(c.name, res);
        expect(res.status, `${c.name}: ${res.text.slice(0, 300)}`).to.equal(c.status);
        if (c.error) expect(res.json.error, c.name).to.match(c.error);
        expect(after - before, `${c.name}: jobs queued`).to.equal(res.status === 200 ? (c.jobs ?? 0) : 0);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    await expectServerPrototypeClean(); // first: a polluted server fails many cases above for that one reason
    expect(failures).to.deep.equal([]);
    expect((await request(`${api.url}/health`)).status).to.equal(200);
  });

  /**
   * Issue 18 point 11: the API runs in another process, so its Object.prototype can only be probed from
   * outside, by requests whose answer would change if it were polluted. The bodies above try to set `type`,
   * `batch` and `writeKey` on it: then an event without type would be taken as a track, a body without
   * batch as an empty batch, and a Basic-auth-less request as keyed.
   */
  async function expectServerPrototypeClean(): Promise<void> {
    const typeless = await send({ body: '{"batch":[{"event":"no type","userId":"u"}]}' });
    expect(typeless.status, `an event without type: ${typeless.text}`).to.equal(400);
    expect(typeless.json.error).to.match(/event 0 is missing "type"/);
    const batchless = await send({ body: '{}' });
    expect(batchless.status, `a body without batch: ${batchless.text}`).to.equal(400);
    expect(batchless.json.error).to.match(/no "batch"/);
    const keyless = await send({ body: '{"batch":[]}', auth: 'none' });
    expect(keyless.status, `a body without write key: ${keyless.text}`).to.equal(401);
    expect(keyless.json.error).to.match(/missing write key/);
  }

  it('answers a clock-skew correction that lands outside the Date range with a 200 or a 400, not a 500', async () => {
    // timestamp = receivedAt - (sentAt - originalTimestamp) (prepare.ts, correctedTimestamp): with sentAt and
    // originalTimestamp at the two ends of the Date range the result is not a date at all.
    const failures: string[] = [];
    for (const [sentAt, originalTimestamp] of [
      ['+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z'],
      ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z'],
    ]) {
      const before = await jobCount();
      const res = await send({ body: batchOf([ev({ sentAt, originalTimestamp })]) });
      const queued = (await jobCount()) - before;
      try {
        checkShape(`sentAt ${sentAt}, originalTimestamp ${originalTimestamp}`, res);
        expect(queued).to.equal(res.status === 200 ? 1 : 0);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    expect(failures).to.deep.equal([]);
    expect((await request(`${api.url}/health`)).status).to.equal(200);
  });

  // ------------------------------------------------------------------------------------------------
  // Random requests

  function randomGenerators(rng: () => number) {
    const int = (n: number) => Math.floor(rng() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const chance = (p: number) => rng() < p;
    const CHAR_CLASSES: Array<() => string> = [
      () => String.fromCharCode(0x20 + int(95)), // ASCII
      () => pick(['😀', '🎉', '👩‍👩‍👧', '🏳️‍🌈', '🇯🇵']), // emoji, ZWJ sequences, flags
      () => String.fromCharCode(0x05d0 + int(27)), // Hebrew
      () => String.fromCharCode(0x0627 + int(20)), // Arabic
      () => pick(['\u202E', '\u202D', '\u200F', '\u2066', '\u061C', '\uFEFF', '\u200B']), // bidi and invisible
      () => String.fromCharCode(0xd800 + int(0x800)), // a lone surrogate
      () => String.fromCharCode(int(0x20)), // control characters, NUL
      () => pick(['"', '\\', '/', '{', '}', '[', ']', ':', ',']), // JSON syntax inside strings
      () => String.fromCharCode(0x0300 + int(0x70)), // combining marks
    ];
    const str = (max: number) => {
      let s = '';
      const n = int(max + 1);
      for (let i = 0; i < n; i++) s += pick(CHAR_CLASSES)();
      return s;
    };
    /** An own property, even for "__proto__" (a plain assignment would set the prototype instead). */
    const put = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'type', 'messageId', 'a.b', '$.x', '@path'];
    const value = (depth: number): unknown => {
      switch (int(depth >= 4 ? 6 : 8)) {
        case 0: return null;
        case 1: return chance(0.5);
        case 2: return pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1, int(1e9)]);
        case 3: case 4: case 5: return str(20);
        case 6: return Array.from({ length: int(4) }, () => value(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = int(5); i > 0; i--) put(o, chance(0.3) ? pick(KEYS) : str(8), value(depth + 1));
          return o;
        }
      }
    };
    /** An event and whether the envelope check (type, messageId, object) should let it through. */
    const event = (pathType?: string): { event: unknown; valid: boolean } => {
      if (chance(0.005)) return { event: pick([null, 5, 'x', [], [{ type: 'track' }], true]), valid: false }; // not an object
      const e: Record<string, unknown> = {};
      let valid = true;
      const typeRoll = rng();
      if (typeRoll < 0.97) e.type = pathType ?? pick(EVENT_TYPES);
      else if (typeRoll < 0.99) {
        e.type = pick([5, 'Track', 'bogus', {}, [], true, ' track']);
        valid = false;
      } else if (!pathType) valid = false; // no type in a batch
      const idRoll = rng();
      if (idRoll < 0.8) e.messageId = uid('r');
      else if (idRoll < 0.85) {
        e.messageId = pick([1_000_000_000 + ++id, `r-\ud800-${++id}`]); // a number, or a lone surrogate: refused (issue 18 point 1)
        valid = false;
      }
      else if (idRoll < 0.9) e.messageId = pick([null, '']); // the API fills one in
      else if (idRoll < 0.99) { /* none: the API fills one in */ } else {
        e.messageId = pick([{}, [], true, false, { id: 1 }]);
        valid = false;
      }
      for (const field of ['userId', 'anonymousId', 'event', 'name', 'groupId', 'previousId', 'timestamp', 'properties', 'traits', 'context']) {
        if (chance(0.4)) e[field] = value(0);
      }
      if (chance(0.1)) put(e, pick(['__proto__', 'constructor', 'prototype']), value(1));
      // The API derives a missing messageId from the content, so equal events without one are queued once
      // (README); a serial keeps these random ones apart, as the count of expected jobs assumes.
      if (idRoll >= 0.85 && idRoll < 0.99) e.fuzzSerial = ++id;
      return { event: chance(0.05) ? Object.assign(Object.create(null), e) : e, valid };
    };
    return { int, pick, chance, str, value, event, put };
  }

  it('stays up, keeps its memory and its all-or-nothing promise under thousands of random requests', async () => {
    const seed = seedFor('HTTP API fuzz', 'FUZZ_SEED');
    const rng = seededRandom(seed);
    const g = randomGenerators(rng);
    const total = scale(9000, 30_000);
    // The memory check starts after a warm-up: V8 grows its heap to its working size over the first few
    // thousand requests, and that growth is not a leak. How long it takes depends on the machine: sampled
    // every 250 requests on a 2-vCPU Intel Xeon VM (2026-12-05), RSS climbed from about 185 MB to 330 MB
    // over the first 6,000 requests (85–104 MB between requests 1,000 and 3,000, over six seeds, which is
    // why a run of 3,000 with its check from request 1,000 failed there), then only 38 MB more over the
    // next 24,000; an AMD EPYC VM grew about 90 MB over the first 3,000. A leak keeps growing after it.
    const warmup = scale(6000, 10_000);

    // The jobs the API should have queued: one per accepted event, keyed as the job id is (type, messageId).
    const expectedJobs = new Set<string>();
    const keyOf = (event: Record<string, unknown>, pathType?: string) => {
      const type = String(pathType && (event.type === undefined || event.type === null || event.type === '') ? pathType : event.type);
      const mid = event.messageId;
      return mid === undefined || mid === null || mid === '' ? `${type}|generated-${++id}` : `${type}|${String(mid)}`;
    };
    const startJobs = await jobCount();
    const logsBefore = api.logs().length;

    /** One random request, and what it should get: a status (or several, for mangled text) and the events it carries. */
    const makeRequest = (): { req: Req; label: string; expect: number[]; accepted?: () => string[] } => {
      const kind = g.int(10);
      if (kind < 5) {
        const events = Array.from({ length: 1 + g.int(20) }, () => g.event());
        const valid = events.every((e) => e.valid && isObject(e.event));
        const body: Record<string, unknown> = { batch: events.map((e) => e.event) };
        if (g.chance(0.2)) body.context = g.value(1);
        if (g.chance(0.1)) body.sentAt = g.value(3);
        const path = g.chance(0.1) ? '/v1/import' : '/v1/batch';
        return {
          req: { path, body: JSON.stringify(body) },
          label: `batch of ${events.length}`,
          expect: [valid ? 200 : 400],
          accepted: () => events.map((e) => keyOf(e.event as Record<string, unknown>)),
        };
      }
      if (kind < 7) {
        const type = g.pick(EVENT_TYPES);
        const e = g.event(type);
        const valid = e.valid && isObject(e.event);
        return {
          req: { path: `/v1/${type}`, body: JSON.stringify(e.event) },
          label: `/v1/${type}`,
          expect: [valid ? 200 : 400],
          accepted: () => [keyOf(e.event as Record<string, unknown>, type)],
        };
      }
      if (kind < 9) {
        // A valid body, mangled: cut, a byte flipped, a character inserted or removed.
        const events = Array.from({ length: 1 + g.int(5) }, () => ({ type: 'track', event: g.str(10), userId: g.str(6), messageId: uid('m') }));
        const text = JSON.stringify({ batch: events });
        const at = g.int(text.length);
        const mangled = [
          () => text.slice(0, at),
          () => text.slice(0, at) + g.pick(['{', '}', '"', ',', '\\', '\u0000', ']', 'x']) + text.slice(at),
          () => text.slice(0, at) + text.slice(at + 1),
          () => text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << g.int(7))) + text.slice(at + 1),
        ][g.int(4)]();
        let parsed: unknown;
        try {
          parsed = JSON.parse(mangled);
        } catch {
          parsed = undefined;
        }
        // Still JSON by luck: then it must be judged like any other body.
        const stillValid =
          isObject(parsed) &&
          Array.isArray(parsed.batch) &&
          parsed.batch.every((e) => isObject(e) && (EVENT_TYPES as readonly unknown[]).includes(e.type) && (e.messageId === undefined || e.messageId === null || (typeof e.messageId === 'string' && e.messageId.isWellFormed())));
        return {
          req: { body: mangled },
          label: 'mangled JSON',
          expect: stillValid ? [200] : [400],
          accepted: () => (parsed as { batch: Record<string, unknown>[] }).batch.map((e) => keyOf(e)),
        };
      }
      // Random bytes, with a random content type and encoding.
      const bytes = Buffer.alloc(g.int(2000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = g.int(256);
      const headers: Record<string, string> = { 'content-type': g.pick(['application/json', 'text/plain', 'application/octet-stream', 'image/png', '']) };
      if (g.chance(0.3)) headers['content-encoding'] = g.pick(['gzip', 'deflate', 'identity']);
      return { req: { body: bytes, headers }, label: 'random bytes', expect: [400] };
    };

    const failures: string[] = [];
    let done = 0;
    let baselineRss = 0;
    let bytesAfterWarmup = 0;
    const counts: Record<number, number> = {};
    const lane = async () => {
      while (done < total) {
        const n = done++;
        if (n === warmup) baselineRss = api.rssBytes();
        const { req, label, expect: statuses, accepted } = makeRequest();
        if (n >= warmup) bytesAfterWarmup += req.body === undefined ? 0 : Buffer.byteLength(req.body);
        let res: HttpAnswer;
        try {
          res = await send(req);
        } catch (err) {
          failures.push(`#${n} ${label}: no answer (${(err as Error).message})`);
          continue;
        }
        counts[res.status] = (counts[res.status] ?? 0) + 1;
        try {
          checkShape(`#${n} ${label}`, res);
          expect(statuses, `#${n} ${label}: got ${res.status} ${res.text.slice(0, 200)} for ${String(req.body).slice(0, 200)}`).to.include(res.status);
        } catch (err) {
          failures.push((err as Error).message);
        }
        if (res.status === 200 && accepted) for (const k of accepted()) expectedJobs.add(k);
      }
    };
    await Promise.all(Array.from({ length: 6 }, lane));
    const rssAfter = api.rssBytes();

    expect(failures.slice(0, 20), `${failures.length} bad answers (seed ${seed})`).to.deep.equal([]);
    // Nothing refused was queued and nothing accepted was lost.
    expect((await jobCount()) - startJobs, `jobs queued (seed ${seed})`).to.equal(expectedJobs.size);
    // The process is alive and well, logged no error, and its memory did not run away.
    expect(api.isRunning()).to.equal(true);
    expect((await request(`${api.url}/health`)).status).to.equal(200);
    const errors = api.logs().slice(logsBefore).filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors.map((l) => l.msg)).to.deep.equal([]);
    const growthMb = (rssAfter - baselineRss) / 1024 / 1024;
    // eslint-disable-next-line no-console
    console.log(`      ${total} requests: ${JSON.stringify(counts)}; ${expectedJobs.size} jobs; RSS ${(baselineRss / 1048576).toFixed(0)} → ${(rssAfter / 1048576).toFixed(0)} MB; ${(bytesAfterWarmup / 1048576).toFixed(0)} MB of bodies sent after the warm-up`);
    expect(growthMb, 'RSS growth over the run, in MB').to.be.lessThan(scale(100, 150));
  });
});

// The same hostile keys against the API built in this process, so that a polluted Object.prototype would
// be visible here (the process above can only be probed from outside).
describe('fuzz: the HTTP tracking API does not let a body pollute Object.prototype', function () {
  this.timeout(30_000);
  let redis: TestQueues | undefined;
  let app: FastifyInstance | undefined;
  after(async () => {
    await app?.close();
    await redis?.close();
  });

  it('after __proto__, constructor.prototype and prototype keys at every level, plain objects are untouched', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    redis = await openTestQueues();
    const subscriptions = compileSubscriptions(onePerType());
    const metrics = createMetrics();
    const producer = new Producer({ queues: redis.queues, redis: redis.redis, queuePrefix: redis.prefix, subscriptions, policy: DEFAULTS.jobs, metrics });
    app = await buildApi({
      config: { writeKeys: [], dashboard: { readOnly: false } },
      producer,
      subscriptions,
      metrics,
      logger: createLogger({ level: 'silent' }),
      queues: redis.queues,
      redis: redis.redis,
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const payload = (where: string) => `{"polluted":"via ${where}","type":"track","batch":[],"writeKey":"x"}`;
    const bodies = [
      `{"__proto__":${payload('top')},"batch":[{"type":"track","event":"e","userId":"u"}]}`,
      `{"constructor":{"prototype":${payload('top ctor')}},"batch":[{"type":"track","event":"e","userId":"u"}]}`,
      `{"batch":[{"type":"track","event":"e","userId":"u","__proto__":${payload('event')},"constructor":{"prototype":${payload('event ctor')}}}]}`,
      `{"batch":[{"type":"track","event":"e","userId":"u","properties":{"__proto__":${payload('properties')},"a":{"__proto__":${payload('deep')}}},"context":{"constructor":{"prototype":${payload('context')}}}}]}`,
      `{"batch":[{"type":"identify","userId":"u","traits":{"prototype":${payload('traits')},"__proto__":{"__proto__":${payload('proto of proto')}}}}]}`,
      `{"__proto__":{"type":"track"},"event":"e","userId":"u"}`,
      `{"batch":[{"type":"track","event":"e","userId":"u"}],"context":{"__proto__":${payload('batch context')}},"integrations":{"__proto__":{"All":false}}}`,
    ];
    for (const body of bodies) {
      const path = body.startsWith('{"__proto__":{"type"') ? '/v1/track' : '/v1/batch';
      const res = await request(`${url}${path}`, { body, headers: { 'content-type': 'application/json' } });
      expect(res.status, `${body}: ${res.text}`).to.be.oneOf([200, 400]);
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(({} as Record<string, unknown>).type).to.equal(undefined);
    expect(({} as Record<string, unknown>).All).to.equal(undefined);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(before);
    // And nothing that reached Redis carries the keys as a prototype: the jobs read back as plain data.
    for (const job of await itemJobs(redis.queues.trackEvent, ['waiting'])) {
      expect(Object.getPrototypeOf(job.data.event)).to.equal(Object.prototype);
      expect((job.data.event as Record<string, unknown>).polluted).to.equal(undefined);
    }
  });
});
