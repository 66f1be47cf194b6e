// The message index's claims: a re-send is recognised while the first copy's job is in Redis, or while
// that job may still be being written; a claim whose job never reached Redis (Redis went away between the
// claim and the write, before the rollback) does not block the client's retry.
import { expect } from 'chai';
import { indexField, MessageIndex, STALE_CLAIM_MS } from '../../src/redis/message-index';
import { queuePrefix } from '../../src/redis/keys';
import { openTestQueues, type TestQueues } from '../support/redis';

describe('message index claims', function () {
  this.timeout(20_000);
  let q: TestQueues;
  before(async () => (q = await openTestQueues()));
  after(async () => q?.close());
  beforeEach(async () => q.empty());

  const fields = ['m-1', 'm-2'].map((id) => indexField('Track Event', id));

  it('takes a claim whose job never reached Redis for stale once STALE_CLAIM_MS has passed, and claims the event again', async () => {
    let now = 1_800_000_000_000;
    const index = new MessageIndex(q.redis, 3600, () => now);
    const prefix = queuePrefix(q.prefix, 'trackEvent');
    const jobKeys = `${prefix}:trackEvent:`;
    expect(await index.claim(prefix, jobKeys, 'gA', fields)).to.deep.equal([0, 1]);
    // a concurrent copy, while gA may still be being written: a re-send
    now += STALE_CLAIM_MS / 2;
    expect(await index.claim(prefix, jobKeys, 'gB', fields)).to.deep.equal([]);
    // gA never reached Redis; the client's retry, later, claims both again
    now += STALE_CLAIM_MS;
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
    now += 10 * STALE_CLAIM_MS;
    expect(await index.claim(prefix, `${prefix}:trackEvent:`, 'gLater', fields)).to.deep.equal([]);
  });
});
