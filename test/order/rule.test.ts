// The per-person ordering rule as a table, run through the pure model (core/order/book.ts) and through the
// Redis order book's scripts (redis/order-book.ts): both must give every answer of the table.
import { expect } from 'chai';
import { gate as modelGate, OrderBookModel } from '../../src/core/order/book';
import { conflicts, orderKeysOf, orderKindOf, type OrderKind } from '../../src/core/order/rule';
import { connectRedis, waitForRedis, type RedisConnection } from '../../src/redis/connection';
import { groupPrefix, OrderBook, placeOf, removeOrderBook, type EntryRef } from '../../src/redis/order-book';
import { seededRandom } from '../support/chaos';
import { ACTION_KEYS, type ActionKey } from '../../src/core/types';
import { randomQueuePrefix, TEST_REDIS_URL } from '../support/redis';

const EVENTS: ActionKey[] = ['trackEvent', 'trackPageView', 'trackScreenView', 'reportContentEvent', 'reportDeliveryEvent'];

describe('ordering rule (pure)', () => {
  it('an action is an event exactly when it carries its own timestamp and changes no state: track, page, screen, both reports', () => {
    for (const action of ACTION_KEYS) expect(orderKindOf(action), action).to.equal(EVENTS.includes(action) ? 'event' : 'operation');
  });

  it('two entries conflict unless both are events', () => {
    const table: Array<[OrderKind, OrderKind, boolean]> = [
      ['event', 'event', false],
      ['event', 'operation', true],
      ['operation', 'event', true],
      ['operation', 'operation', true],
    ];
    for (const [a, b, want] of table) expect(conflicts(a, b), `${a} then ${b}`).to.equal(want);
  });

  it('keys: the identifier, the anonymous id in attributes, both people of a merge, the object and person of a relationship', () => {
    expect(orderKeysOf({ type: 'person', action: 'identify', identifiers: { id: 'u1' }, attributes: { anonymous_id: 'a1' } })).to.deep.equal(['id:u1', 'anonymous_id:a1']);
    expect(orderKeysOf({ type: 'person', action: 'event', identifiers: { email: 'a@b.co' } }, 'event')).to.deep.equal(['email:a@b.co']);
    // An event is ordered under its identifier only; the identify that links the anonymous id holds both.
    expect(orderKeysOf({ type: 'person', action: 'event', identifiers: { id: 'u1' }, attributes: { anonymous_id: 'a1' } }, 'event')).to.deep.equal(['id:u1']);
    expect(orderKeysOf({ type: 'person', action: 'merge', primary: { id: 'p' }, secondary: { email: 's@b.co' } })).to.deep.equal(['id:p', 'email:s@b.co']);
    expect(orderKeysOf({ type: 'object', action: 'delete_relationships', identifiers: { object_type_id: '1', object_id: 'acme' }, cio_relationships: [{ identifiers: { id: 'u1' } }] })).to.deep.equal([
      'object:1:acme',
      'id:u1',
    ]);
    expect(orderKeysOf({ type: 'person', action: 'identify', identifiers: { cio_id: 'x' } })).to.deep.equal(['cio_id:x']);
    expect(orderKeysOf({ delivery_id: 'd', metric: 'opened' })).to.deep.equal([]);
  });
});

/** The same steps on the model and on Redis. */
interface Book {
  register(keys: string[], kind: OrderKind, holder: string): Promise<EntryRef[]>;
  gate(refs: EntryRef[], own: string): Promise<string>;
  settle(refs: EntryRef[]): Promise<string[]>;
}

function modelBook(): Book {
  const m = new OrderBookModel();
  return {
    register: async (keys, kind, holder) => m.register(keys, kind, holder).map((ticket, i) => ({ key: keys[i], ticket })),
    gate: async (refs) => m.gate(refs).verdict,
    settle: async (refs) => {
      m.settle(refs);
      return [];
    },
  };
}

function redisBook(book: OrderBook): Book {
  return {
    register: async (keys, kind, holder) => (await book.register([{ keys, kind, holder }]))[0].map((ticket, i) => ({ key: keys[i], ticket })),
    gate: async (refs, own) => (await book.gate([refs], [own], Date.now()))[0].verdict,
    settle: (refs) => book.settle(refs.map((entry) => ({ op: 'remove' as const, entry }))),
  };
}

const kindName = (k: OrderKind) => (k === 'event' ? 'an event' : 'an operation');

