// Property tests: Customer.io answers of every malformed shape (numbers, strings, nulls, nested junk where
// errors[] and batch_index should be), first to the classifier, then to Delivery end to end.
//
// The rule under test is "never a false success": an item is delivered only when an answer that covered it
// was a 2xx whose every error named an item of that request by an integer batch_index, and none named it.
// The oracle below (unambiguous) states what such an answer looks like, from the documented shape alone.
//
// The random part is seeded; the seed is printed, and FUZZ_SEED=<seed> replays a run.
import { expect } from 'chai';
import pino from 'pino';
import { classifyResponse, readCioErrors } from '../../src/customerio/classify';
import type { CioResponse, CustomerIoClient } from '../../src/customerio/client';
import { compileSubscriptions } from '../../src/core/subscriptions';
import type { Outcome } from '../../src/core/outcomes';
import { Delivery } from '../../src/worker/delivery';
import { seededRandom, seedFor } from '../support/chaos';
import { trackSpec } from '../support/track-subscription';

type Rng = () => number;

/** Where an answer's body came from: a JSON value, or text that did not parse (as the client hands it on). */
function junk(rng: Rng, depth = 0): unknown {
  const int = (n: number) => Math.floor(rng() * n);
  const scalars: unknown[] = [
    0, 1, 2, -1, 1.5, 1e21, -0, Number.MAX_SAFE_INTEGER, '', '0', '1', ' 0', '-1', '1e0', 'null', 'errors',
    null, true, false,
  ];
  const roll = rng();
  if (depth >= 3 || roll < 0.5) return scalars[int(scalars.length)];
  if (roll < 0.75) return Array.from({ length: int(4) }, () => junk(rng, depth + 1));
  const keys = ['batch_index', 'errors', 'error', 'meta', 'reason', 'field', 'message', 'x', '__proto__'];
  const out: Record<string, unknown> = {};
  for (let i = int(4); i > 0; i--) out[keys[int(keys.length)]] = junk(rng, depth + 1);
  return JSON.parse(JSON.stringify(out)); // own "__proto__" keys, as JSON.parse makes them
}

/** One errors[] entry: a good one naming an item of the batch, or one of many bad shapes. */
function errorEntry(rng: Rng, items: number): unknown {
  const int = (n: number) => Math.floor(rng() * n);
  const good = () => ({ batch_index: int(items), reason: 'invalid', field: 'name', message: 'is required' });
  const bad = [
    () => ({ batch_index: String(int(items)), reason: 'invalid' }),
    () => ({ batch_index: -1 - int(3) }),
    () => ({ batch_index: items + int(3) }),
    () => ({ batch_index: int(items) + 0.5 }),
    () => ({ batch_index: null, message: 'x' }),
    () => ({ reason: 'invalid', message: 'no index' }),
    () => ({ batch_index: [int(items)] }),
    () => ({ batch_index: { value: 0 } }),
    () => junk(rng),
  ];
  return rng() < 0.6 ? good() : bad[int(bad.length)]();
}

/** A 2xx body for a request of `items` items: mostly the documented shape, often broken somewhere. */
function answerBody(rng: Rng, items: number): unknown {
  const int = (n: number) => Math.floor(rng() * n);
  const roll = rng();
  if (roll < 0.15) return {};
  if (roll < 0.55) return { errors: Array.from({ length: 1 + int(3) }, () => errorEntry(rng, items)) };
  if (roll < 0.65) return { errors: junk(rng) };
  if (roll < 0.72) return '{"errors":[{"batch_index":0,"rea'.slice(0, 1 + int(30));
  if (roll < 0.8) return 'Accepted';
  if (roll < 0.88) return { meta: junk(rng), error: junk(rng) };
  return junk(rng);
}

/**
 * True when the body, by the documented shape, reports only errors that each name an item of the request:
 * the only answer after which items it does not name may count as delivered.
 */
function unambiguous(body: unknown, items: number): { ok: boolean; named: Set<number> } {
  const named = new Set<number>();
  if (typeof body === 'string') return { ok: !body.trim().startsWith('{') && !body.trim().startsWith('['), named };
  if (Array.isArray(body)) return { ok: body.length === 0, named };
  if (typeof body !== 'object' || body === null) return { ok: true, named };
  const b = body as Record<string, any>;
  const silent = (v: unknown) =>
    v === undefined || v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  if (!silent(b.error)) return { ok: false, named };
  if (b.meta && typeof b.meta === 'object' && !Array.isArray(b.meta) && (!silent(b.meta.error) || !silent(b.meta.errors))) return { ok: false, named };
  if (b.errors === undefined || b.errors === null) return { ok: true, named };
  if (!Array.isArray(b.errors)) return { ok: false, named };
  for (const e of b.errors) {
    const index = e && typeof e === 'object' && !Array.isArray(e) ? e.batch_index : undefined;
    if (!(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < items)) return { ok: false, named };
    named.add(index);
  }
  return { ok: true, named };
}

