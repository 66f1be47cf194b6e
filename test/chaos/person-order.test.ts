// Per-person order as a user would try it: each person's operations posted to the HTTP API one request at
// a time (each answered before the next is sent), an API process and two worker processes, a Customer.io
// that answers 5xx and 429 at random, slowly, and refuses some items; one worker killed with SIGKILL and
// replaced. Every pair of a person's conflicting operations must reach Customer.io in the order sent
// (re-sends included), and nothing but the refused items may be missing.
import { expect } from 'chai';
import { presetSubscriptions } from '../../src/core/subscriptions';
import { ACTION_KEYS } from '../../src/core/types';
import { chaosPrefix, metricValue, request, scale, seededRandom, seedFor, SHARED_REDIS_URL, sleep, startPrivateRedis, waitUntil, type QueueInspector } from '../support/chaos';
import { needs, redisServerMissing } from '../support/needs';
import { useChaosRun } from '../support/chaos-run';
import { checkPlans, PLAN, postPlans } from '../support/person-plans';
import { startServiceProcess, type Env, type ServiceProcess } from '../support/process';

const SITE_ID = 'order-site';
const API_KEY = 'order-key';

/** A worker process's settings for these tests: the stand-in's address and credentials, quick flushes. */
function workerSettings(base: Env, trackUrl: string): Env {
  const quick = { FLUSH_INTERVAL_MS: '30', ORDER_HOLD_RECHECK_MS: '200', ORDER_HOLD_MAX_MS: '1000' };
  return { ...base, CUSTOMERIO_SITE_ID: SITE_ID, CUSTOMERIO_API_KEY: API_KEY, CUSTOMERIO_TRACK_URL: trackUrl, ...quick };
}

/** Crash recovery within seconds (a killed worker's jobs come back after 2 s), quick retries, enough attempts for the faults. */
const QUICK_RECOVERY = { STALLED_INTERVAL_MS: '1000', LOCK_DURATION_MS: '2000', RETRY_BACKOFF_MS: '50', JOB_ATTEMPTS: '40' };

/** Jobs not yet completed or failed, in every action's queue. */
async function unfinishedJobs(inspect: QueueInspector): Promise<number> {
  return (await Promise.all(ACTION_KEYS.map((a) => inspect.unfinished(a)))).reduce((x, y) => x + y, 0);
}

describe('chaos: per-person order through the HTTP API, two worker processes, one killed', function () {
  this.timeout(scale(120_000, 900_000));
  const run = useChaosRun();

  it('every conflicting pair of each person arrives in the order sent, under 5xx, 429, slow and unanswered requests, refusals and a SIGKILL; nothing else is lost', async () => {
    const persons = Array.from({ length: scale(16, 200) }, (_, i) => `k${i}`);
    const prefix = chaosPrefix('order');
    const draw = seededRandom(seedFor('person order'));
    const config = run.config(presetSubscriptions());
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const standIn = await run.standIn({ siteId: SITE_ID, apiKey: API_KEY, latencyMs: 60 });
    // Some requests are never answered: the worker gives up after CUSTOMERIO_TIMEOUT_MS and sends them again (an ambiguous outcome).
    standIn.setFaults({ serverErrorRate: 0.15, rateLimitRate: 0.05, timeoutRate: 0.03, retryAfterSeconds: 1, random: draw });
    // The second identify (step 4) of every fifth person is refused for good: that person's later operations go on after it.
    const refusedPerson = (id: unknown) => /[05]$/.test(String(id));
    standIn.rejectItemsWhere((item) => (item.attributes?.step === 4 && refusedPerson(item.identifiers?.id) ? 'refused for the test' : undefined));

    const base: Env = { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path };
    const workerEnv: Env = { ...workerSettings(base, standIn.url), ...QUICK_RECOVERY, CUSTOMERIO_TIMEOUT_MS: '700' };
    const api = await startServiceProcess({ mode: 'api', name: 'api', env: base });
    const startWorker = (name: string) => startServiceProcess({ mode: 'worker', name, env: workerEnv });
    const workers: ServiceProcess[] = await Promise.all([startWorker('worker-a'), startWorker('worker-b')]);

    const sending = postPlans(api.url, persons);
    sending.catch(() => undefined); // awaited below

    await waitUntil(() => standIn.requests.length >= 20, 30_000, 'requests at the stand-in');
    const victim = workers.shift()!;
    await victim.stop('SIGKILL');
    workers.push(await startWorker('worker-c'));
    await sending;

    await waitUntil(async () => (await unfinishedJobs(inspect)) === 0, scale(90_000, 800_000), 'every job to finish');

    const check = checkPlans(standIn.items(), persons);
    expect(check.outOfOrder, 'conflicting pairs out of order').to.deep.equal([]);
    expect(check.missing).to.deep.equal(persons.filter((p) => refusedPerson(`user-${p}`)).map((person) => ({ person, step: 4 })));
    // eslint-disable-next-line no-console
    console.log(`      ${persons.length} persons × ${PLAN.length} operations, ${standIn.requests.length} requests, one worker killed, 0 out of order`);
  });
});

