// Reading a queue's job counts without BullMQ's Queue: opening a Queue writes its meta key (and a
// mistyped QUEUE_PREFIX would leave 15 of them behind), and a command that only looks must change nothing.
// Each state is one list or sorted set of BullMQ's key layout (<queue prefix>:<queue name>:<state>), read
// with LLEN or ZCARD, the same figures Queue.getJobCounts returns; a paused queue has `paused` in its meta (BullMQ 6 keeps
// its jobs in the wait list: there is no paused state any more).

import type { RedisConnection } from '../redis/connection';
import { serversOf } from '../redis/health/info';
import { ALL_JOB_STATES, JOB_STATES, queueKey, type JobState } from '../redis/keys';
import { ACTION_KEYS, type ActionKey } from '../core/types';


export interface QueueReading {
  /** Whether BullMQ ever opened this queue (its meta key exists). */
  exists: boolean;
  paused: boolean;
  counts: Record<JobState, number>;
}

/** One queue's counts, with read-only commands in one round trip (the keys share a cluster slot). */
export async function readQueue(redis: RedisConnection, basePrefix: string, action: ActionKey): Promise<QueueReading> {
  const meta = queueKey(basePrefix, action, 'meta');
  const pipeline = redis.pipeline().exists(meta).hexists(meta, 'paused');
  for (const state of ALL_JOB_STATES) {
    const { key, kind } = JOB_STATES[state];
    if (kind === 'list') pipeline.llen(queueKey(basePrefix, action, key));
    else pipeline.zcard(queueKey(basePrefix, action, key));
  }
  const results = (await pipeline.exec()) ?? [];
  const values = results.map(([err, value]) => {
    if (err) throw err;
    return Number(value);
  });
  const counts = {} as Record<JobState, number>;
  ALL_JOB_STATES.forEach((state, i) => (counts[state] = values[2 + i]));
  return { exists: values[0] === 1, paused: values[1] === 1, counts };
}

export async function readQueues(redis: RedisConnection, basePrefix: string): Promise<Record<ActionKey, QueueReading>> {
  const readings = await Promise.all(ACTION_KEYS.map((action) => readQueue(redis, basePrefix, action)));
  return Object.fromEntries(ACTION_KEYS.map((action, i) => [action, readings[i]])) as Record<ActionKey, QueueReading>;
}

/** The pattern that finds every prefix's trackEvent queue, for `redis-cli --scan --pattern`. */
export const PREFIX_PATTERN = '*:{trackEvent}:trackEvent:meta';

/** The queue prefixes present in Redis (every node of a cluster), found by SCAN, at most `limit`. */
export async function findPrefixes(redis: RedisConnection, limit = 1000): Promise<string[]> {
  const suffix = PREFIX_PATTERN.slice(1);
  const nodes = serversOf(redis);
  const found = new Set<string>();
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', PREFIX_PATTERN, 'COUNT', 1000);
      for (const key of keys) found.add(key.slice(0, -suffix.length));
      cursor = next;
    } while (cursor !== '0' && found.size < limit);
  }
  return [...found].sort();
}
