// `npm run bench:order-book`: the Redis CPU the order book's scripts (src/redis/order-book.ts) take per
// entry, next to a floor in the same run: a script that does only the one native command per entry any
// per-item book in Redis needs (HSETNX to place, HGET to ask, HDEL to let go), on the same keys.
//
//   node dist-bench/bench/order-book.js [--items 20000] [--rounds 6] [--persons 20000]
//
// --items is rounded to whole pairs of jobs (100 items). Traffic like the end-to-end bench's: jobs of 50
// items, a fifth of the jobs identifies (an operation on a person's id and anonymous id), the rest tracks
// (an event on the id), persons drawn over --persons. Each
// round places every item (two jobs per call, like a group commit), asks for a quarter of them (calls of
// 100), then lets every job's items go (one call per job), and reads Redis's own CPU time for the scripts
// from INFO commandstats around each step. Other clients of the same Redis add to those figures: run it
// on a Redis nothing else uses. Rounds alternate which side goes first; the medians are shown.

import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { DEFAULTS } from '../src/config';
import { infoFields, median, table } from './shared';
import { OrderBook, placeOf, removeOrderBook, type EntryRef, type ToRegister } from '../src/redis/order-book';
import type { OrderKind } from '../src/core/order/rule';

const REDIS_URL = process.env.REDIS_URL || DEFAULTS.redis.url;
const JOB_ITEMS = 50;

interface Options {
  items: number;
  rounds: number;
  persons: number;
}

/** µs of Redis CPU per entry of each step. */
interface Step {
  place: number;
  ask: number;
  letGo: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { items: 20_000, rounds: 6, persons: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    const positive = () => {
      if (!Number.isInteger(value) || value <= 0) throw new Error(`${argv[i]} needs a positive whole number, got "${argv[i + 1] ?? ''}"`);
      i++;
      return value;
    };
    if (argv[i] === '--items') opts.items = Math.max(JOB_ITEMS * 2, Math.round(positive() / (JOB_ITEMS * 2)) * JOB_ITEMS * 2);
    else if (argv[i] === '--rounds') opts.rounds = positive();
    else if (argv[i] === '--persons') opts.persons = positive();
    else throw new Error(`unknown option ${argv[i]}: use --items N, --rounds N, --persons N`);
  }
  return opts;
}

/** The items of one round, job by job: every fifth job identifies, the others track. */
function jobsOf(opts: Options, round: number): ToRegister[][] {
  const jobs: ToRegister[][] = [];
  let n = round * opts.items;
  for (let j = 0; j < opts.items / JOB_ITEMS; j++) {
    const identify = j % 5 === 0;
    const kind: OrderKind = identify ? 'operation' : 'event';
    const holder = `A${round.toString(36)}j${j.toString(36)}bench`;
    jobs.push(
      Array.from({ length: JOB_ITEMS }, () => {
        const person = (n++ * 7919) % opts.persons;
        return { keys: identify ? [`id:u${person}`, `anonymous_id:a${person}`] : [`id:u${person}`], kind, holder };
      }),
    );
  }
  return jobs;
}

/** Redis's CPU time for EVAL and EVALSHA so far (µs): the scripts' time, the commands they call included. */
async function scriptMicros(redis: IORedis): Promise<number> {
  const stats = infoFields(await redis.info('commandstats'));
  const usec = (stat: string | undefined) => Number(/usec=(\d+)/.exec(stat ?? '')?.[1] ?? 0);
  return usec(stats.cmdstat_eval) + usec(stats.cmdstat_evalsha);
}

async function measured(redis: IORedis, step: () => Promise<unknown>, entries: number): Promise<number> {
  const before = await scriptMicros(redis);
  await step();
  return ((await scriptMicros(redis)) - before) / entries;
}

/** The order book's own scripts. */
async function bookRound(redis: IORedis, prefix: string, jobs: ToRegister[][]): Promise<Step> {
  const book = new OrderBook(redis, prefix);
  const places: EntryRef[][][] = [];
  const entries = jobs.flat().reduce((sum, item) => sum + item.keys.length, 0);
  const place = await measured(
    redis,
    async () => {
      for (let j = 0; j < jobs.length; j += 2) {
        const pair = [...jobs[j], ...jobs[j + 1]];
        const tickets = await book.register(pair);
        const refs = pair.map((item, i) => item.keys.map((key, k) => ({ key, ticket: tickets[i][k] })));
        places.push(refs.slice(0, JOB_ITEMS), refs.slice(JOB_ITEMS));
      }
    },
    entries,
  );
  const asked = places.flat().filter((_, i) => i % 4 === 0);
  const ask = await measured(
    redis,
    async () => {
      for (let i = 0; i < asked.length; i += 100) await book.gate(asked.slice(i, i + 100), [jobs[0][0].holder]);
    },
    asked.flat().length,
  );
  const letGo = await measured(
    redis,
    async () => {
      for (let j = 0; j < jobs.length; j++) await book.settle(places[j].flat().map((entry) => ({ op: 'removeOrphan' as const, entry, holder: jobs[j][0].holder })));
    },
    entries,
  );
  await removeOrderBook(redis, prefix);
  return { place, ask, letGo };
}

