// Chaos: two worker replicas under a Customer.io that answers 5xx and 429 at random and rejects some
// items in 207s, one replica killed with SIGKILL mid-flush and replaced. Nothing may be lost, and the
// counters every process serves must add up to what happened: each rejected item in
// cio_items_failed_total{reason="rejected"} once, each delivered job in cio_items_delivered_total once,
// although the killed worker took its memory with it (the counts are kept in Redis: queues.ts).
import { expect } from 'chai';
import {
  chaosPrefix,
  metricValue,
  postJson,
  request,
  scale,
  seededRandom,
  seedFor,
  SHARED_REDIS_URL,
  sleep,
  trackEvent,
  trackOnly,
  waitUntil,
} from '../support/chaos';
import { useChaosRun } from '../support/chaos-run';
import { startServiceProcess, type Env, type ServiceProcess } from '../support/process';

const SITE_ID = 'replica-site';
const API_KEY = 'replica-key';
const REASON = 'Customer.io rejected the item: invalid attributes.plan: property value cannot be longer than 1000 bytes';

describe('chaos: two worker replicas, one killed, under 5xx, 429 and per-item rejections', function () {
  this.timeout(scale(90_000, 600_000));


  const run = useChaosRun();

  it('loses nothing, fails exactly the rejected items with their reason, and every process counts each item once', async () => {
    const total = scale(1200, 12_000);
    const prefix = chaosPrefix('replicas');
    const draw = seededRandom(seedFor('replicas under faults'));
    const config = run.config(trackOnly(25));
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const standIn = await run.standIn({ siteId: SITE_ID, apiKey: API_KEY, latencyMs: 150 });
    standIn.setFaults({ serverErrorRate: 0.15, rateLimitRate: 0.05, retryAfterSeconds: 1, random: draw });
    const rejected = (n: number) => n % 11 === 4;
    standIn.rejectItemsWhere((item) =>
      rejected(item.attributes?.n) ? { reason: 'invalid', field: 'attributes.plan', message: 'property value cannot be longer than 1000 bytes' } : undefined,
    );

    const base: Env = { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path };
    const workerEnv: Env = {
      ...base,
      CUSTOMERIO_SITE_ID: SITE_ID,
      CUSTOMERIO_API_KEY: API_KEY,
      CUSTOMERIO_TRACK_URL: standIn.url,
      FLUSH_INTERVAL_MS: '50',
      STALLED_INTERVAL_MS: '1000',
      LOCK_DURATION_MS: '2000',
      RETRY_BACKOFF_MS: '50',
      JOB_ATTEMPTS: '15',
    };
    const api = await startServiceProcess({ mode: 'api', name: 'api', env: base });
    const startWorker = (name: string) => startServiceProcess({ mode: 'worker', name, env: workerEnv });
    const workers: ServiceProcess[] = await Promise.all([startWorker('worker-a'), startWorker('worker-b')]);

    const ids = Array.from({ length: total }, (_, n) => `replica-${prefix}-${n}`);
    const sending = (async () => {
      for (let from = 0; from < total; from += 50) {
        const res = await postJson(api.url, '/v1/batch', { batch: ids.slice(from, from + 50).map((id, k) => trackEvent(id, from + k)) });
        expect(res.status, res.text).to.equal(200);
        await sleep(15);
      }
    })();
    sending.catch(() => undefined); // awaited below

    // Kill a replica while requests are in flight, once a good part of the traffic has gone through.
    await waitUntil(() => standIn.requests.length >= 10, 30_000, 'requests at the stand-in');
    const victim = workers.shift()!;
    await victim.stop('SIGKILL');
    expect((await victim.exited).signal).to.equal('SIGKILL');
    workers.push(await startWorker('worker-c'));
    await sending;

    await waitUntil(async () => (await inspect.unfinished('trackEvent')) === 0, scale(60_000, 500_000), 'every job to finish', () => inspect.counts('trackEvent'));

    // The job states: exactly the rejected items failed, each with Customer.io's reason; the rest completed.
    const failed: string[] = [];
    let completed = 0;
    for (const job of await inspect.jobs('trackEvent')) {
      const state = await job.getState();
      if (state === 'failed') {
        failed.push(String(job.data.event.messageId));
        expect(job.failedReason).to.equal(REASON);
      } else {
        expect(state).to.equal('completed');
        completed++;
      }
    }
    const expectedFailed = ids.filter((_, n) => rejected(n)).sort();
    expect(failed.sort()).to.deep.equal(expectedFailed);
    expect(completed).to.equal(total - expectedFailed.length);

    // Nothing lost: every accepted item reached Customer.io at least once.
    const accepted = new Set(standIn.items().map((i) => String(i.id)));
    expect(ids.filter((id, n) => !rejected(n) && !accepted.has(id)), 'never delivered').to.deep.equal([]);

    // The counters, from the API (which delivers nothing itself) and from both live workers: the same
    // deployment-wide totals, each item once, the killed worker's counts included.
    for (const process of [api, ...workers]) {
      const text = (await request(`${process.url}/metrics`)).text;
      const where = `${process.name}'s /metrics`;
      expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' }), where).to.equal(expectedFailed.length);
      expect(metricValue(text, 'cio_items_delivered_total', { action: 'trackEvent' }), where).to.equal(completed);
      expect(metricValue(text, 'cio_items_enqueued_total', { action: 'trackEvent' }), where).to.equal(total);
      for (const other of ['invalid', 'retries_exhausted', 'too_large', 'request_rejected', 'stalled']) {
        expect(metricValue(text, 'cio_items_failed_total', { action: 'trackEvent', reason: other }) ?? 0, `${where}: ${other}`).to.equal(0);
      }
      expect(metricValue(text, 'cio_items_retried_total', { action: 'trackEvent', reason: 'transient' }) ?? 0, `${where}: 5xx retries`).to.be.above(0);
    }
    // eslint-disable-next-line no-console
    console.log(`      ${total} events, ${standIn.requests.length} requests, ${expectedFailed.length} rejected items, one replica killed`);
  });
});
