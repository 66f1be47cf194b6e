// `cio-relay trace <messageId>` as an operator runs it: where one event is now, and exit codes that say
// whether it was found.
import { expect } from 'chai';
import { runCli, transcript } from '../support/cli';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { TEST_REDIS_URL } from '../support/redis';

describe('cli: trace', function () {
  this.timeout(60_000);
  let p: Pipeline;
  before(async () => {
    p = await startPipeline(); // the presets, as the CLI sees them without CIO_CONFIG
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 2' ? 'no such person' : undefined));
    await p.producer.publish([trackEvent(1), trackEvent(2)]);
    await p.settled();
  });
  after(async () => p && (await p.close()));

  const env = () => ({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: p.config.redis.queuePrefix });

  it('says a delivered event was delivered, when it was received and which job carried it (exit 0)', async () => {
    const result = await runCli(['trace', 'msg-1'], env());
    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stdout).to.match(/^msg-1 → Track Event \(trackEvent\): DELIVERED$/m);
    expect(result.stdout).to.match(/received \d{4}-\d\d-\d\dT/);
    expect(result.stdout).to.match(/job \S+ \[completed, finished .*\] delivered: Customer.io answered 207/);
  });

  it('gives a failed event its reason, and --json the same answer as data', async () => {
    const result = await runCli(['trace', 'msg-2', '--json'], env());
    expect(result.code, transcript(result)).to.equal(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.found[0]).to.deep.include({ subscription: 'Track Event', status: 'failed', reason: 'Customer.io rejected the item: invalid: no such person' });
  });

  it('says an unknown messageId was not seen, under which prefix (exit 1)', async () => {
    const result = await runCli(['trace', 'never-sent'], env());
    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout).to.include(`never-sent: not seen within the retention window (3600 s) by any subscription of this configuration, under QUEUE_PREFIX=${p.config.redis.queuePrefix}`);
  });

  it('refuses a call without a messageId (exit 2)', async () => {
    const result = await runCli(['trace'], env());
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('trace needs exactly one messageId');
  });
});