function response(status: number, body: unknown): CioResponse {
  return { status, headers: {}, body, durationMs: 1, requestBytes: 1 };
}

describe('hostile Customer.io answers (property tests)', function () {
  this.timeout(60_000);

  it('the classifier counts nothing delivered when any error in a 2xx names no item of the batch', () => {
    const seed = seedFor('classifier', 'FUZZ_SEED');
    const rng = seededRandom(seed);
    let ambiguous = 0;
    for (let run = 0; run < 5000; run++) {
      const items = 1 + Math.floor(rng() * 8);
      const body = answerBody(rng, items);
      const status = [200, 201, 202, 204, 207][Math.floor(rng() * 5)];
      const v = classifyResponse(response(status, body), items);
      const oracle = unambiguous(body, items);
      const context = `seed ${seed}, run ${run}: ${items} items, ${status} ${JSON.stringify(body)}`;
      expect(['delivered', 'ambiguous'], context).to.include(v.kind);
      if (v.kind !== 'delivered' && v.kind !== 'ambiguous') continue;
      expect(v.kind === 'delivered', context).to.equal(oracle.ok);
      for (const index of v.itemErrors.keys()) expect(Number.isInteger(index) && index >= 0 && index < items, context).to.equal(true);
      if (v.kind === 'delivered') expect([...v.itemErrors.keys()].sort(), context).to.deep.equal([...oracle.named].sort());
      else ambiguous++;
    }
    expect(ambiguous, 'the generator must produce ambiguous answers').to.be.above(500);
  });

  it('the one error reader never throws and always lists what it could not attribute', () => {
    const seed = seedFor('reader', 'FUZZ_SEED');
    const rng = seededRandom(seed);
    for (let run = 0; run < 5000; run++) {
      const body = junk(rng);
      const items = 1 + Math.floor(rng() * 5);
      const read = readCioErrors(body, items);
      const oracle = unambiguous(body, items);
      expect(read.unattributed.length === 0, `seed ${seed}, run ${run}: ${JSON.stringify(body)}`).to.equal(oracle.ok);
    }
  });

  it('Delivery delivers an item only after an unambiguous answer that did not name it, and settles every item', async () => {
    const seed = seedFor('delivery', 'FUZZ_SEED');
    const rng = seededRandom(seed);
    const [subscription] = compileSubscriptions([
      trackSpec({ mapping: { batch_size: 100 } }),
    ]);
    for (let run = 0; run < 200; run++) {
      const exchanges: Array<{ names: string[]; status: number; body: unknown }> = [];
      const client = {
        async post(_path: string, payload: string): Promise<CioResponse> {
          const names = (JSON.parse(payload).batch as Array<{ name: string }>).map((i) => i.name);
          // mostly 2xx; sometimes a whole-request 400, whose errors may name items
          const status = rng() < 0.85 ? 207 : 400;
          const body = answerBody(rng, names.length);
          exchanges.push({ names, status, body });
          return response(status, body);
        },
      } as unknown as CustomerIoClient;
      const delivery = new Delivery({
        client,
        flushIntervalMs: 60_000,
        requestConcurrency: 4,
        authPauseMs: 1000,
        rateLimitPauseMs: 1000,
        logger: pino({ level: 'silent' }),
      });
      const count = 1 + Math.floor(rng() * 12);
      const names = Array.from({ length: count }, (_, i) => `item-${i}`);
      const outcomes = names.map((name) => delivery.submit(subscription, { type: 'person', action: 'event', identifiers: { id: 'u' }, name }));
      await delivery.flushAll();
      const settled: Outcome[] = await Promise.all(outcomes);
      const context = `seed ${seed}, run ${run}: ${JSON.stringify(exchanges)}`;

      if (exchanges.every((x) => x.status === 207)) {
        // splitting stops as each answer becomes clear: at most one request per node of a binary split tree
        expect(exchanges.length, context).to.be.at.most(2 * count - 1);
      }
      names.forEach((name, i) => {
        const outcome = settled[i];
        const clean = exchanges.filter((x) => x.status === 207 && x.names.includes(name) && unambiguous(x.body, x.names.length).ok);
        if (outcome.kind === 'delivered') {
          const cleared = clean.some((x) => !unambiguous(x.body, x.names.length).named.has(x.names.indexOf(name)));
          expect(cleared, `${name} delivered without a clean answer; ${context}`).to.equal(true);
        }
        if (outcome.kind === 'failed' && outcome.metric === 'ambiguous_answer') {
          // only ever after Customer.io was asked about the item alone
          expect(exchanges.some((x) => x.names.length === 1 && x.names[0] === name), context).to.equal(true);
        }
        expect(['delivered', 'failed'], context).to.include(outcome.kind);
      });
    }
  });
});
