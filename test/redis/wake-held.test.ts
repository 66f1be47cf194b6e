// Waking a held job puts it at the head of its queue: a BullMQ worker takes it before the jobs queued
// while it waited, and it is an ordinary waiting job from then on. A job that is not delayed any more
// (running, done, woken already) is left where it is.
import { expect } from 'chai';
import { Worker, type Job } from 'bullmq';
import { wakeAtHead } from '../../src/redis/wake-held';
import { wakeHeldJobs } from '../../src/jobs/wake';
import { holderOf } from '../../src/redis/order-book';
import { queuePrefix } from '../../src/redis/keys';
import { openTestQueues, TEST_REDIS_URL, type TestQueues } from '../support/redis';
import { connectRedis } from '../../src/redis/connection';

const data = { subscription: 'Track Event', count: 0, messageIds: [], bytes: 2, encoding: 'json' as const, events: [] };

describe('waking held jobs at the head of their queue', function () {
  this.timeout(20_000);
  let q: TestQueues;
  before(async () => (q = await openTestQueues()));
  after(async () => q?.close());
  beforeEach(async () => q.empty());

  /** Adds `n` waiting jobs (the backlog) and one delayed job (the held one). */
  async function backlogAndHeld(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await q.queues.trackEvent.add('Track Event', data, { jobId: `gBacklog${i}` });
    await q.queues.trackEvent.add('Track Event', data, { jobId: 'hHeld', delay: 60_000 });
  }

  it('a woken job is the next one a worker takes, ahead of the backlog, and is waiting, not delayed', async () => {
    await backlogAndHeld(5);
    expect(await q.queues.trackEvent.getJobState('hHeld')).to.equal('delayed');
    expect(await wakeAtHead(q.redis, q.prefix, 'trackEvent', ['hHeld'])).to.equal(1);
    expect(await q.queues.trackEvent.getJobState('hHeld')).to.equal('waiting');
    expect((await q.queues.trackEvent.getJob('hHeld'))?.delay).to.equal(0);
    expect(await q.queues.trackEvent.getDelayedCount()).to.equal(0);

    const taken: string[] = [];
    const connection = connectRedis({ url: TEST_REDIS_URL }, 'worker');
    const worker = new Worker(
      'trackEvent',
      async (job: Job) => {
        taken.push(job.id!);
      },
      { connection, prefix: queuePrefix(q.prefix, 'trackEvent'), concurrency: 1 },
    );
    try {
      while (taken.length < 6) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await worker.close();
      connection.disconnect();
    }
    expect(taken[0]).to.equal('hHeld');
    expect(taken.slice(1)).to.deep.equal([0, 1, 2, 3, 4].map((i) => `gBacklog${i}`));
  });

  it('leaves alone a job that is not delayed: waiting already, or unknown', async () => {
    await backlogAndHeld(2);
    expect(await wakeAtHead(q.redis, q.prefix, 'trackEvent', ['hHeld', 'hHeld', 'gBacklog0', 'hMissing'])).to.equal(1);
    const waiting = (await q.queues.trackEvent.getWaiting()).map((j) => j.id);
    expect(waiting.filter((id) => id === 'hHeld')).to.have.length(1);
    expect(waiting).to.have.length(3);
  });

  it('the order book’s holders are woken in their own queues, each with one call', async () => {
    await backlogAndHeld(1);
    await q.queues.createUpdatePerson.add('Create or Update Person', { ...data, subscription: 'Create or Update Person' }, { jobId: 'hPerson', delay: 60_000 });
    await wakeHeldJobs(q.redis, q.prefix)([holderOf('trackEvent', 'hHeld'), holderOf('createUpdatePerson', 'hPerson'), 'not a holder']);
    expect(await q.queues.trackEvent.getJobState('hHeld')).to.equal('waiting');
    expect(await q.queues.createUpdatePerson.getJobState('hPerson')).to.equal('waiting');
  });

  it('a paused queue gets its woken job but no marker, so no worker is woken for it', async () => {
    await backlogAndHeld(0);
    await q.queues.trackEvent.pause();
    await q.redis.del(`${queuePrefix(q.prefix, 'trackEvent')}:trackEvent:marker`);
    expect(await wakeAtHead(q.redis, q.prefix, 'trackEvent', ['hHeld'])).to.equal(1);
    expect(await q.redis.exists(`${queuePrefix(q.prefix, 'trackEvent')}:trackEvent:marker`)).to.equal(0);
    expect(await q.queues.trackEvent.getJobState('hHeld')).to.equal('waiting');
  });
});
