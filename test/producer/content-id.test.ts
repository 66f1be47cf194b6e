// Events that come without a messageId get one derived from their content, so a client's retry of a
// request (after a 503 or a lost answer) is recognised as a re-send, not queued twice.
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { itemJobs } from '../support/items';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS } from '../../src/config';
import { createLogger } from '../../src/log/logger';
import { createMetrics } from '../../src/counts/metrics';
import { canonicalJson } from '../../src/producer/content-id';
import { buildApi } from '../../src/http/app';
import { prepareEvents } from '../../src/producer/prepare';
import { Producer } from '../../src/producer/publish';
import { openTestQueues, type TestQueues } from '../support/redis';
import { TRACK_SUBSCRIPTION } from '../support/track-subscription';

const TRACK = TRACK_SUBSCRIPTION;

const ids = (events: unknown[], now = 0) => prepareEvents(events, [TRACK], now).prepared.map((p) => p.messageId);

describe('messageIds of events sent without one', () => {
  const event = { type: 'track', event: 'Clicked', userId: 'u1', properties: { button: 'buy', price: 3 } };

  it('are the same for the same event sent again later, and look like api-<hash>', () => {
    const [first] = ids([event], Date.parse('2024-05-01T10:00:00Z'));
    const [again] = ids([structuredClone(event)], Date.parse('2024-05-01T10:05:00Z'));
    expect(first).to.match(/^api-[0-9a-f]{32}$/);
    expect(again).to.equal(first);
  });

  it('do not depend on the order of keys, nor on sentAt (set per sending attempt)', () => {
    const reordered = { properties: { price: 3, button: 'buy' }, userId: 'u1', event: 'Clicked', type: 'track', sentAt: '2024-05-01T10:00:09Z' };
    expect(ids([reordered])).to.deep.equal(ids([event]));
  });

  it('differ when anything else differs: a property, the timestamp', () => {
    const [base] = ids([event]);
    expect(ids([{ ...event, properties: { button: 'buy', price: 4 } }])[0]).to.not.equal(base);
    expect(ids([{ ...event, timestamp: '2024-05-01T10:00:00Z' }])[0]).to.not.equal(base);
    expect(ids([{ ...event, timestamp: '2024-05-01T10:00:01Z' }])[0]).to.not.equal(ids([{ ...event, timestamp: '2024-05-01T10:00:00Z' }])[0]);
  });

  it('keep equal events of one request apart, the same way each time the request is sent', () => {
    const request = [event, { ...event, userId: 'u2' }, event, event];
    const first = ids(request);
    expect(new Set(first).size).to.equal(4);
    expect(first[2]).to.equal(`${first[0]}-2`);
    expect(first[3]).to.equal(`${first[0]}-3`);
    expect(ids(structuredClone(request))).to.deep.equal(first);
  });

  it('leave a given messageId alone', () => {
    expect(ids([{ ...event, messageId: 'sdk-1' }, { ...event, messageId: '42' }])).to.deep.equal(['sdk-1', '42']);
  });

  it('canonical JSON sorts keys at every level and writes what JSON.stringify writes otherwise', () => {
    const value = { b: [1, { d: 'x', c: null }, undefined], a: 'é"\n', u: undefined, t: new Date(0) };
    expect(canonicalJson(value)).to.equal('{"a":"é\\"\\n","b":[1,{"c":null,"d":"x"},null],"t":"1970-01-01T00:00:00.000Z"}');
    const parsed = JSON.parse(canonicalJson(value));
    expect(parsed).to.deep.equal(JSON.parse(JSON.stringify(value)));
  });

  describe('over HTTP', () => {
    let redis: TestQueues;
    let app: FastifyInstance;
    let url: string;

    before(async () => {
      redis = await openTestQueues();
      const metrics = createMetrics();
      app = await buildApi({
        config: { writeKeys: [], dashboard: { readOnly: false } },
        producer: new Producer({ queues: redis.queues, redis: redis.redis, queuePrefix: redis.prefix, subscriptions: [TRACK], policy: DEFAULTS.jobs, metrics }),
        subscriptions: [TRACK],
        metrics,
        logger: createLogger({ level: 'silent' }),
        queues: redis.queues,
        redis: redis.redis,
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await app?.close();
      await redis?.close();
    });

    it('queues a batch sent twice (a client retrying) once, equal events in it included', async () => {
      const batch = [...Array.from({ length: 20 }, (_, i) => ({ type: 'track', event: 'Retried', userId: `u${i}` })), { type: 'track', event: 'Retried', userId: 'u0' }];
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ batch, sentAt: new Date().toISOString() }),
        });
        expect(res.status).to.equal(200);
      }
      expect(await itemJobs(redis.queues.trackEvent, ['waiting'])).to.have.length(21);
    });
  });
});
