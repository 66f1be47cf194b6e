// `npm run demo`: the whole service against a built-in Customer.io stand-in. Sends sample events of every
// kind through the real HTTP API, waits for the workers, and reports what reached "Customer.io" and what
// was refused, and why. Needs only Redis. `npm run demo -- --keep` leaves it running to explore the
// dashboard; otherwise it cleans up its queues and exits.
//
// It works under a queue prefix of its own, fresh each run (cio-demo-<random>), whatever QUEUE_PREFIX says:
// the demo deletes its queues and counts at the end, and must never delete a real deployment's.
// When no Redis answers at REDIS_URL it runs a private redis-server of its own (private-redis.ts).

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { ConfigError, DEFAULTS, loadConfig, type ServiceConfig } from '../config';
import { CustomerIoStandIn } from './customerio-stand-in';
import { createLogger, redactUrl } from '../log/logger';
import { connectRedis } from '../redis/connection';
import { portError } from '../http/ops';
import { answers, findRedisServer, GET_REDIS, startPrivateRedisServer, type PrivateRedisServer } from './private-redis';
import { removeMessageIndex } from '../redis/message-index';
import { removeOrderBook } from '../redis/order-book';
import { UNFINISHED_JOB_STATES } from '../redis/keys';
import { removeCounts } from '../counts/redis-store';
import { markerKey } from '../redis/health/data-marker';
import { startService } from '../service';
import type { Job } from 'bullmq';
import type { GroupJobData } from '../jobs/group';
import { ACTION_KEYS } from '../core/types';
import { sampleEvents } from './samples';

const DEMO_SITE_ID = 'demo-site';
const DEMO_API_KEY = 'demo-key';

/** A private redis-server started for this run, stopped before the process ends. */
let privateRedis: PrivateRedisServer | undefined;

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const env = { ...process.env };
  if (!env.REDIS_CLUSTER_NODES) {
    const url = env.REDIS_URL || DEFAULTS.redis.url;
    if (!(await answers(url))) {
      const bin = findRedisServer();
      if (!bin) return fail(`No Redis answers at ${redactUrl(url)} and redis-server is not installed: ${GET_REDIS}, then run npm run demo again.`);
      privateRedis = await startPrivateRedisServer(bin);
      env.REDIS_URL = privateRedis.url;
      out(`No Redis answers at ${redactUrl(url)}: the demo runs a private redis-server at ${privateRedis.url}, stopped when it ends.`);
    }
  }
  const standIn = await CustomerIoStandIn.start({ siteId: DEMO_SITE_ID, apiKey: DEMO_API_KEY });
  // Customer.io refuses attribute values over 1000 bytes: the stand-in does too, so one sample shows it.
  standIn.rejectItemsWhere((item) =>
    Object.entries(item.attributes ?? {}).some(([, v]) => typeof v === 'string' && v.length > 1000)
      ? { reason: 'invalid', field: 'attributes.bio', message: 'property value cannot be longer than 1000 bytes' }
      : undefined,
  );

  let config: ServiceConfig;
  try {
    const base = loadConfig({ ...env, CUSTOMERIO_SITE_ID: DEMO_SITE_ID, CUSTOMERIO_API_KEY: DEMO_API_KEY });
    config = {
      ...base,
      redis: { ...base.redis, queuePrefix: `cio-demo-${randomBytes(4).toString('hex')}` },
      http: { ...base.http, port: process.env.PORT ? base.http.port : 3000 },
      worker: { ...base.worker, flushIntervalMs: Math.min(base.worker.flushIntervalMs, 200) },
      customerio: { ...base.customerio, region: 'US', trackUrl: standIn.url },
    };
  } catch (err) {
    await standIn.close();
    if (err instanceof ConfigError) return fail(`Configuration error: ${err.message}`);
    throw err;
  }
  // A taken port is said in one line before anything is written to Redis.
  const taken = await portTaken(config.http.port, config.http.host);
  if (taken) {
    await standIn.close();
    return fail(`${taken.message} (npm run demo listens on 3000 unless PORT says otherwise)`);
  }

  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService(config, 'all', logger);
  } catch (err) {
    await standIn.close();
    await removeKeysUnder(config, config.redis.queuePrefix).catch(() => undefined);
    return fail((err as Error).message);
  }
  out(`cio-relay demo: the service runs at ${service.url}, Customer.io is a stand-in at ${standIn.url}.`);
  const given = process.env.QUEUE_PREFIX;
  out(
    `It keeps its jobs in queues under the prefix ${config.redis.queuePrefix}, removed when it ends` +
      (given ? ` (QUEUE_PREFIX=${given} is left alone: the demo never touches queues it did not make).\n` : '.\n'),
  );

  const events = sampleEvents();
  const response = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(config.http.writeKeys[0] ?? 'demo') },
    body: JSON.stringify({ batch: events }),
  });
  out(`POST /v1/batch with ${events.length} events of every kind → ${response.status} ${await response.text()}\n`);

  await settled(service.queues, 20_000);
  await report(service.queues, standIn);

  if (keep) {
    out(`\nStill running: dashboard ${service.url}/admin/queues, metrics ${service.url}/metrics. Ctrl-C to stop.`);
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  } else {
    await stop();
  }

  async function stop(): Promise<void> {
    await clearDemoData(service, config.redis.queuePrefix).catch(() => undefined);
    await service.close();
    await standIn.close();
    await privateRedis?.stop();
    process.exit(0);
  }
}

