// Chaos: worker processes killed with SIGKILL in the middle of a flush (README.md, "What at-least-once means
// here": a worker killed mid-flush loses nothing; its jobs stall and come back).
//
// The API and the workers run as real processes on the shared Redis under a prefix of their own. Each
// worker talks to a Customer.io stand-in of its own, so the test knows which worker sent what: an item the
// killed worker's stand-in received and whose job was not completed when the worker died was "in flight",
// and only those may reach Customer.io a second time.
import { expect } from 'chai';
import type { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import {
  chaosPrefix,
  metricValue,
  postJson,
  request,
  scale,
  SHARED_REDIS_URL,
  sleep,
  trackEvent,
  trackOnly,
  waitUntil,
  type QueueInspector,
} from '../support/chaos';
import { useChaosRun } from '../support/chaos-run';
import { redisClientPorts, untilRedisClosed } from '../support/redis-clients';
import { startServiceProcess, type Env, type ServiceProcess } from '../support/process';

const SITE_ID = 'chaos-site';
const API_KEY = 'chaos-key';
/** Slow answers keep flushes in flight long enough to be cut off. */
const LATENCY_MS = 400;

describe('chaos: a worker killed with SIGKILL mid-flush', function () {
  this.timeout(scale(60_000, 300_000));

  const run = useChaosRun();
  // Set by each test, read by the helpers below.
  let config: { path: string } | undefined;
  let inspect: QueueInspector | undefined;
  /** Each worker's stand-in, in the order the workers started. */
  let standIns: CustomerIoStandIn[] = [];
  beforeEach(() => {
    standIns = [];
  });

  function baseEnv(prefix: string): Env {
    return { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config!.path };
  }

  async function startWorker(prefix: string, name: string): Promise<{ worker: ServiceProcess; standIn: CustomerIoStandIn }> {
    const standIn = await run.standIn({ siteId: SITE_ID, apiKey: API_KEY, latencyMs: LATENCY_MS });
    standIns.push(standIn);
    const worker = await startServiceProcess({
      mode: 'worker',
      name,
      env: {
        ...baseEnv(prefix),
        CUSTOMERIO_SITE_ID: SITE_ID,
        CUSTOMERIO_API_KEY: API_KEY,
        CUSTOMERIO_TRACK_URL: standIn.url,
        FLUSH_INTERVAL_MS: '50',
        STALLED_INTERVAL_MS: '1000',
        LOCK_DURATION_MS: '2000',
        RETRY_BACKOFF_MS: '100',
      },
    });
    return { worker, standIn };
  }

  /** Message ids of the items a stand-in accepted, in arrival order (repeats kept). */
  function idsAt(standIn: CustomerIoStandIn): string[] {
    return standIn.items().map((i) => String(i.id));
  }

  /** Resolves once the stand-in holds a request it has not answered yet: a flush in flight. */
  async function untilFlushInFlight(standIn: CustomerIoStandIn, minRequests: number): Promise<void> {
    await waitUntil(
      () => standIn.requests.length >= minRequests && Date.now() - standIn.requests[standIn.requests.length - 1].receivedAt < LATENCY_MS / 4,
      20_000,
      'a flush in flight at the worker’s stand-in',
    );
  }

  async function completedIds(): Promise<Set<string>> {
    const jobs = await inspect!.jobs('trackEvent', ['completed']);
    return new Set(jobs.map((j) => String(j.data.event.messageId)));
  }

  it('delivers every event at least once; only items in flight are sent twice, each copy with the same id', async () => {
    const total = scale(600, 6000);
    const kills = scale(1, 3);
    const perRequest = 20;
    const pauseMs = scale(120, 60);
    const prefix = chaosPrefix('kill');
    config = run.config(trackOnly(20));
    inspect = await run.inspect(SHARED_REDIS_URL, prefix);

    const api = await startServiceProcess({ mode: 'api', name: 'api', env: baseEnv(prefix) });
    let current = await startWorker(prefix, 'worker-0');

    // Events go in while the workers are killed and replaced: /v1/batch requests, two at a time.
    const ids = Array.from({ length: total }, (_, n) => `kill-${prefix}-${n}`);
    let sent = 0;
    const sendAll = async () => {
      const lane = async () => {
        while (sent < total) {
          const from = sent;
          sent = Math.min(total, sent + perRequest);
          const batch = ids.slice(from, sent).map((id, k) => trackEvent(id, from + k));
          const res = await postJson(api.url, '/v1/batch', { batch });
          expect(res.status, res.text).to.equal(200);
          await sleep(pauseMs);
        }
      };
      await Promise.all([lane(), lane()]);
    };
    const sending = sendAll();
    sending.catch(() => undefined); // awaited below; a refusal fails the test there

    // Per killed worker: what its stand-in received but its jobs had not completed when it died.
    const inFlightAtKill: Array<Set<string>> = [];
    for (let k = 0; k < kills; k++) {
      await untilFlushInFlight(current.standIn, 2);
      const ports = redisClientPorts(current.worker.pid, Number(new URL(SHARED_REDIS_URL).port || 6379));
      expect(ports.size, 'the worker\'s connections to Redis').to.be.greaterThan(0);
      await current.worker.stop('SIGKILL');
      expect((await current.worker.exited).signal).to.equal('SIGKILL');
      // Redis has read to the end of the dead worker's connections: what it wrote before it died is applied.
      await untilRedisClosed(inspect.redis, ports);
      const completed = await completedIds();
      inFlightAtKill.push(new Set(idsAt(current.standIn).filter((id) => !completed.has(id))));
      current = await startWorker(prefix, `worker-${k + 1}`);
    }
    await sending;

    await waitUntil(
      async () => (await inspect!.unfinished('trackEvent')) === 0 && (await inspect!.counts('trackEvent')).completed + (await inspect!.counts('trackEvent')).failed >= total,
      scale(45_000, 180_000),
      'every job to finish',
      () => inspect!.counts('trackEvent'),
    );

    const counts = await inspect!.counts('trackEvent');
    expect((await inspect!.failures('trackEvent')).slice(0, 10), `${counts.failed} failed jobs`).to.deep.equal([]);
    expect(counts.completed, 'completed jobs').to.equal(total);

    // Every event reached Customer.io at least once: nothing acknowledged is lost.
    const copies = new Map<string, unknown[]>();
    for (const s of standIns) for (const item of s.items()) copies.set(String(item.id), [...(copies.get(String(item.id)) ?? []), item]);
    const missing = ids.filter((id) => !copies.has(id));
    expect(missing, 'events never delivered').to.deep.equal([]);
    expect([...copies.keys()].filter((id) => !ids.includes(id)), 'items that were never sent as events').to.deep.equal([]);

    // An item is sent once, plus once more for each kill that caught it in flight; nothing else is repeated.
    const unexpected: string[] = [];
    for (const id of ids) {
      const expected = 1 + inFlightAtKill.filter((set) => set.has(id)).length;
      if (copies.get(id)!.length !== expected) unexpected.push(`${id}: ${copies.get(id)!.length} copies, expected ${expected}`);
    }
    expect(unexpected, 'items sent a number of times other than 1 + kills that caught them in flight').to.deep.equal([]);
    const duplicated = ids.filter((id) => copies.get(id)!.length > 1);
    expect(duplicated.length, 'a kill caught at least one flush in flight').to.be.greaterThan(0);

    // Every copy of an item is the same item: same id (Customer.io drops the repeat by it), same content.
    for (const id of duplicated) {
      const [first, ...rest] = copies.get(id)!;
      expect((first as { id: string }).id).to.equal(id);
      for (const again of rest) expect(again).to.deep.equal(first);
    }

    // The counters count each job once, although the killed workers took their memory with them and
    // some items went out twice: the API (which delivers nothing) serves the deployment's totals.
    const metrics = (await request(`${api.url}/metrics`)).text;
    expect(metricValue(metrics, 'cio_items_delivered_total', { action: 'trackEvent' }), 'delivered, on the API /metrics').to.equal(total);

    // The API stayed up throughout (every request above got its 200).
    expect(api.isRunning()).to.equal(true);
    // eslint-disable-next-line no-console
    console.log(`      ${total} events, ${kills} kill(s): ${duplicated.length} item(s) were in flight and sent twice`);
  });

  it('a job caught in flight by two kills in a row still completes (it is not failed as "stalled")', async () => {
    const prefix = chaosPrefix('kill2');
    config = run.config(trackOnly(20));
    inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    const api = await startServiceProcess({ mode: 'api', name: 'api', env: baseEnv(prefix) });
    const ids = Array.from({ length: 10 }, (_, n) => `twice-${prefix}-${n}`);
    let current = await startWorker(prefix, 'worker-0');
    const res = await postJson(api.url, '/v1/batch', { batch: ids.map((id, n) => trackEvent(id, n)) });
    expect(res.status, res.text).to.equal(200);

    // Kill the first worker with the items in flight, then kill the one that took the stalled jobs over,
    // again while it is sending those same items.
    for (let k = 0; k < 2; k++) {
      const standIn = current.standIn;
      await waitUntil(
        () => ids.every((id) => idsAt(standIn).includes(id)) && Date.now() - standIn.requests[standIn.requests.length - 1].receivedAt < LATENCY_MS / 4,
        20_000,
        `worker-${k} to be sending the items`,
      );
      await current.worker.stop('SIGKILL');
      current = await startWorker(prefix, `worker-${k + 1}`);
    }
    await waitUntil(async () => (await inspect!.unfinished('trackEvent')) === 0, 20_000, 'every job to finish', () => inspect!.counts('trackEvent'));

    const jobs = await inspect!.jobs('trackEvent');
    const states = await Promise.all(jobs.map(async (j) => `${j.data.event.messageId}: ${await j.getState()}${j.failedReason ? ` (${j.failedReason})` : ''}`));
    expect(states.sort()).to.deep.equal(ids.map((id) => `${id}: completed`).sort());
    for (const id of ids) expect(idsAt(current.standIn), `${id} at the third worker's stand-in`).to.include(id);
  });
});
