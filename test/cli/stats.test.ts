import { expect } from 'chai';
import { ACTION_KEYS } from '../../src/core/types';
import { queueDepth } from '../../src/jobs/queues';
import { runCli, transcript } from '../support/cli';
import { openTestQueues, TEST_REDIS_URL, UNREACHABLE_REDIS_URL, type TestQueues } from '../support/redis';

describe('cli: stats', function () {
  this.timeout(60_000);
  let q: TestQueues;

  // No workers run: 3 trackEvent jobs wait, 2 createUpdatePerson jobs are delayed.
  before(async () => {
    q = await openTestQueues();
    for (let i = 0; i < 3; i++) await q.queues.trackEvent.add('Track Event', { subscription: 'Track Event', event: { type: 'track' } });
    for (let i = 0; i < 2; i++) {
      await q.queues.createUpdatePerson.add('Person', { subscription: 'Person', event: { type: 'identify' } }, { delay: 3_600_000 });
    }
  });

  after(async () => {
    await q.close();
  });

  const env = () => ({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: q.prefix });

  it('prints a table of action × state with totals', async () => {
    const result = await runCli(['stats'], env());

    expect(result.code, transcript(result)).to.equal(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).to.equal(`Queues under QUEUE_PREFIX=${q.prefix} at ${TEST_REDIS_URL}:`);
    expect(lines[1].split(/\s+/)).to.deep.equal(['action', 'waiting', 'active', 'delayed', 'failed', 'completed']);
    expect(lines.find((l) => l.startsWith('trackEvent '))?.split(/\s+/)).to.deep.equal(['trackEvent', '3', '0', '0', '0', '0']);
    expect(lines.find((l) => l.startsWith('createUpdatePerson '))?.split(/\s+/)).to.deep.equal(['createUpdatePerson', '0', '0', '2', '0', '0']);
    expect(lines.find((l) => l.startsWith('total '))?.split(/\s+/)).to.deep.equal(['total', '3', '0', '2', '0', '0']);
  });

  it('--json gives every action and the totals, as queueDepth counts them', async () => {
    const result = await runCli(['stats', '--json'], env());

    expect(result.code, transcript(result)).to.equal(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.queuePrefix).to.equal(q.prefix);
    expect(Object.keys(parsed.actions)).to.have.members([...ACTION_KEYS]);
    for (const { action, state, count } of await queueDepth(q.queues)) {
      if (state in parsed.actions[action]) expect(parsed.actions[action][state], `${action} ${state}`).to.equal(count);
    }
    expect(parsed.actions.trackEvent).to.include({ waiting: 3, delayed: 0, queuePaused: false });
    expect(parsed.totals).to.deep.equal({ waiting: 3, active: 0, delayed: 2, failed: 0, completed: 0 });
  });

  it('writes nothing to Redis: the keys and their values are the same before and after', async () => {
    const snapshot = async () => {
      const keys = (await q.redis.keys(`${q.prefix}:*`)).sort();
      const meta = await Promise.all(keys.filter((k) => k.endsWith(':meta')).map((k) => q.redis.hgetall(k)));
      return { keys, meta };
    };
    // A queue's meta as another BullMQ version may have left it: opening a Queue would write it over.
    await q.redis.hdel(`${q.prefix}:{trackEvent}:trackEvent:meta`, 'version', 'opts.maxLenEvents');
    const before = await snapshot();
    for (const args of [['stats'], ['stats', '--json'], ['stats', '--all']]) {
      const result = await runCli(args, env());
      expect(result.code, transcript(result)).to.equal(0);
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  it('with a prefix that holds no queues, says so, names the prefixes it found, exits 2 and creates no key', async () => {
    const typo = `${q.prefix}x`;
    const result = await runCli(['stats'], { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: typo });

    expect(result.code, transcript(result)).to.equal(2);
    expect(result.stderr).to.include(`No queues under QUEUE_PREFIX=${typo} at ${TEST_REDIS_URL}`);
    expect(result.stderr).to.include(q.prefix);
    expect(result.stderr).to.include("redis-cli --scan --pattern '*:{trackEvent}:trackEvent:meta'");
    expect(result.stdout).to.equal('');
    expect(await q.redis.keys(`${typo}:*`)).to.deep.equal([]);
  });

  it('marks a queue held by a pause (a 429 or refused credentials) with when the pause ends, in the table and in --json', async () => {
    // The worker pauses a queue this way on a 429 or a 401 (worker/worker.ts).
    await q.queues.createUpdatePerson.rateLimit(3_600_000);
    try {
      const table = await runCli(['stats'], env());
      expect(table.code, transcript(table)).to.equal(0);
      expect(table.stdout).to.match(/^createUpdatePerson \(paused until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\) +0 +0 +2 /m);
      expect(table.stdout).to.match(/^trackEvent +3 /m);
      const parsed = JSON.parse((await runCli(['stats', '--json'], env())).stdout);
      expect(Date.parse(parsed.actions.createUpdatePerson.pausedUntil)).to.be.within(Date.now(), Date.now() + 3_600_000);
      expect(parsed.actions.trackEvent).not.to.have.property('pausedUntil');
    } finally {
      await q.queues.createUpdatePerson.removeRateLimitKey();
    }
  });

  it('exits 2 with a clear message when Redis is unreachable', async () => {
    const result = await runCli(['stats'], { REDIS_URL: UNREACHABLE_REDIS_URL, QUEUE_PREFIX: q.prefix });

    expect(result.code, transcript(result)).to.equal(2);
    expect(result.stderr).to.include('Cannot reach Redis at redis://127.0.0.1:1');
    expect(result.stdout).to.equal('');
  });
});

describe('cli: entry point', () => {
  it('lists the commands on --help, and refuses an unknown command with exit 2', async () => {
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    for (const command of ['import', 'replay', 'check', 'stats']) expect(help.stdout).to.match(new RegExp(`^  ${command} `, 'm'));

    const unknown = await runCli(['imprt']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.include('unknown command "imprt"; the commands are import, replay, check, stats');
  });
});