// The floor: one native command per entry, called from a script that reads the same kind of packed
// argument (bucket key and field per entry), on the book's own layout of keys.
const FLOOR_SCRIPT = `
local cmd, out = ARGV[1], 0
for i = 2, #ARGV, 3 do
  if cmd == 'HSETNX' then out = out + redis.call('HSETNX', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  elseif cmd == 'HGET' then if redis.call('HGET', ARGV[i], ARGV[i + 1]) then out = out + 1 end
  else out = out + redis.call('HDEL', ARGV[i], ARGV[i + 1]) end
end
return out
`;

async function floorRound(redis: IORedis, prefix: string, jobs: ToRegister[][]): Promise<Step> {
  const argsOf = (items: ToRegister[]) =>
    items.flatMap((item) =>
      item.keys.flatMap((key) => {
        const at = placeOf(key);
        return [`${prefix}:{order${at.group}}:b${at.bucket}`, at.field, `;1${item.kind === 'event' ? '.' : '!'}${item.holder}`];
      }),
    );
  const entries = jobs.flat().reduce((sum, item) => sum + item.keys.length, 0);
  const run = async (cmd: string, calls: ToRegister[][]) => {
    for (const items of calls) await redis.eval(FLOOR_SCRIPT, 0, cmd, ...argsOf(items));
  };
  const pairs = Array.from({ length: jobs.length / 2 }, (_, p) => [...jobs[2 * p], ...jobs[2 * p + 1]]);
  const asked = jobs.flat().filter((_, i) => i % 4 === 0);
  const askedCalls = Array.from({ length: Math.ceil(asked.length / 100) }, (_, c) => asked.slice(c * 100, (c + 1) * 100));
  const place = await measured(redis, () => run('HSETNX', pairs), entries);
  const ask = await measured(redis, () => run('HGET', askedCalls), asked.reduce((sum, item) => sum + item.keys.length, 0));
  const letGo = await measured(redis, () => run('HDEL', jobs), entries);
  await removeOrderBook(redis, prefix);
  return { place, ask, letGo };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const prefix = `cio-bench-${randomBytes(4).toString('hex')}`;
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  console.log(`order book scripts  ${new Date().toISOString()}`);
  console.log(`redis               ${REDIS_URL}, Redis ${version}; keys under ${prefix}:*`);
  console.log(`traffic             ${opts.items} items per round in jobs of ${JOB_ITEMS} (a fifth of the jobs identifies: two keys per item), ${opts.persons} persons, ${opts.rounds} rounds\n`);
  const book: Step[] = [];
  const floor: Step[] = [];
  try {
    // Warm-up: the scripts loaded and Redis's allocator settled, not counted.
    await bookRound(redis, prefix, jobsOf(opts, opts.rounds));
    for (let round = 0; round < opts.rounds; round++) {
      const jobs = jobsOf(opts, round);
      if (round % 2 === 0) {
        book.push(await bookRound(redis, prefix, jobs));
        floor.push(await floorRound(redis, prefix, jobs));
      } else {
        floor.push(await floorRound(redis, prefix, jobs));
        book.push(await bookRound(redis, prefix, jobs));
      }
    }
  } finally {
    await removeOrderBook(redis, prefix);
    redis.disconnect();
  }
  const row = (label: string, key: keyof Step) => {
    const b = median(book.map((s) => s[key]));
    const f = median(floor.map((s) => s[key]));
    return [label, b.toFixed(2), f.toFixed(2), `${(b / f).toFixed(2)} x`];
  };
  const rows = [
    ['Redis CPU per entry (µs), medians', 'order book', 'floor (one command)', 'book vs floor'],
    row('place (floor: HSETNX)', 'place'),
    row('ask (floor: HGET)', 'ask'),
    row('let go (floor: HDEL)', 'letGo'),
  ];
  console.log(table(rows));
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
