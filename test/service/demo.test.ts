// `npm run demo` as a new user runs it: the service against a built-in stand-in, a report of what was
// delivered and what was refused and why, and nothing left behind in Redis (queues and counts). It works
// under a queue prefix of its own, so the queues and counts of a QUEUE_PREFIX it is given stay untouched.
import { expect } from 'chai';
import IORedis from 'ioredis';
import { closeQueues, createQueues } from '../../src/jobs/queues';
import { REDIS_URL, testPrefix } from '../support/pipeline';
import { spawnNode } from '../support/process';

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