function runTable(name: string, make: () => Promise<Book>) {
  describe(`ordering table: ${name}`, () => {
    for (const first of ['event', 'operation'] as OrderKind[]) {
      for (const second of ['event', 'operation'] as OrderKind[]) {
        it(`${kindName(first)} then ${kindName(second)} of one person: the second ${conflicts(first, second) ? 'waits for the first outcome' : 'goes at once'}`, async () => {
          const book = await make();
          const a = await book.register(['id:p'], first, '0ga');
          const b = await book.register(['id:p'], second, '0gb');
          expect(await book.gate(a, '0ga')).to.equal('go');
          expect(await book.gate(b, '0gb')).to.equal(conflicts(first, second) ? 'held' : 'go');
          await book.settle(a);
          expect(await book.gate(b, '0gb')).to.equal('go');
          expect(await book.gate(a, '0ga')).to.equal('absent');
        });
      }
    }

    it('another person is never held by this one', async () => {
      const book = await make();
      await book.register(['id:p'], 'operation', '0ga');
      const other = await book.register(['id:q'], 'operation', '0gb');
      expect(await book.gate(other, '0gb')).to.equal('go');
    });

    it('a merge waits for both people and holds both', async () => {
      const book = await make();
      const primaryOp = await book.register(['id:p'], 'operation', '0ga');
      const secondaryEvent = await book.register(['id:s'], 'event', '0gb');
      const merge = await book.register(['id:p', 'id:s'], 'operation', '0gc');
      const afterOnSecondary = await book.register(['id:s'], 'event', '0gd');
      expect(await book.gate(merge, '0gc')).to.equal('held');
      await book.settle(primaryOp);
      expect(await book.gate(merge, '0gc'), 'the secondary still has an event open').to.equal('held');
      await book.settle(secondaryEvent);
      expect(await book.gate(merge, '0gc')).to.equal('go');
      expect(await book.gate(afterOnSecondary, '0gd'), 'behind the merge').to.equal('held');
      await book.settle(merge);
      expect(await book.gate(afterOnSecondary, '0gd')).to.equal('go');
    });

    it('a relationship holds the object and the person', async () => {
      const book = await make();
      const relationship = await book.register(['object:1:acme', 'id:p'], 'operation', '0ga');
      const personEvent = await book.register(['id:p'], 'event', '0gb');
      const objectUpdate = await book.register(['object:1:acme'], 'operation', '0gc');
      expect(await book.gate(personEvent, '0gb')).to.equal('held');
      expect(await book.gate(objectUpdate, '0gc')).to.equal('held');
      await book.settle(relationship);
      expect(await book.gate(personEvent, '0gb')).to.equal('go');
      expect(await book.gate(objectUpdate, '0gc')).to.equal('go');
    });

    it('events behind an operation go together once it has its outcome; an operation behind events waits for all of them', async () => {
      const book = await make();
      const e1 = await book.register(['id:p'], 'event', '0g1');
      const e2 = await book.register(['id:p'], 'event', '0g2');
      const op = await book.register(['id:p'], 'operation', '0g3');
      const e3 = await book.register(['id:p'], 'event', '0g4');
      const e4 = await book.register(['id:p'], 'event', '0g5');
      expect(await book.gate(e2, '0g2')).to.equal('go');
      expect(await book.gate(op, '0g3')).to.equal('held');
      await book.settle(e2);
      expect(await book.gate(op, '0g3'), 'e1 is still open').to.equal('held');
      await book.settle(e1);
      expect(await book.gate(op, '0g3')).to.equal('go');
      expect(await book.gate(e3, '0g4')).to.equal('held');
      await book.settle(op);
      expect(await book.gate(e3, '0g4')).to.equal('go');
      expect(await book.gate(e4, '0g5')).to.equal('go');
    });

    it('the head failing for good releases the person like a delivery does', async () => {
      // Settling is the same call for both outcomes: the item has its answer and leaves the book.
      const book = await make();
      const head = await book.register(['id:p'], 'operation', '0ga');
      const next = await book.register(['id:p'], 'operation', '0gb');
      expect(await book.gate(next, '0gb')).to.equal('held');
      await book.settle(head);
      expect(await book.gate(next, '0gb')).to.equal('go');
    });
  });
}

runTable('pure model', async () => modelBook());

