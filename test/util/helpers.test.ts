// The small shared helpers: the one semaphore, the one withTimeout, the one throttle (log/throttle.ts).
import { expect } from 'chai';
import { throttle } from '../../src/log/throttle';
import { Semaphore } from '../../src/util/semaphore';
import { withTimeout } from '../../src/util/timeout';

const turn = () => new Promise((r) => setImmediate(r));

describe('shared helpers', () => {
  it('Semaphore: one permit by default, handed on in the order asked', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const order: string[] = [];
    const a = s.acquire().then(() => order.push('a'));
    const b = s.acquire().then(() => order.push('b'));
    await turn();
    expect(order, 'nothing granted while the permit is held').to.deep.equal([]);
    s.release();
    await a;
    await turn();
    expect(order).to.deep.equal(['a']);
    s.release();
    await b;
    expect(order).to.deep.equal(['a', 'b']);
    s.release();
    expect(s.held()).to.equal(0);
  });

  it('Semaphore: an ask made first goes ahead of the others waiting (after earlier first asks), and takes free permits past them', async () => {
    const s = new Semaphore(10);
    await s.acquire(10);
    const order: string[] = [];
    const ask = (name: string, n: number, first = false) => s.acquire(n, first).then(() => order.push(name));
    const asks = [ask('plain-1', 10), ask('plain-2', 2), ask('first-1', 3, true), ask('first-2', 3, true)];
    await turn();
    s.release(10);
    await turn();
    // first-1 and first-2 take 6; plain-1 needs all 10 and waits, so plain-2 waits behind it
    expect(order).to.deep.equal(['first-1', 'first-2']);
    s.release(6);
    await turn();
    expect(order).to.deep.equal(['first-1', 'first-2', 'plain-1']);
    s.release(10);
    await Promise.all(asks);
    expect(order).to.deep.equal(['first-1', 'first-2', 'plain-1', 'plain-2']);
    // permits free and only plain asks waiting: a first ask takes what it needs at once
    const t = new Semaphore(5);
    await t.acquire(4);
    const waitingPlain = t.acquire(5).then(() => 'plain');
    expect(await t.acquire(1, true)).to.equal(1);
    t.release(5);
    expect(await waitingPlain).to.equal('plain');
  });

  it('withTimeout: the value when it comes in time, else the error onTimeout makes', async () => {
    expect(await withTimeout(Promise.resolve(7), 1000, () => new Error('late'))).to.equal(7);
    const err = await withTimeout(new Promise(() => {}), 1, () => new Error('no answer within 1 ms')).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('no answer within 1 ms');
  });

  it('throttle: reports the first error of a run at once and counts the rest of its window', () => {
    const reported: unknown[] = [];
    let now = 0;
    const report = throttle((err) => reported.push(err), { intervalMs: 60_000, clock: () => now });
    for (let i = 0; i < 50; i++) {
      report(new Error(`refused ${i}`));
      now += 10;
    }
    expect(reported.map((e) => (e as Error).message)).to.deep.equal(['refused 0']);
  });
});
