// Chaos: Customer.io answering 5xx, 429 and not at all, drawn at random from a seeded generator.
//
// What can be asserted exactly: the stand-in draws one number per request, so the test knows the fate of
// every request and therefore, per item, how many 5xx/timeouts and how many 429s its job went through.
// A job's attemptsMade counts finished attempts (a failed one, or the last that delivered), and a 429 is
// not an attempt (README.md's outcome table: "no attempt is used"). So for every job:
//     attemptsMade === (5xx and timeouts its item saw) + 1
// With 12 attempts and a ~23% failure rate per request, running out of attempts is a ~1e-8 event per job,
// so "no job failed" is asserted too, and every item is accepted by the stand-in exactly once (a failed or
// unanswered request accepts nothing).
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
import { startServiceProcess } from '../support/process';

const RATES = { timeoutRate: 0.03, rateLimitRate: 0.05, serverErrorRate: 0.15 };
type Fate = 'hang' | '429' | '500' | 'ok';

/** The stand-in's own order of draws (stand-in.ts drawFault): timeout, then 429, then 5xx. */
function fateOf(r: number): Fate {
  if (r < RATES.timeoutRate) return 'hang';
  if (r < RATES.timeoutRate + RATES.rateLimitRate) return '429';
  if (r < RATES.timeoutRate + RATES.rateLimitRate + RATES.serverErrorRate) return '500';
  return 'ok';
}

describe('chaos: Customer.io answers 15% 5xx, 5% 429 and 3% never', function () {
  this.timeout(scale(60_000, 600_000));

  const run = useChaosRun();

  it('delivers everything, each item once, and no 429 uses up an attempt', async () => {
    const total = scale(400, 5000);
    const seed = seedFor('Customer.io faults');
    const draw = seededRandom(seed);
    const prefix = chaosPrefix('faults');
    const config = run.config(trackOnly(5));
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const standIn = await run.standIn({ siteId: 'site', apiKey: 'key' });

    // The first three requests get one fault of each kind, so every run exercises all three; the rest
    // are drawn. Each request's fate is recorded: the stand-in pushes the request, then draws for it.
    const fates = new Map<object, Fate>();
    const s = standIn;
    const scripted: Fate[] = ['429', '500', 'hang'];
    s.respondNext(
      { status: 429, headers: { 'retry-after': '1' }, body: { meta: { error: 'Too Many Requests' } } },
      { status: 503, body: { meta: { error: 'Service Unavailable' } } },
      { status: 200, hang: true },
    );
    s.setFaults({
      ...RATES,
      retryAfterSeconds: 1,
      random: () => {
        const r = draw();
        fates.set(s.requests[s.requests.length - 1], fateOf(r));
        return r;
      },
    });

    const service = await startServiceProcess({
      mode: 'all',
      env: {
        REDIS_URL: SHARED_REDIS_URL,
        QUEUE_PREFIX: prefix,
        CIO_CONFIG: config.path,
        CUSTOMERIO_SITE_ID: 'site',
        CUSTOMERIO_API_KEY: 'key',
        CUSTOMERIO_TRACK_URL: standIn.url,
        CUSTOMERIO_TIMEOUT_MS: '500',
        FLUSH_INTERVAL_MS: '50',
        RETRY_BACKOFF_MS: '50',
        JOB_ATTEMPTS: '12',
      },
    });

    const ids = Array.from({ length: total }, (_, n) => `fault-${prefix}-${n}`);
    for (let from = 0; from < total; from += 50) {
      const res = await postJson(service.url, '/v1/batch', { batch: ids.slice(from, from + 50).map((id, k) => trackEvent(id, from + k)) });
      expect(res.status, res.text).to.equal(200);
      await sleep(20);
    }
    await waitUntil(async () => (await inspect.unfinished('trackEvent')) === 0, scale(50_000, 550_000), 'every job to finish', () => inspect.counts('trackEvent'));

    // What each item went through, from the requests that carried it.
    const seen = new Map<string, Record<Fate, number>>();
    standIn.requests.slice(0, scripted.length).forEach((req, i) => fates.set(req, scripted[i]));
    for (const req of standIn.requests) {
      const fate = fates.get(req) ?? 'ok';
      for (const item of req.body?.batch ?? []) {
        const tally = seen.get(String(item.id)) ?? { hang: 0, '429': 0, '500': 0, ok: 0 };
        tally[fate] += 1;
        seen.set(String(item.id), tally);
      }
    }
    const requestFates = [...fates.values()];
    const tally = (f: Fate) => requestFates.filter((x) => x === f).length;
    // eslint-disable-next-line no-console
    console.log(`      ${standIn.requests.length} requests: ${tally('500')}×500, ${tally('429')}×429, ${tally('hang')}×timeout`);

    const jobs = await inspect.jobs('trackEvent');
    expect(jobs).to.have.length(total);
    const wrong: string[] = [];
    let jobsThatSaw429 = 0;
    let jobsThatRetried = 0;
    for (const job of jobs) {
      const id = String(job.data.event.messageId);
      const t = seen.get(id);
      const state = await job.getState();
      if (!t) {
        wrong.push(`${id}: never sent`);
        continue;
      }
      const transient = t['500'] + t.hang;
      if (t['429'] > 0) jobsThatSaw429++;
      if (transient > 0) jobsThatRetried++;
      if (state !== 'completed') wrong.push(`${id}: ${state} (${job.failedReason})`);
      if (t.ok !== 1) wrong.push(`${id}: accepted ${t.ok} times`);
      if (job.attemptsMade !== transient + 1) {
        wrong.push(`${id}: attemptsMade ${job.attemptsMade}, but it saw ${t['500']}×500, ${t.hang}×timeout, ${t['429']}×429`);
      }
    }
    expect(wrong).to.deep.equal([]);
    // The run exercised what it claims to.
    expect(tally('429'), '429s answered').to.be.greaterThan(0);
    expect(tally('500'), '5xx answered').to.be.greaterThan(0);
    expect(jobsThatSaw429, 'jobs that waited out a 429').to.be.greaterThan(0);
    expect(jobsThatRetried, 'jobs retried after a 5xx or timeout').to.be.greaterThan(0);

    // Every item accepted once; the metrics agree.
    const accepted = standIn.items().map((i) => String(i.id));
    expect(accepted).to.have.length(total);
    expect(new Set(accepted).size).to.equal(total);
    const metrics = (await request(`${service.url}/metrics`)).text;
    expect(metricValue(metrics, 'cio_items_delivered_total', { action: 'trackEvent' })).to.equal(total);
    expect(metricValue(metrics, 'cio_items_failed_total', { action: 'trackEvent', reason: 'retries_exhausted' }) ?? 0).to.equal(0);
    expect(metricValue(metrics, 'cio_items_retried_total', { action: 'trackEvent', reason: 'rate_limited' }) ?? 0).to.be.greaterThan(0);
  });
});