describe('order book in Redis', () => {
  let redis: RedisConnection;
  const prefixes: string[] = [];
  before(async () => {
    redis = connectRedis({ url: TEST_REDIS_URL }, 'producer');
    await waitForRedis(redis, TEST_REDIS_URL);
  });
  after(async () => {
    for (const p of prefixes) await removeOrderBook(redis, p);
    await redis.quit();
  });
  const fresh = async () => {
    const prefix = randomQueuePrefix();
    prefixes.push(prefix);
    return new OrderBook(redis, prefix);
  };

  runTable('Redis scripts', async () => redisBook(await fresh()));

  it('an entry now held by another job answers "moved" to the job it left; the job it moved from still counts as its own', async () => {
    const book = await fresh();
    const [[t]] = await book.register([{ keys: ['id:p'], kind: 'operation', holder: '0gparent' }]);
    await book.settle([{ op: 'move', entry: { key: 'id:p', ticket: t }, holder: '0hchild' }]);
    expect((await book.gate([[{ key: 'id:p', ticket: t }]], ['0gparent'], 0))[0]).to.deep.equal({ verdict: 'moved', holder: '0hchild' });
    expect((await book.gate([[{ key: 'id:p', ticket: t }]], ['0hchild', '0gparent'], 0))[0]).to.deep.equal({ verdict: 'go' });
  });

  it('wakes the held jobs a settle frees once, whichever call of the batch asked: a move sharing the script call with the release does not swallow them', async () => {
    const prefix = randomQueuePrefix();
    prefixes.push(prefix);
    const woken: string[][] = [];
    const book = new OrderBook(redis, prefix, Date.now, async (holders) => void woken.push([...holders]));
    const [[head]] = await book.register([{ keys: ['id:p'], kind: 'operation', holder: '0ghead' }]);
    const [[behind]] = await book.register([{ keys: ['id:p'], kind: 'operation', holder: '0hbehind' }]);
    const [[other]] = await book.register([{ keys: ['id:q'], kind: 'event', holder: '0gother' }]);
    expect((await book.gate([[{ key: 'id:p', ticket: behind }]], ['0hbehind'], 0))[0].verdict).to.equal('held');
    // Asked in the same turn of the event loop: one script call, the move first.
    const [fromMove, fromRelease] = await Promise.all([
      book.settle([{ op: 'move', entry: { key: 'id:q', ticket: other }, holder: '0hmoved' }]),
      book.settle([{ op: 'remove', entry: { key: 'id:p', ticket: head } }]),
    ]);
    expect(woken).to.deep.equal([['0hbehind']]);
    expect(fromMove).to.deep.equal(['0hbehind']);
    expect(fromRelease).to.deep.equal(['0hbehind']);
  });

  it('settling the head wakes the held jobs behind it (and only held jobs), and the gauge follows the hold', async () => {
    const book = await fresh();
    const [[a]] = await book.register([{ keys: ['id:p'], kind: 'operation', holder: '0ga' }]);
    const [[b], [c]] = await book.register([
      { keys: ['id:p'], kind: 'event', holder: '1hheld1' },
      { keys: ['id:p'], kind: 'event', holder: '1gwaiting' },
    ]);
    const gated = await book.gate([[{ key: 'id:p', ticket: b }]], ['1hheld1'], 1000);
    expect(gated[0]).to.deep.include({ verdict: 'held', key: 'id:p' });
    expect(await book.holds()).to.deep.equal({ persons: 1, oldestSince: 1000 });
    const woken = await book.settle([{ op: 'remove', entry: { key: 'id:p', ticket: a } }]);
    expect(woken).to.deep.equal(['1hheld1']);
    expect(await book.holds()).to.deep.equal({ persons: 0 });
    await book.settle([
      { op: 'remove', entry: { key: 'id:p', ticket: b } },
      { op: 'remove', entry: { key: 'id:p', ticket: c } },
    ]);
    expect(await book.entries('id:p')).to.deep.equal([]);
  });

  it('an orphan is removed only while the job named still holds it', async () => {
    const book = await fresh();
    const [[t]] = await book.register([{ keys: ['id:p'], kind: 'operation', holder: '0gnever' }]);
    await book.settle([{ op: 'removeOrphan', entry: { key: 'id:p', ticket: t }, holder: '0gother' }]);
    expect(await book.entries('id:p')).to.have.length(1);
    await book.settle([{ op: 'removeOrphan', entry: { key: 'id:p', ticket: t }, holder: '0gnever' }]);
    expect(await book.entries('id:p')).to.deep.equal([]);
  });

  it('a person with a few open entries is kept in pieces that keep its bucket compact, and answers like the model as entries come, move and go', async () => {
    const book = await fresh();
    const prefix = prefixes[prefixes.length - 1];
    const place = placeOf('id:p');
    const bucket = `${groupPrefix(prefix, place.group)}b${place.bucket}`;
    const rand = seededRandom(17);
    // What the book should hold, in accepted order: ticket, kind, holder.
    const open: Array<{ ticket: number; kind: OrderKind; holder: string }> = [];
    const lengths = new Set<number>();
    const holderOf = (n: number, pad = Math.floor(rand() * 28)) => `0g${'x'.repeat(pad)}${n}`;
    const sizeOf = (entries: typeof open) => entries.reduce((n, e) => n + 2 + e.ticket.toString(36).length + e.holder.length, 0);
    let lastTicket = 0;
    for (let step = 0; step < 1500; step++) {
      const roll = rand();
      if (open.length === 0 || (roll < 0.45 && open.length < 20)) {
        const kind: OrderKind = rand() < 0.3 ? 'operation' : 'event';
        // Now and then a holder whose length brings the value to exactly the end of a piece.
        const size = sizeOf(open);
        const pad = Math.ceil((size + 1) / 64) * 64 - size - 2 - (lastTicket + 1).toString(36).length - 2 - String(step).length;
        const holder = rand() < 0.3 && pad >= 0 ? holderOf(step, pad) : holderOf(step);
        const [[ticket]] = await book.register([{ keys: ['id:p'], kind, holder }]);
        open.push({ ticket, kind, holder });
        lastTicket = ticket;
      } else if (roll < 0.75) {
        const gone = open.splice(Math.floor(rand() * open.length), 1)[0];
        await book.settle([{ op: 'remove', entry: { key: 'id:p', ticket: gone.ticket } }]);
      } else {
        const moved = open[Math.floor(rand() * open.length)];
        moved.holder = holderOf(step).replace('0g', '0h');
        await book.settle([{ op: 'move', entry: { key: 'id:p', ticket: moved.ticket }, holder: moved.holder }]);
      }
      expect(await book.entries('id:p')).to.deep.equal(open, `step ${step}`);
      // Each open entry's answer is the pure model's (core/order/book.ts).
      const answers = await book.gate(open.map((e) => [{ key: 'id:p', ticket: e.ticket }]), open.map((e) => e.holder), 0);
      open.forEach((e, i) => expect(answers[i].verdict).to.equal(modelGate(open, e.ticket).verdict, `step ${step}, entry ${i}`));
      const length = sizeOf(open);
      lengths.add(length);
      // Redis never turns a hash back to the compact encoding, so only until a value first outgrew the pieces.
      if (length > 0 && Math.max(...lengths) <= 256) expect(await redis.object('ENCODING', bucket)).to.equal('listpack', `step ${step}, ${length} bytes`);
    }
    // The walk crossed every boundary of the pieces: exactly full pieces, and past the last one.
    for (const n of [64, 128, 192, 256]) expect(lengths.has(n), `a value of exactly ${n} bytes`).to.equal(true);
    expect([...lengths].some((n) => n > 256)).to.equal(true);
    await book.settle(open.map((e) => ({ op: 'remove' as const, entry: { key: 'id:p', ticket: e.ticket } })));
    expect(await redis.exists(bucket)).to.equal(0);
  });

  it('a person with thousands of open entries still answers in one call each', async () => {
    const book = await fresh();
    const many = Array.from({ length: 3000 }, (_, i) => ({ keys: ['id:hot'], kind: (i % 100 === 99 ? 'operation' : 'event') as OrderKind, holder: `1g${i}` }));
    const tickets = await book.register(many);
    const refs = tickets.map(([ticket]) => [{ key: 'id:hot', ticket }]);
    const answers = await book.gate(refs, many.map((m) => m.holder), 0);
    // Own holders were all given, so each answer is about order: the first 99 events go, everything after the first operation waits.
    expect(answers.slice(0, 99).every((a) => a.verdict === 'go')).to.equal(true);
    expect(answers.slice(99).every((a) => a.verdict === 'held')).to.equal(true);
  });
});
