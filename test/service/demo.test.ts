// `npm run demo` as a new user runs it: the service against a built-in stand-in, a report of what was
// delivered and what was refused and why, and nothing left behind in Redis (queues and counts). It works
// under a queue prefix of its own, so the queues and counts of a QUEUE_PREFIX it is given stay untouched.
import { expect } from 'chai';
import IORedis from 'ioredis';
import { closeQueues, createQueues } from '../../src/jobs/queues';
import { REDIS_URL, testPrefix } from '../support/pipeline';
import { spawnNode } from '../support/process';
import { answers } from '../../src/demo/private-redis';
import { freePort, redisServerAvailable, startPrivateRedis } from '../support/chaos';
import http from 'node:http';

async function runDemo(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawnNode('dist/demo/index.js', [], { REDIS_URL, PORT: '0', ...env });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((done) => child.once('close', done));
  return { code, output };
}

/** The demo's prefix, as it prints it. */
function demoPrefixOf(output: string): string {
  const match = /queues under the prefix (cio-demo-[0-9a-f]+)/.exec(output);
  if (!match) throw new Error(`the demo did not name its queue prefix:\n${output}`);
  return match[1];
}

describe('npm run demo', function () {
  this.timeout(60_000);
  let redis: IORedis;
  before(() => {
    redis = new IORedis(REDIS_URL);
  });
  after(() => redis.disconnect());

  it('reports deliveries and refusals with their reasons, exits 0 and leaves no queue or count behind', async () => {
    const { code, output } = await runDemo({});
    expect(code, output).to.equal(0);
    expect(output).to.include('cio-relay demo: the service runs at');
    expect(output).to.include('Customer.io rejected the item: invalid attributes.bio: property value cannot be longer than 1000 bytes');

    // The rate-limit keys of the queues expire by themselves within a second; nothing else may stay.
    const left = (await redis.keys(`${demoPrefixOf(output)}:*`)).filter((k) => !k.endsWith(':limiter'));
    expect(left).to.deep.equal([]);
  });

  it('with its port taken, says so in one line, exits 1 and writes nothing to Redis', async function () {
    if (!redisServerAvailable()) this.skip();
    // A Redis of this test's own: whatever the demo wrote is in it, and nothing else.
    const own = await startPrivateRedis({ args: ['--appendonly', 'no'] });
    const taken = http.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const { code, output } = await runDemo({ REDIS_URL: own.url, PORT: String(port), HOST: '127.0.0.1' });
      expect(code).to.equal(1);
      expect(output.trim().split('\n'), output).to.have.length(1);
      expect(output).to.include(`Port ${port} on 127.0.0.1 is already in use`);
      const client = own.client();
      expect(await client.keys('*')).to.deep.equal([]);
      client.disconnect();
    } finally {
      taken.close();
      await own.destroy();
    }
  });

  it('with no Redis at REDIS_URL, runs a private redis-server of its own and stops it at the end', async function () {
    if (!redisServerAvailable()) this.skip();
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const { code, output } = await runDemo({ REDIS_URL: nobody });
    expect(code, output).to.equal(0);
    const url = /runs a private redis-server at (redis:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(url, output).to.be.a('string');
    expect(output).to.include('What arrived at Customer.io');
    expect(await answers(url!), 'the private redis-server after the demo').to.equal(false);
  });

  it('with no Redis and no redis-server, says in one line how to get one', async () => {
    const { code, output } = await runDemo({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_SERVER_BIN: '/nonexistent/redis-server' });
    expect(code).to.equal(1);
    expect(output.trim().split('\n'), output).to.have.length(1);
    expect(output).to.match(/apt install redis-server.*brew install redis.*docker run/);
  });

  it("leaves the queues and counts of the QUEUE_PREFIX it is given alone, and says it uses its own", async () => {
    const prefix = testPrefix();
    const queues = createQueues(redis, prefix);
    const countsKey = `${prefix}:{counts}`;
    try {
      await queues.trackEvent.add('Track Event', { subscription: 'Track Event', event: { type: 'track', event: 'Kept' } });
      await redis.hset(countsKey, 'events_received|source=http', '7');
      const before = (await redis.keys(`${prefix}:*`)).sort();

      const { code, output } = await runDemo({ QUEUE_PREFIX: prefix });
      expect(code, output).to.equal(0);
      expect(output).to.include(`QUEUE_PREFIX=${prefix} is left alone`);
      expect(demoPrefixOf(output)).to.not.equal(prefix);

      expect((await redis.keys(`${prefix}:*`)).sort()).to.deep.equal(before);
      expect(await queues.trackEvent.getWaitingCount()).to.equal(1);
      expect(await redis.hget(countsKey, 'events_received|source=http')).to.equal('7');
    } finally {
      await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
      await redis.del(countsKey);
      await closeQueues(queues);
    }
  });
});
