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
