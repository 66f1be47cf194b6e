// Scale-out on Redis Cluster: a local three-master cluster, the API and two worker processes started as
// `npm run api` / `npm run worker` would start them, and a Customer.io stand-in. Events of six types go in
// through POST /v1/batch, so six queues fill; each queue's keys share one slot, the queues spread over the
// nodes, and every event reaches the stand-in exactly once, delivered by both workers.
//
// Needs redis-server and redis-cli (Redis 7) on PATH; without them the test is skipped and says why (on CI, CI=true, it fails).

import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { queuePrefix } from '../../src/redis/keys';
import type { ActionKey } from '../../src/core/types';
import { redisClusterUnavailable, startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { needs } from '../support/needs';
import { startServiceProcess, type ServiceProcess } from '../support/process';
import { checkPlans, postPlans } from '../support/person-plans';
import { TEST_RUN } from '../support/run-id';

const SITE_ID = 'site-cluster';
const API_KEY = 'key-cluster';
const EVENTS_PER_TYPE = 60;
const REQUESTS = 6;

/** Each Segment event type, the queue (preset) it lands in, and the item Customer.io receives. */
const TYPES: Array<{ type: string; action: ActionKey; item: string; extra: Record<string, unknown> }> = [
  { type: 'track', action: 'trackEvent', item: 'person/event', extra: { event: 'Order Completed', properties: { total: 10 } } },
  { type: 'identify', action: 'createUpdatePerson', item: 'person/identify', extra: { traits: { plan: 'pro' } } },
  { type: 'page', action: 'trackPageView', item: 'person/page', extra: { name: 'Home', properties: { url: 'https://example.com/' } } },
  { type: 'screen', action: 'trackScreenView', item: 'person/screen', extra: { name: 'Main' } },
  { type: 'group', action: 'createUpdateObject', item: 'object/identify', extra: { traits: { name: 'Acme' } } },
  { type: 'alias', action: 'mergePeople', item: 'person/merge', extra: {} },
];

describe('on a three-node Redis Cluster, the API and two worker processes', function () {
  this.timeout(120_000);

  const prefix = `cio-cluster-${TEST_RUN}${randomBytes(4).toString('hex')}`;
  let cluster: LocalRedisCluster | undefined;
  let standIn: CustomerIoStandIn | undefined;
  let api: ServiceProcess | undefined;
  let workers: ServiceProcess[] = [];
  /** messageId → the item it must become. */
  const expected = new Map<string, string>();

  before(async function () {
    needs(this, redisClusterUnavailable());
    cluster = await startRedisCluster();
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
    const env = {
      REDIS_URL: `redis://${cluster.nodes[0].host}:${cluster.nodes[0].port}`,
      REDIS_CLUSTER_NODES: cluster.seeds,
      QUEUE_PREFIX: prefix,
      CUSTOMERIO_SITE_ID: SITE_ID,
      CUSTOMERIO_API_KEY: API_KEY,
      CUSTOMERIO_TRACK_URL: standIn.url,
      FLUSH_INTERVAL_MS: '100',
      // Exercises the shared request cap (a MULTI on the cluster) without ever reaching it.
      MAX_REQUESTS_PER_SECOND: '1000',
      RETRY_BACKOFF_MS: '200',
      HOST: '127.0.0.1',
      PORT: '0',
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
    const started = await Promise.allSettled([
      // 30 s: three processes compile through tsx at once.
      startServiceProcess({ mode: 'api', name: 'api', env, readyTimeoutMs: 30_000 }),
      startServiceProcess({ mode: 'worker', name: 'worker-1', env, readyTimeoutMs: 30_000 }),
      startServiceProcess({ mode: 'worker', name: 'worker-2', env, readyTimeoutMs: 30_000 }),
    ]);
    const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    [api] = running.filter((s) => s.mode === 'api');
    workers = running.filter((s) => s.mode === 'worker');
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  });

  after(async () => {
    await Promise.all([api, ...workers].map((s) => s?.stop('SIGKILL')));
    await standIn?.close();
    await cluster?.stop();
  });

  it('takes every event through POST /v1/batch', async () => {
    // The first two flushes fail, so a retry (moveToDelayed) and a 429 pause (rateLimit) run on the cluster too.
    standIn!.respondNext({ status: 503, body: { meta: { error: 'unavailable' } } }, { status: 429, headers: { 'retry-after': '1' } });
    const events = [];
    for (let n = 0; n < EVENTS_PER_TYPE; n++) {
      for (const t of TYPES) {
        const messageId = `${t.type}-${n}-${randomBytes(3).toString('hex')}`;
        expected.set(messageId, t.item);
        events.push({
          type: t.type,
          messageId,
          userId: `user-${messageId}`,
          ...(t.type === 'group' ? { groupId: `group-${messageId}` } : {}),
          ...(t.type === 'alias' ? { previousId: `old-${messageId}` } : {}),
          timestamp: '2024-03-15T12:34:56.789Z',
          ...t.extra,
        });
      }
    }
    const perRequest = Math.ceil(events.length / REQUESTS);
    for (let i = 0; i < events.length; i += perRequest) {
      const res = await fetch(`${api!.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ batch: events.slice(i, i + perRequest) }),
      });
      expect(res.status, await res.clone().text()).to.equal(200);
      expect(await res.json()).to.deep.equal({ success: true });
    }
  });

  it('delivers every event to Customer.io exactly once, as the item its type maps to', async () => {
    const total = expected.size;
    const until = Date.now() + 30_000;
    while (standIn!.counts.items < total && Date.now() < until) await sleep(100);
    await sleep(500); // a duplicate, if any, would arrive now

    const got = standIn!.items().map((item) => `${messageIdOf(item)} ${item.type}/${item.action}`).sort();
    const want = [...expected].map(([id, item]) => `${id} ${item}`).sort();
    expect(got.length, `items received (of ${total})`).to.equal(total);
    expect(got).to.deep.equal(want);
    for (const item of standIn!.items()) {
      // Events, pages and screens carry the event's id, so Customer.io could drop a redelivered one.
      if (['event', 'page', 'screen'].includes(item.action)) expect(item.id, 'the item id').to.equal(messageIdOf(item));
    }
    expect(standIn!.counts.rejectedItems).to.equal(0);
    expect(standIn!.requests.length, 'requests, the scripted 503 and 429 among them').to.be.above(2);
    expect(standIn!.requests.every((r) => r.path === '/api/v2/batch' || r.path === '/api/v2/entity')).to.equal(true);
  });

  it('shares the work: both workers sent requests, and every process reports the deployment-wide counts', async () => {
    // A job's count is stored just before the job completes; give the last ones a moment to land.
    await eventually(async () => {
      const texts = await Promise.all([api!, ...workers].map((s) => scrape(s.url)));
      const [apiText, ...workerTexts] = texts;
      expect(workers).to.have.length(2);
      // The request histograms are per process: each worker sent items of its own.
      for (const [i, t] of workerTexts.entries()) expect(sumOf(t, 'cio_batch_size_count'), `${workers[i].name} requests`).to.be.above(0);
      // The counters are kept in the cluster: the API (which delivers nothing itself) and both workers
      // show the same totals, every item once.
      for (const t of texts) {
        expect(sumOf(t, 'cio_items_delivered_total'), 'delivered').to.equal(expected.size);
        expect(sumOf(t, 'cio_items_failed_total'), 'failed').to.equal(0);
        // The scripted 503 and 429 sent their items back to wait, and they came round again.
        expect(sumOf(t, 'cio_items_retried_total'), 'retried').to.be.above(0);
      }
      expect(sumOf(apiText, 'cio_items_enqueued_total'), 'enqueued').to.equal(expected.size);
    });
  });

  it("keeps each queue's keys in one slot, and the queues on more than one node", async () => {
    const c = cluster!;
    const nodesUsed = new Set<number>();
    for (const t of TYPES) {
      const base = queuePrefix(prefix, t.action); // `<prefix>:{<action>}`
      const owner = await c.nodeForKey(base);
      const keys = await keysOn(c, owner, `${base}:*`);
      expect(keys, `keys of ${t.action} on node ${owner}`).to.include(`${base}:${t.action}:meta`);
      const client = c.nodeClient(owner);
      const slots = new Set(await Promise.all(keys.map(async (k) => Number(await client.cluster('KEYSLOT', k)))));
      expect([...slots], `slots of ${t.action}'s keys`).to.have.length(1);
      for (const n of c.nodes) {
        if (n.port !== owner) expect(await keysOn(c, n.port, `${base}:*`), `${t.action} keys on node ${n.port}`).to.deep.equal([]);
      }
      nodesUsed.add(owner);
    }
    expect(nodesUsed.size, 'nodes holding the six queues').to.be.at.least(2);

    // CLUSTER NODES agrees that three masters share the slots.
    const nodes = String(await c.nodeClient(c.nodes[0].port).cluster('NODES'))
      .trim()
      .split('\n')
      .filter((l) => l.includes('master'));
    expect(nodes).to.have.length(3);
  });

  it('reads the queue depth over the cluster for the API /metrics', async () => {
    await eventually(async () => {
      const text = await scrape(api!.url);
      expect(sumOf(text, 'cio_events_received_total')).to.equal(expected.size);
      for (const t of TYPES) {
        // Jobs, not events: a job carries the group of events of one request.
        const completed = Number(new RegExp(`^cio_queue_jobs\\{action="${t.action}",state="completed"\\} (\\d+)$`, 'm').exec(text)?.[1]);
        expect(completed, `${t.action} completed jobs`).to.be.within(1, EVENTS_PER_TYPE);
        for (const state of ['waiting', 'active', 'delayed', 'failed']) {
          expect(text).to.match(new RegExp(`^cio_queue_jobs\\{action="${t.action}",state="${state}"\\} 0$`, 'm'));
        }
      }
    });
  });

  it("keeps each person's operations in order on the cluster (the order book spread over its slot groups), under 5xx and 429", async () => {
    const persons = Array.from({ length: 8 }, (_, i) => `cl${i}`);
    standIn!.setFaults({ serverErrorRate: 0.15, rateLimitRate: 0.03, retryAfterSeconds: 1 });
    try {
      await postPlans(api!.url, persons);
      const until = Date.now() + 60_000;
      while (checkPlans(standIn!.items(), persons).missing.length > 0 && Date.now() < until) await sleep(100);
    } finally {
      standIn!.setFaults(null);
    }
    expect(checkPlans(standIn!.items(), persons)).to.deep.equal({ outOfOrder: [], missing: [] });
  });

  it('stops every process cleanly on SIGTERM, with no error logged', async () => {
    const services = [api!, ...workers];
    // SIGTERM, then SIGKILL after 15 s (the status then says so, and the assertion below fails).
    const statuses = await Promise.all(services.map((s) => s.stop('SIGTERM', 15_000)));
    for (const [i, status] of statuses.entries()) {
      expect(status, `${services[i].name} exit; output:\n${services[i].output()}`).to.deep.equal({ code: 0, signal: null });
      expect(services[i].logs().map((l) => l.msg)).to.include('stopped cleanly');
      const errors = services[i].logs().filter((l) => l.level === 'error' || l.level === 'fatal');
      expect(errors, `${services[i].name} logged errors`).to.deep.equal([]);
    }
  });
});

/** The messageId an item came from: every event's userId is `user-<messageId>`. */
function messageIdOf(item: any): string {
  const userId =
    item.type === 'object' ? item.cio_relationships?.[0]?.identifiers?.id : item.action === 'merge' ? item.primary?.id : item.identifiers?.id;
  return String(userId).replace(/^user-/, '');
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

/** Sum of every series of a counter in Prometheus text. */
function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function keysOn(cluster: LocalRedisCluster, port: number, pattern: string): Promise<string[]> {
  const client = cluster.nodeClient(port);
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

/** Runs the assertions until they pass, or throws their last failure after `timeoutMs`. */
async function eventually(assertions: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertions();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(100);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
