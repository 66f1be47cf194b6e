// Redis restarted under a running service. Without persistence, the waiting jobs are gone: the service must
// say so at error level, once, and carry on. With persistence, it must not cry wolf. Either way, the outage
// must not flood the log: connection and worker errors come once, then at most a line per interval.
//
// Private redis-servers (one without persistence, one with AOF); the service runs in this process with
// its log captured.
import { expect } from 'chai';
import { loadConfig } from '../../../src/config';
import { DATA_LOST_MESSAGE, markerKey } from '../../../src/redis/health';
import { startService, type RunningService } from '../../../src/service';
import { captureLog, type LogLine } from '../../support/log-capture';
import { chaosPrefix, sleep, startPrivateRedis, waitUntil, type PrivateRedis } from '../../support/chaos';
import { needs, redisServerMissing } from '../../support/needs';

async function serviceOn(redis: PrivateRedis, prefix: string) {
  const out = captureLog('debug');
  const config = loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    CUSTOMERIO_SITE_ID: 'site',
    CUSTOMERIO_API_KEY: 'key',
    CUSTOMERIO_TRACK_URL: 'http://127.0.0.1:1',
  });
  const service = await startService(config, 'all', out.log);
  return { service, lines: out.lines };
}

describe('redis health: Redis restarted under the service', function () {
  this.timeout(60_000);
  before(function () {
    needs(this, redisServerMissing());
  });

  describe('without persistence', () => {
    let redis: PrivateRedis;
    let service: RunningService;
    let lines: () => LogLine[];
    const prefix = chaosPrefix('lost');

    before(async () => {
      redis = await startPrivateRedis({ args: ['--appendonly', 'no'] });
      ({ service, lines } = await serviceOn(redis, prefix));
      await service.producer!.publish({ type: 'track', event: 'Waiting', userId: 'u1', messageId: 'waiting-1' });
      await redis.stop('SIGKILL');
      await sleep(3000);
      await redis.start();
      await waitUntil(() => lines().some((l) => l.msg.startsWith(DATA_LOST_MESSAGE)), 20_000, 'the data loss to be reported');
      await service.redisSettled(); // the other connection's check too: a duplicate report would come from it
    });
    after(async () => {
      await service?.close();
      await redis?.destroy();
    });

    it('reports at error level, once, that Redis came back without its data', () => {
      const reports = lines().filter((l) => l.msg.startsWith(DATA_LOST_MESSAGE));
      expect(reports.map((l) => l.level)).to.deep.equal(['error']);
      expect(reports[0].msg).to.equal(DATA_LOST_MESSAGE);
      expect(reports[0]).to.have.property('key', markerKey(prefix));
    });

    it('writes the marker again, so the next loss is noticed too', async () => {
      const client = redis.client();
      try {
        expect(await client.get(markerKey(prefix))).to.be.a('string');
      } finally {
        client.disconnect();
      }
    });

    it('counts the loss on /metrics', async () => {
      expect(await service.metrics.registry.metrics()).to.match(/^cio_redis_data_lost_total 1$/m);
    });

    it('logs the outage’s connection and worker errors once each, not once per retry', () => {
      const errors = lines().filter((l) => l.level === 'error' && l.source !== undefined);
      const bySource = new Map<string, number>();
      for (const l of errors) bySource.set((l.source as string), (bySource.get((l.source as string)) ?? 0) + 1);
      expect(bySource.get('Redis connection (producer)'), JSON.stringify([...bySource])).to.equal(1);
      for (const [source, count] of bySource) expect(count, `${source}: ${count} lines in a 3 s outage`).to.equal(1);
      // Issue 18 point 11: this filtered for "worker error (it keeps running)", a line the service no longer
      // writes, so it held whatever BullMQ logged. The fifteen workers' errors share one throttled line.
      const bullmq = lines().filter((l) => /^BullMQ worker error: .*; the worker keeps running and reconnects by itself$/.test(l.msg));
      expect(bullmq.map((l) => l.source), 'the BullMQ workers\' errors of the outage, as one line').to.deep.equal(['BullMQ worker']);
      const first = errors.find((l) => l.source === 'Redis connection (producer)')!;
      expect(first.msg).to.match(/^Redis connection \(producer\) error: .*ECONNREFUSED.*; it reconnects by itself/);
    });

    it('keeps taking events after the loss', async () => {
      const [result] = await service.producer!.publish({ type: 'track', event: 'After', userId: 'u2', messageId: 'after-1' });
      expect(result.error).to.equal(undefined);
    });
  });

  describe('with persistence (AOF)', () => {
    let redis: PrivateRedis;
    let service: RunningService;
    let lines: () => LogLine[];

    before(async () => {
      redis = await startPrivateRedis();
      ({ service, lines } = await serviceOn(redis, chaosPrefix('kept')));
      await redis.stop('SIGKILL');
      await sleep(500);
      await redis.start();
      await waitUntil(() => lines().some((l) => /came back with its data/.test(l.msg)), 20_000, 'the restart to be noticed');
      await service.redisSettled();
    });
    after(async () => {
      await service?.close();
      await redis?.destroy();
    });

    it('reports no data loss, and notes the restart at info level', () => {
      expect(lines().filter((l) => l.msg.startsWith(DATA_LOST_MESSAGE))).to.have.length(0);
      const restarts = lines().filter((l) => /came back with its data/.test(l.msg));
      expect(restarts.map((l) => l.level)).to.include('info');
      expect(restarts[0].runId).to.not.equal(restarts[0].previousRunId);
    });
  });
});
