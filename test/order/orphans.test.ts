// A place whose job has finished (worker/order.ts letGoOfOrphans): the item held behind it goes, and the
// log says whether that was routine (the job finished moments ago and its worker was about to let the place
// go) or a sign of a stopped process (it finished long ago), so operators are not warned of the routine case.
import { expect } from 'chai';
import type { Job } from 'bullmq';
import { queueKey } from '../../src/redis/keys';
import { holderOf } from '../../src/redis/order-book';
import { RELEASE_GRACE_MS, WorkerOrder } from '../../src/worker/order';
import { captureLog } from '../support/log-capture';
import { openTestQueues, type TestQueues } from '../support/redis';

const ACTION = 'createUpdatePerson';

describe('a place whose job has finished', function () {
  this.timeout(10_000);
  let t: TestQueues;
  beforeEach(async () => {
    t = await openTestQueues();
  });
  afterEach(async () => {
    // Job A's hash is written by the test, outside any queue list, so obliterating the queues leaves it.
    await t.redis.del(queueKey(t.prefix, ACTION, 'gA00000000000a'));
    await t.close();
  });

  /** Job A held person p's first place and finished `agoMs` ago without letting it go; job B's item, behind it, asks. */
  async function askBehindFinished(agoMs: number) {
    const capture = captureLog('debug');
    const { redis, queues, prefix } = t;
    const order = new WorkerOrder({ connection: redis, queues, basePrefix: prefix, orderOrphanMs: 60_000, logger: capture.log, clock: Date.now });
    const [, [b]] = await order.book.register([
      { keys: ['id:p'], kind: 'operation', holder: holderOf(ACTION, 'gA00000000000a') },
      { keys: ['id:p'], kind: 'operation', holder: holderOf(ACTION, 'gB00000000000b') },
    ]);
    const finishedOn = Date.now() - agoMs;
    await redis.hset(queueKey(prefix, ACTION, 'gA00000000000a'), 'timestamp', String(finishedOn - 10), 'finishedOn', String(finishedOn));
    // B was held before (a held job asks whether the blockers are still alive).
    const jobB = { id: 'gB00000000000b', data: { held: 1 }, attemptsMade: 0 } as unknown as Job;
    const [gate] = await order.gate(jobB, ACTION, [{ keys: ['id:p'], tickets: [b] }]);
    const lines = capture.lines().filter((l) => l.msg.startsWith('order: letting go'));
    return { gate, lines };
  }

  it('finished moments ago: the item goes, and the log says so at debug level only', async () => {
    const { gate, lines } = await askBehindFinished(100);
    expect(gate).to.deep.include({ verdict: 'go' });
    expect(lines.map((l) => l.level)).to.deep.equal(['debug']);
  });

  it('finished longer ago than its worker needs to let go: the item goes, with a warning that a process stopped half-way', async () => {
    const { gate, lines } = await askBehindFinished(RELEASE_GRACE_MS + 5_000);
    expect(gate).to.deep.include({ verdict: 'go' });
    expect(lines.map((l) => l.level)).to.deep.equal(['warn']);
    expect(lines[0].msg).to.match(/finished long ago/);
  });
});
