// The pure settlement of a group job: which items end here, which fail on their own, which go back.
import { expect } from 'chai';
import { backoffMs, settle } from '../../src/worker/settle';

const ev = (id: string) => ({ type: 'track', messageId: id });
const policy = { attempts: 3, backoffMs: 1000, orderHoldRecheckMs: 1000, orderHoldMaxMs: 5000 };
const half = () => 0.5;

describe('settle (per-item outcomes of a group job)', () => {
  it('sorts a mix: delivered counted, refused each on its own, transient together with backoff, waiting without an attempt', () => {
    const s = settle(
      [
        { event: ev('a'), outcome: { kind: 'delivered', status: 200 } },
        { event: ev('b'), outcome: { kind: 'failed', reason: 'Customer.io rejected the item: x', metric: 'rejected' } },
        { event: ev('c'), outcome: { kind: 'failed', reason: "missing 'name'", metric: 'invalid' } },
        { event: ev('d'), outcome: { kind: 'retry', reason: 'Customer.io answered 503', why: 'transient' } },
        { event: ev('e'), outcome: { kind: 'retry', reason: 'timeout', why: 'transient' } },
        { event: ev('f'), outcome: { kind: 'wait', ms: 2000, reason: '429', why: 'rate_limited' } },
        { event: ev('g'), outcome: { kind: 'delivered', status: 207 } },
      ],
      0,
      policy,
      half,
    );
    expect(s.delivered.map((e) => e.messageId)).to.deep.equal(['a', 'g']);
    expect(s.statuses).to.deep.equal([200, 207]);
    expect(s.failed.map((f) => [f.event.messageId, f.metric, f.attempts])).to.deep.equal([['b', 'rejected', 1], ['c', 'invalid', 1]]);
    expect(s.retry).to.deep.include({ attempt: 1, delayMs: 750 });
    expect(s.retry!.events.map((e) => e.messageId)).to.deep.equal(['d', 'e']);
    expect(s.retry!.reason).to.match(/^Customer.io answered 503; attempt 1 of 3, will retry$/);
    expect(s.wait).to.deep.include({ attempt: 0, pauseMs: 2000, why: 'rate_limited' });
    expect(s.wait!.events.map((e) => e.messageId)).to.deep.equal(['f']);
  });

  it('fails each transient item on its own once the attempts are used up, with the last reason', () => {
    const s = settle([{ event: ev('d'), outcome: { kind: 'retry', reason: 'Customer.io answered 502', why: 'transient' } }], 2, policy, half);
    expect(s.retry).to.equal(undefined);
    expect(s.failed).to.have.length(1);
    expect(s.failed[0]).to.deep.include({ metric: 'retries_exhausted', attempts: 3 });
    expect(s.failed[0].reason).to.match(/^Customer.io answered 502; gave up after 3 attempts/);
  });

  it('waits at least what Customer.io asked for (Retry-After on a 5xx)', () => {
    const s = settle([{ event: ev('d'), outcome: { kind: 'retry', reason: '503', retryAfterMs: 60_000, why: 'transient' } }], 0, policy, half);
    expect(s.retry!.delayMs).to.equal(60_000);
  });

  it('doubles the backoff each attempt, with jitter between half and all of it', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, 1000, () => 0.999999))).to.deep.equal([1000, 2000, 4000, 8000]);
    expect(backoffMs(3, 1000, () => 0)).to.equal(2000);
    expect(backoffMs(999, 1000, () => 0.999999)).to.be.within(3_599_000, 3_600_000); // capped at an hour
  });

  it('puts items held behind an earlier operation of their person in one job, using no attempt, looking again later each time (up to ORDER_HOLD_MAX_MS)', () => {
    const held = (id: string) => ({ event: ev(id), order: `t${id}`, outcome: { kind: 'held' as const, behind: `0g-${id}`, reason: `held behind ${id}` } });
    const first = settle([held('a'), { event: ev('b'), outcome: { kind: 'delivered', status: 200 } }, held('c')], 2, policy, half);
    expect(first.delivered.map((e) => e.messageId)).to.deep.equal(['b']);
    expect(first.held).to.deep.include({ attempt: 2, holds: 1, delayMs: 1000, reason: 'held behind a', behind: ['0g-a', '0g-c'], order: ['ta', 'tc'] });
    expect(first.held!.events.map((e) => e.messageId)).to.deep.equal(['a', 'c']);
    expect(first.retry).to.equal(undefined);
    expect(settle([held('a')], 0, policy, half, 2).held).to.deep.include({ holds: 3, delayMs: 4000 });
    expect(settle([held('a')], 0, policy, half, 5).held).to.deep.include({ holds: 6, delayMs: 5000 });
  });
});
