import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { CioTransportError, CustomerIoClient } from '../../src/customerio/client';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';

const SITE_ID = 'site-123';
const API_KEY = 'key-secret-abcdef';
const BASIC = `Basic ${Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')}`;

describe('CustomerIoClient', () => {
  let standIn: CustomerIoStandIn;
  let client: CustomerIoClient;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
  });
  after(() => standIn.close());
  beforeEach(() => {
    standIn.reset();
    client = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: standIn.url });
  });
  afterEach(() => client.close());

  describe('where it sends', () => {
    it('uses https://track.customer.io when region is US', () => {
      const us = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US' });
      expect(us.baseUrl).to.equal('https://track.customer.io');
      us.close();
    });

    it('posts with Basic auth siteId:apiKey to the EU host when region is EU', async () => {
      const eu = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'EU' });
      expect(eu.baseUrl).to.equal('https://track-eu.customer.io');
      eu.close();
      // The same credentials, sent to a local host instead of the real one (there is no network here).
      const local = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'EU', trackUrl: standIn.url });
      await local.post('/api/v2/entity', { type: 'person', action: 'identify', identifiers: { id: 'u1' } });
      local.close();
      expect(standIn.requests[0].authorization).to.equal(BASIC);
    });

    it('trackUrl replaces the region host, without a trailing slash', () => {
      const c = new CustomerIoClient({ siteId: '', apiKey: '', region: 'EU', trackUrl: 'http://proxy.local:8080/' });
      expect(c.baseUrl).to.equal('http://proxy.local:8080');
      c.close();
    });
  });

  describe('what it sends', () => {
    it('posts the body as JSON with content-type, a cio-relay user-agent and Basic auth', async () => {
      const body = { batch: [{ type: 'person', action: 'identify', identifiers: { id: 'u1' } }] };
      await client.post('/api/v2/batch', body);
      const [req] = standIn.requests;
      expect(req.method).to.equal('POST');
      expect(req.path).to.equal('/api/v2/batch');
      expect(req.body).to.deep.equal(body);
      expect(req.authorization).to.equal(BASIC);
      expect(req.headers['content-type']).to.equal('application/json');
      expect(req.headers['user-agent']).to.match(/^cio-relay\b/);
    });

    it('omits the Authorization header when siteId and apiKey are both empty', async () => {
      const open = await CustomerIoStandIn.start();
      const anonymous = new CustomerIoClient({ siteId: '', apiKey: '', region: 'US', trackUrl: open.url });
      await anonymous.post('/api/v1/metrics', { delivery_id: 'd1', metric: 'opened' });
      anonymous.close();
      await open.close();
      expect(open.requests[0].headers).not.to.have.property('authorization');
    });

    it('sends a string body as is and reports the bytes sent', async () => {
      const text = JSON.stringify({ delivery_id: 'dé', metric: 'opened' });
      const res = await client.post('/api/v1/metrics', text);
      expect(res.requestBytes).to.equal(Buffer.byteLength(text));
      expect(res.requestBytes).to.equal(text.length + 1); // 'é' is two bytes in UTF-8
      expect(standIn.requests[0].body).to.deep.equal({ delivery_id: 'dé', metric: 'opened' });
    });
  });

  describe('what it returns', () => {
    it('returns 4xx and 5xx as responses and never throws for an HTTP status', async () => {
      standIn.respondNext({ status: 400, body: { errors: [{ reason: 'invalid' }] } }, { status: 503 }, { status: 429 });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await client.post('/api/v2/entity', {})).status);
      expect(statuses).to.deep.equal([400, 503, 429]);
    });

    it('parses a JSON body even when it is not labelled JSON, and keeps anything else as the raw string', async () => {
      standIn.respondNext(
        { status: 207, body: '{"errors":[{"batch_index":0}]}', headers: { 'content-type': 'text/plain' } },
        { status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } },
        { status: 200, body: '' },
      );
      expect((await client.post('/api/v2/batch', { batch: [] })).body).to.deep.equal({ errors: [{ batch_index: 0 }] });
      expect((await client.post('/api/v2/batch', { batch: [] })).body).to.equal('<html>Bad Gateway</html>');
      expect((await client.post('/api/v2/batch', { batch: [] })).body).to.equal('');
    });

    it('gives header names in lower case', async () => {
      standIn.respondNext({ status: 429, headers: { 'Retry-After': '7' } });
      const res = await client.post('/api/v2/batch', { batch: [] });
      expect(res.headers['retry-after']).to.equal('7');
    });

    it('does not follow redirects', async () => {
      standIn.respondNext({ status: 301, headers: { location: 'https://track-eu.customer.io/api/v2/batch' } });
      const res = await client.post('/api/v2/batch', { batch: [] });
      expect(res.status).to.equal(301);
      expect(res.headers.location).to.equal('https://track-eu.customer.io/api/v2/batch');
      expect(standIn.counts.requests).to.equal(1);
    });

    it('measures the duration of the request', async () => {
      standIn.respondNext({ status: 200, body: {}, delayMs: 60 });
      const res = await client.post('/api/v2/batch', { batch: [] });
      expect(res.durationMs).to.be.at.least(55).and.below(1000);
    });
  });

  describe('credential check', () => {
    it('accountRegion() GETs /api/v1/accounts/region with the credentials', async () => {
      const res = await client.accountRegion();
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ url: standIn.url, region: 'us', environment_id: 1 });
      expect(standIn.requests[0]).to.include({ method: 'GET', path: '/api/v1/accounts/region', authorization: BASIC });
    });

    it('accountRegion() answers 401 for other credentials, without throwing', async () => {
      const wrong = new CustomerIoClient({ siteId: SITE_ID, apiKey: 'nope', region: 'US', trackUrl: standIn.url });
      const res = await wrong.accountRegion();
      wrong.close();
      expect(res.status).to.equal(401);
    });
  });

  describe('transport errors', () => {
    it('a request with no answer throws CioTransportError ETIMEDOUT after timeoutMs', async () => {
      standIn.respondNext({ status: 200, hang: true });
      const quick = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: standIn.url, timeoutMs: 150 });
      const started = Date.now();
      const err = await quick.post('/api/v2/batch', { batch: [] }).then(
        () => expect.fail('should have thrown'),
        (e: unknown) => e,
      );
      quick.close();
      expect(Date.now() - started).to.be.within(140, 1500);
      expect(err).to.be.instanceOf(CioTransportError);
      expect(err).to.include({ code: 'ETIMEDOUT', method: 'POST', path: '/api/v2/batch', timeoutMs: 150 });
    });

    it('a slow trickle is cut at timeoutMs, the whole request counting', async () => {
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const tick = setInterval(() => res.write(' '), 40);
        res.on('close', () => clearInterval(tick));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const quick = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: url, timeoutMs: 200 });
      const err = await quick.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e);
      quick.close();
      server.closeAllConnections();
      server.close();
      expect(err).to.be.instanceOf(CioTransportError);
      expect((err as CioTransportError).code).to.equal('ETIMEDOUT');
    });

    it('a refused connection throws CioTransportError ECONNREFUSED', async () => {
      const url = await unusedUrl();
      const c = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: url });
      const err = await c.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e);
      c.close();
      expect(err).to.be.instanceOf(CioTransportError);
      expect(err).to.include({ code: 'ECONNREFUSED', method: 'POST', path: '/api/v2/batch', baseUrl: url });
    });

    it('the Authorization header and API key never appear in a transport error', async () => {
      const token = BASIC.slice('Basic '.length);
      standIn.respondNext({ status: 200, hang: true });
      const quick = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: standIn.url, timeoutMs: 100 });
      const refused = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: await unusedUrl() });
      const errors = [
        await quick.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e),
        await refused.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e),
        await refused.accountRegion().catch((e: unknown) => e),
      ];
      quick.close();
      refused.close();
      for (const err of errors) {
        expect(err).to.be.instanceOf(CioTransportError);
        const everything = [
          inspect(err, { depth: 20, showHidden: true }),
          JSON.stringify(err),
          JSON.stringify(Object.getOwnPropertyNames(err).map((k) => (err as unknown as Record<string, unknown>)[k])),
        ].join('\n');
        expect(everything).not.to.include(API_KEY);
        expect(everything).not.to.include(token);
        expect(everything.toLowerCase()).not.to.include('authorization');
        expect(err).not.to.have.property('config');
        expect(err).not.to.have.property('cause');
      }
    });
  });

  describe('keep-alive', () => {
    it('reuses one connection for requests in sequence, and close() releases it', async () => {
      let connections = 0;
      let closed = 0;
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end('{}'));
      });
      server.on('connection', (socket) => {
        connections += 1;
        socket.on('close', () => (closed += 1));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const c = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: url });
      for (let i = 0; i < 5; i++) await c.post('/api/v2/batch', { batch: [] });
      expect(connections).to.equal(1);
      c.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(closed).to.equal(1);
      server.close();
    });
  });
});

async function unusedUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
