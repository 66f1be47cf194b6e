import { expect } from 'chai';
import { CioResponse, CustomerIoClient } from '../../src/customerio/client';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';

/** Customer.io's answer listing errors. */
type ErrorsBody = { errors: Array<Record<string, unknown>> };

const SITE_ID = 'site-123';
const API_KEY = 'key-secret-abcdef';

const person = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'person',
  action: 'identify',
  identifiers: { id },
  ...extra,
});

describe('CustomerIoStandIn', () => {
  let standIn: CustomerIoStandIn;
  let client: CustomerIoClient;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
    client = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: standIn.url, timeoutMs: 150 });
  });
  after(async () => {
    client.close();
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  const batch = (items: unknown[]): Promise<CioResponse> => client.post('/api/v2/batch', { batch: items });

  it('listens on 127.0.0.1 on a free port', () => {
    expect(standIn.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  describe('POST /api/v2/batch', () => {
    it('accepts a valid batch with 200 {} and exposes its items in order', async () => {
      const items = [person('a'), person('b'), { type: 'object', action: 'delete', identifiers: { object_type_id: '1', object_id: 'x' } }];
      const res = await batch(items);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({});
      expect(standIn.items()).to.deep.equal(items);
      expect(standIn.counts).to.deep.equal({ requests: 1, items: 3, rejectedItems: 0 });
    });

    it('lists an item without identifiers in a 207 errors[] by batch_index and accepts the others', async () => {
      const res = await batch([person('a'), { type: 'person', action: 'event', name: 'x' }, person('c')]);
      expect(res.status).to.equal(207);
      expect(res.body).to.deep.equal({
        errors: [{ batch_index: 1, reason: 'required', field: 'identifiers', message: 'identifiers is required' }],
      });
      expect(standIn.items()).to.deep.equal([person('a'), person('c')]);
      expect(standIn.counts).to.deep.include({ items: 2, rejectedItems: 1 });
    });

    it('lists items with no type or no action', async () => {
      const res = await batch([{ action: 'identify', identifiers: { id: 'a' } }, { type: 'person', identifiers: { id: 'b' } }]);
      expect(res.status).to.equal(207);
      expect((res.body as ErrorsBody).errors.map((e) => [e.batch_index, e.field])).to.deep.equal([
        [0, 'type'],
        [1, 'action'],
      ]);
    });

    it('accepts a merge without identifiers, but not one without primary and secondary', async () => {
      const good = { type: 'person', action: 'merge', primary: { id: 'a' }, secondary: { email: 'b@x.io' } };
      const res = await batch([good, { type: 'person', action: 'merge', primary: { id: 'a' } }]);
      expect(res.status).to.equal(207);
      expect((res.body as ErrorsBody).errors).to.deep.equal([{ batch_index: 1, reason: 'required', field: 'secondary', message: 'secondary is required' }]);
      expect(standIn.items()).to.deep.equal([good]);
    });

    it('lists an item over 32 KB', async () => {
      const res = await batch([person('a', { attributes: { blob: 'x'.repeat(33 * 1024) } }), person('b')]);
      expect(res.status).to.equal(207);
      expect((res.body as ErrorsBody).errors[0]).to.include({ batch_index: 0, reason: 'invalid' });
      expect(standIn.items()).to.deep.equal([person('b')]);
    });

    it('answers a request over 500 KB with 400 "request too large" (the real answer is undocumented)', async () => {
      const items = Array.from({ length: 20 }, (_, i) => person(`u${i}`, { attributes: { blob: 'x'.repeat(26 * 1024) } }));
      const res = await batch(items);
      expect(res.requestBytes).to.be.above(500 * 1024);
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({ errors: [{ reason: 'invalid', field: 'batch', message: 'request too large' }] });
      expect(standIn.items()).to.deep.equal([]);
    });

    it('answers malformed JSON with 400', async () => {
      const res = await client.post('/api/v2/batch', '{"batch": [');
      expect(res.status).to.equal(400);
      expect((res.body as ErrorsBody).errors[0]).to.include({ reason: 'invalid', message: 'malformed JSON body' });
    });

    it('answers a body without a batch array, or an empty batch, with 400', async () => {
      expect((await client.post('/api/v2/batch', { items: [] })).status).to.equal(400);
      expect((await batch([])).status).to.equal(400);
    });
  });

  describe('POST /api/v2/entity and /api/v1/metrics', () => {
    it('accepts a valid entity with 200 {} and exposes it as an item', async () => {
      const res = await client.post('/api/v2/entity', person('a'));
      expect(res).to.deep.include({ status: 200, body: {} });
      expect(standIn.items()).to.deep.equal([person('a')]);
    });

    it('refuses an invalid entity with 400 and a v2 errors[] body', async () => {
      const res = await client.post('/api/v2/entity', { type: 'person', action: 'identify' });
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({ errors: [{ reason: 'required', field: 'identifiers', message: 'identifiers is required' }] });
      expect(standIn.counts).to.deep.include({ items: 0, rejectedItems: 1 });
    });

    it('accepts a delivery metric with 200 {}, and refuses one without delivery_id with a v1 body', async () => {
      const metric = { delivery_id: 'd1', metric: 'opened', timestamp: 1710506096 };
      expect((await client.post('/api/v1/metrics', metric)).status).to.equal(200);
      const bad = await client.post('/api/v1/metrics', { metric: 'opened' });
      expect(bad).to.deep.include({ status: 400, body: { meta: { errors: ['delivery_id: delivery_id is required'] } } });
      expect(standIn.items()).to.deep.equal([metric]);
    });

    it('flattens batch items, entity bodies and metrics bodies into items() in arrival order', async () => {
      await client.post('/api/v2/entity', person('a'));
      await batch([person('b'), person('c')]);
      await client.post('/api/v1/metrics', { delivery_id: 'd', metric: 'clicked' });
      expect(standIn.items().map((i) => i.identifiers?.id ?? i.delivery_id)).to.deep.equal(['a', 'b', 'c', 'd']);
    });
  });

  describe('credentials and routes', () => {
    it('answers GET /api/v1/accounts/region with its url, region us and environment 1', async () => {
      const res = await client.accountRegion();
      expect(res).to.deep.include({ status: 200, body: { url: standIn.url, region: 'us', environment_id: 1 } });
    });

    it('answers 401 to other Basic credentials, on every route, and records nothing as accepted', async () => {
      const wrong = new CustomerIoClient({ siteId: SITE_ID, apiKey: 'other', region: 'US', trackUrl: standIn.url });
      const statuses = [(await wrong.accountRegion()).status, (await wrong.post('/api/v2/batch', { batch: [person('a')] })).status];
      wrong.close();
      expect(statuses).to.deep.equal([401, 401]);
      expect(standIn.items()).to.deep.equal([]);
    });

    it('checks no credentials when started without an apiKey', async () => {
      const open = await CustomerIoStandIn.start();
      const anonymous = new CustomerIoClient({ siteId: '', apiKey: '', region: 'US', trackUrl: open.url });
      const res = await anonymous.post('/api/v2/batch', { batch: [person('a')] });
      anonymous.close();
      await open.close();
      expect(res.status).to.equal(200);
    });

    it('answers 404 to anything else', async () => {
      const auth = `Basic ${Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')}`;
      const get = await fetch(`${standIn.url}/api/v2/batch`, { headers: { authorization: auth } });
      const other = await fetch(`${standIn.url}/api/v1/customers/1`, { method: 'PUT', body: '{}', headers: { authorization: auth } });
      expect([get.status, other.status]).to.deep.equal([404, 404]);
    });

    it('records method, path, authorization, body and arrival time of each request', async () => {
      const before = Date.now();
      await batch([person('a')]);
      const [req] = standIn.requests;
      expect(req).to.deep.include({ method: 'POST', path: '/api/v2/batch', body: { batch: [person('a')] } });
      expect(req.authorization).to.match(/^Basic /);
      expect(req.receivedAt).to.be.within(before, Date.now());
    });
  });

  describe('fault injection', () => {
    it('consumes scripted responses one per request, then answers normally again', async () => {
      standIn.respondNext({ status: 500 }, { status: 429, headers: { 'retry-after': '3' } });
      const first = await batch([person('a')]);
      const second = await batch([person('a')]);
      const third = await batch([person('a')]);
      expect([first.status, second.status, third.status]).to.deep.equal([500, 429, 200]);
      expect(second.headers['retry-after']).to.equal('3');
      expect(standIn.counts).to.deep.include({ requests: 3, items: 1 });
    });

    it('a scripted 207 accepts only the items it does not list', async () => {
      standIn.respondNext({ status: 207, body: { errors: [{ batch_index: 0, reason: 'invalid' }] } });
      await batch([person('a'), person('b')]);
      expect(standIn.items()).to.deep.equal([person('b')]);
      expect(standIn.counts).to.deep.include({ items: 1, rejectedItems: 1 });
    });

    it('a scripted hang is never answered, so the client times out', async () => {
      standIn.respondNext({ status: 200, hang: true });
      const err = await batch([person('a')]).catch((e: unknown) => e);
      expect(err).to.include({ code: 'ETIMEDOUT' });
      expect(standIn.items()).to.deep.equal([]);
    });

    it('a scripted delay answers late', async () => {
      standIn.respondNext({ status: 200, body: {}, delayMs: 50 });
      expect((await batch([person('a')])).durationMs).to.be.at.least(45);
    });

    it('setFaults draws 500s, 429s with Retry-After and hangs from the random source', async () => {
      const draws = [0.05, 0.15, 0.25, 0.5];
      standIn.setFaults({ timeoutRate: 0.1, rateLimitRate: 0.1, serverErrorRate: 0.1, retryAfterSeconds: 2, random: () => draws.shift() ?? 0.99 });
      const hung = await batch([person('a')]).catch((e: unknown) => e);
      const limited = await batch([person('a')]);
      const failed = await batch([person('a')]);
      const ok = await batch([person('a')]);
      expect(hung).to.include({ code: 'ETIMEDOUT' });
      expect(limited.status).to.equal(429);
      expect(limited.headers['retry-after']).to.equal('2');
      expect([failed.status, ok.status]).to.deep.equal([500, 200]);
      expect(standIn.counts.items).to.equal(1);
      standIn.setFaults(null);
      expect((await batch([person('a')])).status).to.equal(200);
    });

    it('rejectItemsWhere lists the items its predicate names, with the message', async () => {
      standIn.rejectItemsWhere((item) => (item.identifiers?.id === 'bad' ? 'this id is banned' : undefined));
      const res = await batch([person('good'), person('bad')]);
      expect(res.status).to.equal(207);
      expect((res.body as ErrorsBody).errors).to.deep.equal([{ batch_index: 1, reason: 'invalid', field: '', message: 'this id is banned' }]);
      expect(standIn.items()).to.deep.equal([person('good')]);
      standIn.rejectItemsWhere(null);
      expect((await batch([person('bad')])).status).to.equal(200);
    });

    it('rejectItemsWhere may name the field too', async () => {
      standIn.rejectItemsWhere(() => ({ field: 'attributes.plan', message: 'property value cannot be longer than 1000 bytes' }));
      const res = await batch([person('a')]);
      expect((res.body as ErrorsBody).errors[0]).to.deep.equal({
        batch_index: 0,
        reason: 'invalid',
        field: 'attributes.plan',
        message: 'property value cannot be longer than 1000 bytes',
      });
    });

    it('reset() forgets requests, items, counts, scripts, faults and predicates', async () => {
      await batch([person('a')]);
      standIn.respondNext({ status: 500 });
      standIn.setFaults({ serverErrorRate: 1 });
      standIn.rejectItemsWhere(() => 'no');
      standIn.reset();
      expect(standIn.requests).to.deep.equal([]);
      expect(standIn.items()).to.deep.equal([]);
      expect(standIn.counts).to.deep.equal({ requests: 0, items: 0, rejectedItems: 0 });
      expect((await batch([person('a')])).status).to.equal(200);
    });
  });

  describe('options', () => {
    it('keepRequests: false keeps the counts but neither requests nor items', async () => {
      const lean = await CustomerIoStandIn.start({ keepRequests: false });
      const c = new CustomerIoClient({ siteId: '', apiKey: '', region: 'US', trackUrl: lean.url });
      await c.post('/api/v2/batch', { batch: [person('a'), person('b'), { type: 'person' }] });
      c.close();
      await lean.close();
      expect(lean.requests).to.deep.equal([]);
      expect(lean.items()).to.deep.equal([]);
      expect(lean.counts).to.deep.equal({ requests: 1, items: 2, rejectedItems: 1 });
    });

    it('latencyMs delays every answer', async () => {
      const slow = await CustomerIoStandIn.start({ latencyMs: 60 });
      const c = new CustomerIoClient({ siteId: '', apiKey: '', region: 'US', trackUrl: slow.url });
      const res = await c.post('/api/v2/batch', { batch: [person('a')] });
      c.close();
      await slow.close();
      expect(res.durationMs).to.be.at.least(55);
    });

    it('close() ends requests that are left hanging', async () => {
      const s = await CustomerIoStandIn.start();
      const c = new CustomerIoClient({ siteId: '', apiKey: '', region: 'US', trackUrl: s.url, timeoutMs: 5000 });
      s.respondNext({ status: 200, hang: true });
      const pending = c.post('/api/v2/batch', { batch: [person('a')] }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 30));
      const started = Date.now();
      await s.close();
      const err = await pending;
      c.close();
      expect(Date.now() - started).to.be.below(1000);
      expect(err).to.have.property('code').that.is.a('string');
    });
  });
});