describe('chaos: a held person holds only itself, through the HTTP API and two worker processes', function () {
  this.timeout(scale(90_000, 300_000));
  const run = useChaosRun();

  it("another person's plan completes while one person's first identify keeps failing; then that person's plan completes in order", async () => {
    const prefix = chaosPrefix('order-held');
    // One item per request (batching off), so the 500s below answer the held person's identify alone.
    const config = run.config(presetSubscriptions().map((s) => ({ ...s, mapping: { ...(s.mapping as Record<string, unknown>), enable_batching: false } })));
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const standIn = await run.standIn({ siteId: SITE_ID, apiKey: API_KEY });
    let stuck = true;
    standIn.answerRequestsWhere((body) => (stuck && body?.identifiers?.id === 'user-stuck' && body?.attributes?.step === 1 ? { status: 500, body: { meta: { error: 'down' } } } : undefined));
    const base: Env = { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path };
    const workerEnv: Env = {
      ...workerSettings(base, standIn.url),
      RETRY_BACKOFF_MS: '100',
      JOB_ATTEMPTS: '1000',
    };
    const api = await startServiceProcess({ mode: 'api', name: 'api', env: base });
    await Promise.all([startServiceProcess({ mode: 'worker', name: 'worker-a', env: workerEnv }), startServiceProcess({ mode: 'worker', name: 'worker-b', env: workerEnv })]);
    const free = ['f0', 'f1', 'f2'];
    await postPlans(api.url, ['stuck', ...free]);
    await waitUntil(() => checkPlans(standIn.items(), free).missing.length === 0, 30_000, 'the free persons’ plans to arrive');
    expect(checkPlans(standIn.items(), free)).to.deep.equal({ outOfOrder: [], missing: [] });
    const meanwhile = checkPlans(standIn.items(), ['stuck']);
    // Nothing that conflicts with the failing identify has gone; only its person's events may have.
    expect(meanwhile.missing.map((m) => m.step)).to.include.members([1, 3, 4, 5, 7, 8, 9, 10, 12]);
    const metrics = (await request(`${api.url}/metrics`)).text;
    expect(metricValue(metrics, 'cio_order_held_persons'), 'persons held').to.be.at.least(1);
    stuck = false;
    await waitUntil(async () => (await unfinishedJobs(inspect)) === 0, 60_000, 'every job to finish');
    expect(checkPlans(standIn.items(), ['stuck', ...free])).to.deep.equal({ outOfOrder: [], missing: [] });
  });
});

describe('chaos: per-person order across a Redis restart (AOF), through the HTTP API and two worker processes', function () {
  this.timeout(scale(120_000, 600_000));
  before(function () {
    needs(this, redisServerMissing());
  });
  const run = useChaosRun();

  it("every conflicting pair of each person arrives in the order sent when Redis is killed mid-plan and comes back with its data; requests refused meanwhile are sent again; nothing is lost", async () => {
    const persons = Array.from({ length: scale(16, 100) }, (_, i) => `r${i}`);
    const redis = await startPrivateRedis();
    run.onCleanup(() => redis.destroy());
    const prefix = chaosPrefix('order-redis');
    const config = run.config(presetSubscriptions());
    const standIn = await run.standIn({ siteId: SITE_ID, apiKey: API_KEY, latencyMs: 20 });
    standIn.setFaults({ serverErrorRate: 0.1, rateLimitRate: 0, timeoutRate: 0, random: seededRandom(seedFor('person order, Redis restart')) });
    const base: Env = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path };
    const workerEnv: Env = { ...workerSettings(base, standIn.url), ...QUICK_RECOVERY };
    const api = await startServiceProcess({ mode: 'api', name: 'api', env: base });
    await Promise.all([startServiceProcess({ mode: 'worker', name: 'worker-a', env: workerEnv }), startServiceProcess({ mode: 'worker', name: 'worker-b', env: workerEnv })]);

    const sending = postPlans(api.url, persons, { resend: true });
    sending.catch(() => undefined); // awaited below
    await waitUntil(() => standIn.requests.length >= 10, 30_000, 'requests at the stand-in');
    await redis.stop('SIGKILL');
    await sleep(1500);
    await redis.start();
    await sending;

    const inspect = await run.inspect(redis.url, prefix);
    await waitUntil(async () => (await unfinishedJobs(inspect)) === 0, scale(90_000, 500_000), 'every job to finish');
    const check = checkPlans(standIn.items(), persons);
    expect(check.outOfOrder, 'conflicting pairs out of order').to.deep.equal([]);
    expect(check.missing, 'steps that never arrived').to.deep.equal([]);
  });
});
