import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { deflateSync, gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS, type ServiceConfig } from '../../src/config';
import { createLogger } from '../../src/log/logger';
import { createMetrics, type Metrics } from '../../src/counts/metrics';
import { buildApi } from '../../src/http/app';
import { MAX_REQUEST_BYTES } from '../../src/core/limits';
import { Producer } from '../../src/producer/publish';
import { queuePrefix } from '../../src/redis/keys';
import { type Queues } from '../../src/jobs/queues';
import { type RedisConnection } from '../../src/redis/connection';
import { indexField, MessageIndex } from '../../src/redis/message-index';
import { itemJobs } from '../support/items';
import type { Subscription } from '../../src/core/subscriptions';
import type { ActionKey } from '../../src/core/types';
import { openTestQueues, unreachableQueues, type TestQueues } from '../support/redis';

const WRITE_KEY = 'wk-live-4f1e9c';
const DASH_USER = 'ops';
const DASH_PASSWORD = 'dash-secret-77';

function subscription(name: string, action: ActionKey, type: string): Subscription {
  return {
    name,
    action,
    trigger: (e) => (e as { type?: unknown }).type === type,
    mapping: () => ({}),
    batchSize: 50,
    enableBatching: true,
    spec: { name, action, trigger: `type = "${type}"`, mapping: {}, enabled: true },
  };
}

const SUBSCRIPTIONS = [subscription('Track Event', 'trackEvent', 'track'), subscription('Identify', 'createUpdatePerson', 'identify')];

interface Api {
  url: string;
  app: FastifyInstance;
  metrics: Metrics;
}

