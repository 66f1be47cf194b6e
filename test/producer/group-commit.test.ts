// The group committer: requests of one window share one write; every request of a commit settles with it.
import { expect } from 'chai';
import { GroupCommitter } from '../../src/producer/group-commit';

describe('group commit', () => {
  it('writes the requests that arrive within the window as one commit, and answers each', async () => {
    const commits: string[][] = [];
    const c = new GroupCommitter<string, string>({ windowMs: 20, maxEvents: 1000 }, async (entries) => {
      commits.push(entries);
      return entries.map((e) => `ok ${e}`);
    });
    const answers = await Promise.all(['a', 'b', 'c'].map((e) => c.submit(e, 1)));
    expect(commits).to.deep.equal([['a', 'b', 'c']]);
    expect(answers).to.deep.equal(['ok a', 'ok b', 'ok c']);
  });

  it('writes at once when the commit holds maxEvents, without waiting for the window', async () => {
    const commits: string[][] = [];
    const c = new GroupCommitter<string, void>({ windowMs: 60_000, maxEvents: 3 }, async (entries) => {
      commits.push(entries);
      return entries.map(() => undefined);
    });
    const started = Date.now();
    await Promise.all([c.submit('a', 2), c.submit('b', 1)]);
    expect(Date.now() - started).to.be.below(1000);
    expect(commits).to.deep.equal([['a', 'b']]);
  });

  it('refuses every request of a commit whose write failed, and keeps working for the next', async () => {
    let fail = true;
    const c = new GroupCommitter<string, void>({ windowMs: 5, maxEvents: 100 }, async (entries) => {
      if (fail) throw new Error('OOM command not allowed');
      return entries.map(() => undefined);
    });
    const results = await Promise.allSettled([c.submit('a', 1), c.submit('b', 1)]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    fail = false;
    await c.submit('c', 1);
  });

  it('drain() writes what is pending and waits for it', async () => {
    let written = 0;
    const c = new GroupCommitter<string, void>({ windowMs: 60_000, maxEvents: 100 }, async (entries) => {
      await new Promise((r) => setTimeout(r, 20));
      written += entries.length;
      return entries.map(() => undefined);
    });
    const pending = c.submit('a', 1);
    await c.drain();
    expect(written).to.equal(1);
    await pending;
  });
});
