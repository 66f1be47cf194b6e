// Security defaults at start-up, on the real entry point (src/main.ts): where the API listens without
// write keys, when the dashboard needs credentials, and what a TLS Redis URL does when nothing answers.
// The messages are asserted whole enough that an operator reading them knows what to set.
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { expect } from 'chai';
import { chaosPrefix, freePort, inspectQueues, redisServerAvailable, SHARED_REDIS_URL, startPrivateRedis } from '../support/chaos';
import { loadConfig } from '../../src/config';
import { configRefusal } from '../support/config-file';
import { runUntilExit, startServiceProcess, stopAllServiceProcesses, type Env } from '../support/process';

const PASSWORD = 'rediss-Pw-7QzK-do-not-print';

const refusal = (env: Env): string => configRefusal(env);

/** True when something accepts a TCP connection at host:port. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('security: start-up defaults', function () {
  this.timeout(30_000);
  const prefixes: string[] = [];
  const prefix = () => {
    prefixes.push(chaosPrefix('sec'));
    return prefixes[prefixes.length - 1];
  };
  afterEach(async () => {
    await stopAllServiceProcesses();
    // The API writes each queue's meta key when it starts; leave nothing behind in the shared Redis.
    for (const p of prefixes.splice(0)) await (await inspectQueues(SHARED_REDIS_URL, p)).destroy();
  });

  describe('without WRITE_KEYS', () => {
    it('refuses HOST=0.0.0.0 (or any non-loopback address) at start-up, saying what to set', async () => {
      for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
        expect(refusal({ HOST: host })).to.equal(
          `HOST=${host} would accept events from other machines without a write key. Set WRITE_KEYS (comma-separated), or listen on 127.0.0.1.`,
        );
      }
      const run = await runUntilExit('api', { REDIS_URL: SHARED_REDIS_URL, HOST: '0.0.0.0' });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include(
        'Configuration error: HOST=0.0.0.0 would accept events from other machines without a write key. Set WRITE_KEYS (comma-separated), or listen on 127.0.0.1.',
      );
    });

    it('listens on loopback only, and says so', async () => {
      const api = await startServiceProcess({ mode: 'api', env: { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix(), HOST: undefined, WRITE_KEYS: undefined } });
      const url = new URL(api.url);
      expect(url.hostname).to.equal('127.0.0.1');
      expect(api.logs().some((l) => l.level === 'warn' && /No WRITE_KEYS set: .* listens on 127\.0\.0\.1 only/.test(l.msg))).to.equal(true);
      // Not reachable on this machine's other addresses.
      const external = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && i.family === 'IPv4' && !i.internal)
        .map((i) => i!.address);
      for (const address of external) expect(await connects(address, Number(url.port)), `${address}:${url.port}`).to.equal(false);
      expect(await connects('127.0.0.1', Number(url.port))).to.equal(true);
    });
  });

  describe('the dashboard', () => {
    it('needs DASHBOARD_USER and DASHBOARD_PASSWORD to listen beyond loopback, even with write keys', async () => {
      const message = 'HOST=0.0.0.0 would show the dashboard (/admin/queues) to other machines without credentials. Set DASHBOARD_USER and DASHBOARD_PASSWORD.';
      expect(refusal({ HOST: '0.0.0.0', WRITE_KEYS: 'k' })).to.equal(message);
      // With write keys the API listens on 0.0.0.0 by default, so the dashboard needs credentials then too.
      expect(refusal({ WRITE_KEYS: 'k' })).to.equal(message);
      expect(refusal({ WRITE_KEYS: 'k', DASHBOARD_USER: 'ops' })).to.match(/DASHBOARD_USER and DASHBOARD_PASSWORD go together/);
      expect(loadConfig({ WRITE_KEYS: 'k', DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'pw' }).http.host).to.equal('0.0.0.0');
      const run = await runUntilExit('api', { REDIS_URL: SHARED_REDIS_URL, HOST: undefined, WRITE_KEYS: 'k' });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include(`Configuration error: ${message}`);
    });

    it('asks for the credentials when they are set, and lets the right ones in', async () => {
      const api = await startServiceProcess({
        mode: 'api',
        env: { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix(), WRITE_KEYS: 'k', DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'dash-pw-1' },
      });
      const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
      const none = await fetch(`${api.url}/admin/queues`);
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.match(/^Basic realm=/);
      expect(((await none.json()) as { error: string }).error).to.equal('the dashboard needs a user name and password');
      const wrong = await fetch(`${api.url}/admin/queues`, { headers: basic('ops', 'nope') });
      expect(wrong.status).to.equal(401);
      expect(((await wrong.json()) as { error: string }).error).to.equal('wrong dashboard user name or password');
      // The write key is not a dashboard credential.
      expect((await fetch(`${api.url}/admin/queues/api/queues`, { headers: basic('k', '') })).status).to.equal(401);
      const right = await fetch(`${api.url}/admin/queues/api/queues`, { headers: basic('ops', 'dash-pw-1') });
      expect(right.status).to.equal(200);
      await right.text();
    });
  });

  describe('rediss:// (Redis over TLS)', () => {
    it('is accepted by the configuration, password and all', () => {
      const url = `rediss://default:${PASSWORD}@redis.example.com:6380/0`;
      expect(loadConfig({ REDIS_URL: url }).redis.url).to.equal(url);
      const bad = refusal({ REDIS_URL: `http://default:${PASSWORD}@redis.example.com` });
      expect(bad).to.match(/^REDIS_URL must start with redis:\/\/ or rediss:\/\//);
      expect(bad).not.to.include(PASSWORD);
    });

    it('stops start-up with a clear message, without the password, when nothing answers or the server does not speak TLS', async () => {
      const nobody = await freePort();
      const plain = redisServerAvailable() ? await startPrivateRedis() : undefined;
      try {
        const ports = [nobody, ...(plain ? [plain.port] : [])];
        const started = Date.now();
        const runs = await Promise.all(ports.map((port) => runUntilExit('api', { REDIS_URL: `rediss://default:${PASSWORD}@127.0.0.1:${port}` })));
        runs.forEach((run, i) => {
          expect(run.code, run.stderr).to.equal(1);
          expect(run.stderr).to.include(`Cannot reach Redis at rediss://default:***@127.0.0.1:${ports[i]}`);
          expect(run.stderr).to.match(/rediss:\/\/ for TLS/);
          expect(`${run.stdout}\n${run.stderr}`).not.to.include(PASSWORD);
        });
        expect(Date.now() - started, 'gives up within seconds').to.be.lessThan(15_000);
      } finally {
        await plain?.destroy();
      }
    });
  });
});
