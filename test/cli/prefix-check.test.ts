// `trace` and `replay` under a QUEUE_PREFIX no service has used (a typo) stop like `stats`: exit 2, saying
// nothing is under that prefix, and writing no key there (opening BullMQ's queues would write 15 metas).
import { expect } from 'chai';
import { openTestQueues, TEST_REDIS_URL, type TestQueues } from '../support/redis';
import { runCli, transcript } from '../support/cli';

describe('cli: a QUEUE_PREFIX that holds no queues', function () {
  this.timeout(30_000);
  let q: TestQueues;
  before(async () => {
    q = await openTestQueues();
  });
  after(async () => q.close());

  for (const args of [['trace', 'some-message-id'], ['trace', 'some-message-id', '--json'], ['replay'], ['replay', '--dry-run']]) {
    it(`${args.join(' ')}: says nothing is under the prefix, exits 2 and creates no key`, async () => {
      const typo = `${q.prefix}x`;
      const result = await runCli(args, { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: typo });
      expect(result.code, transcript(result)).to.equal(2);
      expect(result.stderr).to.include(`No queues under QUEUE_PREFIX=${typo} at ${TEST_REDIS_URL}: no service has used this prefix there. Is it mistyped?`);
      expect(result.stdout).to.equal('');
      expect(await q.redis.keys(`${typo}:*`)).to.deep.equal([]);
    });
  }

  it('trace and replay still answer under a prefix that holds queues', async () => {
    const trace = await runCli(['trace', 'never-sent'], { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: q.prefix });
    expect(trace.code, transcript(trace)).to.equal(1);
    expect(trace.stdout).to.include('not seen');
    const replay = await runCli(['replay', '--dry-run'], { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: q.prefix });
    expect(replay.code, transcript(replay)).to.equal(0);
    expect(replay.stdout).to.include('no failed jobs');
  });
});
