// The envelope checks of ingestion (prepare.ts): the 32 KB limit is measured exactly for the events that
// may be near it, after a cheap bound lets the others through.
import { expect } from 'chai';
import { MAX_ITEM_BYTES as MAX_EVENT_BYTES, MAX_JSON_DEPTH as MAX_EVENT_DEPTH } from '../../src/core/limits';
import { envelopeProblem } from '../../src/producer/prepare';

const track = (properties: Record<string, unknown>) => ({ type: 'track', event: 'E', userId: 'u', properties });
const bytesOf = (event: unknown) => Buffer.byteLength(JSON.stringify(event));

describe('producer: envelope checks', () => {
  it('accepts an event exactly at the limit and refuses one byte more, with its exact size', () => {
    const base = bytesOf(track({ s: '' }));
    const atLimit = track({ s: 'a'.repeat(MAX_EVENT_BYTES - base) });
    expect(bytesOf(atLimit)).to.equal(MAX_EVENT_BYTES);
    expect(envelopeProblem(atLimit)).to.equal(undefined);
    const over = track({ s: 'a'.repeat(MAX_EVENT_BYTES - base + 1) });
    expect(envelopeProblem(over)).to.equal(`is ${MAX_EVENT_BYTES + 1} bytes; an event may be at most ${MAX_EVENT_BYTES} bytes`);
  });

  it('counts multi-byte characters and escapes as JSON writes them', () => {
    // 'é' is 2 bytes in UTF-8, '"' and '\n' are escaped to 2 characters, '\u0001' to 6, '😀' is 4 bytes.
    for (const unit of ['é', '"', '\n', '\u0001', '😀']) {
      const base = bytesOf(track({ s: '' }));
      const per = bytesOf(unit) - 2;
      const fits = Math.floor((MAX_EVENT_BYTES - base) / per);
      expect(envelopeProblem(track({ s: unit.repeat(fits) })), `${JSON.stringify(unit)} × ${fits}`).to.equal(undefined);
      const over = track({ s: unit.repeat(fits + 1) });
      expect(envelopeProblem(over), `${JSON.stringify(unit)} × ${fits + 1}`).to.equal(`is ${bytesOf(over)} bytes; an event may be at most ${MAX_EVENT_BYTES} bytes`);
    }
  });

  it('measures values with toJSON (a Date) and many small fields exactly', () => {
    const dates = track(Object.fromEntries(Array.from({ length: 1300 }, (_, i) => [`d${i}`, new Date(0)])));
    expect(bytesOf(dates)).to.be.above(MAX_EVENT_BYTES);
    expect(envelopeProblem(dates)).to.equal(`is ${bytesOf(dates)} bytes; an event may be at most ${MAX_EVENT_BYTES} bytes`);
    const numbers = track(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`n${i}`, i])));
    expect(bytesOf(numbers)).to.be.below(MAX_EVENT_BYTES);
    expect(envelopeProblem(numbers), 'its bound is over the limit, its size is not').to.equal(undefined);
  });

  it('refuses what cannot be serialized, and nesting deeper than the limit (cycles included)', () => {
    expect(envelopeProblem(track({ n: 10n }))).to.match(/^cannot be serialized as JSON \(/);
    let deep: Record<string, unknown> = {};
    const top = deep;
    for (let i = 0; i < MAX_EVENT_DEPTH + 1; i++) deep = (deep.x = {}) as Record<string, unknown>;
    expect(envelopeProblem(track(top))).to.equal(`nests more than ${MAX_EVENT_DEPTH} levels deep`);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(envelopeProblem(track(cyclic))).to.equal(`nests more than ${MAX_EVENT_DEPTH} levels deep`);
  });
});
