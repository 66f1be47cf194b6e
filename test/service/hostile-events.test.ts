// Event content must never stall a worker: events built to make a template slow (30 KB of `{` rendered
// by `{{{properties.x}}}`, as a hostile tester sent them) go through the whole service while /health is
// asked every 20 ms on the same event loop. A benchmark-style check with a generous bound: the first
// version answered /health after 4.9 s here.
import { expect } from 'chai';
import pino from 'pino';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { itemCounts } from '../support/items';
import { testConfig } from '../support/pipeline';
import { trackSpec } from '../support/track-subscription';

const TEMPLATED = [trackSpec({ mapping: { name: { '@template': 'x {{{properties.x}}} {{properties.x}}' } } })];

describe('hostile event content', function () {
  this.timeout(60_000);
  let standIn: CustomerIoStandIn;
  let service: RunningService;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    const base = testConfig({ subscriptionSpecs: TEMPLATED });
    service = await startService({ ...base, customerio: { ...base.customerio, trackUrl: standIn.url } }, 'all', pino({ level: 'silent' }));
  });

  after(async () => {
    await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
    await service.close();
    await standIn.close();
  });

  it('keeps /health fast while a worker renders templates over events full of braces', async () => {
    const batch = Array.from({ length: 15 }, (_, i) => ({ type: 'track', userId: `u${i}`, event: 'E', messageId: `brace-${i}`, properties: { x: '{'.repeat(30_000) } }));
    const res = await fetch(`${service.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
    expect(res.status, await res.clone().text()).to.equal(200);

    let slowest = 0;
    let probes = 0;
    const until = Date.now() + 30_000;
    for (;;) {
      const started = Date.now();
      expect((await fetch(`${service.url}/health`)).status).to.equal(200);
      slowest = Math.max(slowest, Date.now() - started);
      probes++;
      const counts = await itemCounts(service.queues.trackEvent);
      if (counts.completed + counts.failed === batch.length) break;
      if (Date.now() > until) throw new Error(`items still unsettled: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // eslint-disable-next-line no-console
    console.log(`      ${probes} /health probes, the slowest ${slowest} ms`);
    expect(slowest, 'slowest /health answer, ms').to.be.below(1000);
  });
});
