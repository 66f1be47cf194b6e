import assert from 'node:assert/strict';
import { checkOrder, type Arrival, type ChunkTicks } from '../bench/order-check';
import { syntheticChunk } from '../bench/shared';

// The benchmark's worst-case check must count what it names: lost events, re-sends, and conflicting pairs
// of one person that reached the stand-in out of their accepted order (and only pairs with an order).

const run = { runId: 'chk', events: 20, persons: 2, chunk: 10 };
const events = syntheticChunk(0, run.events, { runId: run.runId, persons: run.persons });
/** Two calls one after the other: every pair of a person has an accepted order. */
const sequential: ChunkTicks = { sent: [1, 3], answered: [2, 4] };
/** Two calls in flight at once: pairs across them have none. */
const concurrent: ChunkTicks = { sent: [1, 2], answered: [3, 4] };

/** Every event in a request of its own, in the order given. */
const arrive = (ids: readonly number[]): Arrival[] => ids.map((i, place) => [String(events[i].messageId), 1000 + place, place]);
const inOrder = events.map((_, i) => i);

describe('bench order check (worst case of per-person order)', () => {
  it('the synthetic traffic of a few persons mixes identifies and tracks of each', () => {
    const persons = new Set(events.map((e) => e.userId));
    assert.equal(persons.size, 2);
    assert.ok(events.some((e) => e.type === 'identify') && events.some((e) => e.type === 'track'));
  });

  it('finds nothing out of order, lost or re-sent when every event arrives in accepted order once', () => {
    const c = checkOrder(run, arrive(inOrder), sequential);
    assert.equal(c.arrived, 20);
    assert.equal(c.duplicates, 0);
    assert.equal(c.outOfOrder, 0);
    assert.ok(c.pairs > 0);
  });

  it('counts a conflicting pair that arrived reversed, and one that shared a request', () => {
    const identify = events.findIndex((e) => e.type === 'identify');
    const later = events.findIndex((e, i) => i > identify && e.userId === events[identify].userId && e.type === 'track');
    assert.ok(identify >= 0 && later > identify, 'the seed gives an identify followed by a track of the same person');
    const swapped = inOrder.map((i) => (i === identify ? later : i === later ? identify : i));
    assert.ok(checkOrder(run, arrive(swapped), sequential).outOfOrder >= 1);
    const shared = arrive(inOrder).map(([id, at, place]): Arrival => (id === String(events[later].messageId) ? [id, at, identify] : [id, at, place]));
    assert.equal(checkOrder(run, shared, sequential).outOfOrder, 1);
  });

  it('pairs each identify with every other event of its person, never two tracks', () => {
    let expected = 0;
    for (const person of new Set(events.map((e) => e.userId))) {
      const identifies = events.filter((e) => e.userId === person && e.type === 'identify').length;
      const tracks = events.filter((e) => e.userId === person && e.type === 'track').length;
      expected += identifies * tracks + (identifies * (identifies - 1)) / 2;
    }
    assert.equal(checkOrder(run, arrive(inOrder), sequential).pairs, expected);
  });

  it('leaves out pairs across concurrent calls: they have no accepted order', () => {
    const reversed = [...inOrder].reverse();
    const c = checkOrder(run, arrive(reversed), concurrent);
    const sameCall = (a: number, b: number) => Math.floor(a / run.chunk) === Math.floor(b / run.chunk);
    let expected = 0;
    events.forEach((a, i) =>
      events.forEach((b, j) => {
        if (i < j && a.userId === b.userId && (a.type === 'identify' || b.type === 'identify') && sameCall(i, j)) expected++;
      }),
    );
    assert.equal(c.pairs, expected);
    // Arriving in reverse, every pair within a call is out of order.
    assert.equal(c.outOfOrder, expected);
  });

  it('counts events that never arrived and arrivals beyond the first', () => {
    const some = arrive(inOrder.slice(0, 15));
    const c = checkOrder(run, [...some, some[0], [String(events[3].messageId), 5000, 40], ['other-run-1', 1, 0]], sequential);
    assert.equal(c.arrived, 15);
    assert.equal(c.duplicates, 2);
  });
});