describe('HTTP tracking API', function () {
  this.timeout(10_000);

  let redis: TestQueues;
  const logLines: string[] = [];
  const logSink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const started: Api[] = [];

  async function startApi(
    opts: { writeKeys?: string[]; corsOrigins?: string[]; dashboard?: ServiceConfig['http']['dashboard']; queues?: Queues; connection?: RedisConnection } = {},
  ): Promise<Api> {
    const queues = opts.queues ?? redis.queues;
    const metrics = createMetrics();
    const producer = new Producer({ queues, redis: opts.connection ?? redis.redis, queuePrefix: redis.prefix, subscriptions: SUBSCRIPTIONS, policy: DEFAULTS.jobs, metrics });
    const app = await buildApi({
      config: { writeKeys: opts.writeKeys ?? [], corsOrigins: opts.corsOrigins, dashboard: opts.dashboard ?? { readOnly: false }, queuePrefix: redis.prefix },
      producer,
      subscriptions: SUBSCRIPTIONS,
      metrics,
      logger: createLogger({ level: 'debug', destination: logSink }),
      queues,
      redis: opts.connection ?? redis.redis,
      clock: () => Date.parse('2024-05-01T10:00:00.000Z'),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const api = { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, app, metrics };
    started.push(api);
    return api;
  }

  let open: Api;

  before(async () => {
    redis = await openTestQueues();
    open = await startApi();
  });
  beforeEach(() => redis.empty());
  after(async () => {
    await Promise.all(started.map((a) => a.app.close()));
    await redis?.close();
  });

  async function post(api: Api, path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  // One record per queued item (jobs carry groups of events; support/items.ts).
  async function waiting(action: ActionKey) {
    return itemJobs(redis.queues[action], ['waiting']);
  }

  async function jobCount(): Promise<number> {
    const items = await Promise.all(Object.values(redis.queues).map((q) => itemJobs(q, ['waiting', 'delayed', 'prioritized'])));
    return items.reduce((n, list) => n + list.length, 0);
  }

  function basic(user: string, password = ''): string {
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  const track = (n: number, extra: Record<string, unknown> = {}) => ({
    type: 'track',
    event: 'Order Completed',
    userId: `user-${n}`,
    messageId: `msg-${n}`,
    properties: { n },
    ...extra,
  });

  describe('accepting events', () => {
    it('answers 200 on /v1/track only once the job is in Redis, carrying the event and the type taken from the path', async () => {
      const { type: _omitted, ...event } = track(1);
      const res = await post(open, '/v1/track', event);
      expect(res.status).to.equal(200);
      expect(res.json).to.deep.equal({ success: true });

      const jobs = await waiting('trackEvent');
      expect(jobs).to.have.length(1);
      // the message index (dedupe, trace) names the job that holds it
      const index = new MessageIndex(redis.redis, DEFAULTS.jobs.completedRetentionSeconds);
      expect(await index.lookup(queuePrefix(redis.prefix, 'trackEvent'), indexField('Track Event', 'msg-1'))).to.equal(jobs[0].id);
      expect(jobs[0].data.subscription).to.equal('Track Event');
      expect(jobs[0].data.event).to.include({ type: 'track', event: 'Order Completed', userId: 'user-1', messageId: 'msg-1' });
      expect(jobs[0].data.event.receivedAt).to.equal('2024-05-01T10:00:00.000Z');
      expect(await jobCount()).to.equal(1);
    });

    it('queues an event sent twice with the same messageId only once', async () => {
      expect((await post(open, '/v1/track', track(2))).status).to.equal(200);
      expect((await post(open, '/v1/track', track(2, { event: 'Sent Again' }))).status).to.equal(200);
      const jobs = await waiting('trackEvent');
      expect(jobs).to.have.length(1);
      expect(jobs[0].data.event.event).to.equal('Order Completed');
    });

    it('routes /v1/identify to the identify subscription', async () => {
      const res = await post(open, '/v1/identify', { userId: 'u9', traits: { email: 'a@example.com' }, messageId: 'id-9' });
      expect(res.status).to.equal(200);
      const jobs = await waiting('createUpdatePerson');
      expect(jobs.map((j) => j.data.event.type)).to.deep.equal(['identify']);
    });

    it('answers 200 for an event no subscription wants, and queues nothing', async () => {
      const res = await post(open, '/v1/alias', { userId: 'new', previousId: 'old' });
      expect(res.status).to.equal(200);
      expect(await jobCount()).to.equal(0);
    });

    it('queues every event of /v1/batch, each with the batch context and integrations under its own', async () => {
      const res = await post(open, '/v1/batch', {
        batch: [
          track(10),
          track(11, { context: { ip: '10.0.0.2', locale: 'fr-FR' }, integrations: { Mixpanel: false } }),
          { type: 'identify', userId: 'user-12', messageId: 'msg-12', traits: {} },
        ],
        context: { ip: '10.0.0.1', library: { name: 'analytics-node', version: '6.0.0' } },
        integrations: { All: true },
      });
      expect(res.status, res.text).to.equal(200);
      const byId = new Map((await waiting('trackEvent')).map((j) => [j.data.event.messageId, j.data.event]));
      expect(byId.get('msg-10')!.context).to.deep.equal({ ip: '10.0.0.1', library: { name: 'analytics-node', version: '6.0.0' } });
      expect(byId.get('msg-11')!.context).to.deep.equal({
        ip: '10.0.0.2',
        locale: 'fr-FR',
        library: { name: 'analytics-node', version: '6.0.0' },
      });
      expect(byId.get('msg-11')!.integrations).to.deep.equal({ All: true, Mixpanel: false });
      expect(byId.get('msg-10')!.integrations).to.deep.equal({ All: true });
      const identify = await waiting('createUpdatePerson');
      expect(identify.map((j) => j.data.event.context)).to.deep.equal([{ ip: '10.0.0.1', library: { name: 'analytics-node', version: '6.0.0' } }]);
    });

    it('accepts /v1/import as the same endpoint as /v1/batch', async () => {
      const res = await post(open, '/v1/import', { batch: [track(20), track(21)] });
      expect(res.status).to.equal(200);
      expect(await waiting('trackEvent')).to.have.length(2);
    });

    it('queues a batch of 4000 events sent in one request', async () => {
      const batch = Array.from({ length: 4000 }, (_, i) => ({ type: 'track', event: 'E', userId: `u${i}`, messageId: `bulk-${i}` }));
      const body = JSON.stringify({ batch });
      expect(Buffer.byteLength(body)).to.be.below(MAX_REQUEST_BYTES);
      const res = await post(open, '/v1/batch', body);
      expect(res.status, res.text).to.equal(200);
      expect(await waiting('trackEvent')).to.have.length(4000);
    });

    it('reads a gzip-compressed body', async () => {
      const res = await post(open, '/v1/track', gzipSync(JSON.stringify(track(30))), { 'content-encoding': 'gzip' });
      expect(res.status, res.text).to.equal(200);
      expect((await waiting('trackEvent')).map((j) => j.data.event.messageId)).to.deep.equal(['msg-30']);
    });

    it('reads a deflate-compressed body', async () => {
      const res = await post(open, '/v1/track', deflateSync(JSON.stringify(track(31))), { 'content-encoding': 'deflate' });
      expect(res.status, res.text).to.equal(200);
      expect(await waiting('trackEvent')).to.have.length(1);
    });

    it('reads a text/plain body as JSON, as sendBeacon sends it', async () => {
      const res = await post(open, '/v1/track', JSON.stringify(track(32)), { 'content-type': 'text/plain;charset=UTF-8' });
      expect(res.status, res.text).to.equal(200);
      expect(await waiting('trackEvent')).to.have.length(1);
    });

    it('drops __proto__ keys instead of letting them reach an object prototype', async () => {
      const res = await post(open, '/v1/track', '{"type":"track","event":"E","userId":"u","messageId":"proto-1","properties":{"__proto__":{"polluted":true},"ok":1}}');
      expect(res.status, res.text).to.equal(200);
      const [job] = await waiting('trackEvent');
      expect(job.data.event.properties).to.deep.equal({ ok: 1 });
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });

  describe('refusing requests with 400 and a message that names the problem', () => {
    it('refuses malformed JSON', async () => {
      const res = await post(open, '/v1/track', '{"type": "track", "event": ');
      expect(res.status).to.equal(400);
      expect(res.json.error).to.match(/not valid JSON/);
    });

    it('refuses an empty body', async () => {
      const res = await post(open, '/v1/track', '');
      expect(res.status).to.equal(400);
      expect(res.json.error).to.match(/empty/);
    });

    it('refuses an event without a type in a batch', async () => {
      const res = await post(open, '/v1/batch', { batch: [{ event: 'E', userId: 'u' }] });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.include('missing "type"');
    });

    it('refuses an event of an unknown type', async () => {
      const res = await post(open, '/v1/batch', { batch: [{ type: 'bogus', userId: 'u' }] });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.include('unknown type "bogus"');
    });

    it('refuses a body whose type differs from the path, naming both', async () => {
      const res = await post(open, '/v1/track', { type: 'identify', userId: 'u' });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.include('"identify"').and.to.include('/v1/track');
    });

    it('refuses a /v1/batch body without a batch array', async () => {
      const res = await post(open, '/v1/batch', { batch: 'nope' });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.include('"batch" must be an array');
    });

    it('refuses a body over 500 KB with 400 (not 413), giving its size', async () => {
      const body = JSON.stringify({ batch: [track(40, { properties: { pad: 'x'.repeat(MAX_REQUEST_BYTES) } })] });
      const res = await post(open, '/v1/batch', body);
      expect(res.status).to.equal(400);
      expect(res.json.error).to.equal(`request body is ${Buffer.byteLength(body)} bytes; at most ${MAX_REQUEST_BYTES}`);
      expect(await jobCount()).to.equal(0);
    });

    it('refuses a gzip body that decompresses to over 500 KB', async () => {
      const body = gzipSync(JSON.stringify(track(41, { properties: { pad: 'x'.repeat(3 * MAX_REQUEST_BYTES) } })));
      const res = await post(open, '/v1/track', body, { 'content-encoding': 'gzip' });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.match(/^request body is .* bytes once decompressed; at most 512000$/);
    });

    it('refuses an event over 32 KB', async () => {
      const res = await post(open, '/v1/track', track(42, { properties: { pad: 'x'.repeat(33 * 1024) } }));
      expect(res.status).to.equal(400);
      expect(res.json.error).to.match(/event 0 is \d+ bytes; an event may be at most 32768 bytes/);
      expect(await jobCount()).to.equal(0);
    });

    it('refuses the whole batch when one event is bad, and queues none of the good ones', async () => {
      const res = await post(open, '/v1/batch', { batch: [track(50), { type: 'nonsense' }, track(52), 'not an event'] });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.match(/^2 of 4 events refused .*nothing was queued/);
      expect(res.json.errors.map((e: { index: number }) => e.index)).to.deep.equal([1, 3]);
      expect(res.json.errors[1].error).to.include('must be a JSON object');
      expect(await jobCount()).to.equal(0);
    });

    it('gives every 400 the same shape, {"error", "code", "errors": [{"index", "error"}]}, index null when the whole request is at fault', async () => {
      const big = JSON.stringify({ batch: [track(60, { properties: { pad: 'x'.repeat(MAX_REQUEST_BYTES) } })] });
      // The stable code of each refusal (README's answers table): clients match it, not the wording.
      const codes: Record<string, string> = {
        'malformed JSON': 'CIO_ERR_BODY_INVALID_JSON',
        'empty body': 'CIO_ERR_BODY_EMPTY',
        'an array for a body': 'CIO_ERR_BODY_NOT_OBJECT',
        'an invalid content type': 'CIO_ERR_CONTENT_TYPE',
        'an unsupported content encoding': 'CIO_ERR_CONTENT_ENCODING',
        'gzip that is not gzip': 'CIO_ERR_BODY_UNREADABLE',
        'a body over 500 KB': 'CIO_ERR_BODY_TOO_LARGE',
        'gzip over 500 KB once decompressed': 'CIO_ERR_BODY_TOO_LARGE',
        'nesting too deep': 'CIO_ERR_BODY_TOO_DEEP',
        'a type that differs from the path': 'CIO_ERR_TYPE_MISMATCH',
        'a batch without "batch"': 'CIO_ERR_BATCH_INVALID',
        'a batch that is not an array': 'CIO_ERR_BATCH_INVALID',
        'an unknown type': 'CIO_ERR_EVENTS_REFUSED',
        'an event over 32 KB': 'CIO_ERR_EVENTS_REFUSED',
      };
      const cases: Array<[string, string, string | Buffer | object, Record<string, string>?]> = [
        ['malformed JSON', '/v1/track', '{"type": "track", "event": '],
        ['empty body', '/v1/track', ''],
        ['an array for a body', '/v1/track', [track(61)]],
        ['an invalid content type', '/v1/track', track(62), { 'content-type': 'bogus' }],
        ['an unsupported content encoding', '/v1/track', track(63), { 'content-encoding': 'br' }],
        ['gzip that is not gzip', '/v1/track', 'not gzip at all', { 'content-encoding': 'gzip' }],
        ['a body over 500 KB', '/v1/batch', big],
        ['gzip over 500 KB once decompressed', '/v1/track', gzipSync(JSON.stringify(track(64, { properties: { pad: 'x'.repeat(3 * MAX_REQUEST_BYTES) } }))), { 'content-encoding': 'gzip' }],
        ['nesting too deep', '/v1/track', `{"type":"track","properties":${'['.repeat(100)}${']'.repeat(100)}}`],
        ['a type that differs from the path', '/v1/track', { type: 'identify', userId: 'u' }],
        ['a batch without "batch"', '/v1/batch', { events: [] }],
        ['a batch that is not an array', '/v1/batch', { batch: 'nope' }],
        ['an unknown type', '/v1/batch', { batch: [{ type: 'bogus', userId: 'u' }] }],
        ['an event over 32 KB', '/v1/track', track(65, { properties: { pad: 'x'.repeat(33 * 1024) } })],
      ];
      for (const [what, path, body, headers] of cases) {
        const res = await post(open, path, body, headers);
        expect(res.status, what).to.equal(400);
        expect(Object.keys(res.json ?? {}), `${what}: ${res.text}`).to.deep.equal(['error', 'code', 'errors']);
        expect(res.json.code, what).to.equal(codes[what]);
        expect(res.json.error, what).to.be.a('string').and.not.equal('');
        expect(res.json.errors, what).to.be.an('array').that.is.not.empty;
        for (const entry of res.json.errors) {
          expect(Object.keys(entry), `${what}: ${res.text}`).to.deep.equal(['index', 'error']);
          expect(entry.index === null || Number.isInteger(entry.index), `${what}: index ${entry.index}`).to.equal(true);
          expect(entry.error, what).to.be.a('string').and.not.equal('');
        }
      }
      expect(await jobCount()).to.equal(0);
    });

    it('refuses a deeply nested body and keeps serving', async () => {
      const res = await post(open, '/v1/track', `{"type":"track","properties":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      expect(res.status).to.equal(400);
      expect(res.json.error).to.include('nests more than');
      expect((await post(open, '/v1/track', track(53))).status).to.equal(200);
    });

    it('answers an unknown route with a JSON 404', async () => {
      const res = await post(open, '/v1/trak', track(54));
      expect(res.status).to.equal(404);
      expect(res.json.error).to.include('/v1/trak');
      expect(res.json.code).to.equal('CIO_ERR_NOT_FOUND');
    });
  });

  describe('write keys', () => {
    let keyed: Api;
    before(async () => {
      keyed = await startApi({ writeKeys: ['other-key', WRITE_KEY] });
    });

    it('refuses an unknown write key with 401 and queues nothing', async () => {
      const res = await post(keyed, '/v1/track', track(60), { authorization: basic('wrong-key') });
      expect(res.status).to.equal(401);
      expect(res.json.error).to.equal('unknown write key');
      expect(res.json.code).to.equal('CIO_ERR_WRITE_KEY_UNKNOWN');
      expect(await jobCount()).to.equal(0);
    });

    it('refuses a request without a write key with 401', async () => {
      const res = await post(keyed, '/v1/track', track(61));
      expect(res.status).to.equal(401);
      expect(res.json.error).to.match(/missing write key/);
      expect(res.json.code).to.equal('CIO_ERR_WRITE_KEY_MISSING');
    });

    it('refuses an unknown writeKey in the body with 401', async () => {
      const res = await post(keyed, '/v1/batch', { batch: [track(62)], writeKey: 'nope' });
      expect(res.status).to.equal(401);
      expect(res.json.code).to.equal('CIO_ERR_WRITE_KEY_UNKNOWN');
    });

    it('accepts the write key as the Basic-auth user name', async () => {
      const res = await post(keyed, '/v1/track', track(63), { authorization: basic(WRITE_KEY) });
      expect(res.status, res.text).to.equal(200);
      expect(await waiting('trackEvent')).to.have.length(1);
    });

    it('accepts the write key as writeKey in the body, and does not store it with the event', async () => {
      const res = await post(keyed, '/v1/track', { ...track(64), writeKey: WRITE_KEY }, { 'content-type': 'text/plain' });
      expect(res.status, res.text).to.equal(200);
      const [job] = await waiting('trackEvent');
      expect(job.data.event).to.not.have.property('writeKey');
      expect(JSON.stringify(job.data)).to.not.include(WRITE_KEY);
    });

    it('logs refusals without the write key or the Authorization header', async () => {
      await post(keyed, '/v1/track', track(65), { authorization: basic(WRITE_KEY) });
      await post(keyed, '/v1/track', '{not json', { authorization: basic(WRITE_KEY) });
      await post(keyed, '/v1/track', { ...track(66), writeKey: 'a-wrong-key' });
      const log = logLines.join('');
      expect(log).to.include('"statusCode":400'); // the refusals are logged…
      expect(log).to.not.include(WRITE_KEY); // …but not the keys
      expect(log).to.not.include('a-wrong-key');
      expect(log).to.not.include(Buffer.from(`${WRITE_KEY}:`).toString('base64'));
    });
  });

  describe('browsers (CORS), as analytics.js posts from a site', () => {
    const preflight = (api: Api, path: string, origin: string) =>
      fetch(`${api.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });

    it('answers a text/plain post with the write key in the body, and lets the page read the answer', async () => {
      const keyed = await startApi({ writeKeys: [WRITE_KEY] });
      const res = await post(keyed, '/v1/t', JSON.stringify({ ...track(1), writeKey: WRITE_KEY }), {
        'content-type': 'text/plain',
        origin: 'https://shop.example',
      });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(await waiting('trackEvent')).to.have.length(1);
      // A refusal carries the header too, so the SDK sees the 401 rather than a network error.
      const refused = await post(keyed, '/v1/t', JSON.stringify({ ...track(2), writeKey: 'wrong' }), { origin: 'https://shop.example' });
      expect(refused.status).to.equal(401);
      expect(refused.headers.get('access-control-allow-origin')).to.equal('*');
    });

    it('answers a preflight with the methods and headers a browser asks for', async () => {
      const res = await preflight(open, '/v1/batch', 'https://shop.example');
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(res.headers.get('access-control-allow-methods')).to.equal('POST, OPTIONS');
      expect(res.headers.get('access-control-allow-headers')).to.equal('content-type');
      expect(res.headers.get('access-control-max-age')).to.equal('86400');
    });

    it('with CORS_ORIGINS set, answers only those origins', async () => {
      const api = await startApi({ corsOrigins: ['https://shop.example'] });
      const allowed = await post(api, '/v1/track', track(3), { origin: 'https://shop.example' });
      expect(allowed.status).to.equal(200);
      expect(allowed.headers.get('access-control-allow-origin')).to.equal('https://shop.example');
      expect(allowed.headers.get('vary')).to.match(/origin/i);
      const other = await post(api, '/v1/track', track(4), { origin: 'https://elsewhere.example' });
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
      const refused = await preflight(api, '/v1/track', 'https://elsewhere.example');
      expect(refused.status).to.equal(403);
      expect(((await refused.json()) as { code: string }).code).to.equal('CIO_ERR_ORIGIN_REFUSED');
      expect((await preflight(api, '/v1/track', 'https://shop.example')).status).to.equal(204);
    });

    // Issue 18 point 7: only the preflight was refused; a simple request (no preflight) got 200 and was delivered.
    it('point 7, CORS_ORIGINS must stop other origins: a request from an origin not on the list is refused 403 and queues nothing, whatever its content type', async () => {
      const api = await startApi({ writeKeys: [WRITE_KEY], corsOrigins: ['https://shop.example'] });
      const attempts: Array<[string, string, Record<string, string>]> = [
        ['/v1/t', JSON.stringify({ ...track(10), writeKey: WRITE_KEY }), { 'content-type': 'text/plain' }],
        ['/v1/batch', JSON.stringify({ batch: [track(11)], writeKey: WRITE_KEY }), { 'content-type': 'text/plain;charset=UTF-8' }],
        ['/v1/track', JSON.stringify(track(12)), { 'content-type': 'application/json', authorization: basic(WRITE_KEY) }],
        ['/v1/track', JSON.stringify({ ...track(13), writeKey: WRITE_KEY }), { 'content-type': 'application/x-www-form-urlencoded' }],
        ['/v1/import', JSON.stringify({ batch: [track(14)], writeKey: WRITE_KEY }), { 'content-type': '' }],
      ];
      for (const origin of ['https://elsewhere.example', 'null', 'https://shop.example.evil', 'http://shop.example']) {
        for (const [path, body, headers] of attempts) {
          const res = await post(api, path, body, { ...headers, origin });
          expect(res.status, `${origin} ${path} ${headers['content-type']}: ${res.text}`).to.equal(403);
          expect(res.json).to.deep.include({ code: 'CIO_ERR_ORIGIN_REFUSED' });
          expect(res.json.error).to.match(/not in CORS_ORIGINS.*nothing was queued/);
        }
      }
      expect(await jobCount()).to.equal(0);
      // The listed origin (in any case) and a server without Origin are served as before.
      expect((await post(api, '/v1/t', JSON.stringify({ ...track(15), writeKey: WRITE_KEY }), { 'content-type': 'text/plain', origin: 'https://SHOP.example' })).status).to.equal(200);
      expect((await post(api, '/v1/track', track(16), { authorization: basic(WRITE_KEY) })).status).to.equal(200);
      expect(await jobCount()).to.equal(2);
      // The default (any origin) is unchanged.
      expect((await post(open, '/v1/track', track(17), { origin: 'https://elsewhere.example' })).status).to.equal(200);
    });

    it('sends no CORS header to a server-side client (no Origin)', async () => {
      const res = await post(open, '/v1/track', track(5));
      expect(res.status).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('health and metrics', () => {
    it('answers /health with 200 once Redis answers PING', async () => {
      const res = await fetch(`${open.url}/health`);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ status: 'ok' });
    });

    it('exposes cio_events_received_total on /metrics, counting accepted events', async () => {
      const api = await startApi();
      await post(api, '/v1/batch', { batch: [track(70), track(71), track(72)] });
      const res = await fetch(`${api.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      expect(await res.text()).to.include('cio_events_received_total{source="http"} 3');
    });
  });

  describe('while Redis is unreachable', () => {
    let down: ReturnType<typeof unreachableQueues>;
    let api: Api;
    before(async () => {
      down = unreachableQueues();
      api = await startApi({ queues: down.queues, connection: down.redis });
    });
    after(async () => {
      await api.app.close();
      started.splice(started.indexOf(api), 1);
      await down.close();
    });

    it('answers /health with 503', async () => {
      const res = await fetch(`${api.url}/health`);
      expect(res.status).to.equal(503);
      expect(((await res.json()) as { error: string }).error).to.match(/Redis is not reachable/);
    });

    it('answers /v1/track with 503 and Retry-After at once, so clients retry', async () => {
      const startedAt = Date.now();
      const res = await post(api, '/v1/track', track(80));
      expect(res.status).to.equal(503);
      expect(res.headers.get('retry-after')).to.equal('5');
      expect(res.json.error).to.match(/Redis is not reachable.*nothing was queued/);
      expect(res.json.code).to.equal('CIO_ERR_UNAVAILABLE');
      expect(Date.now() - startedAt).to.be.below(2000);
    });
  });

  describe('dashboard', () => {
    let guarded: Api;
    before(async () => {
      guarded = await startApi({ dashboard: { user: DASH_USER, password: DASH_PASSWORD, readOnly: true } });
    });

    it('answers 401 with a Basic challenge without credentials', async () => {
      const res = await fetch(`${guarded.url}/admin/queues`);
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.match(/^Basic /);
      const body = (await res.json()) as { error: string; code: string };
      expect(body.error).to.be.a('string');
      expect(body.code).to.equal('CIO_ERR_DASHBOARD_AUTH');
    });

    it('answers 401 with a wrong password', async () => {
      const res = await fetch(`${guarded.url}/admin/queues/api/queues`, { headers: { authorization: basic(DASH_USER, 'guess') } });
      expect(res.status).to.equal(401);
    });

    it('shows Bull Board over every queue with the right credentials', async () => {
      const auth = { authorization: basic(DASH_USER, DASH_PASSWORD) };
      const page = await fetch(`${guarded.url}/admin/queues`, { headers: auth });
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-type')).to.match(/text\/html/);
      await page.text();
      const api = await fetch(`${guarded.url}/admin/queues/api/queues`, { headers: auth });
      expect(api.status).to.equal(200);
      const body = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
      expect(body.queues).to.have.length(Object.keys(redis.queues).length);
      expect(body.queues.every((q) => q.readOnlyMode)).to.equal(true);
    });

    it('leaves the event routes outside the dashboard credentials', async () => {
      const res = await post(guarded, '/v1/track', track(90));
      expect(res.status).to.equal(200);
    });

    it('answers trace at /admin/trace/<messageId> behind the same credentials', async () => {
      expect((await post(guarded, '/v1/track', track(91))).status).to.equal(200);
      expect((await fetch(`${guarded.url}/admin/trace/msg-91`)).status).to.equal(401);
      const res = await fetch(`${guarded.url}/admin/trace/msg-91`, { headers: { authorization: basic(DASH_USER, DASH_PASSWORD) } });
      expect(res.status).to.equal(200);
      const answer = (await res.json()) as { found: Array<{ subscription: string; status: string; event: { messageId: string }; itemError: string }> };
      expect(answer.found.map((f) => [f.subscription, f.status])).to.deep.equal([['Track Event', 'waiting']]);
      // The same answer as `cio-relay trace`: the event as received, and why this test's mapping (none) makes no item of it.
      expect([answer.found[0].event.messageId, answer.found[0].itemError]).to.deep.equal(['msg-91', "The root value is missing the required field 'name'."]);
      const unknown = await fetch(`${guarded.url}/admin/trace/never-sent`, { headers: { authorization: basic(DASH_USER, DASH_PASSWORD) } });
      expect(((await unknown.json()) as { found: unknown[] }).found).to.deep.equal([]);
    });
  });
});
