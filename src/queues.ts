// The one module that owns Redis: connections, queue names and keys, job ids and job options.
//
// One BullMQ queue per action type. Each queue's keys carry the action as a Redis Cluster hash tag
// (`cio:{trackEvent}:trackEvent:wait`), so a queue's keys share one slot (BullMQ's scripts need that) while
// different queues spread over the cluster.

import { Queue, type Job, type JobsOptions, type WorkerOptions } from 'bullmq';
import IORedis, { Cluster, type RedisOptions } from 'ioredis';
import { parseSeriesKey, PartialWriteError, seriesKey, type CounterStore, type CountIncrement, type CountTotal, type OnceIncrement, type OnceMark } from './tally';
import { ACTION_KEYS, type ActionKey } from './types';
import type { AnyJobData } from './jobs/group';

export type RedisConnection = IORedis | Cluster;

/** What a job carries: a group of events for one subscription (jobs/group.ts). */
export type JobData = AnyJobData;

export interface RedisSettings {
  redisUrl: string;
  redisClusterNodes?: string[];
}

/**
 * `producer`: commands fail at once while Redis is unreachable (the API answers 503 and clients retry).
 * `worker`: commands wait for the connection to come back, as BullMQ's blocking workers require.
 */
export function connectRedis(settings: RedisSettings, role: 'producer' | 'worker'): RedisConnection {
  const roleOptions: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { maxRetriesPerRequest: null, connectTimeout: 5000 };
  const retryStrategy = (times: number) => Math.min(times * 200, 2000);
  if (settings.redisClusterNodes && settings.redisClusterNodes.length > 0) {
    const url = new URL(settings.redisUrl);
    const redisOptions: RedisOptions = {
      ...roleOptions,
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
    };
    return new Cluster(
      settings.redisClusterNodes.map((node) => {
        const [host, port] = node.split(':');
        return { host, port: Number(port || 6379) };
      }),
      {
        redisOptions,
        enableOfflineQueue: roleOptions.enableOfflineQueue ?? true,
        clusterRetryStrategy: retryStrategy,
      },
    );
  }
  return new IORedis(settings.redisUrl, { ...roleOptions, retryStrategy, lazyConnect: false });
}

/** Resolves once Redis answers PING; otherwise rejects with a message that says how to get one running. */
export async function waitForRedis(connection: RedisConnection, where: string, timeoutMs = 5000): Promise<void> {
  let lastError = `no answer within ${timeoutMs} ms`;
  const onError = (err: Error) => {
    lastError = err.message || (err as NodeJS.ErrnoException).code || String(err);
  };
  connection.on('error', onError);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (connection.status === 'ready') {
        try {
          await connection.ping();
          return;
        } catch (err) {
          onError(err as Error);
        }
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    connection.off('error', onError);
  }
  throw new Error(
    [
      `Cannot reach Redis at ${where} (${lastError}).`,
      'Start one with `redis-server --appendonly yes` on this machine, or `docker run -d -p 6379:6379 redis:7-alpine`,',
      'or point REDIS_URL at yours (redis://user:password@host:6379, rediss:// for TLS).',
    ].join('\n'),
  );
}

/** Per-queue key prefix: the action in braces is the Redis Cluster hash tag. */
export function queuePrefix(basePrefix: string, action: ActionKey): string {
  return `${basePrefix}:{${action}}`;
}

export type Queues = Record<ActionKey, Queue<JobData>>;

export function createQueues(connection: RedisConnection, basePrefix: string): Queues {
  const queues = {} as Queues;
  for (const action of ACTION_KEYS) {
    queues[action] = new Queue<JobData>(action, { connection, prefix: queuePrefix(basePrefix, action) });
  }
  return queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

export interface JobPolicy {
  attempts: number;
  backoffMs: number;
  completedRetentionSeconds: number;
  completedRetentionCount: number;
  failedRetentionSeconds: number;
}

/**
 * What each job carries: attempts and backoff for a job whose run fails as a whole (Redis away while its
 * items' new jobs are written, an internal error; an item's own retries are counted in its data, see
 * worker/settle.ts), and how long it stays once failed. How long it stays once
 * completed is set on the workers (completedRetention), so the record of every job is smaller to write
 * and read; a failed job keeps its own, because BullMQ also fails jobs outside a worker's hands (one
 * that stalled too often) and then reads only the job's options.
 */
export function jobOptions(policy: JobPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    removeOnFail: { age: policy.failedRetentionSeconds },
  };
}

/** How long completed jobs stay in Redis (the dashboard, and dedupe by job id): a worker option. */
export function completedRetention(
  policy: Pick<JobPolicy, 'completedRetentionSeconds' | 'completedRetentionCount'>,
): Pick<WorkerOptions, 'removeOnComplete'> {
  return { removeOnComplete: { age: policy.completedRetentionSeconds, count: policy.completedRetentionCount } };
}

// BullMQ 6 counts the jobs of a paused queue as waiting; it has no 'paused' state any more.
export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;

/** Job counts by action and state, for metrics and `stats`. */
export async function queueDepth(queues: Queues): Promise<Array<{ action: ActionKey; state: string; count: number }>> {
  const rows = await Promise.all(
    ACTION_KEYS.map(async (action) => {
      const counts = await queues[action].getJobCounts(...JOB_STATES);
      return JOB_STATES.map((state) => ({ action, state, count: counts[state] ?? 0 }));
    }),
  );
  return rows.flat();
}

/**
 * A cap on requests per second to Customer.io shared by every worker: a counter per second in Redis.
 * Returns a function that resolves when a request may go.
 */
export function createRequestLimiter(connection: RedisConnection, basePrefix: string, maxPerSecond: number): () => Promise<void> {
  return async function acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const key = `${basePrefix}:{request-rate}:${Math.floor(now / 1000)}`;
      const [[, count]] = (await connection.multi().incr(key).expire(key, 5).exec()) as [[Error | null, number]];
      if (count <= maxPerSecond) return;
      await new Promise((resolve) => setTimeout(resolve, 1000 - (now % 1000) + Math.floor(Math.random() * 20)));
    }
  };
}

// ---------------------------------------------------------------------------------------------------
// The counts behind the cio_* counters (metrics.ts, tally.ts), shared by every process of a deployment.
//
// Counts of an action live in a hash in that action's slot (`cio:{trackEvent}:counts`), beside its jobs,
// so one script can mark a job as counted and add its count atomically, in a cluster too. Counts
// without an action (events received and filtered) live in `cio:{counts}`.

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

function countsKey(basePrefix: string, action: string | undefined): string {
  return action && (ACTION_KEYS as readonly string[]).includes(action) ? `${queuePrefix(basePrefix, action as ActionKey)}:counts` : `${basePrefix}:{counts}`;
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
