// A held item waiting in its job (worker/order.ts waitInJob), against the real order book: it goes as soon as
// what it waits behind is let go by this process, and two jobs whose items wait for each other never both
// wait for the other's run to end (they would wait forever).
import { expect } from 'chai';
import type { Job } from 'bullmq';
import pino from 'pino';
import { holderOf } from '../../src/redis/order-book';
import { WorkerOrder, type ItemGate } from '../../src/worker/order';
import { openTestQueues, type TestQueues } from '../support/redis';

const ACTION = 'createUpdatePerson';
const jobOf = (id: string) => ({ id, data: {} }) as unknown as Job;
const NEVER = new Promise<void>(() => undefined);

describe('a held item waiting in its job', function () {
  this.timeout(10_000);
  let t: TestQueues;
  let order: WorkerOrder;
  beforeEach(async () => {
    t = await openTestQueues();
    order = new WorkerOrder({ connection: t.redis, queues: t.queues, basePrefix: t.prefix, orderOrphanMs: 60_000, logger: pino({ level: 'silent' }), clock: Date.now });
  });
  afterEach(() => t.close());

  /** Places one operation per (key, job) in order; returns each place's ticket. */
  async function place(entries: Array<[key: string, jobId: string]>): Promise<number[]> {
    const tickets = await order.book.register(entries.map(([key, jobId]) => ({ keys: [key], kind: 'operation' as const, holder: holderOf(ACTION, jobId) })));
    return tickets.map(([t]) => t);
  }
  const held = (key: string, ticket: number, behindJob: string): Extract<ItemGate, { verdict: 'held' }> => ({
    verdict: 'held',
    refs: [{ key, ticket }],
    behind: holderOf(ACTION, behindJob),
    reason: 'held for the test',
  });

  it('goes as soon as the job it waits behind, run by this process, lets its place go', async () => {
    const [a, b] = await place([
      ['id:p', 'gA000000000001'],
      ['id:p', 'gB000000000001'],
    ]);
    const endA = order.run(jobOf('gA000000000001'), ACTION);
    const endB = order.run(jobOf('gB000000000001'), ACTION);
    const waiting = order.waitInJob(jobOf('gB000000000001'), ACTION, held('id:p', b, 'gA000000000001'), NEVER);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled, 'still waiting while A runs').to.equal(false);
    endA();
    await order.release(ACTION, 'gA000000000001', [{ key: 'id:p', ticket: a }]);
    expect(await waiting).to.deep.equal({ verdict: 'go', refs: [{ key: 'id:p', ticket: b }] });
    endB();
  });

  it('two jobs whose items wait for each other: the second does not wait for the first one\'s run, and both end', async () => {
    // Person p: A's item first, then B's; person q: B's item first, then A's.
    const [, pB, , qA] = await place([
      ['id:p', 'gA000000000002'],
      ['id:p', 'gB000000000002'],
      ['id:q', 'gB000000000002'],
      ['id:q', 'gA000000000002'],
    ]);
    const endA = order.run(jobOf('gA000000000002'), ACTION);
    const endB = order.run(jobOf('gB000000000002'), ACTION);
    // A's item waits for B's run to end (B waits for nothing yet).
    const aWaits = order.waitInJob(jobOf('gA000000000002'), ACTION, held('id:q', qA, 'gB000000000002'), NEVER);
    // B's item would close the circle: it waits only until B's own other items are done (here: at once).
    const started = Date.now();
    const bResult = await order.waitInJob(jobOf('gB000000000002'), ACTION, held('id:p', pB, 'gA000000000002'), Promise.resolve());
    expect(bResult.verdict).to.equal('held');
    expect(Date.now() - started).to.be.below(1000);
    // B's run ends (its item goes to a held job); A's wait ends with it, and A asks again: still held behind B's place.
    endB();
    const aResult = await aWaits;
    expect(aResult).to.include({ verdict: 'held', behind: holderOf(ACTION, 'gB000000000002') });
    endA();
  });
});
