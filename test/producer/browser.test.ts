// Segment's browser SDK (analytics.js 2.0, @segment/analytics-next) in a real headless Chromium, on a
// page served from another origin than the API, works unchanged: its requests (text/plain bodies, the
// write key in the body, the one-letter paths, CORS) reach Customer.io through the service.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { testConfig } from '../support/pipeline';

const CHROMIUM = process.env.CHROMIUM_BIN ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WRITE_KEY = 'browser-write-key';
const SDK_BUNDLE = require.resolve('@segment/analytics-next/dist/umd/index.js');

const PAGE = `<!doctype html><html><head><title>shop</title><script src="/analytics.js"></script></head><body>shop</body></html>`;

describe('analytics.js (the browser SDK) in Chromium, on a page of another origin', function () {
  this.timeout(60_000);
  let standIn: CustomerIoStandIn;
  let service: RunningService;
  let site: http.Server;
  let siteUrl: string;
  let browser: Browser;

  before(async function () {
    if (!CHROMIUM) {
      // .ci/run installs Debian's chromium; elsewhere say why nothing was checked.
      if (process.env.CI) throw new Error('chromium is not installed (.ci/run should have installed it; or set CHROMIUM_BIN)');
      // eslint-disable-next-line no-console
      console.log('      skipped: no chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM_BIN)');
      this.skip();
    }
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    const base = testConfig({ http: { writeKeys: [WRITE_KEY] } });
    service = await startService({ ...base, customerio: { ...base.customerio, trackUrl: standIn.url } }, 'all', pino({ level: 'silent' }));
    const bundle = readFileSync(SDK_BUNDLE);
    site = http.createServer((req, res) => {
      if (req.url === '/analytics.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    if (site) await new Promise((resolve) => site.close(resolve));
    if (service) {
      await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
      await service.close();
    }
    await standIn?.close();
  });

  it('delivers identify, track and page sent from the page, each with the SDK’s messageId', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // Failed requests are reported with their URL below.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
    });
    page.on('requestfailed', (r) => problems.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
    });
    await page.goto(siteUrl);
    expect(new URL(siteUrl).origin).not.to.equal(new URL(service.url).origin);

    const apiHost = `${new URL(service.url).host}/v1`;
    const answers = await page.evaluate(
      async ({ writeKey, apiHost }) => {
        const { AnalyticsBrowser } = (globalThis as unknown as { AnalyticsNext: typeof import('@segment/analytics-next') }).AnalyticsNext;
        // The settings Segment's CDN would serve, given inline: the one destination is Segment's own API, here the service.
        const [analytics] = await AnalyticsBrowser.load({
          writeKey,
          cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } } },
        });
        const contexts = [
          await analytics.identify('web-user-1', { email: 'web@example.com', plan: 'pro' }),
          await analytics.track('Browser Event', { price: 12.5 }),
          await analytics.page('Docs', 'Getting started'),
        ];
        return contexts.map((ctx: any) => ({ type: ctx.event.type, messageId: ctx.event.messageId, failed: ctx.failedDelivery() ?? null }));
      },
      { writeKey: WRITE_KEY, apiHost },
    );
    expect(answers.map((a) => a.failed), `the SDK saw its deliveries fail; page problems: ${problems.join('; ')}`).to.deep.equal([null, null, null]);

    for (let i = 0; i < 200 && standIn.items().length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const items = standIn.items();
    expect(items.map((item) => `${item.type}/${item.action}`).sort()).to.deep.equal(['person/event', 'person/identify', 'person/page']);
    const identify = items.find((i) => i.action === 'identify');
    expect(identify.identifiers).to.deep.equal({ id: 'web-user-1' });
    expect(identify.attributes).to.include({ email: 'web@example.com', plan: 'pro' });
    const event = items.find((i) => i.action === 'event');
    expect(event).to.deep.include({ name: 'Browser Event', identifiers: { id: 'web-user-1' } });
    expect(event.id, 'the event’s id is the SDK’s messageId').to.equal(answers[1].messageId);
    expect(event.id).to.match(/^ajs-next-/);
    const pageView = items.find((i) => i.action === 'page');
    // Track Page View names the view by its URL (context.page.url, which the SDK fills from the page).
    expect(pageView).to.deep.include({ name: `${siteUrl}/`, identifiers: { id: 'web-user-1' } });
    expect(problems, 'errors on the page').to.deep.equal([]);
    await page.close();
  });
});
