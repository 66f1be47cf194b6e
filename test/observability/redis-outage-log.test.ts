// What an operator reads while Redis is away and after a restart: every error goes through the JSON logger
// and its throttle (nothing raw on stderr), a queue still held by a pause stored before the restart says
// so at start, and the jobs of a worker that died are logged when they come back.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { expect } from 'chai';
import { queuePrefix } from '../../src/redis/keys';
import { redisServerAvailable, sleep, startPrivateRedis, waitUntil, type PrivateRedis } from '../support/chaos';
import { randomQueuePrefix } from '../support/redis';
import { startServiceProcess, waitForHealth, type ServiceProcess } from '../support/process';

const CREDENTIALS = { CUSTOMERIO_SITE_ID: 'site', CUSTOMERIO_API_KEY: 'key', CUSTOMERIO_TRACK_URL: 'http://127.0.0.1:1' };

describe('logs during a Redis outage and after a restart', function () {
  this.timeout(60_000);
  let redis: PrivateRedis;
  let service: ServiceProcess | undefined;

  before(async function () {
    if (!redisServerAvailable()) this.skip();
    redis = await startPrivateRedis({ args: ['--appendonly', 'no'] });
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });
  after(async () => redis?.destroy());

  it('writes nothing raw to stderr while Redis is down, and a throttled line per source on stdout', async () => {
    const prefix = randomQueuePrefix();
    service = await startServiceProcess({ mode: 'all', env: { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, ...CREDENTIALS } });
    await redis.stop('SIGKILL');
    // Down long enough for every connection, queue and worker to retry many times (ioredis: every 200 ms to 2 s).
    await sleep(4000);
    await redis.start();
    await waitForHealth(service.url, 200, 20_000);
    await service.stop();

    expect(service.stderr.filter((l) => l.trim() !== ''), 'stderr').to.have.length.below(5);
    // First lines of each source; the throttle's summaries ("N more … errors in the last 10 s", with a count)
    // may follow one per interval when the outage and the restart together outlast it (a loaded machine).
    const lines = service.logs().filter((l) => l.level === 'error' && /ECONNREFUSED/.test(String(l.err ?? l.msg)));
    const errors = lines.filter((l) => l.count === undefined);
    const summaries = lines.filter((l) => l.count !== undefined);
    expect(summaries.length, 'summary lines').to.be.at.most(errors.length * 2);
    expect(errors.length, 'error lines about the refused connection').to.be.above(0);
    const bySource = new Map<string, number>();
    for (const e of errors) bySource.set(e.source, (bySource.get(e.source) ?? 0) + 1);
    // The outage is shorter than the throttle's interval: the first error of each source, nothing more.
    for (const [source, n] of bySource) expect(n, source).to.equal(1);
  });

  it('says at start which queue is still paused by a stored 401/429 pause, and logs the jobs of a dead worker coming back', async () => {
    const prefix = randomQueuePrefix();
    const admin = new IORedis(redis.url, { maxRetriesPerRequest: null });
    const trackEvent = new Queue('trackEvent', { connection: admin, prefix: queuePrefix(prefix, 'trackEvent') });
    const identify = new Queue('createUpdatePerson', { connection: admin, prefix: queuePrefix(prefix, 'createUpdatePerson') });
    try {
      // A 429 pause a worker stored before it stopped (Queue.rateLimit, as the workers do).
      await trackEvent.rateLimit(120_000);
      // A job taken by a worker that then died: active, with a lock that runs out.
      await identify.add('group', { probe: true }, { jobId: 'held-by-dead-worker' });
      const dead = new Worker('createUpdatePerson', null, { connection: admin, prefix: queuePrefix(prefix, 'createUpdatePerson'), lockDuration: 500, autorun: false });
      expect((await dead.getNextJob('dead-worker-token'))?.id).to.equal('held-by-dead-worker');
      await dead.close(true);
      await sleep(600); // the lock expires

      service = await startServiceProcess({ mode: 'worker', env: { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, STALLED_INTERVAL_MS: '500', ...CREDENTIALS } });
      const s = service;
      await waitUntil(() => s.logs().some((l) => /came back to the queue/.test(l.msg)), 15_000, 'the stalled job logged', () => s.output());
      const paused = s.logs().filter((l) => /still paused until/.test(l.msg));
      expect(paused.map((l) => l.action)).to.deep.equal(['trackEvent']);
      expect(paused[0].pauseMs).to.be.above(0);
      const stalled = s.logs().find((l) => /came back to the queue/.test(l.msg));
      expect(stalled).to.include({ action: 'createUpdatePerson', jobs: 1 });
      expect(stalled.ids).to.deep.equal(['held-by-dead-worker']);
    } finally {
      await trackEvent.obliterate({ force: true }).catch(() => undefined);
      await identify.obliterate({ force: true }).catch(() => undefined);
      await trackEvent.close();
      await identify.close();
      admin.disconnect();
    }
  });
});
