// A Redis that may evict keys may evict queued jobs: the service refuses to start on it, and `check` fails,
// each saying how to fix it. Against private redis-servers started with such a policy.
import { expect } from 'chai';
import { loadConfig } from '../../../src/config';
import { CustomerIoStandIn } from '../../../src/demo/customerio-stand-in';
import { createLogger } from '../../../src/log/logger';
import { connectRedis, waitForRedis } from '../../../src/redis/connection';
import { readEvictionPolicy } from '../../../src/redis/health';
import { startService } from '../../../src/service';
import { chaosPrefix, startPrivateRedis, type PrivateRedis } from '../../support/chaos';
import { needs, redisServerMissing } from '../../support/needs';
import { runCli } from '../../support/cli';
import { TEST_REDIS_URL } from '../../support/redis';

describe('redis health: maxmemory-policy must be noeviction', function () {
  this.timeout(60_000);
  let lru: PrivateRedis;
  let noConfig: PrivateRedis;

  before(async function () {
    needs(this, redisServerMissing());
    [lru, noConfig] = await Promise.all([
      startPrivateRedis({ args: ['--appendonly', 'no', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] }),
      // As on managed Redis services that disable CONFIG.
      startPrivateRedis({ args: ['--appendonly', 'no', '--maxmemory-policy', 'volatile-ttl', '--rename-command', 'CONFIG', '""'] }),
    ]);
  });
  after(async () => {
    await lru?.destroy();
    await noConfig?.destroy();
  });

  it('refuses to start on allkeys-lru, saying why and how to fix it', async () => {
    const config = loadConfig({ REDIS_URL: lru.url, QUEUE_PREFIX: chaosPrefix('lru'), PORT: '0', HOST: '127.0.0.1' });
    let started: Awaited<ReturnType<typeof startService>> | undefined;
    let error: Error | undefined;
    try {
      started = await startService(config, 'api', createLogger({ level: 'silent' }));
    } catch (err) {
      error = err as Error;
    } finally {
      await started?.close();
    }
    expect(error, 'the service started on an evicting Redis').to.be.instanceOf(Error);
    expect(error!.message).to.match(/maxmemory-policy allkeys-lru/);
    expect(error!.message).to.match(/lost without any error/);
    expect(error!.message).to.include('CONFIG SET maxmemory-policy noeviction');
    expect(error!.message).to.match(/redis\.conf/);
  });

  it('reads the policy from INFO memory where CONFIG is disabled', async () => {
    const redis = connectRedis({ url: noConfig.url }, 'producer');
    redis.on('error', () => undefined);
    try {
      await waitForRedis(redis, noConfig.url);
      await redis.config('GET', 'maxmemory-policy').then(
        () => expect.fail('CONFIG should be disabled on this server'),
        (err: Error) => expect(err.message).to.match(/unknown command/i),
      );
      expect(await readEvictionPolicy(redis)).to.include({ policy: 'volatile-ttl' });
    } finally {
      redis.disconnect();
    }
  });

  describe('check', () => {
    let standIn: CustomerIoStandIn;
    before(async () => {
      standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    });
    after(() => standIn.close());

    const check = (redisUrl: string) =>
      runCli(['check'], { REDIS_URL: redisUrl, CUSTOMERIO_SITE_ID: 'site', CUSTOMERIO_API_KEY: 'key', CUSTOMERIO_TRACK_URL: standIn.url, HOST: '127.0.0.1' });

    it('fails on a Redis that may evict jobs, with the fix', async () => {
      const result = await check(lru.url);
      expect(result.stdout).not.to.include('Redis: OK');
      expect(result.stdout).to.match(/Redis: .* answers, but may evict queued jobs/);
      expect(result.stdout).to.include('CONFIG SET maxmemory-policy noeviction');
      expect(result.stdout).to.match(/Check failed: Redis/);
      expect(result.code).to.equal(1);
    });

    it('fails where CONFIG is disabled too, reading the policy from INFO', async () => {
      const result = await check(noConfig.url);
      expect(result.stdout).to.match(/maxmemory-policy volatile-ttl/);
      expect(result.code).to.equal(1);
    });

    it('passes on noeviction and says so', async () => {
      const result = await check(TEST_REDIS_URL);
      expect(result.stdout).to.match(/Redis: OK, .* answers, maxmemory-policy noeviction/);
      expect(result.code, result.stdout + result.stderr).to.equal(0);
    });
  });
});
