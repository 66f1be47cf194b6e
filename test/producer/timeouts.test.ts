// The API does not let a slow client hold a connection forever: headers that never end and bodies that
// never finish are cut off after HEADERS_TIMEOUT_MS and REQUEST_TIMEOUT_MS (fastify waits forever by default).
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { DEFAULTS, loadConfig } from '../../src/config';
import { createLogger } from '../../src/log/logger';
import { createMetrics } from '../../src/counts/metrics';
import { buildApi } from '../../src/http/app';
import { Producer } from '../../src/producer/publish';
import { openTestQueues, type TestQueues } from '../support/redis';

/** Opens a connection, writes `data`, and resolves with what the server sent and how long until it closed. */
function slowClient(port: number, data: string, giveUpMs: number): Promise<{ closedAfterMs: number | undefined; received: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    let received = '';
    socket.setEncoding('utf8').on('data', (d) => (received += d));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: undefined, received });
    }, giveUpMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
    socket.on('error', () => undefined);
  });
}

describe('HTTP API timeouts', function () {
  this.timeout(20_000);
  let redis: TestQueues;
  let app: FastifyInstance;
  let port: number;

  before(async () => {
    redis = await openTestQueues();
    const metrics = createMetrics();
    app = await buildApi({
      config: { writeKeys: [], dashboard: { readOnly: false }, requestTimeoutMs: 800, headersTimeoutMs: 400 },
      producer: new Producer({ queues: redis.queues, redis: redis.redis, queuePrefix: redis.prefix, subscriptions: [], policy: DEFAULTS.jobs, metrics }),
      subscriptions: [],
      metrics,
      logger: createLogger({ level: 'silent' }),
      queues: redis.queues,
      redis: redis.redis,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await app?.close();
    await redis?.close();
  });

  it('closes the connection of a client that never finishes its headers', async () => {
    const { closedAfterMs } = await slowClient(port, 'POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n', 5000);
    expect(closedAfterMs, 'still open after 5 s').to.be.a('number');
    expect(closedAfterMs!).to.be.within(300, 3000);
  });

  it('answers 408 and closes the connection of a client that never finishes its body', async () => {
    const head = 'POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const { closedAfterMs, received } = await slowClient(port, `${head}{"type":"track",`, 5000);
    expect(closedAfterMs, 'still open after 5 s').to.be.a('number');
    expect(closedAfterMs!).to.be.within(700, 3500);
    expect(received).to.match(/^HTTP\/1\.1 408 /);
  });

  it('still serves a client that sends its request in time', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'track', event: 'E', userId: 'u' }),
    });
    expect(res.status).to.equal(200);
  });

  it('reads REQUEST_TIMEOUT_MS and HEADERS_TIMEOUT_MS, with defaults of 30 s and 10 s, and refuses headers longer than the request', () => {
    expect(loadConfig({}).http).to.include({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000 });
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '2000' }).http).to.include({ requestTimeoutMs: 5000, headersTimeoutMs: 2000 });
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '5000' }).http).to.include({ headersTimeoutMs: 5000 });
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '2000' })).to.throw('HEADERS_TIMEOUT_MS (2000) may not be over REQUEST_TIMEOUT_MS (1000)');
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: 'soon' })).to.throw('REQUEST_TIMEOUT_MS must be a whole number');
  });
});
