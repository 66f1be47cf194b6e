import { expect } from 'chai';
import { CioResponse, CioTransportError, CustomerIoClient } from '../../src/customerio/client';
import { classifyResponse, classifyTransportError, describeItemError, Verdict } from '../../src/customerio/classify';
import { CustomerIoStandIn, ScriptedResponse } from '../../src/demo/customerio-stand-in';

const SITE_ID = 'site-123';
const API_KEY = 'key-secret-abcdef';

/** A response as the stand-in's answer reaches us through the real client. */
describe('classifyResponse', () => {
  let standIn: CustomerIoStandIn;
  let client: CustomerIoClient;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
    client = new CustomerIoClient({ siteId: SITE_ID, apiKey: API_KEY, region: 'US', trackUrl: standIn.url, timeoutMs: 5000 });
  });
  after(async () => {
    client.close();
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  async function answer(scripted: ScriptedResponse): Promise<CioResponse> {
    standIn.respondNext(scripted);
    return client.post('/api/v2/batch', { batch: [] });
  }

  async function verdictFor(scripted: ScriptedResponse, itemCount = 3): Promise<Verdict> {
    return classifyResponse(await answer(scripted), itemCount);
  }

  describe('2xx: delivered, with per-item errors', () => {
    it('a 200 {} delivers every item', async () => {
      const v = await verdictFor({ status: 200, body: {} });
      expect(v.kind).to.equal('delivered');
      expect(v.kind === 'delivered' && v.itemErrors.size).to.equal(0);
    });

    it('on a 207, lists only the items named by batch_index', async () => {
      const v = await verdictFor({
        status: 207,
        body: {
          errors: [{ batch_index: 1, reason: 'invalid', field: 'attributes.plan', message: 'property value cannot be longer than 1000 bytes' }],
        },
      });
      expect(v).to.deep.include({ kind: 'delivered', status: 207 });
      if (v.kind !== 'delivered') return;
      expect([...v.itemErrors.keys()]).to.deep.equal([1]);
      expect(v.itemErrors.get(1)).to.deep.equal({
        batch_index: 1,
        reason: 'invalid',
        field: 'attributes.plan',
        message: 'property value cannot be longer than 1000 bytes',
      });
    });

    it('reads errors[] on a 200, not only on a 207', async () => {
      const v = await verdictFor({ status: 200, body: { errors: [{ batch_index: 2, reason: 'required', field: 'name' }] } });
      expect(v.kind).to.equal('delivered');
      expect(v.kind === 'delivered' && [...v.itemErrors.keys()]).to.deep.equal([2]);
    });

    it('reads errors[] from a body that came as a JSON string', async () => {
      const v = await verdictFor({ status: 207, body: '{"errors":[{"batch_index":0,"reason":"invalid"}]}', headers: { 'content-type': 'text/plain' } });
      expect(v.kind === 'delivered' && [...v.itemErrors.keys()]).to.deep.equal([0]);
    });

    it('an errors[] entry whose batch_index names no item makes the answer ambiguous: nothing it may concern is delivered', async () => {
      const hostile: unknown[] = [{ reason: 'invalid' }, { batch_index: '1' }, { batch_index: 1.5 }, { batch_index: -1 }, { batch_index: 3 }, { batch_index: null }, null, 'oops', [0]];
      for (const entry of hostile) {
        const v = await verdictFor({ status: 207, body: { errors: [entry, { batch_index: 0, reason: 'invalid', field: 'type' }] } });
        expect(v.kind, JSON.stringify(entry)).to.equal('ambiguous');
        if (v.kind !== 'ambiguous') continue;
        // the entry that names an item still counts against it
        expect([...v.itemErrors.keys()]).to.deep.equal([0]);
        expect(v.anomaly).to.match(/^errors\[0\] /);
      }
    });

    it('a string batch_index, even "0", is not read as an index (the documented type is an integer)', async () => {
      const v = await verdictFor({ status: 207, body: { errors: [{ batch_index: '0', reason: 'invalid', message: 'bad' }] } }, 1);
      expect(v).to.deep.include({ kind: 'ambiguous', status: 207 });
      expect(v.kind === 'ambiguous' && v.itemErrors.size).to.equal(0);
      expect(v.kind === 'ambiguous' && v.anomaly).to.equal(
        'errors[0] has a batch_index that is a string, not an integer: {"batch_index":"0","reason":"invalid","message":"bad"}',
      );
    });

    it('an out-of-range batch_index says which indexes the batch had', async () => {
      const v = await verdictFor({ status: 207, body: { errors: [{ batch_index: 7 }] } }, 3);
      expect(v.kind === 'ambiguous' && v.anomaly).to.equal('errors[0] has batch_index 7, which is not one of the 3 items sent (0 to 2): {"batch_index":7}');
    });

    it('a 2xx whose errors is not a list is ambiguous, whatever it holds', async () => {
      for (const errors of ['item 1 is invalid', 1, true, { batch_index: 0 }, { '0': 'bad' }]) {
        const v = await verdictFor({ status: 200, body: { errors } });
        expect(v.kind, JSON.stringify(errors)).to.equal('ambiguous');
        expect(v.kind === 'ambiguous' && v.anomaly).to.match(/^errors is (a string|a number|a boolean|an object), not a list/);
      }
    });

    it('errors: null and errors: [] report nothing', async () => {
      for (const errors of [null, []]) {
        const v = await verdictFor({ status: 200, body: { errors } });
        expect(v).to.deep.include({ kind: 'delivered', status: 200 });
      }
    });

    it('other error styles on a 2xx (error, meta.error, meta.errors) make the answer ambiguous', async () => {
      for (const body of [{ error: 'partial failure' }, { meta: { error: 'bad metric' } }, { meta: { errors: ['x'] } }]) {
        const v = await verdictFor({ status: 200, body });
        expect(v.kind, JSON.stringify(body)).to.equal('ambiguous');
      }
    });

    it('a 2xx body that looks like JSON but is cut short is ambiguous; a JSON list is too', async () => {
      const cut = await verdictFor({ status: 207, body: '{"errors":[{"batch_index":0,"rea', headers: { 'content-type': 'application/json' } });
      expect(cut.kind).to.equal('ambiguous');
      expect(cut.kind === 'ambiguous' && cut.anomaly).to.match(/^the body looks like JSON but does not parse: \{"errors"/);
      const list = await verdictFor({ status: 200, body: [{ batch_index: 0 }] });
      expect(list.kind).to.equal('ambiguous');
    });

    it('keeps the first error when one item is listed twice', async () => {
      const v = await verdictFor({
        status: 207,
        body: { errors: [{ batch_index: 0, field: 'a' }, { batch_index: 0, field: 'b' }] },
      });
      expect(v.kind === 'delivered' && v.itemErrors.get(0)?.field).to.equal('a');
    });

    it('a 2xx with a body that is not JSON delivers every item', async () => {
      const v = await verdictFor({ status: 202, body: 'Accepted' });
      expect(v).to.deep.include({ kind: 'delivered', status: 202 });
      expect(v.kind === 'delivered' && v.itemErrors.size).to.equal(0);
    });
  });

  describe('429: rate limited', () => {
    it('a 429 with Retry-After: 7 waits 7000 ms', async () => {
      const v = await verdictFor({ status: 429, headers: { 'retry-after': '7' } });
      expect(v).to.deep.equal({ kind: 'rate_limited', status: 429, retryAfterMs: 7000 });
    });

    it('a 429 with an HTTP-date Retry-After waits until that date', async () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      const res = await answer({ status: 429, headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' } });
      expect(classifyResponse(res, 1, { now: () => now })).to.deep.equal({ kind: 'rate_limited', status: 429, retryAfterMs: 30_000 });
    });

    it('a 429 without Retry-After waits the default 10 s, or the one given', async () => {
      const res = await answer({ status: 429 });
      expect(classifyResponse(res, 1)).to.deep.include({ retryAfterMs: 10_000 });
      expect(classifyResponse(res, 1, { defaultRetryAfterMs: 2500 })).to.deep.include({ retryAfterMs: 2500 });
    });

    it('a Retry-After that cannot be read waits the default', async () => {
      const res = await answer({ status: 429, headers: { 'retry-after': 'soon' } });
      expect(classifyResponse(res, 1)).to.deep.include({ retryAfterMs: 10_000 });
    });

    // Issue 18 point 4: a pause of 0 ms made BullMQ send SET … PX 0, which Redis refuses.
    it('point 4, Retry-After 0 or in the past: a 429 pauses at least 1 s, whatever the header says', async () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      for (const value of ['0', '0.0', '-5', '-0', '+0', 'Thu, 01 Jan 2015 00:00:00 GMT', 'Wed, 31 Dec 2025 23:59:59 GMT', '0.2']) {
        const res = await answer({ status: 429, headers: { 'retry-after': value } });
        expect(classifyResponse(res, 1, { now: () => now }), value).to.deep.equal({ kind: 'rate_limited', status: 429, retryAfterMs: 1000 });
      }
      // Unreadable: the configured pause, floored too when it is configured below the floor.
      const garbage = await answer({ status: 429, headers: { 'retry-after': 'later, maybe' } });
      expect(classifyResponse(garbage, 1, { defaultRetryAfterMs: 2500 })).to.deep.include({ retryAfterMs: 2500 });
      expect(classifyResponse(garbage, 1, { defaultRetryAfterMs: 0 })).to.deep.include({ retryAfterMs: 1000 });
      // A longer pause is kept as asked.
      const two = await answer({ status: 429, headers: { 'retry-after': '2' } });
      expect(classifyResponse(two, 1)).to.deep.include({ retryAfterMs: 2000 });
    });

    it('a Retry-After of an hour is capped at 5 minutes, or at the cap given', async () => {
      const res = await answer({ status: 429, headers: { 'retry-after': '3600' } });
      expect(classifyResponse(res, 1)).to.deep.include({ retryAfterMs: 300_000 });
      expect(classifyResponse(res, 1, { maxRetryAfterMs: 60_000 })).to.deep.include({ retryAfterMs: 60_000 });
    });
  });

  describe('401 / 403: credentials', () => {
    it('a 401 pauses with a reason that names the settings to check', async () => {
      const wrong = new CustomerIoClient({ siteId: SITE_ID, apiKey: 'wrong-key-123', region: 'US', trackUrl: standIn.url });
      const res = await wrong.post('/api/v2/batch', { batch: [{}] });
      wrong.close();
      const v = classifyResponse(res, 1);
      expect(v.kind).to.equal('auth_failed');
      if (v.kind !== 'auth_failed') return;
      expect(v.status).to.equal(401);
      expect(v.reason).to.match(
        /^Customer\.io refused the credentials \(401\): check CUSTOMERIO_SITE_ID \/ CUSTOMERIO_API_KEY and the region/,
      );
      expect(v.reason).not.to.include('wrong-key-123');
    });

    it('a 403 pauses too, and says access was denied', async () => {
      const v = await verdictFor({ status: 403 });
      expect(v).to.deep.include({ kind: 'auth_failed', status: 403 });
      expect(v.kind === 'auth_failed' && v.reason).to.match(/^Customer\.io denied access \(403\).*CUSTOMERIO_API_KEY/);
    });
  });

  describe('413: too large', () => {
    it('a 413 asks for the batch to be split', async () => {
      expect(await verdictFor({ status: 413 })).to.deep.equal({ kind: 'too_large', status: 413 });
    });
  });

  describe('other 4xx: the whole request is rejected', () => {
    it("a whole-request 400 carries Customer.io's reason, field and message (v2 body)", async () => {
      const v = await verdictFor({ status: 400, body: { errors: [{ reason: 'invalid', field: 'batch', message: 'request too large' }] } });
      expect(v).to.deep.equal({
        kind: 'rejected',
        status: 400,
        reason: 'Customer.io rejected the request (400 Bad Request): invalid batch: request too large',
      });
    });

    it('a v1 body {meta:{errors}} or {meta:{error}} gives the reason', async () => {
      const many = await verdictFor({ status: 400, body: { meta: { errors: ['delivery_id is required', 'metric is required'] } } });
      expect(many.kind === 'rejected' && many.reason).to.equal(
        'Customer.io rejected the request (400 Bad Request): delivery_id is required; metric is required',
      );
      const one = await verdictFor({ status: 422, body: { meta: { error: 'bad metric' } } });
      expect(one).to.deep.equal({ kind: 'rejected', status: 422, reason: 'Customer.io rejected the request (422 Unprocessable Entity): bad metric' });
    });

    it('a whole-request 4xx whose errors name items by batch_index refuses those items, with their own errors', async () => {
      const v = await verdictFor({ status: 400, body: { errors: [{ batch_index: 1, reason: 'invalid', field: 'name', message: 'is required' }] } });
      expect(v.kind).to.equal('refused_for_items');
      if (v.kind !== 'refused_for_items') return;
      expect([...v.itemErrors.entries()]).to.deep.equal([[1, { batch_index: 1, reason: 'invalid', field: 'name', message: 'is required' }]]);
      expect(v.reason).to.equal('Customer.io rejected the request (400 Bad Request): invalid name: is required');
    });

    it('a whole-request 4xx whose batch_index names no item of the batch stays a refusal of the whole request', async () => {
      for (const batch_index of ['1', 5, -1]) {
        const v = await verdictFor({ status: 400, body: { errors: [{ batch_index, message: 'bad' }] } });
        expect(v, String(batch_index)).to.deep.include({ kind: 'rejected', status: 400 });
      }
    });

    it('a 404 with no usable body is rejected with the status text', async () => {
      const v = await verdictFor({ status: 404, body: '<html>nope</html>' });
      expect(v).to.deep.equal({ kind: 'rejected', status: 404, reason: 'Customer.io rejected the request (404 Not Found)' });
    });

    it('a very long body is cut short in the reason', async () => {
      const v = await verdictFor({ status: 400, body: { errors: [{ reason: 'invalid', message: 'x'.repeat(5000) }] } });
      expect(v.kind === 'rejected' && v.reason.length).to.be.below(400);
    });
  });

  describe('5xx, 408, redirects: transient', () => {
    it('a 500 is transient: "Customer.io answered 500 Internal Server Error"', async () => {
      expect(await verdictFor({ status: 500 })).to.deep.equal({
        kind: 'transient',
        status: 500,
        reason: 'Customer.io answered 500 Internal Server Error',
      });
    });

    it('a 503 quotes what Customer.io said', async () => {
      const v = await verdictFor({ status: 503, body: { meta: { error: 'maintenance' } } });
      expect(v).to.deep.equal({ kind: 'transient', status: 503, reason: 'Customer.io answered 503 Service Unavailable (Customer.io said: maintenance)' });
    });

    it('a 503 with Retry-After: 2 asks to come back in 2000 ms', async () => {
      const v = await verdictFor({ status: 503, headers: { 'retry-after': '2' } });
      expect(v).to.deep.equal({ kind: 'transient', status: 503, reason: 'Customer.io answered 503 Service Unavailable', retryAfterMs: 2000 });
    });

    it('Retry-After on other 5xx and on 408 is read too, as seconds or an HTTP-date, capped at 5 minutes', async () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      const dated = await answer({ status: 502, headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:45 GMT' } });
      expect(classifyResponse(dated, 1, { now: () => now })).to.deep.include({ kind: 'transient', retryAfterMs: 45_000 });
      expect(await verdictFor({ status: 500, headers: { 'retry-after': '3600' } })).to.deep.include({ retryAfterMs: 300_000 });
      expect(await verdictFor({ status: 408, headers: { 'retry-after': '1' } })).to.deep.include({ kind: 'transient', retryAfterMs: 1000 });
    });

    it('a 5xx without a readable Retry-After leaves the wait to the usual backoff', async () => {
      for (const headers of [undefined, { 'retry-after': 'later' }, { 'retry-after': '' }]) {
        const v = await verdictFor({ status: 503, headers });
        expect(v.kind).to.equal('transient');
        expect(v, JSON.stringify(headers)).not.to.have.property('retryAfterMs');
      }
    });

    it('a 408 is transient', async () => {
      const v = await verdictFor({ status: 408 });
      expect(v).to.deep.include({ kind: 'transient', status: 408 });
      expect(v.kind === 'transient' && v.reason).to.match(/^Customer\.io answered 408 Request Timeout/);
    });

    it('a redirect is transient and points at the region setting', async () => {
      const v = await verdictFor({ status: 301, headers: { location: 'https://track-eu.customer.io/api/v2/batch' } });
      expect(v).to.deep.include({ kind: 'transient', status: 301 });
      expect(v.kind === 'transient' && v.reason).to.equal(
        'Customer.io redirected the request (301 Moved Permanently to https://track-eu.customer.io/api/v2/batch): ' +
          'the region is probably wrong; set CUSTOMERIO_REGION (US/EU) or CUSTOMERIO_TRACK_URL',
      );
    });
  });
});

describe('classifyTransportError', () => {
  it('a timeout is transient and its reason names the timeout', async () => {
    const standIn = await CustomerIoStandIn.start();
    const client = new CustomerIoClient({ siteId: 's', apiKey: 'k', region: 'US', trackUrl: standIn.url, timeoutMs: 100 });
    standIn.respondNext({ status: 200, hang: true });
    const err = await client.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e);
    client.close();
    await standIn.close();
    expect(classifyTransportError(err)).to.deep.equal({ kind: 'transient', reason: 'Customer.io did not answer within 100 ms (timeout)' });
  });

  it('a refused connection is transient and names the host', async () => {
    const standIn = await CustomerIoStandIn.start();
    const { url } = standIn;
    await standIn.close();
    const client = new CustomerIoClient({ siteId: 's', apiKey: 'k', region: 'US', trackUrl: url });
    const err = await client.post('/api/v2/batch', { batch: [] }).catch((e: unknown) => e);
    client.close();
    expect(classifyTransportError(err)).to.deep.equal({ kind: 'transient', reason: `connection refused by ${new URL(url).host}` });
  });

  it('names DNS, reset and TLS failures in words', () => {
    const at = (code: string) =>
      classifyTransportError(
        new CioTransportError({ code, method: 'POST', path: '/api/v2/batch', baseUrl: 'https://track.customer.io', message: 'x' }),
      );
    expect(at('ENOTFOUND')).to.deep.equal({
      kind: 'transient',
      reason: 'could not resolve track.customer.io (ENOTFOUND): check DNS and CUSTOMERIO_TRACK_URL',
    });
    expect(at('ECONNRESET')).to.deep.equal({
      kind: 'transient',
      reason: 'the connection to track.customer.io was closed before Customer.io answered (ECONNRESET)',
    });
    expect(at('CERT_HAS_EXPIRED')).to.deep.equal({ kind: 'transient', reason: 'the TLS connection to track.customer.io failed (CERT_HAS_EXPIRED)' });
  });

  it('anything else is transient and keeps its message', () => {
    expect(classifyTransportError(new Error('boom'))).to.deep.equal({ kind: 'transient', reason: 'the request to Customer.io failed: boom' });
  });
});

describe('describeItemError', () => {
  it('joins reason, field and message in words an operator reads', () => {
    expect(
      describeItemError({ batch_index: 1, reason: 'invalid', field: 'attributes.plan', message: 'property value cannot be longer than 1000 bytes' }),
    ).to.equal('Customer.io rejected the item: invalid attributes.plan: property value cannot be longer than 1000 bytes');
  });

  it('leaves out the parts Customer.io did not send', () => {
    expect(describeItemError({ reason: 'required', field: 'identifiers' })).to.equal('Customer.io rejected the item: required identifiers');
    expect(describeItemError({ message: 'Name is required' })).to.equal('Customer.io rejected the item: Name is required');
    expect(describeItemError({ batch_index: 0 })).to.equal('Customer.io rejected the item (it gave no details)');
  });
});
