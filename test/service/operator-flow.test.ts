// The operator's round trip the README describes: backfill a file, see a failure in the dashboard and in
// /metrics, fix the mapping, restart the workers, replay, and see it delivered.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { itemCounts } from '../support/items';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { runCli } from '../support/cli';
import { REDIS_URL, testPrefix } from '../support/pipeline';
import { trackSpec } from '../support/track-subscription';

/** What Bull Board's API answers for a queue's failed jobs (the parts read here). */
type BoardAnswer = { queues: Array<{ name: string; counts: { failed: number }; jobs: Array<{ failedReason: string }> }> };

const dir = mkdtempSync(join(tmpdir(), 'cio-operator-'));

function writeConfig(nameField: unknown): string {
  const path = join(dir, `config-${Date.now()}.json`);
  writeFileSync(path, JSON.stringify({
    subscriptions: [trackSpec({ name: 'Orders', mapping: { name: nameField } })],
  }));
  return path;
}

describe('operator round trip: backfill, failure, fix, replay', function () {
  this.timeout(60_000);
  const prefix = testPrefix();
  let standIn: CustomerIoStandIn;
  let service: RunningService | undefined;
  const env = (configPath: string) => ({
    REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: configPath, CUSTOMERIO_SITE_ID: 'site', CUSTOMERIO_API_KEY: 'key',
    FLUSH_INTERVAL_MS: '50', PORT: '0', DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'pw',
  });
  const start = async (configPath: string) => {
    const config = loadConfig(env(configPath));
    service = await startService({ ...config, customerio: { ...config.customerio, trackUrl: standIn.url } }, 'all', pino({ level: 'silent' }));
    return service;
  };

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
  });
  after(async () => {
    if (service) {
      await Promise.all(ACTION_KEYS.map((a) => service!.queues[a].obliterate({ force: true })));
      await service.close();
    }
    await standIn.close();
  });

  it('ends with every event delivered', async () => {
    // A mapping that reads the event name from the wrong place: every item is refused.
    const broken = writeConfig({ '@path': '$.properties.eventName' });
    let svc = await start(broken);
    const file = join(dir, 'history.ndjson');
    writeFileSync(file, [1, 2, 3].map((n) => JSON.stringify({ type: 'track', userId: `u${n}`, event: 'Order Completed', messageId: `hist-${n}`, timestamp: '2024-01-01T00:00:00Z', properties: { n } })).join('\n') + '\n');

    const imported = await runCli(['import', file], env(broken));
    expect(imported.code, imported.stderr).to.equal(0);
    await until(async () => (await svc.queues.trackEvent.getJobCounts('failed')).failed === 3);

    // the dashboard shows each failure with its reason
    const auth = `Basic ${Buffer.from('ops:pw').toString('base64')}`;
    const board = await (await fetch(`${svc.url}/admin/queues/api/queues?activeQueue=trackEvent&status=failed&page=1&jobsPerPage=10`, { headers: { authorization: auth } })).json() as BoardAnswer;
    const queue = board.queues.find((q) => q.name === 'trackEvent')!;
    expect(queue.counts.failed).to.equal(3);
    expect(queue.jobs.map((j) => j.failedReason)).to.deep.equal(Array(3).fill("The root value is missing the required field 'name'."));
    // and /metrics counts them, and the import that queued them (the CLI's counts join the deployment's)
    const counted = await (await fetch(`${svc.url}/metrics`)).text();
    expect(counted).to.include('cio_items_failed_total{action="trackEvent",reason="invalid"} 3');
    expect(counted).to.include('cio_events_received_total{source="import"} 3');

    // fix the mapping, restart, replay
    await svc.close();
    const fixed = writeConfig({ '@path': '$.event' });
    svc = await start(fixed);
    const replayed = await runCli(['replay', '--action', 'trackEvent'], env(fixed));
    expect(replayed.code, replayed.stderr).to.equal(0);
    expect(replayed.stdout).to.match(/trackEvent\D+3/);
    await until(async () => (await itemCounts(svc.queues.trackEvent)).completed === 3); // items delivered
    expect(standIn.items().map((i) => i.identifiers.id).sort()).to.deep.equal(['u1', 'u2', 'u3']);
    expect(await (await fetch(`${svc.url}/metrics`)).text()).to.include('cio_items_delivered_total{action="trackEvent"} 3');
  });
});

async function until(cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
