// Security: the credentials the service is given never come back out of it. The service runs as real
// processes (an `all` and a second `worker`) with a Customer.io API key, write keys, dashboard credentials
// and a Redis password set to distinctive strings; the test drives it through the paths that log, store or
// report (deliveries, a 401 from Customer.io, failed jobs of every kind, refused write keys, /metrics, the
// dashboard's API, shutdown), then searches everything the processes wrote to stdout/stderr, everything in
// Redis, and the answers it got, for the secrets in every form: plain, URL-encoded, and as Basic tokens.
import { expect } from 'chai';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import {
  chaosPrefix,
  inspectQueues,
  postJson,
  request,
  startPrivateRedis,
  trackEvent,
  trackOnly,
  waitUntil,
  writeConfigFile,
  type HttpAnswer,
  type PrivateRedis,
  type QueueInspector,
} from '../support/chaos';
import { needs, redisServerMissing } from '../support/needs';
import { startServiceProcess, stopAllServiceProcesses, type Env, type ServiceProcess } from '../support/process';

const SITE_ID = 'site-4471';
const API_KEY = 'cio-apikey-Zk83Qv-SECRET';
const WRITE_KEY = 'wk-live-Hq52Ls-SECRET';
const OTHER_WRITE_KEY = 'wk-second-Pp19Xr-SECRET';
const REDIS_PASSWORD = 'redis-pw-Tn60Wj-SECRET';
const DASH_USER = 'ops';
const DASH_PASSWORD = 'dash-pw-Mb27Yc-SECRET';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Every form in which a secret could leak. */
const NEEDLES: Record<string, string> = {
  'API key': API_KEY,
  'write key': WRITE_KEY,
  'second write key': OTHER_WRITE_KEY,
  'Redis password': REDIS_PASSWORD,
  'dashboard password': DASH_PASSWORD,
  'Customer.io Basic token base64(siteId:apiKey)': b64(`${SITE_ID}:${API_KEY}`),
  'write-key Basic token base64(writeKey:)': b64(`${WRITE_KEY}:`),
  'dashboard Basic token': b64(`${DASH_USER}:${DASH_PASSWORD}`),
  // The distinctive middle of each secret, in case one is cut, quoted or escaped.
  'API key (part)': 'Zk83Qv',
  'write key (part)': 'Hq52Ls',
  'second write key (part)': 'Pp19Xr',
  'Redis password (part)': 'Tn60Wj',
  'dashboard password (part)': 'Mb27Yc',
};

function leaks(where: string, text: string): string[] {
  return Object.entries(NEEDLES)
    .filter(([, needle]) => text.includes(needle))
    .map(([name]) => `${name} in ${where}`);
}

/** Everything stored in the Redis, whatever the type of key. */
async function dumpRedis(redis: PrivateRedis): Promise<string> {
  const client = redis.client();
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await client.type(key);
        let value: unknown;
        if (type === 'string') value = await client.get(key);
        else if (type === 'hash') value = await client.hgetall(key);
        else if (type === 'list') value = await client.lrange(key, 0, -1);
        else if (type === 'set') value = await client.smembers(key);
        else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
        else if (type === 'stream') value = await client.xrange(key, '-', '+');
        else value = `(${type})`;
        out.push(`${key} ${JSON.stringify(value)}`);
      }
    } while (cursor !== '0');
    return out.join('\n');
  } finally {
    client.disconnect();
  }
}

