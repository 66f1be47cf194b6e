import { expect } from 'chai';
import { Batcher, batchBodyBytes, type Pending } from '../../src/core/batcher';

const WRAPPER = Buffer.byteLength('{"batch":[]}'); // 12

function values<T>(items: Pending<T>[]): T[] {
  return items.map((i) => i.value);
}

function newBatcher(overrides: Partial<{ maxItems: number; maxBytes: number; maxItemBytes: number; maxWaitMs: number }> = {}) {
  return new Batcher<string>({ maxItems: 3, maxBytes: 1000, maxItemBytes: 200, maxWaitMs: 100, ...overrides });
}

describe('batcher: Batcher', () => {
  describe('count', () => {
    it('holds items until the group reaches maxItems, then flushes them together with the last item', () => {
      const b = newBatcher({ maxItems: 3 });
      expect(b.add('s1', 'a', 10, 0)).to.deep.equal({ kind: 'added', flush: [] });
      expect(b.add('s1', 'b', 10, 1)).to.deep.equal({ kind: 'added', flush: [] });
      const r = b.add('s1', 'c', 10, 2);
      expect(r.kind).to.equal('added');
      if (r.kind !== 'added') return;
      expect(r.flush).to.have.length(1);
      expect(r.flush[0]).to.include({ key: 's1', why: 'count' });
      expect(values(r.flush[0].items)).to.deep.equal(['a', 'b', 'c']);
      expect(r.flush[0].items[1]).to.deep.equal({ value: 'b', bytes: 10, addedAt: 1 });
      expect(b.size()).to.deep.equal({ groups: 0, items: 0, bytes: 0 });
    });

    it('never mixes keys: each key fills its own group', () => {
      const b = newBatcher({ maxItems: 2 });
      b.add('s1', 'a1', 10, 0);
      b.add('s2', 'b1', 10, 0);
      const r = b.add('s1', 'a2', 10, 0);
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush.map((f) => [f.key, values(f.items)])).to.deep.equal([['s1', ['a1', 'a2']]]);
      expect(b.size()).to.deep.equal({ groups: 1, items: 1, bytes: 10 });
    });

    it('with maxItems 1 flushes every item on its own', () => {
      const b = newBatcher({ maxItems: 1 });
      const r = b.add('s1', 'a', 10, 0);
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush.map((f) => [f.why, values(f.items)])).to.deep.equal([['count', ['a']]]);
    });
  });

  describe('bytes', () => {
    // maxBytes is exclusive. With maxBytes 100 the largest allowed body is 99 bytes:
    // 12 (wrapper) + 40 + 1 (comma) + 46 = 99.
    it('adds an item that brings the body to exactly maxBytes - 1 and flushes the full group with it', () => {
      const b = newBatcher({ maxItems: 10, maxBytes: 100, maxItemBytes: 50 });
      b.add('s1', 'a', 40, 0);
      const r = b.add('s1', 'b', 46, 0);
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush).to.have.length(1);
      expect(r.flush[0].why).to.equal('bytes');
      expect(values(r.flush[0].items)).to.deep.equal(['a', 'b']);
      expect(batchBodyBytes(r.flush[0].items.map((i) => i.bytes))).to.equal(99);
      expect(b.size().groups).to.equal(0);
    });

    it('flushes the group BEFORE an item that would bring the body to maxBytes, and starts a fresh group with it', () => {
      const b = newBatcher({ maxItems: 10, maxBytes: 100, maxItemBytes: 50 });
      b.add('s1', 'a', 40, 0);
      const r = b.add('s1', 'b', 47, 5); // 12 + 40 + 1 + 47 = 100: one byte over the limit
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush.map((f) => [f.why, values(f.items)])).to.deep.equal([['bytes', ['a']]]);
      expect(b.size()).to.deep.equal({ groups: 1, items: 1, bytes: 47 });
      // The fresh group's clock starts with the item that opened it.
      expect(b.nextDeadline()).to.equal(5 + 100);
    });

    it('keeps a group open while a further item could still fit', () => {
      const b = newBatcher({ maxItems: 10, maxBytes: 100, maxItemBytes: 50 });
      b.add('s1', 'a', 40, 0);
      const r = b.add('s1', 'b', 44, 0); // body 97: a 1-byte item would still fit (97 + 1 + 1 = 99)
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush).to.deep.equal([]);
      expect(b.size()).to.deep.equal({ groups: 1, items: 2, bytes: 84 });
    });

    it('can flush by bytes and then by count in one add (maxItems 1 on the fresh group)', () => {
      const b = newBatcher({ maxItems: 2, maxBytes: 100, maxItemBytes: 50 });
      b.add('s1', 'a', 50, 0);
      const r = b.add('s1', 'b', 50, 0, { maxItems: 1 });
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush.map((f) => [f.why, values(f.items)])).to.deep.equal([
        ['bytes', ['a']],
        ['count', ['b']],
      ]);
    });

    it('never flushes a body at or over maxBytes, whatever the item sizes', () => {
      const b = new Batcher<number>({ maxItems: 100, maxBytes: 2_000, maxItemBytes: 300, maxWaitMs: 10 });
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const bodies: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        const r = b.add(`s${i % 3}`, i, 1 + Math.floor(rand() * 300), i);
        if (r.kind === 'added') for (const f of r.flush) bodies.push(batchBodyBytes(f.items.map((x) => x.bytes)));
      }
      for (const f of b.drain()) bodies.push(batchBodyBytes(f.items.map((x) => x.bytes)));
      expect(bodies.length).to.be.greaterThan(100);
      expect(Math.max(...bodies)).to.be.lessThan(2_000);
    });
  });

  describe('too large', () => {
    it('refuses an item over maxItemBytes without touching the group', () => {
      const b = newBatcher({ maxItemBytes: 200 });
      b.add('s1', 'a', 10, 0);
      expect(b.add('s1', 'big', 201, 0)).to.deep.equal({ kind: 'too_large', bytes: 201 });
      expect(b.size()).to.deep.equal({ groups: 1, items: 1, bytes: 10 });
    });

    it('accepts an item of exactly maxItemBytes', () => {
      const b = newBatcher({ maxItemBytes: 200 });
      expect(b.add('s1', 'edge', 200, 0).kind).to.equal('added');
    });

    it('rejects a byte count that cannot be a JSON length', () => {
      const b = newBatcher();
      expect(() => b.add('s1', 'x', 0, 0)).to.throw(RangeError);
      expect(() => b.add('s1', 'x', 1.5, 0)).to.throw(RangeError);
      expect(() => b.add('s1', 'x', Number.NaN, 0)).to.throw(RangeError);
    });
  });

  describe('time', () => {
    it('due() returns a group once its oldest item has waited maxWaitMs, and removes it', () => {
      const b = newBatcher({ maxItems: 10, maxWaitMs: 100 });
      b.add('s1', 'a', 10, 1_000);
      b.add('s1', 'b', 10, 1_090); // a later item does not push the deadline back
      expect(b.due(1_099)).to.deep.equal([]);
      const due = b.due(1_100);
      expect(due.map((f) => [f.key, f.why, values(f.items)])).to.deep.equal([['s1', 'time', ['a', 'b']]]);
      expect(b.due(5_000)).to.deep.equal([]);
      expect(b.size().groups).to.equal(0);
    });

    it('due() returns only the groups that are due, oldest first', () => {
      const b = newBatcher({ maxItems: 10, maxWaitMs: 100 });
      b.add('s1', 'a', 10, 0);
      b.add('s2', 'b', 10, 30);
      b.add('s3', 'c', 10, 60);
      expect(b.due(130).map((f) => f.key)).to.deep.equal(['s1', 's2']);
      expect(b.size()).to.deep.equal({ groups: 1, items: 1, bytes: 10 });
    });

    it('honours a different maxWaitMs per key', () => {
      const b = newBatcher({ maxItems: 10, maxWaitMs: 1_000 });
      b.add('slow', 'a', 10, 0);
      b.add('fast', 'b', 10, 10, { maxWaitMs: 50 });
      expect(b.nextDeadline()).to.equal(60);
      expect(b.due(60).map((f) => f.key)).to.deep.equal(['fast']);
      expect(b.nextDeadline()).to.equal(1_000);
      expect(b.due(1_000).map((f) => f.key)).to.deep.equal(['slow']);
    });
  });

  describe('nextDeadline', () => {
    it('is undefined when nothing is held', () => {
      expect(newBatcher().nextDeadline()).to.equal(undefined);
    });

    it('moves to the next oldest group as groups flush by count, time or drain', () => {
      const b = newBatcher({ maxItems: 2, maxWaitMs: 100 });
      b.add('s1', 'a', 10, 0);
      b.add('s2', 'b', 10, 20);
      b.add('s3', 'c', 10, 40);
      expect(b.nextDeadline()).to.equal(100);
      b.add('s1', 'a2', 10, 50); // s1 flushes by count
      expect(b.nextDeadline()).to.equal(120);
      b.due(120); // s2 flushes by time
      expect(b.nextDeadline()).to.equal(140);
      b.add('s1', 'a3', 10, 130); // s1 opens again, behind s3
      expect(b.nextDeadline()).to.equal(140);
      b.due(140);
      expect(b.nextDeadline()).to.equal(230);
      b.drain();
      expect(b.nextDeadline()).to.equal(undefined);
    });
  });

  describe('per-key limits', () => {
    it('flushes each key at its own batch_size', () => {
      const b = newBatcher({ maxItems: 50 });
      const flushed: Array<[string, number]> = [];
      for (let i = 0; i < 6; i++) {
        for (const [key, maxItems] of [['small', 2], ['large', 5]] as const) {
          const r = b.add(key, `${key}${i}`, 10, i, { maxItems });
          if (r.kind === 'added') for (const f of r.flush) flushed.push([f.key, f.items.length]);
        }
      }
      expect(flushed).to.deep.equal([
        ['small', 2],
        ['small', 2],
        ['large', 5],
        ['small', 2],
      ]);
    });

    it('judges item size by the key-specific maxItemBytes', () => {
      const b = newBatcher({ maxItemBytes: 200 });
      expect(b.add('strict', 'x', 150, 0, { maxItemBytes: 100 }).kind).to.equal('too_large');
      expect(b.add('default', 'x', 150, 0).kind).to.equal('added');
    });

    it('keeps the limits a group opened with until it flushes', () => {
      const b = newBatcher({ maxItems: 3 });
      b.add('s1', 'a', 10, 0, { maxItems: 3 });
      const r = b.add('s1', 'b', 10, 0, { maxItems: 1 });
      if (r.kind !== 'added') throw new Error('expected added');
      expect(r.flush).to.deep.equal([]);
    });

    it('refuses limits that could not hold one item', () => {
      expect(() => new Batcher({ maxBytes: 100, maxItemBytes: 100, maxWaitMs: 1 })).to.throw(RangeError, /maxBytes/);
      expect(() => newBatcher().add('s1', 'a', 10, 0, { maxItems: 0 })).to.throw(RangeError, /maxItems/);
    });

    it('defaults maxItems to 50', () => {
      const b = new Batcher<number>({ maxBytes: 480_000, maxItemBytes: 32_768, maxWaitMs: 1_000 });
      let flushedAt = -1;
      for (let i = 0; i < 60 && flushedAt < 0; i++) {
        const r = b.add('s1', i, 10, 0);
        if (r.kind === 'added' && r.flush.length > 0) flushedAt = i + 1;
      }
      expect(flushedAt).to.equal(50);
    });
  });

  describe('drain and size', () => {
    it('drain() returns every group with why "shutdown" and leaves the batcher empty', () => {
      const b = newBatcher({ maxItems: 10 });
      b.add('s1', 'a', 10, 0);
      b.add('s2', 'b', 20, 0, { maxWaitMs: 5 });
      b.add('s1', 'c', 30, 0);
      expect(b.size()).to.deep.equal({ groups: 2, items: 3, bytes: 60 });
      const drained = b.drain();
      expect(drained.map((f) => [f.key, f.why, values(f.items)])).to.have.deep.members([
        ['s1', 'shutdown', ['a', 'c']],
        ['s2', 'shutdown', ['b']],
      ]);
      expect(b.size()).to.deep.equal({ groups: 0, items: 0, bytes: 0 });
      expect(b.drain()).to.deep.equal([]);
    });
  });
});

describe('batcher: batchBodyBytes', () => {
  it('is 12 bytes for an empty batch', () => {
    expect(batchBodyBytes([])).to.equal(WRAPPER);
    expect(WRAPPER).to.equal(12);
  });

  it('equals Buffer.byteLength(JSON.stringify({ batch })) for random items, unicode included', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0001', 'é', 'ß', '中', '文', '😀', '🇫🇷', '\u2028', '</'];
    const str = () => Array.from({ length: Math.floor(rand() * 20) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    const value = (depth: number): unknown => {
      const k = Math.floor(rand() * (depth > 2 ? 4 : 6));
      if (k === 0) return str();
      if (k === 1) return Math.floor(rand() * 1e9) / 7;
      if (k === 2) return rand() < 0.5;
      if (k === 3) return null;
      if (k === 4) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [str(), value(depth + 1)]));
    };
    for (let round = 0; round < 200; round++) {
      const items = Array.from({ length: Math.floor(rand() * 8) }, () => ({ type: 'person', action: 'event', attributes: value(0) }));
      const sizes = items.map((i) => Buffer.byteLength(JSON.stringify(i)));
      expect(batchBodyBytes(sizes)).to.equal(Buffer.byteLength(JSON.stringify({ batch: items })));
    }
  });
});
