// The counts behind the cio_* counters (metrics.ts, tally.ts), stored in Redis and shared by every process
// of a deployment.
//
// Counts of an action live in a hash in that action's slot (`cio:{trackEvent}:counts`), beside its jobs,
// so one script can mark a job as counted and add its count atomically, in a cluster too. Counts
// without an action (events received and filtered) live in `cio:{counts}`.
//
// A worker's counts go over its 'worker' connection (redis/connection.ts: maxRetriesPerRequest null), on
// which a write waits for Redis to come back instead of failing: that is what makes "a job's counts are
// stored before it moves on" hold through an outage.

import type { Job } from 'bullmq';
import { ACTION_KEYS, type ActionKey } from '../core/types';
import type { RedisConnection } from '../redis/connection';
import { queuePrefix } from '../redis/keys';
import { parseSeriesKey, PartialWriteError, seriesKey, type CounterStore, type CountIncrement, type CountTotal, type OnceIncrement, type OnceMark } from './tally';

/**
 * Adds counts. Each `once` count (series, mark kind, mark value, amount: a group job counts all its
 * delivered items at once) follows tally.ts's `countsOnce` rule against the mark kept in its job's hash
 * (field cioCounted.final or cioCounted.attempt), and leaves its own value there. A job that is gone is
 * counted without a mark.
 */
const COUNT_SCRIPT = `
local counts = KEYS[1]
local onceCount = tonumber(ARGV[1])
local arg = 2
local sums = {}
for k = 1, onceCount do
  local jobKey = KEYS[k + 1]
  local series, kind, value, amount = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], tonumber(ARGV[arg + 3])
  arg = arg + 4
  local count = true
  if redis.call('EXISTS', jobKey) == 1 then
    local field = 'cioCounted.' .. kind
    -- The usual case, a first mark, costs one command.
    if redis.call('HSETNX', jobKey, field, value) == 0 then
      local previous = tonumber(redis.call('HGET', jobKey, field))
      if kind == 'final' then count = tonumber(value) <= previous else count = tonumber(value) ~= previous end
      redis.call('HSET', jobKey, field, value)
    end
  end
  if count then sums[series] = (sums[series] or 0) + amount end
end
while arg < #ARGV do
  sums[ARGV[arg]] = (sums[ARGV[arg]] or 0) + tonumber(ARGV[arg + 1])
  arg = arg + 2
end
for series, n in pairs(sums) do redis.call('HINCRBY', counts, series, n) end
return 1
`;

const COUNTED_FIELDS = ['cioCounted.final', 'cioCounted.attempt'];

type CountingConnection = RedisConnection & {
  cioCount(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
};

export function countsKey(basePrefix: string, action: string | undefined): string {
  return action && (ACTION_KEYS as readonly string[]).includes(action) ? `${queuePrefix(basePrefix, action as ActionKey)}:counts` : `${basePrefix}:{counts}`;
}

/**
 * Where a producer's write counts its items in the same step as it stores them (jobs/writer.ts): the
 * action's counts hash (in the queue's slot), and the series of cio_items_enqueued_total and
 * cio_events_deduplicated_total for the action.
 */
export function writeCounts(basePrefix: string, action: ActionKey): { key: string; enqueued: string; deduplicated: string } {
  return {
    key: countsKey(basePrefix, action),
    enqueued: seriesKey('cio_items_enqueued_total', { action }),
    deduplicated: seriesKey('cio_events_deduplicated_total', { action }),
  };
}

function jobKeyOf(job: Job): string {
  return `${job.queueQualifiedName}:${job.id}`;
}

/** Every counts hash under a prefix: one per action queue, and the one for counts without an action. */
function allCountsKeys(basePrefix: string): string[] {
  return [...ACTION_KEYS.map((action) => countsKey(basePrefix, action)), countsKey(basePrefix, undefined)];
}

/** The mark that counts this run's outcome of the job once (tally.ts, OnceMark). */
export function countFinalOnce(job: Job): OnceMark {
  return { jobKey: jobKeyOf(job), kind: 'final', value: job.stalledCounter ?? 0 };
}

/** The mark that counts a retry of this attempt of the job once. */
export function countAttemptOnce(job: Job): OnceMark {
  return { jobKey: jobKeyOf(job), kind: 'attempt', value: job.attemptsMade };
}

/**
 * Before a job is sent round again with its attempts reset (replay): forgets its marks, so that its new
 * attempts count from the first.
 */
export async function forgetCounted(connection: RedisConnection, job: Job): Promise<void> {
  await connection.hdel(jobKeyOf(job), ...COUNTED_FIELDS);
}

export function redisCounterStore(connection: RedisConnection, basePrefix: string): CounterStore {
  const counting = connection as CountingConnection;
  if (typeof counting.cioCount !== 'function') connection.defineCommand('cioCount', { lua: COUNT_SCRIPT });

  return {
    async add(plain, once) {
      const groups = new Map<string, { plain: CountIncrement[]; once: OnceIncrement[] }>();
      const groupOf = (inc: CountIncrement) => {
        const key = countsKey(basePrefix, inc.labels.action);
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { plain: [], once: [] }));
        return group;
      };
      for (const inc of plain) groupOf(inc).plain.push(inc);
      for (const inc of once) groupOf(inc).once.push(inc);

      const results = await Promise.allSettled(
        [...groups].map(([key, group]) => {
          const keys = [key, ...group.once.map((inc) => inc.once.jobKey)];
          const args: Array<string | number> = [group.once.length];
          for (const inc of group.once) args.push(seriesKey(inc.name, inc.labels), inc.once.kind, inc.once.value, inc.value);
          for (const inc of group.plain) args.push(seriesKey(inc.name, inc.labels), inc.value);
          return counting.cioCount(keys.length, ...keys, ...args);
        }),
      );
      const failed = [...groups.values()].filter((_, i) => results[i].status === 'rejected');
      if (failed.length === 0) return;
      const cause = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      throw new PartialWriteError(failed.flatMap((g) => g.plain), failed.flatMap((g) => g.once), cause);
    },

    async read() {
      const keys = allCountsKeys(basePrefix);
      const hashes = await Promise.all(keys.map((key) => connection.hgetall(key)));
      const totals: CountTotal[] = [];
      for (const hash of hashes) {
        for (const [field, value] of Object.entries(hash)) {
          const series = parseSeriesKey(field);
          if (series) totals.push({ ...series, value: Number(value) });
        }
      }
      return totals;
    },
  };
}

/** Removes the counts kept under a prefix (tests, the benchmark, the demo: what obliterate does not remove). */
export async function removeCounts(connection: RedisConnection, basePrefix: string): Promise<void> {
  const keys = allCountsKeys(basePrefix);
  await Promise.all(keys.map((key) => connection.del(key)));
}