/**
 * The demo's queues, counts, message index and Redis marker, all under the prefix made for this run:
 * nothing else is deleted.
 */
async function clearDemoData(service: Awaited<ReturnType<typeof startService>>, prefix: string): Promise<void> {
  await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
  await removeCounts(service.redis, prefix);
  await removeMessageIndex(service.redis, prefix);
  await removeOrderBook(service.redis, prefix);
  await service.redis.del(markerKey(prefix));
}

/** The error that listening on the port would meet (EADDRINUSE…), or undefined when it is free (or 0). */
function portTaken(port: number, host: string): Promise<Error | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve(portError(err, port, host, 'PORT')));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Whatever a start that failed half-way wrote under the demo's own prefix (queue meta, the Redis marker):
 * the prefix is made for this run, so everything under it is the demo's.
 */
async function removeKeysUnder(config: ServiceConfig, prefix: string): Promise<void> {
  const redis = connectRedis(config.redis, 'producer');
  redis.on('error', () => undefined);
  try {
    const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) await redis.del(key);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

async function settled(queues: Awaited<ReturnType<typeof startService>>['queues'], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(ACTION_KEYS.map((a) => queues[a].getJobCounts(...UNFINISHED_JOB_STATES)));
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
    if (Date.now() > until) return out('(some jobs are still waiting; the report shows what happened so far)');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function report(queues: Awaited<ReturnType<typeof startService>>['queues'], standIn: CustomerIoStandIn): Promise<void> {
  out('What arrived at Customer.io:');
  for (const request of standIn.requests) {
    const items: any[] = Array.isArray(request.body?.batch) ? request.body.batch : [request.body];
    const kinds = items.map((i) => (i.type ? `${i.type}/${i.action}` : `metric/${i.metric}`));
    out(`  POST ${request.path}  ${items.length} item(s): ${summarize(kinds)}`);
  }
  out(`  ${standIn.counts.items} item(s) accepted, ${standIn.counts.rejectedItems} refused by Customer.io\n`);

  out('Refused, each with its reason (also in the dashboard under "failed"):');
  let failures = 0;
  for (const action of ACTION_KEYS) {
    for (const job of (await queues[action].getFailed()) as Array<Job<GroupJobData>>) {
      failures++;
      out(`  ${action} (${job.name}), event ${job.data.messageIds.join(', ')}: ${job.failedReason}`);
    }
  }
  if (failures === 0) out('  nothing');
}

function summarize(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${n}× ${k}` : k)).join(', ');
}

function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string): Promise<void> {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
  return privateRedis?.stop() ?? Promise.resolve();
}

main().catch(async (err) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
  await privateRedis?.stop().catch(() => undefined);
  process.exit(1);
});
