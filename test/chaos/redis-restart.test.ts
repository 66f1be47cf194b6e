// Chaos: Redis dies (SIGKILL) during ingestion and comes back with its data (AOF, appendfsync always).
//
// The contract (ARCHITECTURE.md, "Nothing acknowledged is lost"): 200 only once the jobs are in Redis; 503 while Redis is unavailable, so
// clients retry; /health says 503 too. Nothing acknowledged is lost, and the service heals by itself: the
// same API and worker processes carry on once Redis is back.
//
// This uses a redis-server of its own (the shared one must never be stopped).
import { expect } from 'chai';
import {
  chaosPrefix,
  postJson,
  request,
  scale,
  sleep,
  startPrivateRedis,
  trackEvent,
  trackOnly,
  waitUntil,
} from '../support/chaos';
import { useChaosRun } from '../support/chaos-run';
import { needs, redisServerMissing } from '../support/needs';
import { startServiceProcess, waitForHealth, type Env } from '../support/process';

describe('chaos: Redis stopped and restarted during ingestion', function () {
  this.timeout(scale(60_000, 300_000));

  before(function () {
    needs(this, redisServerMissing());
  });

  const run = useChaosRun();

  it('answers 503 while Redis is down, delivers every event that got a 200, and resumes by itself', async () => {
    const outages = scale(1, 3);
    const downMs = scale(2000, 5000);
    const perRequest = 10;
    const redis = await startPrivateRedis();
    run.onCleanup(() => redis.destroy());
    const prefix = chaosPrefix('redis');
    const config = run.config(trackOnly(20));
    const standIn = await run.standIn({ siteId: 'site', apiKey: 'key' });
    const env: Env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      CIO_CONFIG: config.path,
      CUSTOMERIO_SITE_ID: 'site',
      CUSTOMERIO_API_KEY: 'key',
      CUSTOMERIO_TRACK_URL: standIn.url,
      FLUSH_INTERVAL_MS: '50',
      STALLED_INTERVAL_MS: '1000',
      LOCK_DURATION_MS: '2000',
      RETRY_BACKOFF_MS: '100',
    };
    const [api, worker] = await Promise.all([
      startServiceProcess({ mode: 'api', name: 'api', env }),
      startServiceProcess({ mode: 'worker', name: 'worker', env }),
    ]);

    // A client that sends /v1/batch requests in a loop and, like Segment's SDKs, sends a refused request
    // again after a short wait. Acknowledged ids are kept; 503 answers are counted and checked.
    const acked = new Set<string>();
    const refusals: Array<{ status: number; body: any; retryAfter?: string }> = [];
    const connectionErrors: string[] = [];
    let next = 0;
    let stop = false;
    const client = async () => {
      while (!stop) {
        const ids = Array.from({ length: perRequest }, () => `redis-${prefix}-${next++}`);
        const batch = ids.map((id) => trackEvent(id, Number(id.split('-').pop())));
        for (;;) {
          let res;
          try {
            res = await postJson(api.url, '/v1/batch', { batch });
          } catch (err) {
            connectionErrors.push((err as Error).message);
            await sleep(100);
            continue;
          }
          if (res.status === 200) {
            ids.forEach((id) => acked.add(id));
            break;
          }
          refusals.push({ status: res.status, body: res.json, retryAfter: res.headers['retry-after'] as string | undefined });
          await sleep(100);
        }
        await sleep(20);
      }
    };
    const clients = Promise.all([client(), client()]);

    for (let k = 0; k < outages; k++) {
      await waitUntil(() => acked.size >= (k + 1) * 100, 20_000, `${(k + 1) * 100} events acknowledged`);
      const before = refusals.length;
      await redis.stop('SIGKILL');
      const downAt = Date.now();

      // While it is down: /health and the event routes answer 503, at once, with a JSON error.
      await waitForHealth(api.url, 503, 5000);
      await waitForHealth(worker.url, 503, 5000);
      const started = Date.now();
      const refused = await postJson(api.url, '/v1/batch', { batch: [trackEvent(`probe-${prefix}-${k}`, 0)] });
      expect(refused.status, refused.text).to.equal(503);
      expect(Date.now() - started, 'a 503 comes at once, not after a timeout').to.be.lessThan(2000);
      expect(refused.json.error).to.match(/Redis/);
      expect(refused.headers['retry-after']).to.match(/^\d+$/);
      const health = await request(`${api.url}/health`);
      expect(health.status).to.equal(503);
      expect(health.json).to.have.property('error').that.matches(/Redis is not reachable/);

      // The client is refused while Redis is down: waited for, not assumed after a sleep; then the outage
      // lasts its planned length.
      await waitUntil(() => refusals.length > before, 20_000, 'the client to be refused while Redis is down');
      const rest = downAt + downMs - Date.now();
      if (rest > 0) await sleep(rest);
      await redis.start();
      // Neither process is restarted: both reconnect by themselves.
      await waitForHealth(api.url, 200, 15_000);
      await waitForHealth(worker.url, 200, 15_000);
      await waitUntil(() => acked.size >= (k + 1) * 100 + 100, 20_000, 'events acknowledged again after the restart');
    }
    stop = true;
    await clients;

    // Every event that got a 200 reaches Customer.io, sent by the same worker process.
    const delivered = () => new Set(standIn.items().map((i) => String(i.id)));
    await waitUntil(
      () => [...acked].every((id) => delivered().has(id)),
      scale(30_000, 120_000),
      'every acknowledged event to be delivered',
      () => ({ acked: acked.size, missing: [...acked].filter((id) => !delivered().has(id)).slice(0, 10) }),
    );
    const inspect = await run.inspect(redis.url, prefix, { keepQueues: true });
    await waitUntil(async () => (await inspect.unfinished('trackEvent')) === 0, 20_000, 'the queue to drain', () => inspect.counts('trackEvent'));
    const counts = await inspect.counts('trackEvent');
    expect((await inspect.failures('trackEvent')).slice(0, 10), `${counts.failed} failed jobs`).to.deep.equal([]);
    // Each acknowledged event is one job; the 503-refused probes were never queued.
    expect(counts.completed).to.equal(acked.size);
    for (const r of refusals) {
      expect(r.status).to.equal(503);
      expect(r.body?.error).to.match(/Redis|retry/);
      expect(r.retryAfter).to.match(/^\d+$/);
    }
    expect(api.isRunning() && worker.isRunning(), 'the same processes carried on').to.equal(true);
    // eslint-disable-next-line no-console
    console.log(`      ${acked.size} events acknowledged across ${outages} outage(s); ${refusals.length} requests refused with 503, ${connectionErrors.length} connection errors`);
  });
});
