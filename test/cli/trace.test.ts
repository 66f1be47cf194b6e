// `cio-relay trace <messageId>` as an operator runs it: where one event is now, and exit codes that say
// whether it was found.
import { expect } from 'chai';
import { transform } from '../../src/core/subscriptions';
import type { TraceAnswer } from '../../src/jobs/trace';
import { runCli, transcript, until } from '../support/cli';
import { startPipeline, trackEvent, type Pipeline } from '../support/pipeline';
import { TEST_REDIS_URL } from '../support/redis';

/** The item the stand-in received for the event named `name` (the JSON the worker sent). */
function received(p: Pipeline, name: string): unknown {
  const items = p.standIn.requests.flatMap((r) => (Array.isArray(r.body?.batch) ? r.body.batch : [r.body]));
  return items.find((item) => item?.name === name);
}

describe('cli: trace', function () {
  this.timeout(60_000);
  let p: Pipeline;
  before(async () => {
    p = await startPipeline(); // the presets, as the CLI sees them without CIO_CONFIG
    p.standIn.rejectItemsWhere((item) => (item.name === 'Event 2' ? 'no such person' : undefined));
    await p.producer.publish([trackEvent(1), trackEvent(2)]);
    await p.settled();
    // Event 3's first request is answered 500; its retry is delivered.
    p.standIn.respondNext({ status: 500, body: { meta: { error: 'Internal Server Error' } } });
    await p.producer.publish([trackEvent(3)]);
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

  it('shows the event as received, the item sent (as the stand-in received it) and the request it went in with Customer.io\'s answer', async () => {
    const result = await runCli(['trace', 'msg-1'], env());
    expect(result.code, transcript(result)).to.equal(0);
    const sent = received(p, 'Event 1');
    expect(sent, 'the stand-in received Event 1').to.be.an('object');
    expect(result.stdout).to.include(`  event as received: {"type":"track","event":"Event 1"`);
    expect(result.stdout).to.include(`  item as it would be sent now (rebuilt from the event with the current CIO_CONFIG): ${JSON.stringify(sent)}\n`);
    expect(result.stdout).to.match(/\n {4}request sent \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\.\d{3}Z: 207, 2 items; Customer.io's answer for this item: accepted\n/);

    const json = JSON.parse((await runCli(['trace', 'msg-1', '--json'], env())).stdout) as TraceAnswer;
    const t = json.found[0];
    expect(t.item).to.deep.equal(sent);
    expect(t.event).to.include({ messageId: 'msg-1', event: 'Event 1', userId: 'user-1' });
    const sub = p.config.subscriptions.find((s) => s.name === 'Track Event')!;
    expect(transform(sub, t.event, 0)).to.deep.equal({ ok: true, item: sent });
    expect(t.steps).to.have.length(1);
    expect(t.steps[0].request).to.include({ status: 207, size: 2 });
    expect(t.steps[0].answer).to.equal('accepted');
  });

  it('gives a refused item Customer.io\'s error for it, in the request it went in', async () => {
    const result = await runCli(['trace', 'msg-2'], env());
    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stdout).to.match(/request sent \S+: 207, 2 items; Customer.io's answer for this item: Customer.io rejected the item: invalid: no such person\n/);
    expect(result.stdout).to.match(/job \S+ \[failed, finished .*\] failed: Customer.io rejected the item: invalid: no such person/);
  });

  it('shows a retried item\'s earlier attempt, its request and the reason it went again, then the delivering one', async () => {
    const answer = JSON.parse((await runCli(['trace', 'msg-3', '--json'], env())).stdout) as TraceAnswer;
    const t = answer.found[0];
    expect(t.status).to.equal('delivered');
    expect(t.steps.map((s) => [s.state, s.request?.status, s.request?.size])).to.deep.equal([
      ['completed', 500, 1],
      ['completed', 200, 1],
    ]);
    expect(t.steps[0].detail).to.equal(`sent; the item moved to job ${t.steps[1].jobId}`);
    expect(t.steps[0].answer).to.match(/500.*attempt 1 of 3, will retry$/);
    expect(t.steps[1].answer).to.equal('accepted');

    const text = (await runCli(['trace', 'msg-3'], env())).stdout;
    expect(text).to.match(/request sent \S+: 500, 1 item; Customer.io's answer for this item: .*500.*will retry\n/);
    expect(text).to.match(/request sent \S+: 200, 1 item; Customer.io's answer for this item: accepted\n/);
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

  describe('a job held by its queue\'s pause', () => {
    let held: Pipeline;
    before(async () => {
      held = await startPipeline({ worker: { authPauseMs: 3_600_000 } });
      held.standIn.respondNext({ status: 401, body: { meta: { error: 'Unauthorized request.' } } });
      await held.producer.publish([trackEvent(7)]);
      await until(async () => {
        const counts = await held.queues.trackEvent.getJobCounts('completed', 'wait');
        return counts.completed === 1 && counts.wait === 1;
      }, 'the item to wait out the pause');
    });
    after(async () => held && (await held.close()));

    it('says the item is paused until the pause ends, and stats marks the queue', async () => {
      const vars = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: held.config.redis.queuePrefix };
      const result = await runCli(['trace', 'msg-7', '--json'], vars);
      expect(result.code, transcript(result)).to.equal(0);
      const t = (JSON.parse(result.stdout) as TraceAnswer).found[0];
      expect(t.status).to.equal('waiting');
      expect(t.steps[0].request?.status).to.equal(401);
      expect(t.steps[0].answer).to.match(/credentials/i);
      // The pause ends within the hour it was set for (the key's TTL, read by trace a moment before).
      expect(t.pausedUntil).to.be.a('number').within(Date.now(), Date.now() + 3_600_000);

      const text = (await runCli(['trace', 'msg-7'], vars)).stdout;
      expect(text).to.match(/^ {2}paused until \d{4}-\d\d-\d\dT\S+Z$/m);
      expect(text).to.match(/queued, waiting for a worker; paused until \S+Z/);
      const stats = await runCli(['stats'], vars);
      expect(stats.stdout).to.match(/^trackEvent \(paused until \d{4}-\d\d-\d\dT\S+Z\) /m);
    });
  });
});
