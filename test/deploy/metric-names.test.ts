// Every metric the alert rules and the Grafana dashboard use must be one the service exports: read from
// the /metrics of the real service (API and workers in one process) after a run that delivered, refused,
// and was paused by a 429. A metric renamed or removed in the service, or misspelt in a rule or a panel,
// fails here. redis_exporter's metrics are allowed by name (REDIS_EXPORTER_METRICS).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startServiceProcess, type ServiceProcess } from '../support/process';
import { randomQueuePrefix, removeKeysUnder, TEST_REDIS_URL } from '../support/redis';
import { exportedNames, metricNamesIn, namesInDashboard, namesInRules, REDIS_EXPORTER_METRICS, unknownNames } from './promql-names';

const root = resolve(__dirname, '..', '..');
const rulesText = readFileSync(join(root, 'deploy', 'prometheus', 'cio-relay.rules.yml'), 'utf8');
const dashboardText = readFileSync(join(root, 'deploy', 'grafana', 'cio-relay.json'), 'utf8');

describe('metric names in the alert rules and the dashboard', function () {
  this.timeout(90_000);
  let standIn: CustomerIoStandIn;
  let service: ServiceProcess | undefined;
  const prefix = randomQueuePrefix();
  let exposition = '';

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    standIn.rejectItemsWhere((item) => (item.attributes?.plan === 'bad' ? { reason: 'invalid', field: 'attributes.plan', message: 'not allowed' } : undefined));
    // the first request gets a 429: its items wait and count as retried (rate_limited)
    standIn.respondNext({ status: 429, headers: { 'retry-after': '1' }, body: {} });
    service = await startServiceProcess({
      mode: 'all',
      name: 'service for the metric-name check',
      env: {
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        CUSTOMERIO_SITE_ID: 'site',
        CUSTOMERIO_API_KEY: 'key',
        CUSTOMERIO_TRACK_URL: standIn.url,
        FLUSH_INTERVAL_MS: '50',
        LOG_LEVEL: 'warn',
      },
    });
    const at = '2024-03-15T12:34:56.789Z';
    const batch = [
      { type: 'identify', userId: 'u1', messageId: 'i1', timestamp: at, traits: { plan: 'pro' } },
      { type: 'identify', userId: 'u2', messageId: 'i2', timestamp: at, traits: { plan: 'bad' } },
      { type: 'track', userId: 'u1', event: 'Signed Up', messageId: 't1', timestamp: at },
      { type: 'track', userId: 'u1', event: 'Hidden', messageId: 't2', timestamp: at, integrations: { 'Customer.io (Actions)': false } },
    ];
    const res = await fetch(`${service.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
    expect(res.status).to.equal(200);
    // a client's retry of one of them: queued once, counted as a re-send
    const again = await fetch(`${service.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: [batch[2]] }) });
    expect(again.status).to.equal(200);
    // until both queues are through (the 429 pause included)
    const until = Date.now() + 45_000;
    for (;;) {
      exposition = await (await fetch(`${service.url}/metrics`)).text();
      const done =
        exposition.includes('cio_items_delivered_total{action="trackEvent"} 1') &&
        exposition.includes('cio_items_delivered_total{action="createUpdatePerson"} 1') &&
        exposition.includes('cio_items_failed_total{action="createUpdatePerson",reason="rejected"} 1');
      if (done) break;
      if (Date.now() > until) {
        const cio = exposition.split('\n').filter((l) => l.startsWith('cio_'));
        throw new Error(`the run did not finish within 45 s; last cio_* series:\n${cio.join('\n')}\n--- service output ---\n${service.output().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await service?.stop();
    await removeKeysUnder(prefix);
    await standIn?.close();
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNamesIn('max by (action, reason) (increase(cio_items_failed_total{reason=~"a|b"}[10m])) > 0 or (x_total unless on (action) y offset 10m) and on () count(z) > 1e9'),
    ).to.have.members(['cio_items_failed_total', 'x_total', 'y', 'z']);
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le, action) (rate(cio_request_duration_seconds_bucket{action=~"$action"}[$__rate_interval])))')).to.deep.equal([
      'cio_request_duration_seconds_bucket',
    ]);
  });

  it('the rules use only metrics the service exports (or they record, or redis_exporter exports)', () => {
    const { used, recorded } = namesInRules(rulesText);
    expect(used.size).to.be.greaterThan(5);
    expect(unknownNames(used, exportedNames(exposition), recorded)).to.deep.equal([]);
  });

  it('the dashboard uses only metrics the service or redis_exporter exports', () => {
    const used = namesInDashboard(dashboardText);
    expect(used.size).to.be.greaterThan(5);
    expect(unknownNames(used, exportedNames(exposition))).to.deep.equal([]);
  });

  it('every cio_* metric they use had samples after the run', () => {
    const rules = namesInRules(rulesText);
    const used = [...rules.used.keys(), ...namesInDashboard(dashboardText).keys()].filter((n) => n.startsWith('cio_') && !rules.recorded.has(n));
    const withSamples = new Set(exposition.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[^{\s]+/.exec(l)![0]));
    expect([...new Set(used)].filter((n) => !withSamples.has(n))).to.deep.equal([]);
  });

  it('fails on a metric renamed in a rule or a panel, and on one the service no longer exports', () => {
    const exported = exportedNames(exposition);
    const renamedRule = namesInRules(rulesText.replaceAll('cio_items_failed_total', 'cio_items_failures_total'));
    expect(unknownNames(renamedRule.used, exported, renamedRule.recorded).join('\n')).to.include('cio_items_failures_total (used by rule');
    const renamedPanel = namesInDashboard(dashboardText.replaceAll('cio_queue_jobs', 'cio_queue_depth'));
    expect(unknownNames(renamedPanel, exported).join('\n')).to.include('cio_queue_depth (used by panel');
    const withoutQueueJobs = new Set([...exported].filter((n) => n !== 'cio_queue_jobs'));
    expect(unknownNames(namesInRules(rulesText).used, withoutQueueJobs).join('\n')).to.include('cio_queue_jobs');
    // only redis_exporter's names are let through, not any redis_*
    expect(REDIS_EXPORTER_METRICS).to.not.include('redis_memory_used');
    expect(unknownNames(new Map([['redis_memory_used', ['x']]]), exported)).to.have.length(1);
  });
});
