// What a job's result keeps of the requests its items went in (jobs/result.ts), and how a queue's pause is
// told from the workers' own limiter count (jobs/pause.ts).
import { expect } from 'chai';
import { requestFacts, requestOf } from '../../src/jobs/result';
import { pauseEndOf } from '../../src/jobs/pause';

describe('jobs: the request facts of a result', () => {
  const a = { at: 1000, status: 207, size: 3 };
  const b = { at: 2000, status: 200, size: 1 };

  it('keeps each request once, and for each event the request it went in (-1: not sent)', () => {
    const facts = requestFacts([a, undefined, b, a]);
    expect(facts).to.deep.equal({ requests: [a, b], sentIn: [0, -1, 1, 0] });
    expect([0, 1, 2, 3].map((i) => requestOf(facts as never, i))).to.deep.equal([a, undefined, b, a]);
  });

  it('leaves sentIn out when every event went in the one request, and nothing when none was sent', () => {
    const facts = requestFacts([a, a]);
    expect(facts).to.deep.equal({ requests: [a] });
    expect(requestOf(facts as never, 1)).to.equal(a);
    expect(requestFacts([undefined, undefined])).to.deep.equal({});
    expect(requestOf({} as never, 0)).to.equal(undefined);
  });
});

describe('jobs: a queue pause', () => {
  it('is the limiter key at the largest safe integer, until its TTL ends; the workers\' own count is none', () => {
    expect(pauseEndOf(String(Number.MAX_SAFE_INTEGER), 5000, 100)).to.equal(5100);
    expect(pauseEndOf('12', 900, 100)).to.equal(undefined);
    expect(pauseEndOf(null, -2, 100)).to.equal(undefined);
    expect(pauseEndOf(String(Number.MAX_SAFE_INTEGER), -1, 100)).to.equal(undefined);
  });
});
