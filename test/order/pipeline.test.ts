// Per-person order through the producer and the workers (in this process) against the stand-in: each
// person's plan is published one call at a time, and every pair of a person's conflicting operations must
// reach Customer.io in that order, whatever Customer.io answers. ORDERING=off shows the same plans out of
// order, so these tests can fail.
import { expect } from 'chai';
import pino from 'pino';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { describeTrace, traceMessage } from '../../src/jobs/trace';
import { holderOf } from '../../src/redis/order-book';
import { checkPlans, PLAN, planEvent } from '../support/person-plans';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { WorkerPool } from '../../src/worker/worker';

const persons = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

/** Publishes each person's plan, one call at a time per person (each call answered before the next is made), persons side by side. */
async function publishPlans(p: Pipeline, who: readonly string[]): Promise<void> {
  await Promise.all(
    who.map(async (person) => {
      for (const { step } of PLAN) await p.producer.publish(planEvent(person, step) as never);
    }),
  );
}

describe('per-person order through the pipeline', function () {
  this.timeout(60_000);
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  it('every conflicting pair of each person arrives in order under 5xx, 429, slow answers and per-item refusals; nothing else is lost', async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 20 }, jobs: { attempts: 30, backoffMs: 20, orderHoldRecheckMs: 200 } });
    p.standIn.setFaults({ serverErrorRate: 0.2, rateLimitRate: 0.05, retryAfterSeconds: 1, timeoutRate: 0 });
    // Step 4 (an identify) of every third person is refused for good: the person's next operations go on after it.
    p.standIn.rejectItemsWhere((item) => (item.attributes?.step === 4 && /[0369]$/.test(String(item.identifiers?.id)) ? 'refused for the test' : undefined));
    const who = persons(12, 'p');
    await publishPlans(p, who);
    await p.settled(undefined, 45_000);
    const check = checkPlans(p.standIn.items(), who);
    expect(check.outOfOrder).to.deep.equal([]);
    const refused = who.filter((person) => /[0369]$/.test(person)).map((person) => ({ person, step: 4 }));
    expect(check.missing).to.deep.equal(refused);
  });

  it('with ORDERING=off the same plans arrive out of order (the test can fail)', async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 20 }, jobs: { attempts: 30, backoffMs: 20, ordering: 'off' } });
    p.standIn.setFaults({ serverErrorRate: 0.3, rateLimitRate: 0, timeoutRate: 0 });
    const who = persons(12, 'q');
    await publishPlans(p, who);
    await p.settled(undefined, 45_000);
    const check = checkPlans(p.standIn.items(), who);
    expect(check.missing).to.deep.equal([]);
    expect(check.outOfOrder.length).to.be.greaterThan(0);
  });

  it('a person held behind a retrying operation holds only that person: another person\'s plan completes meanwhile', async () => {
    // One item per request (batching off), so the 500s below hit stuck's identify alone.
    const subscriptions = compileSubscriptions(undefined).map((s) => ({ ...s, enableBatching: false }));
    p = await startPipeline({ subscriptions, worker: { flushIntervalMs: 20 }, jobs: { attempts: 1000, backoffMs: 50, orderHoldRecheckMs: 200 } });
    // Every request carrying stuck's first identify answers 500 until released.
    let stuck = true;
    p.standIn.answerRequestsWhere((body) => {
      const items: any[] = Array.isArray(body?.batch) ? body.batch : [body];
      return stuck && items.some((i) => i?.identifiers?.id === 'user-stuck' && i?.attributes?.step === 1) ? { status: 500, body: { meta: { error: 'down' } } } : undefined;
    });
    const flowing = persons(5, 'free');
    await publishPlans(p, ['stuck', ...flowing]);
    // The free persons' plans arrive whole while stuck's first operation keeps failing.
    const until = Date.now() + 30_000;
    while (checkPlans(p.standIn.items(), flowing).missing.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(checkPlans(p.standIn.items(), flowing)).to.deep.equal({ outOfOrder: [], missing: [] });
    const stuckSoFar = checkPlans(p.standIn.items(), ['stuck']);
    // Only stuck's events may have gone before the identify; nothing that conflicts with it has.
    expect(stuckSoFar.missing.map((m) => m.step)).to.include.members([1, 3, 4, 5, 7, 8, 9, 10, 12]);
    const held = await p.pool.order!.book.holds();
    expect(held.persons).to.be.greaterThan(0);
    // trace names what a held item waits behind: stuck's first identify, being retried.
    const traced = async () => (await traceMessage(p!.queues, p!.producer['opts'].redis, { queuePrefix: p!.config.redis.queuePrefix, subscriptions: p!.config.subscriptions, windowSeconds: 3600 }, 'stuck-4')).found[0];
    let t = await traced();
    for (let i = 0; i < 100 && t?.status !== 'held'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      t = await traced();
    }
    expect(t?.status).to.equal('held');
    const text = describeTrace({ messageId: 'stuck-4', found: [t!], windowSeconds: 3600, queuePrefix: p.config.redis.queuePrefix }).join("\n");
    expect(text, text).to.match(/held behind stuck-1 \((retrying, attempt \d+|queued for attempt \d+|being sent), createUpdatePerson\)/);
    stuck = false;
    await p.settled(undefined, 30_000);
    expect(checkPlans(p.standIn.items(), ['stuck', ...flowing])).to.deep.equal({ outOfOrder: [], missing: [] });
    expect((await p.pool.order!.book.holds()).persons).to.equal(0);
  });

  it("lets go of a place whose job never reached Redis once ORDER_ORPHAN_MS has passed, and of one whose job finished without letting go: the person's next operation goes", async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 20 }, jobs: { orderOrphanMs: 1000, orderHoldRecheckMs: 100, orderHoldMaxMs: 200 } });
    const book = p.pool.order!.book;
    // A writer that died between taking the place and adding its job, two minutes ago (the job id says when).
    const neverWritten = holderOf('createUpdatePerson', `g${(Date.now() - 120_000).toString(36)}deadbeef`);
    await book.register([{ keys: ['id:user-orphan1'], kind: 'operation', holder: neverWritten }]);
    // A job that finished (here: failed, its subscription unknown) without letting its place go, as when its
    // worker is killed in between.
    const finished = await p.queues.createUpdatePerson.add('x', { subscription: 'none', count: 0, messageIds: [], bytes: 0, encoding: 'json', events: [] }, { jobId: 'gfinished1' });
    for (let i = 0; i < 200 && !(await finished.isFailed()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await finished.isFailed(), 'the job has finished').to.equal(true);
    await book.register([{ keys: ['id:user-orphan2'], kind: 'operation', holder: holderOf('createUpdatePerson', 'gfinished1') }]);

    await p.producer.publish([
      { type: 'identify', userId: 'user-orphan1', messageId: 'orphan-1', traits: { step: 1 } },
      { type: 'identify', userId: 'user-orphan2', messageId: 'orphan-2', traits: { step: 1 } },
    ] as never);
    await p.settled(undefined, 20_000);
    const ids = p.standIn.items().map((item) => item.identifiers?.id);
    expect(ids).to.include.members(['user-orphan1', 'user-orphan2']);
    expect(await book.entries('id:user-orphan1')).to.deep.equal([]);
    expect(await book.entries('id:user-orphan2')).to.deep.equal([]);
  });

  it("a job run again after its worker died past writing a retry job leaves the item to that job: the person's next operation waits for the retry, not for the rerun", async () => {
    const fast = { lockDurationMs: 600, stalledIntervalMs: 300, flushIntervalMs: 20 };
    p = await startPipeline({ worker: fast, jobs: { backoffMs: 2000, orderHoldRecheckMs: 100, orderHoldMaxMs: 200 } }, { startWorkers: false });
    // The track (step 6) gets a 503 on its first run: it moves to a retry job, sent in 2 s.
    let firstRun = true;
    p.standIn.answerRequestsWhere((body) => (firstRun && body?.batch?.some((i: any) => i?.attributes?.step === 6) ? { status: 503, body: {} } : undefined));
    let frozen = 0;
    const first = new WorkerPool({ config: p.config, connection: p.pool['opts'].connection, logger: pino({ level: 'silent' }), metrics: p.metrics,
      afterItemJobsWritten: async () => { frozen++; await new Promise(() => undefined); } });
    first.start();
    await p.producer.publish(planEvent('rerun', 6) as never);
    for (let i = 0; i < 300 && frozen === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(frozen, 'the first run wrote the retry job and stopped there').to.equal(1);
    await Promise.all(first.workers.map((w) => w.close(true)));
    firstRun = false;
    // The unsuppress (step 7) conflicts with the track: it must wait for the retry job, which has the track now.
    await p.producer.publish(planEvent('rerun', 7) as never);
    p.pool.start();
    await p.settled(undefined, 20_000);
    const check = checkPlans(p.standIn.items(), ['rerun']);
    expect(check.outOfOrder).to.deep.equal([]);
    expect(check.missing.map((m) => m.step)).not.to.include.members([6, 7]);
  });

  it('an item held behind an operation this worker is sending waits in its job and goes once that operation is delivered: no held job is written', async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 400 }, jobs: { orderHoldRecheckMs: 60_000, orderHoldMaxMs: 60_000 } });
    // The identify waits for its batch (400 ms); the device, published once the identify was accepted, is held behind it.
    await p.producer.publish(planEvent('inline', 1) as never);
    await p.producer.publish(planEvent('inline', 3) as never);
    await p.settled(undefined, 20_000);
    expect(checkPlans(p.standIn.items(), ['inline'], 3)).to.deep.equal({ outOfOrder: [], missing: [{ person: 'inline', step: 2 }] });
    const jobs = await p.queues.createUpdateDevice.getJobs(['completed', 'waiting', 'delayed', 'active', 'failed']);
    expect(jobs.length).to.be.greaterThan(0);
    expect(jobs.map((j) => j.id).filter((id) => id?.startsWith('h')), 'held jobs').to.deep.equal([]);
    const [device] = jobs;
    expect(device.returnvalue?.delivered).to.equal(1);
    expect(await p.pool.order!.book.entries('id:user-inline')).to.deep.equal([]);
  });

  it('a job whose items are mostly held moves them to a held job at once instead of keeping them', async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 400 }, jobs: { orderHoldRecheckMs: 60_000, orderHoldMaxMs: 60_000 } });
    const who = persons(10, 'many');
    // Ten identifies in one call, then the ten persons' devices in one call: every device is held.
    await p.producer.publish(who.map((person) => planEvent(person, 1)) as never);
    await p.producer.publish(who.map((person) => planEvent(person, 3)) as never);
    await p.settled(undefined, 20_000);
    const check = checkPlans(p.standIn.items(), who, 3);
    expect(check.outOfOrder).to.deep.equal([]);
    expect(check.missing).to.deep.equal(who.map((person) => ({ person, step: 2 })));
    const jobs = await p.queues.createUpdateDevice.getJobs(['completed', 'waiting', 'delayed', 'active', 'failed']);
    expect(jobs.map((j) => j.id!.charAt(0)).sort(), 'the device job and its held job').to.deep.equal(['g', 'h']);
  });

  it('an operation released from a hold goes in a batch that waits briefly, not a whole FLUSH_INTERVAL_MS', async () => {
    p = await startPipeline({ worker: { flushIntervalMs: 3000 }, jobs: { orderHoldRecheckMs: 60_000, orderHoldMaxMs: 60_000 } });
    // The identify waits for its batch (3 s); the device behind it is held, then woken when the identify is delivered.
    await p.producer.publish(planEvent('soon', 1) as never);
    await p.producer.publish(planEvent('soon', 3) as never);
    await p.settled(undefined, 20_000);
    const at = (action: string) => p!.standIn.requests.find((r) => r.body?.batch?.some((i: any) => i.action === action && i.identifiers?.id === 'user-soon'))!.receivedAt;
    const gap = at('add_device') - at('identify');
    expect(gap, 'the device went without waiting for a full batch interval').to.be.below(3000);
    expect(checkPlans(p.standIn.items(), ['soon']).outOfOrder).to.deep.equal([]);
  });
});
