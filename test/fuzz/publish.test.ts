// Fuzz: `Producer.publish()` (the library call for Node pipelines), and the workers behind it, fed random
// and hostile events in this process, so a polluted Object.prototype would show here.
//
// publish() promises (src/producer/publish.ts): one result per event; an invalid event is reported in its
// result with an error and nothing is queued for it; the valid ones are queued. The workers promise an
// outcome per job (ARCHITECTURE.md, "Nothing acknowledged is lost"): completed, or failed with a reason that says what was wrong, never a
// crash and never a job left behind.
//
// The random part is seeded; the seed is printed, and FUZZ_SEED=<seed> replays a run.
import { expect } from 'chai';
import { itemJobs } from '../support/items';
import { DEFAULTS } from '../../src/config';
import { EVENT_TYPES } from '../../src/producer/prepare';
import { Producer } from '../../src/producer/publish';
import { compileSubscriptions } from '../../src/core/subscriptions';
import { ACTION_KEYS, type ActionKey, type SegmentEvent } from '../../src/core/types';
import { ONE_PER_TYPE, onePerType, scale, seededRandom, seedFor } from '../support/chaos';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { openTestQueues, type TestQueues } from '../support/redis';

/** The ends of the Date range, a year-0 date and an ISO week date: timestamps mappers must survive. */
const EXTREME_DATES = ['+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '0000-01-01T00:00:00Z', '2024-W11-5', '2024-02-30T25:61:61Z', '1e20'];

const PROTOTYPE_KEYS_BEFORE = Object.getOwnPropertyNames(Object.prototype).sort();

function noPollution(): void {
  expect(({} as Record<string, unknown>).polluted, 'Object.prototype.polluted').to.equal(undefined);
  expect(({} as Record<string, unknown>).type, 'Object.prototype.type').to.equal(undefined);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(PROTOTYPE_KEYS_BEFORE);
  expect((Array.prototype as unknown as Record<string, unknown>).polluted).to.equal(undefined);
}

/** Own properties even for "__proto__": what JSON.parse produces for such a key. */
function hostile(json: string): Record<string, unknown> {
  return JSON.parse(json);
}

function generators(rng: () => number) {
  const int = (n: number) => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number) => rng() < p;
  const put = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  const str = (max: number) => {
    let s = '';
    for (let n = int(max + 1); n > 0; n--) {
      s += pick([
        () => String.fromCharCode(0x20 + int(95)),
        () => pick(['😀', '👩‍👩‍👧', '\u202E', 'ש', 'م', '\u0000', '\uFEFF', '"', '\\']),
        () => String.fromCharCode(0xd800 + int(0x800)),
      ])();
    }
    return s;
  };
  const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', '', 'type', 'email', 'id', 'created_at', '$.x'];
  const value = (depth: number): unknown => {
    switch (int(depth >= 3 ? 7 : 10)) {
      case 0: return null;
      case 1: return undefined;
      case 2: return chance(0.5);
      case 3: return pick([0, -0, -1, 1.5, 1e308, NaN, Infinity, 2 ** 53 + 1, 1710506096789]);
      case 4: return pick(['2024-03-15T12:34:56.789Z', 'not a date', '1710506096', '', 'true', '{"a":1}']);
      case 5: case 6: return str(16);
      case 7: return Array.from({ length: int(4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = int(5); i > 0; i--) put(o, chance(0.3) ? pick(KEYS) : str(6), value(depth + 1));
        return o;
      }
    }
  };
  return { int, pick, chance, str, value, put };
}

describe('fuzz: publish()', function () {
  this.timeout(scale(60_000, 600_000));
  let redis: TestQueues;
  before(async () => {
    redis = await openTestQueues();
  });
  after(async () => redis && (await redis.close()));

  async function jobCount(actions: readonly ActionKey[] = ACTION_KEYS): Promise<number> {
    let n = 0;
    for (const a of actions) {
      n += (await itemJobs(redis.queues[a])).length; // items: a job carries a group of events
    }
    return n;
  }

  it('gives one result per event, reports each invalid event with an error naming it, and queues exactly the valid ones', async () => {
    const seed = seedFor('publish() fuzz', 'FUZZ_SEED');
    const g = generators(seededRandom(seed));
    const producer = new Producer({ queues: redis.queues, redis: redis.redis, queuePrefix: redis.prefix, subscriptions: compileSubscriptions(onePerType()), policy: DEFAULTS.jobs });
    const calls = scale(300, 3000);
    const expectedJobs = new Set<string>();
    let seq = 0;
    const failures: string[] = [];

    for (let call = 0; call < calls; call++) {
      const events: unknown[] = [];
      const valid: boolean[] = [];
      for (let i = 1 + g.int(10); i > 0; i--) {
        const e: Record<string, unknown> = {};
        let ok = true;
        const roll = g.int(100);
        if (roll < 93) e.type = g.pick(EVENT_TYPES);
        else if (roll < 96) ok = false;
        else {
          e.type = g.pick([5, 'Track', {}, ['track'], null, undefined, true]);
          ok = false;
        }
        const idRoll = g.int(100);
        if (idRoll < 85) e.messageId = `pub-${seed}-${++seq}`;
        else if (idRoll < 90) {
          // A number, or a string with a lone surrogate: either could merge with another id (issue 18 point 1).
          e.messageId = g.pick([2_000_000_000 + ++seq, `pub-\udc00-${++seq}`]);
          ok = false;
        }
        else if (idRoll < 97) e.messageId = g.pick([undefined, null, '']);
        else {
          e.messageId = g.pick([{}, [], true, () => 'x']);
          ok = false;
        }
        for (const f of ['userId', 'anonymousId', 'event', 'name', 'groupId', 'previousId', 'timestamp', 'properties', 'traits', 'context', 'sentAt', 'originalTimestamp']) {
          if (g.chance(0.4)) e[f] = g.value(0);
        }
        if (g.chance(0.1)) g.put(e, g.pick(['__proto__', 'constructor', 'prototype']), g.value(1));
        if (g.chance(0.02)) {
          events.push(g.pick([null, undefined, 5, 'track', [], [e]]));
          valid.push(false);
        } else {
          events.push(g.chance(0.05) ? Object.assign(Object.create(null), e) : e);
          valid.push(ok);
        }
      }
      let results;
      try {
        results = await producer.publish(events as SegmentEvent[]); // some are not events at all: that is the point
      } catch (err) {
        failures.push(`call ${call}: publish threw ${(err as Error).name}: ${(err as Error).message}`);
        continue;
      }
      if (results.length !== events.length) failures.push(`call ${call}: ${results.length} results for ${events.length} events`);
      results.forEach((r, i) => {
        if (valid[i]) {
          if (r.error !== undefined || r.fired.length !== 1) failures.push(`call ${call} event ${i}: expected queued, got ${JSON.stringify(r)}`);
          const e = events[i] as Record<string, unknown>;
          const mid = e.messageId;
          expectedJobs.add(`${e.type}|${mid === undefined || mid === null || mid === '' ? r.messageId : String(mid)}`);
        } else if (typeof r.error !== 'string' || !r.error.startsWith(`event ${i} `) || r.fired.length !== 0) {
          failures.push(`call ${call} event ${i}: expected an error naming event ${i}, got ${JSON.stringify(r)}`);
        }
      });
    }
    expect(failures.slice(0, 20), `${failures.length} failures (seed ${seed})`).to.deep.equal([]);
    expect(await jobCount(Object.values(ONE_PER_TYPE)), `jobs (seed ${seed})`).to.equal(expectedJobs.size);
    noPollution();
  });

  it('never throws for one bad event: one too deep, circular, holding a BigInt, or with an impossible clock skew is reported in its result, and the others are queued', async () => {
    const producer = new Producer({ queues: redis.queues, redis: redis.redis, queuePrefix: redis.prefix, subscriptions: compileSubscriptions(onePerType()), policy: DEFAULTS.jobs });
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    const circular: Record<string, unknown> = { type: 'track', event: 'c', userId: 'u', messageId: 'circ-1' };
    circular.self = circular;
    const cases: Array<[string, unknown]> = [
      ['nested 10 000 levels deep', { type: 'track', event: 'd', userId: 'u', messageId: 'deep-1', properties: deep }],
      ['circular', circular],
      ['holding a BigInt', { type: 'track', event: 'b', userId: 'u', messageId: 'big-1', properties: { n: BigInt(10) } }],
      // receivedAt - (sentAt - originalTimestamp) falls outside the Date range: queued with receivedAt, or refused.
      ['with sentAt and originalTimestamp at the ends of the Date range', { type: 'track', event: 's', userId: 'u', messageId: 'skew-1', sentAt: '+275760-09-13T00:00:00.000Z', originalTimestamp: '-271821-04-20T00:00:00.000Z' }],
    ];
    const mayBeAccepted = new Set(['with sentAt and originalTimestamp at the ends of the Date range']);
    const problems: string[] = [];
    for (const [label, bad] of cases) {
      await redis.empty();
      const good = { type: 'track', event: 'fine', userId: 'u', messageId: `good-beside-${label}` };
      try {
        const results = await producer.publish([good, bad] as SegmentEvent[]);
        if (results[0].error !== undefined) problems.push(`${label}: the valid neighbour was refused: ${results[0].error}`);
        const accepted = mayBeAccepted.has(label) && results[1].error === undefined;
        if (!accepted && (typeof results[1].error !== 'string' || !results[1].error.startsWith('event 1 '))) {
          problems.push(`${label}: expected an error for event 1, got ${JSON.stringify(results[1])}`);
        }
        const queued = (await itemJobs(redis.queues.trackEvent)).length;
        if (queued !== (accepted ? 2 : 1)) problems.push(`${label}: ${queued} jobs queued, expected ${accepted ? 2 : 1}`);
      } catch (err) {
        problems.push(`${label}: publish() threw ${(err as Error).name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    expect(problems).to.deep.equal([]);
  });
});

describe('fuzz: events with hostile keys and random values, through the workers', function () {
  this.timeout(scale(60_000, 600_000));
  let p: Pipeline | undefined;
  afterEach(async () => p && (await p.close()));

  it('every job ends completed or failed with a reason that names the problem (no crash), and nothing pollutes Object.prototype', async () => {
    const seed = seedFor('worker fuzz', 'FUZZ_SEED');
    const g = generators(seededRandom(seed));
    // The 15 presets: every action's mapping and builder sees the events.
    p = await startPipeline({ jobs: { attempts: 2 } });
    const presetEvents = [
      'Device Created or Updated', 'Device Deleted', 'Relationship Deleted', 'User Deleted', 'User Suppressed', 'User Unsuppressed',
      'Object Deleted', 'Report Delivery Event', 'Report Content Event', 'Application Installed', 'Order Completed',
    ];
    const events: Record<string, unknown>[] = [];
    // Hand-written pollution attempts in every part of an event.
    for (const type of EVENT_TYPES) {
      events.push(hostile(`{"type":"${type}","userId":"u-${type}","messageId":"proto-${seed}-${type}","event":"Order Completed","groupId":"g1","previousId":"p1",
        "__proto__":{"polluted":"event"},"constructor":{"prototype":{"polluted":"ctor"}},
        "properties":{"__proto__":{"polluted":"properties"},"constructor":{"prototype":{"polluted":"p"}},"prototype":{"polluted":1},"deliveryId":"d1","metric":"opened","device":{"token":"t","type":"ios"}},
        "traits":{"__proto__":{"polluted":"traits"},"email":"a@example.com","constructor":{"prototype":{"polluted":"t"}},"object_type_id":"1"},
        "context":{"__proto__":{"polluted":"context"},"device":{"__proto__":{"polluted":1},"token":"tok"},"traits":{"__proto__":{"polluted":1}}}}`));
    }
    for (let i = 0; i < scale(400, 4000); i++) {
      const e: Record<string, unknown> = { type: g.pick(EVENT_TYPES), messageId: `wf-${seed}-${i}` };
      if (g.chance(0.8)) e.userId = g.chance(0.8) ? `u-${g.int(50)}` : g.value(0);
      if (g.chance(0.3)) e.anonymousId = g.value(0);
      e.event = g.chance(0.5) ? g.pick(presetEvents) : g.value(0);
      for (const f of ['name', 'groupId', 'previousId', 'timestamp', 'properties', 'traits', 'context']) if (g.chance(0.5)) e[f] = g.value(0);
      if (g.chance(0.2)) e.timestamp = g.pick(EXTREME_DATES);
      if (g.chance(0.3)) e.properties = { deliveryId: g.value(2), metric: g.pick(['opened', 'clicked', g.str(5)]), device: g.value(1), ...(g.value(1) as object) };
      if (g.chance(0.1)) g.put(e, g.pick(['__proto__', 'constructor', 'prototype']), g.value(1));
      events.push(e);
    }
    const results = await p.producer.publish(events);
    expect(results.filter((r) => r.error)).to.deep.equal([]);
    await p.settled(undefined, scale(45_000, 500_000));
    noPollution();

    const crashes: string[] = [];
    let completed = 0;
    let failed = 0;
    for (const action of ACTION_KEYS) {
      for (const job of await p.jobs(action)) {
        const state = await job.getState();
        if (state === 'completed') completed++;
        else if (state === 'failed') {
          failed++;
          const reason = job.failedReason ?? '';
          if (reason === '' || /TypeError|ReferenceError|RangeError|Cannot read prop|is not a function|is not iterable|undefined is not|Maximum call stack|\[object Object\]/.test(reason)) {
            crashes.push(`${action} ${job.data.event.messageId}: ${reason || '(no reason)'}`);
          }
        } else crashes.push(`${action} ${job.data.event.messageId}: left ${state}`);
      }
    }
    // eslint-disable-next-line no-console
    console.log(`      ${events.length} events → ${completed} jobs completed, ${failed} failed with a reason`);
    expect(crashes.slice(0, 20), `${crashes.length} jobs without a proper outcome (seed ${seed})`).to.deep.equal([]);
    expect(completed, 'some items were delivered').to.be.greaterThan(0);
  });
});
