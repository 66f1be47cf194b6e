// `npm run demo` as a new user runs it: the service against a built-in stand-in, a report of what was
// delivered and what was refused and why, and nothing left behind in Redis (queues and counts).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'chai';
import IORedis from 'ioredis';
import { REDIS_URL, testPrefix } from '../support/pipeline';

describe('npm run demo', function () {
  this.timeout(60_000);

  it('reports deliveries and refusals with their reasons, exits 0 and leaves no queue or count behind', async () => {
    const prefix = testPrefix();
    const child = spawn(process.execPath, [resolve(__dirname, '../../dist/demo/index.js')], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL, QUEUE_PREFIX: prefix, PORT: '0' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((done) => child.once('close', done));
    expect(code, output).to.equal(0);
    expect(output).to.include('cio-relay demo: the service runs at');
    expect(output).to.include('Customer.io rejected the item: invalid attributes.bio: property value cannot be longer than 1000 bytes');

    const redis = new IORedis(REDIS_URL);
    try {
      // The rate-limit keys of the queues expire by themselves within a second; nothing else may stay.
      const left = (await redis.keys(`${prefix}:*`)).filter((k) => !k.endsWith(':limiter'));
      expect(left).to.deep.equal([]);
    } finally {
      redis.disconnect();
    }
  });
});
