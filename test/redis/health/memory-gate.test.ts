// A Redis near its maxmemory: the API refuses events before Redis would refuse some of their jobs, says so
// on /health, and takes events again once there is room. Against a private redis-server with a small
// maxmemory that the test fills.
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import type IORedis from 'ioredis';
import { ConfigError, DEFAULTS, loadConfig } from '../../../src/config';
import { createMetrics } from '../../../src/counts/metrics';
import { buildApi } from '../../../src/http/app';
import { Producer } from '../../../src/producer/publish';
import type { Queues } from '../../../src/jobs/queues';
import type { RedisConnection } from '../../../src/redis/connection';
import { memoryProblem, RedisMemoryGate } from '../../../src/redis/health';
import { waitUntil } from '../../support/chaos';
import { needs, redisServerMissing } from '../../support/needs';
import { startSmallRedis, type SmallRedis } from '../../support/small-redis';
import { captureLog } from '../../support/log-capture';
import { itemJobs } from '../../support/items';
import { TRACK_SUBSCRIPTION } from '../../support/track-subscription';

const TRACK = TRACK_SUBSCRIPTION;

const MAXMEMORY = 16 * 1024 * 1024;

describe('redis health: the memory gate', function () {
  this.timeout(30_000);

  describe('settings', () => {
    it('defaults to refusing above 90%, reading every second', () => {
      expect(loadConfig({}).redis).to.include({ memoryRefuseRatio: 0.9, memoryPollMs: 1000 });
      expect(loadConfig({ REDIS_MEMORY_REFUSE_RATIO: '0.75' }).redis.memoryRefuseRatio).to.equal(0.75);
    });

    it('refuses a ratio outside (0, 1], naming the setting', () => {
      for (const bad of ['0', '1.5', '90%', '-0.5', 'abc']) {
        expect(() => loadConfig({ REDIS_MEMORY_REFUSE_RATIO: bad }), bad).to.throw(ConfigError, /REDIS_MEMORY_REFUSE_RATIO must be a number above 0 and at most 1/);
      }
    });
  });

  describe('memoryProblem (the decision)', () => {
    const at = (used: number, max: number, policy = 'noeviction') => [{ server: 'r:6379', usedBytes: used, maxBytes: max, policy }];

    it('lets events through below the ratio and without a maxmemory', () => {
      expect(memoryProblem(at(89, 100), 0.9)).to.equal(undefined);
      expect(memoryProblem(at(90, 100), 0.9)).to.equal(undefined);
      expect(memoryProblem(at(10 ** 12, 0), 0.9)).to.equal(undefined);
    });

    it('refuses above the ratio, naming the figures and the setting', () => {
      expect(memoryProblem(at(95 * 2 ** 20, 100 * 2 ** 20), 0.9)).to.match(
        /Redis at r:6379 is near its memory limit: 95\.0 MB used of maxmemory 100\.0 MB \(95%\); the API takes no events above 90% \(REDIS_MEMORY_REFUSE_RATIO\)/,
      );
    });

    it('refuses when the policy was changed at runtime to one that evicts', () => {
      expect(memoryProblem(at(1, 100, 'allkeys-lru'), 0.9)).to.match(/maxmemory-policy allkeys-lru.*noeviction/);
    });
  });

  describe('an API in front of a nearly full Redis', () => {
    let small: SmallRedis;
    let admin: IORedis;
    let connection: RedisConnection;
    let queues: Queues;
    let gate: RedisMemoryGate;
    let app: FastifyInstance;
    let url: string;
    const out = captureLog('info');

    before(async function () {
      needs(this, redisServerMissing());
      small = await startSmallRedis(MAXMEMORY, 'cio-gate');
      ({ admin, connection, queues } = small);
      const logger = out.log;
      gate = new RedisMemoryGate(connection, { memoryRefuseRatio: 0.9, memoryPollMs: 100 }, logger);
      await gate.start();
      const metrics = createMetrics();
      app = await buildApi({
        config: { writeKeys: [], dashboard: { readOnly: false } },
        producer: new Producer({ queues, redis: connection, queuePrefix: 'cio-gate', subscriptions: [TRACK], policy: DEFAULTS.jobs, metrics }),
        subscriptions: [TRACK],
        metrics,
        logger,
        queues,
        redis: connection,
        memoryGate: gate,
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });

    after(async () => {
      gate?.stop();
      await app?.close();
      await small?.close();
    });

    /** Writes filler values until used_memory passes `share` of maxmemory. */
    async function fill(share: number): Promise<void> {
      const chunk = 'x'.repeat(256 * 1024);
      for (let i = 0; ; i++) {
        if ((await small.used()) > MAXMEMORY * share) return;
        await admin.set(`filler:${i}`, chunk);
      }
    }

    const batch = (n: number) => ({ batch: Array.from({ length: n }, (_, i) => ({ type: 'track', event: 'Full', userId: `u${i}`, messageId: `full-${i}` })) });
    const post = (body: unknown) => fetch(`${url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    it('answers 503 with Retry-After and queues nothing while Redis is above the ratio', async () => {
      await fill(0.93);
      await waitUntil(() => gate.problem() !== undefined, 5000, 'the gate to see the full Redis');

      const res = await post(batch(500));
      expect(res.status).to.equal(503);
      expect(res.headers.get('retry-after')).to.match(/^\d+$/);
      const body = (await res.json()) as { error: string };
      expect(body.error).to.match(/near its memory limit.*REDIS_MEMORY_REFUSE_RATIO.*nothing was queued/);
      const counts = await queues.trackEvent.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
      expect(Object.values(counts).reduce((a, b) => a + b, 0), 'jobs queued despite the 503').to.equal(0);
      expect(out.text()).to.match(/events are refused with 503: Redis at .* is near its memory limit/);
    });

    it('answers /health with 503 and why while it refuses events (not 200 ok)', async () => {
      const health = await fetch(`${url}/health`);
      expect(health.status).to.equal(503);
      const said = (await health.json()) as { status: string; ingestion: string; error: string };
      expect(said).to.include({ status: 'unavailable', ingestion: 'refused' });
      expect(said.error).to.match(/near its memory limit: [\d.]+ MB used of maxmemory 16\.0 MB/);
    });

    it('takes events again once the memory is freed, without a restart', async () => {
      await admin.flushdb();
      await waitUntil(() => gate.problem() === undefined, 5000, 'the gate to open again');
      const res = await post(batch(50));
      expect(res.status, await res.clone().text()).to.equal(200);
      expect((await fetch(`${url}/health`)).status).to.equal(200);
      expect(await itemJobs(queues.trackEvent, ['waiting'])).to.have.length(50);
      expect(out.text()).to.match(/Redis has room again/);
    });
  });
});