describe('security: secrets stay secret', function () {
  this.timeout(60_000);
  let redis: PrivateRedis | undefined;
  let standIn: CustomerIoStandIn | undefined;
  let inspect: QueueInspector | undefined;
  let config: ReturnType<typeof writeConfigFile> | undefined;

  before(function () {
    needs(this, redisServerMissing());
  });

  afterEach(async () => {
    await stopAllServiceProcesses();
    await standIn?.close();
    await inspect?.close();
    await redis?.destroy();
    config?.remove();
  });

  async function start(prefix: string): Promise<{ all: ServiceProcess; worker: ServiceProcess; env: Env }> {
    redis = await startPrivateRedis({ password: REDIS_PASSWORD });
    expect(redis.url).to.include(REDIS_PASSWORD);
    config = writeConfigFile(trackOnly(10));
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
    const env: Env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      CIO_CONFIG: config.path,
      CUSTOMERIO_SITE_ID: SITE_ID,
      CUSTOMERIO_API_KEY: API_KEY,
      CUSTOMERIO_TRACK_URL: standIn.url,
      CUSTOMERIO_TIMEOUT_MS: '500',
      WRITE_KEYS: `${WRITE_KEY},${OTHER_WRITE_KEY}`,
      DASHBOARD_USER: DASH_USER,
      DASHBOARD_PASSWORD: DASH_PASSWORD,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug', // the most the service will ever say
      FLUSH_INTERVAL_MS: '30',
      AUTH_PAUSE_MS: '300',
      JOB_ATTEMPTS: '2',
      RETRY_BACKOFF_MS: '50',
    };
    const [all, worker] = await Promise.all([
      startServiceProcess({ mode: 'all', name: 'all', env }),
      startServiceProcess({ mode: 'worker', name: 'worker', env }),
    ]);
    inspect = await inspectQueues(redis.url, prefix);
    return { all, worker, env };
  }

  async function settle(n: number): Promise<void> {
    await waitUntil(
      async () => {
        const c = await inspect!.counts('trackEvent');
        return (await inspect!.unfinished('trackEvent')) === 0 && c.completed + c.failed >= n;
      },
      20_000,
      `${n} jobs to finish`,
      () => inspect!.counts('trackEvent'),
    );
  }

  it('appear in no log line, no Redis key, no job, no failure reason and no answer', async () => {
    const prefix = chaosPrefix('secrets');
    const { all, worker } = await start(prefix);
    const cio = standIn!;
    const answers: HttpAnswer[] = [];
    let n = 0;
    const send = async (body: unknown, opts: { writeKey?: string; headers?: Record<string, string>; path?: string } = {}) => {
      const res = await postJson(all.url, opts.path ?? '/v1/batch', body, opts);
      answers.push(res);
      return res;
    };
    const events = (count: number, extra: Record<string, unknown> = {}) => Array.from({ length: count }, () => trackEvent(`sec-${++n}`, n, extra));
    let jobs = 0;

    // Deliveries, the write key sent every way an SDK sends it.
    expect((await send({ batch: events(5) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    expect((await send({ batch: events(2), writeKey: OTHER_WRITE_KEY })).status).to.equal(200);
    expect((await send({ batch: events(2).map((e) => ({ ...e, writeKey: WRITE_KEY })) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    expect((await send({ ...events(1)[0], writeKey: WRITE_KEY }, { path: '/v1/track' })).status).to.equal(200);
    jobs += 10;
    await settle(jobs);

    // Customer.io refuses the credentials once (401): the queue pauses, the error is logged loudly.
    cio.respondNext({ status: 401, body: { meta: { error: 'Unauthorized request. Make sure that you provided the right credentials.' } } });
    expect((await send({ batch: events(3) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 3;
    await settle(jobs);

    // Failed jobs of every kind: whole-request 400, items listed in a 207, transient until the last attempt,
    // a timeout, and a mapping refusal (no event name).
    cio.respondNext({ status: 400, body: { errors: [{ reason: 'invalid', field: 'batch', message: 'bad payload' }] } });
    expect((await send({ batch: events(2) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 2;
    await settle(jobs);
    cio.rejectItemsWhere((item) => (item.attributes?.n % 2 === 0 ? { reason: 'invalid', field: 'attributes.n', message: 'even numbers are refused' } : undefined));
    expect((await send({ batch: events(4) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 4;
    await settle(jobs);
    cio.rejectItemsWhere(null);
    cio.respondNext({ status: 503, body: 'upstream down' }, { status: 500, body: { meta: { error: 'boom' } } });
    expect((await send({ batch: events(1) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 1;
    await settle(jobs);
    cio.respondNext({ status: 200, hang: true }, { status: 200, hang: true });
    expect((await send({ batch: events(1) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 1;
    await settle(jobs);
    expect((await send({ batch: events(1, { event: undefined }) }, { writeKey: WRITE_KEY })).status).to.equal(200);
    jobs += 1;
    await settle(jobs);

    // Refused write keys, and a body that names one next to an error.
    expect((await send({ batch: events(1) }, { writeKey: 'wrong-key' })).status).to.equal(401);
    expect((await send({ batch: events(1) })).status).to.equal(401);
    expect((await send({ batch: events(1), writeKey: 'wrong-key' })).status).to.equal(401);
    expect((await send({ batch: [{ type: 5, writeKey: WRITE_KEY }] }, { writeKey: WRITE_KEY })).status).to.equal(400);
    expect((await send('{"batch": [', { writeKey: WRITE_KEY })).status).to.equal(400);

    // /metrics and /health of both processes, and the dashboard's API (job data, failure reasons).
    const dashAuth = { authorization: `Basic ${b64(`${DASH_USER}:${DASH_PASSWORD}`)}` };
    const reads = [
      await request(`${all.url}/metrics`),
      await request(`${worker.url}/metrics`),
      await request(`${all.url}/health`),
      await request(`${worker.url}/health`),
      await request(`${all.url}/admin/queues/api/queues?activeQueue=trackEvent&status=failed&page=1`, { headers: dashAuth }),
      await request(`${all.url}/admin/queues/api/queues?activeQueue=trackEvent&status=completed&page=1`, { headers: dashAuth }),
      await request(`${all.url}/admin/queues`, { headers: { authorization: `Basic ${b64(`${DASH_USER}:wrong`)}` } }),
    ];
    expect(reads.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200, 401]);
    answers.push(...reads);

    // The run did what it claims: deliveries, a credentials pause, failures with their reasons.
    const counts = await inspect!.counts('trackEvent');
    const failed = await inspect!.jobs('trackEvent', ['failed']);
    const reasons = failed.map((j) => j.failedReason);
    expect(counts.completed + counts.failed).to.equal(jobs);
    expect(reasons.some((r) => /rejected the request \(400/.test(String(r)))).to.equal(true);
    expect(reasons.some((r) => /rejected the item/.test(String(r)))).to.equal(true);
    expect(reasons.some((r) => /gave up after 2 attempts/.test(String(r)))).to.equal(true);
    expect(reasons.some((r) => /did not answer within 500 ms/.test(String(r)))).to.equal(true);
    expect(reasons.some((r) => /required field 'name'/.test(String(r)))).to.equal(true);
    expect([...all.logs(), ...worker.logs()].some((l) => l.level === 'error' && /refused the credentials \(401\)/.test(l.reason))).to.equal(true);
    for (const job of await inspect!.jobs('trackEvent')) expect(job.data.event).not.to.have.property('writeKey');

    // Shutdown logs too.
    await Promise.all([all.stop('SIGTERM'), worker.stop('SIGTERM')]);

    const found = [
      ...leaks('the all process output', all.output()),
      ...leaks('the worker process output', worker.output()),
      ...leaks('Redis', await dumpRedis(redis!)),
      ...leaks('failure reasons', reasons.join('\n')),
      ...answers.flatMap((a, i) => leaks(`answer ${i} (${a.status})`, `${JSON.stringify(a.headers)}\n${a.text}`)),
    ];
    expect(found).to.deep.equal([]);
    // The redacted forms are there: the log says where Redis is without saying its password.
    expect(all.output()).to.include(`redis://:***@127.0.0.1:${redis!.port}`);
  });

  it('stay out of failure reasons and logs even when Customer.io’s error echoes the credentials back', async () => {
    const prefix = chaosPrefix('secrets-echo');
    const { all, worker } = await start(prefix);
    const token = b64(`${SITE_ID}:${API_KEY}`);
    // A proxy or an error page that quotes the request: the Authorization header, the key on its own.
    standIn!.respondNext(
      { status: 400, body: { errors: [{ reason: 'invalid', field: 'authorization', message: `could not use "Basic ${token}" (key ${API_KEY})` }] } },
      { status: 401, body: { meta: { error: `credentials Basic ${token} refused` } } },
      { status: 502, body: `<html>Bad gateway for site ${SITE_ID} key ${API_KEY}</html>` },
      { status: 502, body: `<html>Bad gateway for site ${SITE_ID} key ${API_KEY}</html>` },
    );
    expect((await postJson(all.url, '/v1/batch', { batch: [trackEvent('echo-1', 1)] }, { writeKey: WRITE_KEY })).status).to.equal(200);
    await settle(1);
    expect((await postJson(all.url, '/v1/batch', { batch: [trackEvent('echo-2', 2)] }, { writeKey: WRITE_KEY })).status).to.equal(200);
    await settle(2);
    const reasons = (await inspect!.jobs('trackEvent', ['failed'])).map((j) => j.failedReason);
    expect(reasons).to.have.length.greaterThan(0);
    await Promise.all([all.stop('SIGTERM'), worker.stop('SIGTERM')]);
    const found = [
      ...leaks('failure reasons', reasons.join('\n')),
      ...leaks('Redis', await dumpRedis(redis!)),
      ...leaks('the all process output', all.output()),
      ...leaks('the worker process output', worker.output()),
    ];
    expect(found).to.deep.equal([]);
  });
});
