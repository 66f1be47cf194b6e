// Segment's own Node SDK, pointed at the service, works unchanged: every call type reaches Customer.io.
import { Analytics } from '@segment/analytics-node';
import { expect } from 'chai';
import pino from 'pino';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { testConfig } from '../support/pipeline';

describe('@segment/analytics-node against the service', function () {
  this.timeout(30_000);
  let standIn: CustomerIoStandIn;
  let service: RunningService;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: 'site', apiKey: 'key' });
    const base = testConfig({ http: { writeKeys: ['sdk-write-key'] } });
    service = await startService({ ...base, customerio: { ...base.customerio, trackUrl: standIn.url } }, 'all', pino({ level: 'silent' }));
  });

  after(async () => {
    await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
    await service.close();
    await standIn.close();
  });

  it('delivers identify, track, page, screen, group and alias sent by the SDK', async () => {
    const errors: unknown[] = [];
    const analytics = new Analytics({ writeKey: 'sdk-write-key', host: service.url, flushAt: 3, maxRetries: 0 });
    analytics.on('error', (e) => errors.push(e));
    analytics.identify({ userId: 'sdk-1', traits: { email: 'sdk@example.com', plan: 'pro' } });
    analytics.track({ userId: 'sdk-1', event: 'SDK Event', properties: { a: 1 } });
    analytics.page({ userId: 'sdk-1', name: 'Home', properties: { url: 'https://x.test/' } });
    analytics.screen({ userId: 'sdk-1', name: 'Main' });
    analytics.group({ userId: 'sdk-1', groupId: 'g1', traits: { objectAttributes: { seats: 3 } } });
    analytics.alias({ userId: 'sdk-1', previousId: 'anon-x' });
    await analytics.closeAndFlush();
    expect(errors).to.deep.equal([]);

    for (let i = 0; i < 200 && standIn.items().length < 6; i++) await new Promise((r) => setTimeout(r, 50));
    const got = standIn.items().map((item) => `${item.type}/${item.action}`).sort();
    expect(got).to.deep.equal(['object/identify', 'person/event', 'person/identify', 'person/merge', 'person/page', 'person/screen']);
    const event = standIn.items().find((i) => i.action === 'event');
    expect(event).to.deep.include({ name: 'SDK Event', identifiers: { id: 'sdk-1' } });
    expect(event.id).to.match(/^node-next-/); // the SDK's messageId, for Customer.io's dedupe
  });

  it('accepts the one-letter paths analytics.js (the browser SDK) posts to, with the write key in the body', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${service.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
    const at = '2024-03-15T12:34:56.789Z';
    const sent = [
      await post('/v1/t', { writeKey: 'sdk-write-key', userId: 'web-1', event: 'Clicked', messageId: 'ajs-t', timestamp: at }),
      await post('/v1/i', { writeKey: 'sdk-write-key', userId: 'web-1', traits: { plan: 'pro' }, messageId: 'ajs-i', timestamp: at }),
      await post('/v1/p', { writeKey: 'sdk-write-key', userId: 'web-1', properties: { url: 'https://x.test/a' }, messageId: 'ajs-p', timestamp: at }),
      await post('/v1/b', { writeKey: 'sdk-write-key', batch: [{ type: 'screen', userId: 'web-1', name: 'Main', messageId: 'ajs-s', timestamp: at }] }),
    ];
    expect(sent.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
    for (let i = 0; i < 200 && standIn.items().filter((x) => String(x.identifiers?.id) === 'web-1').length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    const web = standIn.items().filter((x) => String(x.identifiers?.id) === 'web-1').map((x) => x.action).sort();
    expect(web).to.deep.equal(['event', 'identify', 'page', 'screen']);
    const refused = await post('/v1/t', { writeKey: 'wrong', userId: 'web-2', event: 'Nope' });
    expect(refused.status).to.equal(401);
  });

  it('an SDK with a wrong write key gets 401 and nothing is queued', async () => {
    const errors: any[] = [];
    const analytics = new Analytics({ writeKey: 'wrong', host: service.url, maxRetries: 0 });
    analytics.on('error', (e) => errors.push(e));
    analytics.track({ userId: 'sdk-2', event: 'Nope' });
    await analytics.closeAndFlush();
    expect(errors).to.have.length(1);
    expect(errors[0].reason.message).to.equal('[401] Unauthorized');
    expect(await service.queues.trackEvent.count()).to.equal(0);
  });
});
