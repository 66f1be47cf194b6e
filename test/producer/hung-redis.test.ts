// Issue 18, point 2: a hung Redis (the connection open, no answers). Every answer of the API is true:
// a request whose write Redis did not confirm in time is answered CIO_ERR_UNCONFIRMED ("may have been
// queued"), never "nothing was queued"; the events held while Redis does not answer are bounded
// (PRODUCER_MAX_PENDING_EVENTS), past which requests are refused at once, nothing queued; and once Redis
// answers again, the writes that were held land, and the client's re-send of every request through
// another API replica is queued once and delivered once.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/http/app';
import type { JobsConfig } from '../../src/config';
import { createMetrics } from '../../src/counts/metrics';
import { createLogger } from '../../src/log/logger';
import { Producer } from '../../src/producer/publish';
import { connectRedis, type RedisConnection } from '../../src/redis/connection';
import { createQueues, closeQueues, type Queues } from '../../src/jobs/queues';
import { postJson, waitUntil } from '../support/chaos';
import { REDIS_URL, startPipeline, trackEvent, type Pipeline } from '../support/pipeline';

/** A TCP proxy in front of Redis that can stop forwarding (both ways) and start again, keeping every byte. */
async function holdableProxy(target: URL) {
  let held = false;
  const flushes: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const forward = (from: net.Socket, to: net.Socket) => {
    const queued: Buffer[] = [];
    from.on('data', (chunk: Buffer) => {
      if (held) queued.push(chunk);
      else to.write(chunk);
    });
    flushes.push(() => {
      for (const chunk of queued.splice(0)) to.write(chunk);
    });
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => (held = true),
    release: () => {
      held = false;
      for (const flush of flushes) flush();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const TRACK = [{ name: 'Track', action: 'trackEvent', trigger: 'type = "track"', mapping: {
  id: { '@path': '$.userId' }, name: { '@path': '$.event' }, event_id: { '@path': '$.messageId' },
} }];
const MAX_PENDING = 100;
const BATCH = 20;

describe('point 2: a hung Redis', function () {
  this.timeout(60_000);
  let p: Pipeline;
  let proxy: Awaited<ReturnType<typeof holdableProxy>>;
  let hungRedis: RedisConnection;
  let hungQueues: Queues;
  let api: FastifyInstance;

  afterEach(async () => {
    await api?.close();
    if (hungQueues) await closeQueues(hungQueues);
    hungRedis?.disconnect();
    await proxy?.close();
    await p?.close();
  });

  /** An API replica whose Redis connection goes through the proxy; the pipeline's producer is another replica. */
  async function apiBehindProxy(bounds: Partial<JobsConfig>): Promise<{ producer: Producer; url: string }> {
    p = await startPipeline({ subscriptionSpecs: TRACK }, { startWorkers: false });
    proxy = await holdableProxy(new URL(REDIS_URL));
    hungRedis = connectRedis({ url: proxy.url }, 'producer');
    hungRedis.on('error', () => undefined);
    hungQueues = createQueues(hungRedis, p.config.redis.queuePrefix);
    await hungQueues.trackEvent.waitUntilReady();
    const metrics = createMetrics();
    const policy = { ...p.config.jobs, ...bounds };
    const producer = new Producer({ queues: hungQueues, redis: hungRedis, queuePrefix: p.config.redis.queuePrefix, subscriptions: p.config.subscriptions, policy, metrics });
    api = await buildApi({
      config: { writeKeys: [], dashboard: { readOnly: false } },
      producer, subscriptions: p.config.subscriptions, metrics, logger: createLogger({ level: 'silent' }),
      queues: hungQueues, redis: hungRedis, enqueueTimeoutMs: 300,
    });
    await api.listen({ port: 0, host: '127.0.0.1' });
    return { producer, url: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}` };
  }

  it('point 2: answers "may have been queued" after the timeout, bounds what it holds, and a re-send through another replica is delivered once', async () => {
    const { producer, url } = await apiBehindProxy({ producerMaxPendingEvents: MAX_PENDING });

    proxy.hold();
    const requests = Array.from({ length: 12 }, (_, r) => Array.from({ length: BATCH }, (_, i) => trackEvent(r * BATCH + i)));
    const answers = await Promise.all(requests.map((batch) => postJson(url, '/v1/batch', { batch })));
    const codes = answers.map((a) => a.json?.code as string);
    for (const a of answers) {
      expect(a.status).to.equal(503);
      expect(a.headers['retry-after']).to.equal('5');
    }
    // The requests taken in before the bound may land later: never "nothing was queued" for those.
    const unconfirmed = answers.filter((_, i) => codes[i] === 'CIO_ERR_UNCONFIRMED');
    expect(unconfirmed.length).to.be.within(1, MAX_PENDING / BATCH);
    for (const a of unconfirmed) expect(a.json.error).to.match(/may have been queued/).and.not.match(/nothing was queued/);
    // Past the bound: refused at once, and that answer is true.
    const refused = answers.filter((_, i) => codes[i] === 'CIO_ERR_UNAVAILABLE');
    expect(refused.length).to.equal(requests.length - unconfirmed.length);
    for (const a of refused) expect(a.json.error).to.match(/PRODUCER_MAX_PENDING_EVENTS.*nothing was queued/);
    expect(producer.pending).to.equal(unconfirmed.length * BATCH).and.at.most(MAX_PENDING);
    // More requests while Redis still hangs hold nothing more.
    const more = await postJson(url, '/v1/batch', { batch: [trackEvent(9999)] });
    expect(more.json?.code).to.equal('CIO_ERR_UNAVAILABLE');
    expect(producer.pending).to.equal(unconfirmed.length * BATCH);

    // Redis answers again: the held writes land.
    proxy.release();
    await waitUntil(() => producer.pending === 0, 20_000, 'the held writes to land');
    expect(await p.queues.trackEvent.getWaitingCount()).to.be.greaterThan(0);

    // The client re-sends every request through another replica: each event is queued once, delivered once.
    for (const batch of requests) await p.producer.publish(batch);
    p.pool.start();
    await p.settled(['trackEvent']);
    const sent = p.standIn.items().map((i) => i.name);
    expect(sent).to.have.length(requests.length * BATCH);
    expect(new Set(sent).size).to.equal(requests.length * BATCH);
  });

  it('point 2: bounds the bytes being written too: large events are refused at once past PRODUCER_MAX_PENDING_BYTES', async () => {
    const { producer, url } = await apiBehindProxy({ producerMaxPendingBytes: 16 * 1024 });
    proxy.hold();
    const big = (r: number) => Array.from({ length: 4 }, (_, i) => trackEvent(r * 4 + i, { properties: { note: 'x'.repeat(5000) } }));
    const first = await postJson(url, '/v1/batch', { batch: big(0) });
    expect(first.json?.code).to.equal('CIO_ERR_UNCONFIRMED');
    const next = await postJson(url, '/v1/batch', { batch: big(1) });
    expect(next.json?.code).to.equal('CIO_ERR_UNAVAILABLE');
    expect(next.json?.error).to.match(/PRODUCER_MAX_PENDING_BYTES.*nothing was queued/);
    expect(producer.pending).to.equal(4);
    proxy.release();
    await waitUntil(() => producer.pending === 0, 20_000, 'the held write to land');
  });
});
