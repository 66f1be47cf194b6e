// Batches through the real queue: grouped by count, by bytes and by time; a re-sent event is queued once;
// shutdown sends what is in hand.
import { expect } from 'chai';
import { itemStates } from '../support/items';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { trackSpec } from '../support/track-subscription';

const track = (mapping: Record<string, unknown> = {}) => [trackSpec({ mapping })];

describe('batching through the queue', function () {
  this.timeout(30_000);
  let p: Pipeline;
  afterEach(async () => p && (await p.close()));

  it('flushes a batch as soon as it holds batch_size items', async () => {
    p = await startPipeline({ subscriptionSpecs: track({ batch_size: 3 }), worker: { flushIntervalMs: 5000 } });
    await p.producer.publish([1, 2, 3, 4, 5, 6].map((n) => trackEvent(n)));
    await p.settled(['trackEvent'], 3000); // well before the 5 s wait: the batches were full
    expect(p.standIn.requests.map((r) => r.body.batch.length)).to.deep.equal([3, 3]);
  });

  it('never lets a request reach 500 KB: a batch that would pass the byte budget is sent first', async () => {
    p = await startPipeline({ subscriptionSpecs: track({ batch_size: 100 }), worker: { flushIntervalMs: 200 } });
    const events = Array.from({ length: 40 }, (_, n) => trackEvent(n, { properties: { blob: 'y'.repeat(29_000) } }));
    await p.producer.publish(events);
    await p.settled(['trackEvent']);
    const sizes = p.standIn.requests.map((r) => Buffer.byteLength(JSON.stringify(r.body)));
    expect(sizes.every((s) => s < 500 * 1024)).to.equal(true);
    expect(p.standIn.requests.length).to.be.at.least(3);
    expect(p.standIn.items()).to.have.length(40);
  });

  it('sends a lone item after FLUSH_INTERVAL_MS', async () => {
    p = await startPipeline({ subscriptionSpecs: track(), worker: { flushIntervalMs: 400 } });
    const sent = Date.now();
    await p.producer.publish([trackEvent(1)]);
    await p.settled(['trackEvent']);
    const waited = p.standIn.requests[0].receivedAt - sent;
    expect(waited).to.be.at.least(350);
    expect(waited).to.be.below(1500);
  });

  it('never mixes subscriptions in one batch', async () => {
    const two = [
      { ...track()[0], name: 'A', trigger: 'type = "track" and properties.group = "a"' },
      { ...track()[0], name: 'B', trigger: 'type = "track" and properties.group = "b"' },
    ];
    p = await startPipeline({ subscriptionSpecs: two });
    await p.producer.publish([1, 2, 3, 4].map((n) => trackEvent(n, { properties: { group: n % 2 ? 'a' : 'b' } })));
    await p.settled(['trackEvent']);
    const groups = p.standIn.requests.map((r) => [...new Set(r.body.batch.map((i: any) => i.attributes.group))]);
    expect(groups.map((g) => g.length)).to.deep.equal([1, 1]);
  });

  it('queues a re-sent event once (same messageId, same subscription)', async () => {
    p = await startPipeline({ subscriptionSpecs: track() });
    await p.producer.publish([trackEvent(1)]);
    await p.producer.publish([trackEvent(1)]);
    await p.settled(['trackEvent']);
    await p.producer.publish([trackEvent(1)]); // and after delivery, while the finished job is retained
    await p.settled(['trackEvent']);
    expect(await p.queues.trackEvent.getJobCounts('completed')).to.deep.equal({ completed: 1 });
    expect(p.standIn.items()).to.have.length(1);
  });

  it('on shutdown, sends the items in hand at once and completes their jobs', async () => {
    p = await startPipeline({ subscriptionSpecs: track(), worker: { flushIntervalMs: 60_000 } });
    await p.producer.publish([1, 2, 3].map((n) => trackEvent(n)));
    // wait until the worker holds the three jobs
    for (let i = 0; i < 200 && p.pool.delivery.pending().items < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.pool.delivery.pending().items).to.equal(3);
    expect(p.standIn.requests).to.have.length(0);
    const closing = Date.now();
    await p.pool.close();
    expect(Date.now() - closing).to.be.below(5000);
    expect(p.standIn.requests.map((r) => r.body.batch.length)).to.deep.equal([3]);
    const items = await itemStates(p.queues.trackEvent);
    expect(items.delivered.map((i) => i.messageId).sort()).to.deep.equal(['msg-1', 'msg-2', 'msg-3']);
    expect(items.pending).to.have.length(0);
  });
});
