import { expect } from 'chai';
import { runCli, transcript } from '../support/cli';
import { REDIS_URL, startPipeline, testPrefix, trackEvent, type Pipeline } from '../support/pipeline';

function identify(n: number): Record<string, unknown> {
  return { type: 'identify', userId: `person-${n}`, messageId: `identify-${n}`, traits: { email: `p${n}@example.com` } };
}

describe('cli: replay', function () {
  this.timeout(60_000);
  let p: Pipeline;

  // Customer.io refuses every item: 6 trackEvent and 3 createUpdatePerson jobs fail, with reasons that differ
  // by action. The workers are then stopped, so that re-queued jobs stay waiting where the test can see them.
  beforeEach(async () => {
    // Named explicitly: testConfig's DEFAULTS spread would otherwise put the queues under the default prefix.
    p = await startPipeline({ redis: { queuePrefix: testPrefix() } });
    p.standIn.rejectItemsWhere((item) =>
      item.type === 'person' && item.action === 'identify'
        ? { field: 'email', message: 'email is not valid for this workspace' }
        : { field: 'name', message: 'event name refused' },
    );
    await p.producer.publish([...Array.from({ length: 6 }, (_, i) => trackEvent(i)), ...Array.from({ length: 3 }, (_, i) => identify(i))]);
    await p.settled(['trackEvent', 'createUpdatePerson']);
    await p.pool.close();
    expect(await p.queues.trackEvent.getFailedCount()).to.equal(6);
    expect(await p.queues.createUpdatePerson.getFailedCount()).to.equal(3);
  });

  afterEach(async () => {
    await p.close();
  });

  const env = () => ({ REDIS_URL, QUEUE_PREFIX: p.config.redis.queuePrefix });

  async function counts(action: 'trackEvent' | 'createUpdatePerson') {
    const c = await p.queues[action].getJobCounts('waiting', 'failed');
    return { waiting: c.waiting, failed: c.failed };
  }

  it('re-queues every failed job, with fresh attempts, and says how many per action', async () => {
    const result = await runCli(['replay'], env());

    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stdout).to.match(/^\s+createUpdatePerson\s+3$/m);
    expect(result.stdout).to.match(/^\s+trackEvent\s+6$/m);
    expect(result.stdout).to.include('total: 9 failed jobs re-queued');
    expect(await counts('trackEvent')).to.deep.equal({ waiting: 6, failed: 0 });
    expect(await counts('createUpdatePerson')).to.deep.equal({ waiting: 3, failed: 0 });
    const [job] = await p.queues.trackEvent.getJobs(['waiting'], 0, 0);
    expect(job.attemptsMade).to.equal(0);
  });

  it('--dry-run counts and changes nothing', async () => {
    const result = await runCli(['replay', '--dry-run'], env());

    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stdout).to.include('total: 9 failed jobs would be re-queued (dry run: nothing changed)');
    expect(await counts('trackEvent')).to.deep.equal({ waiting: 0, failed: 6 });
    expect(await counts('createUpdatePerson')).to.deep.equal({ waiting: 0, failed: 3 });
  });

  it('--action, --reason and --since narrow the replay; what is left stays failed and is counted', async () => {
    const byAction = await runCli(['replay', '--action', 'createUpdatePerson'], env());
    expect(byAction.code, transcript(byAction)).to.equal(0);
    expect(byAction.stdout).to.include('total: 3 failed jobs re-queued');
    expect(await counts('trackEvent')).to.deep.equal({ waiting: 0, failed: 6 });
    expect(await counts('createUpdatePerson')).to.deep.equal({ waiting: 3, failed: 0 });

    const future = await runCli(['replay', '--since', '2999-01-01T00:00:00Z'], env());
    expect(future.stdout).to.include('total: 0 failed jobs re-queued');
    expect(future.stdout).to.include('6 other failed jobs did not match --since/--reason and stay failed');

    const byReason = await runCli(['replay', '--reason', 'EVENT NAME', '--since', '10m'], env());
    expect(byReason.code, transcript(byReason)).to.equal(0);
    expect(byReason.stdout).to.match(/^\s+trackEvent\s+6$/m);
    expect(byReason.stdout).to.include('total: 6 failed jobs re-queued');
    expect(await counts('trackEvent')).to.deep.equal({ waiting: 6, failed: 0 });
  });

  it('refuses an unknown action or time with exit 2', async () => {
    const action = await runCli(['replay', '--action', 'trackEvents'], env());
    expect(action.code).to.equal(2);
    expect(action.stderr).to.include('--action: unknown action "trackEvents"');

    const since = await runCli(['replay', '--since', 'yesterday'], env());
    expect(since.code).to.equal(2);
    expect(since.stderr).to.include('--since must be an ISO time');
    expect(await counts('trackEvent')).to.deep.equal({ waiting: 0, failed: 6 });
  });
});
