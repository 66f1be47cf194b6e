// Issue 18, point 8: no stall from the message index. No key the index writes may grow with the event
// rate (expiring a big hash blocks Redis), and an entry costs at most 40 bytes of Redis memory once its
// hash is as full as it gets at the design rate. The index here splits its buckets into 256 hashes instead
// of the service's 65,536, so 20,000 entries fill each as 5 million would in the service.
import { expect } from 'chai';
import { indexField, MessageIndex } from '../../src/redis/message-index';
import { queuePrefix } from '../../src/redis/keys';
import { openTestQueues, type TestQueues } from '../support/redis';

const ENTRIES = 20_000;
const CHUNK = 500;

describe('point 8: the message index stays small', function () {
  this.timeout(60_000);
  let q: TestQueues;
  before(async () => (q = await openTestQueues()));
  after(async () => q?.close());

  it('point 8: keeps every hash small (a compact listpack) and an entry at 40 bytes or less, and still finds each entry', async () => {
    const index = new MessageIndex(q.redis, 3600, Date.now, 1);
    const prefix = queuePrefix(q.prefix, 'trackEvent');
    const ids = Array.from({ length: ENTRIES }, (_, i) => `0b7e1c9a-5f4d-4e21-9a6b-${String(i).padStart(12, '0')}`);
    for (let start = 0; start < ENTRIES; start += CHUNK) {
      const fields = ids.slice(start, start + CHUNK).map((id) => indexField('Track Event', id));
      // A job id as the producer makes them (writer.ts newJobId): 17 characters.
      await index.claim(prefix, `${prefix}:trackEvent:`, `gmf3k2x1aAbCdEfGh`, fields);
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await q.redis.scan(cursor, 'MATCH', `${prefix}:seen:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    let bytes = 0;
    let entries = 0;
    let largest = 0;
    const maxListpack = Number(((await q.redis.config('GET', 'hash-max-listpack-entries')) as string[])[1]);
    for (const key of keys) {
      const n = await q.redis.hlen(key);
      entries += n;
      largest = Math.max(largest, n);
      bytes += Number(await q.redis.memory('USAGE', key, 'SAMPLES', '0'));
      expect(await q.redis.object('ENCODING', key), key).to.equal('listpack');
    }
    expect(entries).to.equal(ENTRIES);
    expect(largest, 'entries in the largest hash').to.be.at.most(Math.min(128, maxListpack));
    const perEntry = bytes / entries;
    if (process.env.SHOW_INDEX_SIZE) console.log({ perEntry, largest, hashes: keys.length });
    expect(perEntry, `bytes per entry (${keys.length} hashes)`).to.be.at.most(40);
    // Lookups (trace, claims) find the entries.
    expect(await index.lookup(prefix, indexField('Track Event', ids[12_345]))).to.equal('gmf3k2x1aAbCdEfGh');
    expect(await index.claim(prefix, `${prefix}:trackEvent:`, 'gmf3k2x1aAbCdEfGh', [indexField('Track Event', ids[7])]), 'a repeat').to.deep.equal([]);
  });
});
