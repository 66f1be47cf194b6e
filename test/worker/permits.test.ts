// The bound on events a worker process holds at once, across jobs and queues.
import { expect } from 'chai';
import { ItemPermits } from '../../src/worker/permits';
import { itemStates } from '../support/items';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';

describe('items in hand (WORKER_MAX_ITEMS)', function () {
  this.timeout(30_000);

  it('never grants more than the bound, and lets a job larger than the bound run alone', async () => {
    const p = new ItemPermits(100);
    expect(await p.acquire(60)).to.equal(60);
    let second = false;
    const waiting = p.acquire(50).then((n) => ((second = true), n));
    await new Promise((r) => setImmediate(r));
    expect(second).to.equal(false);
    expect(p.held()).to.equal(60);
    p.release(60);
    expect(await waiting).to.equal(50);
    p.release(50);
    expect(await p.acquire(5000)).to.equal(100); // capped at the bound
    p.release(100);
    expect(p.held()).to.equal(0);
  });

  // Issue 18 point 11: the test above passes without FIFO. Here a small request asks after a large one that
  // does not fit; there is room for the small one, and FIFO makes it wait its turn (no overtaking, so a
  // large job is never starved by a stream of small ones).
  it('grants permits in the order they were asked for: a small request does not overtake a waiting large one', async () => {
    const p = new ItemPermits(100);
    const granted: string[] = [];
    await p.acquire(60);
    const large = p.acquire(50).then(() => granted.push('large'));
    const small = p.acquire(10).then(() => granted.push('small'));
    await new Promise((r) => setImmediate(r));
    expect(granted, '40 free: room for the small one, but it asked second').to.deep.equal([]);
    expect(p.held()).to.equal(60);
    p.release(60);
    await Promise.all([large, small]);
    expect(granted).to.deep.equal(['large', 'small']);
    expect(p.held()).to.equal(60);
  });

  describe('in a worker', () => {
    let p: Pipeline;
    afterEach(async () => p && (await p.close()));

    it('holds at most WORKER_MAX_ITEMS events at once across jobs, and delivers everything', async () => {
      p = await startPipeline({ worker: { maxItems: 150, flushIntervalMs: 30 }, jobs: { groupMaxEvents: 100 } }, { startWorkers: false });
      for (let j = 0; j < 10; j++) await p.producer.publish(Array.from({ length: 100 }, (_, k) => trackEvent(j * 100 + k)));
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, p.pool.permits.held(), p.pool.delivery.pending().items)), 1);
      p.pool.start();
      await p.settled(['trackEvent'], 20_000);
      clearInterval(sampler);
      expect(peak, 'events in hand at the peak').to.be.at.most(150).and.at.least(100);
      expect((await itemStates(p.queues.trackEvent)).delivered).to.have.length(1000);
    });
  });
});
