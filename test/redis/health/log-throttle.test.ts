// Repeated errors: the first at once, then at most one line per interval with a count and the last one.
import { expect } from 'chai';
import { ErrorWindow, throttledErrorLog } from '../../../src/log/throttle';
import { mock } from 'node:test';
import { captureLog } from '../../support/log-capture';

function refused(port: number): Error {
  return Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
}

describe('log throttle', () => {
  describe('ErrorWindow (the decisions, clock given)', () => {
    it('logs the first error, counts the rest, and sums them up when the window ends', () => {
      const w = new ErrorWindow(10_000);
      expect(w.note('a', 0)).to.equal('log');
      expect(w.note('b', 100)).to.equal('count');
      expect(w.note('c', 9_000)).to.equal('count');
      expect(w.endsAt()).to.equal(10_000);
      expect(w.close(10_000)).to.deep.equal({ count: 2, last: 'c', intervalMs: 10_000 });
      // A new window opened: errors in it are counted too, so there is at most one line per interval.
      expect(w.note('d', 12_000)).to.equal('count');
      expect(w.close(20_000)).to.deep.equal({ count: 1, last: 'd', intervalMs: 10_000 });
      // A quiet window closes it; the next error is logged at once again.
      expect(w.close(30_000)).to.equal(undefined);
      expect(w.endsAt()).to.equal(undefined);
      expect(w.note('e', 31_000)).to.equal('log');
    });
  });

  // The intervals run on a mocked clock (node:test's timers; mocha keeps the real ones for its own timeouts):
  // the test used to sleep past each deadline, and a slow machine could make it wrong either way.
  it('writes the first error at once and one summary line per interval, with the count and the last error', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    try {
      const out = captureLog('info');
      const log = throttledErrorLog({ logger: out.log, source: 'Redis connection (producer)', next: 'it reconnects by itself', intervalMs: 300 });
      for (let i = 0; i < 200; i++) log(refused(6000 + i));
      expect(out.lines()).to.have.length(1);
      expect(out.lines()[0]).to.include({
        level: 'error',
        source: 'Redis connection (producer)',
        msg: 'Redis connection (producer) error: connect ECONNREFUSED 127.0.0.1:6000; it reconnects by itself',
      });
      mock.timers.tick(299);
      expect(out.lines(), 'nothing before the interval ends').to.have.length(1);
      mock.timers.tick(1);
      const [, summary] = out.lines();
      expect(summary).to.include({ level: 'error', count: 199, msg: '199 more Redis connection (producer) errors in the last 300 ms (last: connect ECONNREFUSED 127.0.0.1:6199)' });
      // Quiet since: the next window closes without a line, and the next error is written at once.
      mock.timers.tick(300);
      mock.timers.tick(1000);
      expect(out.lines()).to.have.length(2);
      log(refused(7000));
      expect(out.lines()).to.have.length(3);
      expect(out.lines()[2].msg).to.match(/error: connect ECONNREFUSED 127\.0\.0\.1:7000/);
    } finally {
      mock.timers.reset();
    }
  });
});
