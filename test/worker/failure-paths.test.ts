// Every way a job can fail or go back is counted (cio_items_failed_total / cio_items_retried_total, with
// a reason class) and logged, also the ways that end a job before any item is built.
import { expect } from 'chai';
import { metricValue } from '../support/chaos';
import { itemStates } from '../support/items';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { trackSpec } from '../support/track-subscription';

const TRACK = [trackSpec()];

describe('every failure path counts', function () {
  this.timeout(30_000);
  let p: Pipeline;
  afterEach(async () => p && (await p.close()));

  const counted = async (name: string, labels: Record<string, string>) => metricValue(await p.metrics.registry.metrics(), name, labels) ?? 0;

  it('a job whose subscription is not configured: failed, internal, counted per event, logged', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK });
    await p.queues.trackEvent.add('Gone', { subscription: 'Gone', count: 2, messageIds: ['a', 'b'], bytes: 10, encoding: 'json', events: [trackEvent(1), trackEvent(2)] });
    await p.settled(['trackEvent']);
    expect(await counted('cio_items_failed_total', { action: 'trackEvent', reason: 'internal' })).to.equal(2);
    expect(p.logs.some((l) => l.level === 'error' && /subscription is not in this configuration/.test(l.msg))).to.equal(true);
  });

  it('a job whose events cannot be read: failed, internal, counted per event, logged', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK });
    await p.queues.trackEvent.add('Track', { subscription: 'Track', count: 3, messageIds: ['a', 'b', 'c'], bytes: 10, encoding: 'zstd', events: 'bm90IHpzdGQ=' });
    await p.settled(['trackEvent']);
    expect(await counted('cio_items_failed_total', { action: 'trackEvent', reason: 'internal' })).to.equal(3);
    const [failed] = await p.queues.trackEvent.getFailed();
    expect(failed.failedReason).to.match(/^internal error: the job's events cannot be read/);
    expect(p.logs.some((l) => l.level === 'error' && /cannot be read/.test(l.msg))).to.equal(true);
  });

  it('an unforeseen error while settling (Redis refusing the new jobs): retried as internal_retry, then delivered once it clears', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK, jobs: { backoffMs: 20 } });
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 2' ? 'no' : undefined));
    const writer = p.pool['writer'];
    const write = writer.write.bind(writer);
    let refusals = 1;
    writer.write = async (...args: Parameters<typeof write>) => {
      if (refusals-- > 0) throw new Error('OOM command not allowed when used memory > maxmemory');
      return write(...args);
    };
    await p.producer.publish([trackEvent(1), trackEvent(2)]);
    await p.settled(['trackEvent']);
    expect(await counted('cio_items_retried_total', { action: 'trackEvent', reason: 'internal_retry' })).to.equal(2);
    expect(p.logs.some((l) => l.level === 'error' && /unforeseen error; BullMQ runs it again/.test(l.msg))).to.equal(true);
    const items = await itemStates(p.queues.trackEvent);
    expect(items.delivered.map((i) => i.messageId)).to.deep.equal(['msg-1']);
    expect(items.failed.map((i) => i.messageId)).to.deep.equal(['msg-2']);
    expect(await counted('cio_items_failed_total', { action: 'trackEvent', reason: 'rejected' })).to.equal(1);
  });

  it('an item refused for good is logged with its reason class, and counted once', async () => {
    p = await startPipeline({ subscriptionSpecs: TRACK });
    await p.producer.publish([trackEvent(1, { event: undefined })]);
    await p.settled(['trackEvent']);
    expect(await counted('cio_items_failed_total', { action: 'trackEvent', reason: 'invalid' })).to.equal(1);
    expect(p.logs.some((l) => l.level === 'info' && l.reason === 'invalid' && /^item failed: The root value is missing/.test(l.msg))).to.equal(true);
  });
});
