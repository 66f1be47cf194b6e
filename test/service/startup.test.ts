// The service as a user starts it (`node dist/main.js`, here through tsx): clear messages when something
// is missing, an event sent with curl reaching Customer.io, and a clean stop on SIGTERM.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { connectRedis } from '../../src/redis/connection';
import { createQueues } from '../../src/jobs/queues';
import { ACTION_KEYS } from '../../src/core/types';
import { REDIS_URL, testPrefix } from '../support/pipeline';
import { removeKeysUnder } from '../support/redis';
import { runUntilExit, startServiceProcess, type Env, type ServiceProcess } from '../support/process';

/** Runs the service expecting it to refuse to start; its exit code and its stdout and stderr in one text. */
async function refusal(env: Env): Promise<{ code: number | null; output: string }> {
  const exit = await runUntilExit('all', { REDIS_URL, ...env });
  return { code: exit.code, output: `${exit.stdout}\n${exit.stderr}` };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('starting the service', function () {
  this.timeout(40_000);

  it('without Customer.io credentials, says how to set them or to run the demo, and exits 2', async () => {
    const s = await refusal({});
    expect(s.code).to.equal(2);
    expect(s.output).to.include('Customer.io credentials are missing: set CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY');
    expect(s.output).to.include('npm run demo');
  });

  it('without Redis, says so and how to start one, and exits 1', async () => {
    const s = await refusal({ CUSTOMERIO_SITE_ID: 's', CUSTOMERIO_API_KEY: 'k', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(s.code).to.equal(1);
    expect(s.output).to.match(/Cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(s.output).to.include('redis-server --appendonly yes');
  });

  it('with a bad setting, names it and exits 2', async () => {
    const s = await refusal({ CUSTOMERIO_SITE_ID: 's', CUSTOMERIO_API_KEY: 'k', FLUSH_INTERVAL_MS: 'soon' });
    expect(s.code).to.equal(2);
    expect(s.output).to.include('Configuration error: FLUSH_INTERVAL_MS must be a whole number');
  });

  describe('when a port is taken', () => {
    let taken: http.Server;
    let port: number;
    // The processes below write their queues' meta keys; each test's prefix is removed afterwards.
    const prefixes: string[] = [];
    const prefix = () => {
      prefixes.push(testPrefix());
      return prefixes[prefixes.length - 1];
    };
    before(async () => {
      taken = http.createServer((_req, res) => res.end('someone else'));
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
      port = (taken.address() as AddressInfo).port;
    });
    afterEach(async () => {
      for (const p of prefixes.splice(0)) await removeKeysUnder(p);
    });
    after(() => new Promise((resolve) => taken.close(resolve)));
    const credentials = { CUSTOMERIO_SITE_ID: 's', CUSTOMERIO_API_KEY: 'k', CUSTOMERIO_TRACK_URL: 'http://127.0.0.1:9' };

    it('the API says which port and what to set, and exits 1', async () => {
      const exit = await runUntilExit('api', { REDIS_URL, QUEUE_PREFIX: prefix(), PORT: String(port) });
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.include(`Port ${port} on 127.0.0.1 is already in use: stop what listens there, or set PORT to a free port.`);
    });

    it('a worker with METRICS_PORT taken says so and exits 1, having taken no job', async () => {
      const own = prefix();
      const redis = connectRedis({ url: REDIS_URL }, 'worker');
      const queues = createQueues(redis, own);
      try {
        await queues.trackEvent.add('Track Event', { subscription: 'Track Event', event: { type: 'track', event: 'E', userId: 'u', messageId: 'm1' } });
        const exit = await runUntilExit('worker', { REDIS_URL, QUEUE_PREFIX: own, METRICS_PORT: String(port), ...credentials });
        expect(exit.code).to.equal(1);
        expect(exit.stderr).to.include(`Port ${port} on 127.0.0.1 is already in use: stop what listens there, or set METRICS_PORT to a free port.`);
        const counts = await queues.trackEvent.getJobCounts('waiting', 'active', 'completed', 'failed');
        expect(counts).to.include({ waiting: 1, active: 0, completed: 0, failed: 0 });
      } finally {
        await Promise.all(ACTION_KEYS.map((a) => queues[a].close()));
        redis.disconnect();
      }
    });

    it('a second worker on the same host (PORT taken, no METRICS_PORT) serves /metrics on a free port and says where', async () => {
      const worker = await startServiceProcess({ mode: 'worker', env: { REDIS_URL, QUEUE_PREFIX: prefix(), PORT: String(port), ...credentials } });
      try {
        expect(new URL(worker.url).port).not.to.equal(String(port));
        const warning = worker.logs().find((l) => l.level === 40 || l.level === 'warn');
        expect(warning?.msg).to.equal(
          `port ${port} is taken (the API or another worker on this host?): this worker serves /metrics and /health on port ${new URL(worker.url).port}; set METRICS_PORT to choose one`,
        );
        expect((await fetch(`${worker.url}/metrics`)).status).to.equal(200);
      } finally {
        await worker.stop('SIGTERM');
      }
    });
  });

  it('delivers an event sent with curl to Customer.io, and stops cleanly on SIGTERM', async function () {
    if (spawnSync('curl', ['--version']).status !== 0) this.skip(); // curl is on every Debian image we use
    const standIn = await CustomerIoStandIn.start({ siteId: 's', apiKey: 'k' });
    const prefix = testPrefix();
    let s: ServiceProcess | undefined;
    try {
      s = await startServiceProcess({
        mode: 'all',
        env: {
          REDIS_URL,
          LOG_LEVEL: 'info',
          CUSTOMERIO_SITE_ID: 's',
          CUSTOMERIO_API_KEY: 'k',
          CUSTOMERIO_TRACK_URL: standIn.url,
          QUEUE_PREFIX: prefix,
          PORT: '0',
          FLUSH_INTERVAL_MS: '100',
          WRITE_KEYS: 'wk-test',
          HOST: '127.0.0.1',
        },
      });
      const started = s;
      await waitFor(() => /ready at http:\/\/127\.0\.0\.1:\d+/.test(started.output()), 20_000);
      const url = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(started.output())![1];
      const curl = spawnSync('curl', ['-s', '-w', ' %{http_code}', '-u', 'wk-test:', '-H', 'content-type: application/json',
        '-d', JSON.stringify({ userId: 'curl-user', event: 'Curled', properties: { via: 'curl' } }), `${url}/v1/track`], { encoding: 'utf8' });
      expect(curl.stdout).to.equal('{"success":true} 200');
      await waitFor(() => standIn.items().length > 0, 10_000);
      expect(standIn.items()[0]).to.deep.include({ type: 'person', action: 'event', name: 'Curled', identifiers: { id: 'curl-user' } });

      // SIGTERM, and no SIGKILL before the test's own timeout: the exit must be the service's.
      expect((await started.stop('SIGTERM', 40_000)).code).to.equal(0);
      expect(started.output()).to.include('stopped cleanly');
    } finally {
      await s?.stop('SIGKILL');
      await standIn.close();
      const redis = connectRedis({ url: REDIS_URL }, 'worker');
      const queues = createQueues(redis, prefix);
      await Promise.all(ACTION_KEYS.map((a) => queues[a].obliterate({ force: true })));
      await Promise.all(Object.values(queues).map((q) => q.close()));
      redis.disconnect();
    }
  });
});
