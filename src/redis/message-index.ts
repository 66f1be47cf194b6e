// The message index: for each (subscription, messageId) queued within the window, the job that holds the
// event now. It is what makes a re-sent event queue once (dedupe), and what `cio-relay trace` reads.
//
// Layout, chosen for memory (one entry per event and subscription is the largest cost per event once
// events are grouped and compressed): one Redis hash per action queue and time bucket,
// `<prefix>:{<action>}:seen:<bucket>`, in the queue's own cluster slot; field = the first 12 bytes of
// SHA-1(subscription NUL messageId), value = the job id and when it was written. A bucket is `windowSeconds` long and lives for two
// windows; a lookup reads the current and the previous bucket, so an event is recognised for at least one
// whole window after it was queued (and at most two). An item that moves to another job (a retry, a
// refused item) is written again in the current bucket, so one that keeps hopping stays known.
//
// Collisions: two different events share a field only if 96 bits of SHA-1 agree. With a billion events
// in one window the chance that any two collide is about 6e-12; a collision would make the second event
// look like a re-send of the first. We accept that figure. A probabilistic filter with false positives
// (a Bloom filter) would not be acceptable: it drops events.

import { createHash } from 'node:crypto';
import type { RedisConnection } from './connection';

/** Bytes of the hashed id kept per entry. */
const FIELD_BYTES = 12;

export function indexField(subscription: string, messageId: string): string {
  return createHash('sha1').update(subscription).update('\u0000').update(messageId).digest().subarray(0, FIELD_BYTES).toString('base64url');
}

export interface IndexBuckets {
  current: string;
  previous: string;
  /** Seconds the current bucket must live: until the end of the next window. */
  ttlSeconds: number;
}

/** Pure: the bucket keys of a queue at a time. */
export function bucketsAt(queueKeyPrefix: string, windowSeconds: number, nowMs: number): IndexBuckets {
  const window = Math.max(1, Math.floor(windowSeconds));
  const bucket = Math.floor(nowMs / 1000 / window);
  const endOfNext = (bucket + 2) * window;
  return {
    current: `${queueKeyPrefix}:seen:${bucket}`,
    previous: `${queueKeyPrefix}:seen:${bucket - 1}`,
    ttlSeconds: Math.max(1, Math.ceil(endOfNext - nowMs / 1000)),
  };
}

// An entry's value: the id of the job that holds the event (an earlier version added `@<ms>`; still read).
//
// Claims the fields for job ARGV[1]; returns the 1-based positions of the fields it claimed. A field is
// taken (a re-send, left out) when its entry names ARGV[1] itself (the same event twice in one write) or a
// job that is in Redis. An entry whose job is not in Redis is taken over, whatever its age: that job is
// being written right now by another request (another replica, a slow write), or it never reached Redis
// (Redis went away before the rollback ran). Two jobs may then carry the event for a moment; the worker
// settles it (OWNERS_SCRIPT), so no clock decides. Re-sends found are counted in the counts hash KEYS[3]
// under series ARGV[4] (none when ''), in the same step, so a killed process loses no count. Its only
// writes are HSET, EXPIRE and HINCRBY: a Redis out of memory refuses the first, before anything is written.
const ENTRY_JOB = `
local function jobOf(value)
  local at = string.find(value, '@', 1, true)
  return at and string.sub(value, 1, at - 1) or value
end
`;
const CLAIM_SCRIPT = `${ENTRY_JOB}
local jobId, jobKeyPrefix, series = ARGV[1], ARGV[3], ARGV[4]
local claimed = {}
local n, duplicates = 0, 0
for i = 5, #ARGV do
  local field = ARGV[i]
  local value = redis.call('HGET', KEYS[1], field) or redis.call('HGET', KEYS[2], field)
  local taken = false
  if value then
    local owner = jobOf(value)
    taken = owner == jobId or redis.call('EXISTS', jobKeyPrefix .. owner) == 1
  end
  if taken then
    duplicates = duplicates + 1
  else
    redis.call('HSET', KEYS[1], field, jobId)
    n = n + 1
    claimed[n] = i - 4
  end
end
if n > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if duplicates > 0 and series ~= '' then redis.call('HINCRBY', KEYS[3], series, duplicates) end
return claimed
`;

/** Jobs the producer writes have ids that start with this; jobs made from jobs never do (writer.ts). */
export const PRODUCER_JOB_MARK = 'g';

// Run by a worker before it sends the items of a job the producer wrote (ARGV[1]): returns the 1-based
// positions of the fields whose entry now names ANOTHER job the producer wrote that is in Redis. That job
// took the event over (see CLAIM_SCRIPT) and delivers it; this one leaves it out. Every other item is kept,
// and an entry that names no job in Redis (the other copy's write is still on its way, or never arrived;
// an expired entry) is pointed at ARGV[1]: the other copy, when it lands, finds this job and leaves the
// event out. An entry that names a job made from this one (its run after a crash) is left alone.
const OWNERS_SCRIPT = `${ENTRY_JOB}
local jobId, jobKeyPrefix, mark = ARGV[1], ARGV[3], ARGV[4]
local others = {}
local n, pointed = 0, 0
for i = 5, #ARGV do
  local field = ARGV[i]
  local value = redis.call('HGET', KEYS[1], field) or redis.call('HGET', KEYS[2], field)
  local owner = value and jobOf(value)
  local stored = owner and (owner == jobId or redis.call('EXISTS', jobKeyPrefix .. owner) == 1)
  if owner and owner ~= jobId and stored and string.sub(owner, 1, #mark) == mark then
    n = n + 1
    others[n] = i - 4
  elseif not stored then
    redis.call('HSET', KEYS[1], field, jobId)
    pointed = pointed + 1
  end
end
if pointed > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return others
`;

