// The message index's claims: a re-send is recognised while the first copy's job is in Redis; a claim whose
// job is not in Redis (being written, or never arrived: Redis went away between the claim and the write,
// before the rollback) is taken over by the next copy, whatever its age, so it never blocks a client's retry.
import { expect } from 'chai';
import { indexField, MessageIndex } from '../../src/redis/message-index';
import { queuePrefix } from '../../src/redis/keys';
import { openTestQueues, type TestQueues } from '../support/redis';

describe('message index claims', function () {
  this.timeout(20_000);
  let q: TestQueues;
  before(async () => (q = await openTestQueues()));
  after(async () => q?.close());
  beforeEach(async () => q.empty());

  const fields = ['m-1', 'm-2'].map((id) => indexField('Track Event', id));

  it('takes over a claim whose job is not in Redis, however young, and leaves a repeat within one write out', async () => {
    const now = 1_800_000_000_000;
    const index = new MessageIndex(q.redis, 3600, () => now);
    const prefix = queuePrefix(q.prefix, 'trackEvent');
    const jobKeys = `${prefix}:trackEvent:`;
    expect(await index.claim(prefix, jobKeys, 'gA', [...fields, fields[0]])).to.deep.equal([0, 1]);
    // gA never reached Redis (or is still on its way): the client's retry claims both again, at once
    expect(await index.claim(prefix, jobKeys, 'gC', fields)).to.deep.equal([0, 1]);
    expect(await index.lookup(prefix, fields[0])).to.equal('gC');
  });

  it('keeps a claim whose job is in Redis, however old', async () => {
    let now = Date.now();
    const index = new MessageIndex(q.redis, 3600, () => now);
    const prefix = queuePrefix(q.prefix, 'trackEvent');
    const job = await q.queues.trackEvent.add('Track Event', { subscription: 'Track Event', count: 0, messageIds: [], bytes: 2, encoding: 'json', events: [] }, { jobId: 'gLive' });
    expect(job.id).to.equal('gLive');
    expect(await index.claim(prefix, `${prefix}:trackEvent:`, 'gLive', fields)).to.deep.equal([0, 1]);
    now += 3_600_000;
    expect(await index.claim(prefix, `${prefix}:trackEvent:`, 'gLater', fields)).to.deep.equal([]);
  });
});
