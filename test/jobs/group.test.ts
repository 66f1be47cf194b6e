// The data of a group job: compressed when that is smaller, readable fields beside it, and the first
// version's one-event jobs still read.
import { expect } from 'chai';
import { decodeGroup, encodeGroup, groupCount, PREFERRED_ENCODING } from '../../src/jobs/group';
import { fitToCaps } from '../../src/jobs/writer';

const event = (n: number, extra: Record<string, unknown> = {}) => ({ type: 'track', event: 'Order Completed', userId: `u${n}`, messageId: `m-${n}`, properties: { n, total: 42.5 }, ...extra });

describe('group job data', () => {
  it('compresses a group of similar events (zstd on Node 24) and decodes it back exactly', () => {
    const events = Array.from({ length: 50 }, (_, i) => event(i));
    const data = encodeGroup('Orders', events);
    expect(PREFERRED_ENCODING).to.equal('zstd');
    expect(data.encoding).to.equal('zstd');
    expect(data.count).to.equal(50);
    expect(data.messageIds).to.deep.equal(events.map((e) => e.messageId));
    expect(data.bytes).to.equal(Buffer.byteLength(JSON.stringify(events)));
    expect((data.events as string).length).to.be.below(data.bytes / 3);
    expect(decodeGroup(data)).to.deep.equal(events);
  });

  it('leaves a small group, and a refused item’s job, as plain JSON an operator can read', () => {
    expect(encodeGroup('Orders', [event(1)]).encoding).to.equal('json');
    const big = event(2, { properties: { blob: 'y'.repeat(5000) } });
    const refused = encodeGroup('Orders', [big], { plain: true, fail: { reason: 'no', metric: 'invalid' } });
    expect(refused.encoding).to.equal('json');
    expect(refused.events).to.deep.equal([big]);
    expect(refused.fail).to.deep.equal({ reason: 'no', metric: 'invalid' });
  });

  it('keeps events whose compressed form would be larger as JSON', () => {
    const random = Array.from({ length: 3 }, (_, i) => event(i, { properties: { noise: require('node:crypto').randomBytes(400).toString('base64') } }));
    const data = encodeGroup('Orders', random);
    expect(decodeGroup(data)).to.deep.equal(random);
    if (data.encoding !== 'json') expect((data.events as string).length).to.be.below(data.bytes);
  });

  it('reads a job of the first version (one event per job)', () => {
    const legacy = { subscription: 'Orders', event: event(7) };
    expect(decodeGroup(legacy)).to.deep.equal([event(7)]);
    expect(groupCount(legacy)).to.equal(1);
  });

  it('refuses data that is not a job of ours, naming what is wrong', () => {
    expect(() => decodeGroup({ subscription: 's', count: 1, messageIds: [], bytes: 1, encoding: 'zstd', events: [] })).to.throw(/"events" should be zstd text in base64/);
    expect(() => decodeGroup({ subscription: 's', count: 1, messageIds: [], bytes: 1, encoding: 'json', events: 'x' })).to.throw(/not an array/);
  });
});

describe('fitToCaps', () => {
  it('splits by the number of events and by bytes, never splitting an event, keeping order', () => {
    const events = Array.from({ length: 7 }, (_, i) => event(i));
    const byCount = fitToCaps(events, { maxEvents: 3, maxBytes: 1e9 });
    expect(byCount.map((p) => p.events.length)).to.deep.equal([3, 3, 1]);
    expect(byCount.flatMap((p) => p.events)).to.deep.equal(events);
    const one = Buffer.byteLength(JSON.stringify([event(0)]));
    const byBytes = fitToCaps(events, { maxEvents: 100, maxBytes: one * 2 });
    for (const piece of byBytes) expect(piece.events.length === 1 || Buffer.byteLength(piece.json) <= one * 2).to.equal(true);
    expect(byBytes.flatMap((p) => p.events)).to.deep.equal(events);
    const huge = event(9, { properties: { blob: 'z'.repeat(10_000) } });
    expect(fitToCaps([huge], { maxEvents: 100, maxBytes: 100 }).map((p) => p.events.length)).to.deep.equal([1]);
  });
});