// Removes the fields that still point at job ARGV[1] (a commit that was rolled back).
const RELEASE_SCRIPT = `${ENTRY_JOB}
local n = 0
for i = 2, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and jobOf(value) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

/** The job id of an entry's value (`<jobId>`, or `<jobId>@<ms>` written by an earlier version). */
export function jobIdOfEntry(value: string): string {
  const at = value.indexOf('@');
  return at < 0 ? value : value.slice(0, at);
}

type IndexConnection = RedisConnection & {
  cioClaim(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
  cioRelease(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
  cioOwners(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
};

function withScripts(connection: RedisConnection): IndexConnection {
  const c = connection as IndexConnection;
  if (typeof c.cioClaim !== 'function') connection.defineCommand('cioClaim', { lua: CLAIM_SCRIPT });
  if (typeof c.cioRelease !== 'function') connection.defineCommand('cioRelease', { lua: RELEASE_SCRIPT });
  if (typeof c.cioOwners !== 'function') connection.defineCommand('cioOwners', { lua: OWNERS_SCRIPT });
  return c;
}

export class MessageIndex {
  private readonly redis: IndexConnection;

  constructor(
    connection: RedisConnection,
    private readonly windowSeconds: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.redis = withScripts(connection);
  }

  /**
   * Claims the fields for `jobId`; resolves with the indexes (0-based) of those that were new, or whose
   * entry's job is not in Redis (taken over). `jobKeyPrefix`: the key of a job of this queue without its
   * id. `counted`: where the re-sends found are counted, in the same step (the queue's counts hash and
   * the series), or nothing.
   */
  async claim(queueKeyPrefix: string, jobKeyPrefix: string, jobId: string, fields: string[], counted?: { key: string; series: string }): Promise<number[]> {
    if (fields.length === 0) return [];
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const countsKey = counted?.key ?? `${queueKeyPrefix}:counts`;
    const claimed = await this.redis.cioClaim(3, b.current, b.previous, countsKey, jobId, b.ttlSeconds, jobKeyPrefix, counted?.series ?? '', ...fields);
    return claimed.map((position) => Number(position) - 1);
  }

  /**
   * For a job the producer wrote: the indexes (0-based) of its events that another job the producer wrote,
   * in Redis now, took over (a copy of the same request through another replica); the worker leaves them
   * out. Points the entries that name no job in Redis at `jobId`.
   */
  async ownedElsewhere(queueKeyPrefix: string, jobKeyPrefix: string, jobId: string, fields: string[]): Promise<number[]> {
    if (fields.length === 0 || !jobId.startsWith(PRODUCER_JOB_MARK)) return [];
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const others = await this.redis.cioOwners(2, b.current, b.previous, jobId, b.ttlSeconds, jobKeyPrefix, PRODUCER_JOB_MARK, ...fields);
    return others.map((position) => Number(position) - 1);
  }

  /** Undoes a claim of `jobId` (in both buckets: the window may have turned since). */
  async release(queueKeyPrefix: string, jobId: string, fields: string[]): Promise<void> {
    if (fields.length === 0) return;
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    await Promise.all([b.current, b.previous].map((key) => this.redis.cioRelease(1, key, jobId, ...fields)));
  }

  /** Points the fields at the job that holds their items now. */
  async point(queueKeyPrefix: string, entries: Array<{ field: string; jobId: string }>): Promise<void> {
    if (entries.length === 0) return;
    const now = this.clock();
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, now);
    const args: string[] = [];
    for (const e of entries) args.push(e.field, e.jobId);
    await this.redis.multi().hset(b.current, ...args).expire(b.current, b.ttlSeconds).exec();
  }

  /** The job that holds the item now, if it was queued within the window. */
  async lookup(queueKeyPrefix: string, field: string): Promise<string | undefined> {
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const value = (await this.redis.hget(b.current, field)) ?? (await this.redis.hget(b.previous, field));
    return value ? jobIdOfEntry(value) : undefined;
  }
}

/**
 * Removes the message index kept under a prefix (tests, the benchmark, the demo: what obliterating the
 * queues leaves behind). SCAN on a single Redis; on a cluster, on each master.
 */
export async function removeMessageIndex(connection: RedisConnection, basePrefix: string): Promise<void> {
  const nodes = 'nodes' in connection && typeof connection.nodes === 'function' ? connection.nodes('master') : [connection];
  const pattern = `${basePrefix}:{*}:seen:*`;
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await Promise.all(keys.map((key) => node.del(key)));
      } while (cursor !== '0');
    }),
  );
}
