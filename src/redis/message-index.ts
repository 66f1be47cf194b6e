// The message index: for each (subscription, messageId) queued within the window, the job that holds the
// event now. It is what makes a re-sent event queue once (dedupe), and what `cio-relay trace` reads.
//
// Layout, chosen for memory (one entry per event and subscription is the largest cost per event once
// events are grouped and compressed) and so that no key is ever large: per action queue and time bucket,
// 65,536 small hashes, `<prefix>:{<action>}:seen:<bucket>:<shard>`, in the queue's own cluster slot. An
// entry's key is the first 12 bytes of SHA-1(subscription NUL messageId): the first 2 bytes pick the hash
// (`<shard>` in hex), the other 10, raw, are the field; the value is the id of the job that holds the event.
// At the default window (1 h), a hash stays at or under Redis's `hash-max-listpack-entries` (128) up to
// about 2,300 events per second for one action, so Redis keeps it as a compact listpack (about 31 bytes per
// entry, measured in test/redis/index-size.test.ts) and expiring one costs microseconds, where one hash
// per bucket grew with the rate (1.47 s of blocked Redis at 1,000 events/s).
//
// A bucket is `windowSeconds` long and lives for two windows; a lookup reads the current and the previous
// bucket, so an event is recognised for at least one whole window after it was queued (and at most two).
// An item that moves to another job (a retry, a refused item) is written again in the current bucket, so
// one that keeps hopping stays known.
//
// Collisions: two different events share an entry only if 96 bits of SHA-1 agree. With a billion events
// in one window the chance that any two collide is about 6e-12; a collision would make the second event
// look like a re-send of the first. We accept that figure. A probabilistic filter with false positives
// (a Bloom filter) would not be acceptable: it drops events.

import { createHash } from 'node:crypto';
import type { RedisConnection } from './connection';
import { deleteMatching } from './delete-matching';

/** Bytes of the hashed id kept per entry, the shard's included. */
const FIELD_BYTES = 12;
/** Bytes of the hashed id that pick the entry's hash in a bucket: 2 bytes, 65,536 hashes. */
const SHARD_BYTES = 2;

/** An entry's hashed id: the first bytes pick its hash (the shard), the rest is its field. */
export function indexField(subscription: string, messageId: string): Buffer {
  return createHash('sha1').update(subscription).update('\u0000').update(messageId).digest().subarray(0, FIELD_BYTES);
}

/**
 * Events that fired no subscription are noted too, so `trace` can say why (`filtered: …`) rather than
 * "not seen": one entry per messageId, its value the reason, in buckets of their own under
 * `<prefix>:{filtered}`, laid out and expiring like the others.
 */
const FILTERED_SLOT = 'filtered';
const FILTERED_SUBSCRIPTION = '\u0000filtered';

/** Pure: the hash and field of an entry in a bucket (`entryAt` in the scripts' ENTRY_JOB is the same). */
export function entryAt(bucket: string, id: Buffer, shardBytes = SHARD_BYTES): { key: string; field: Buffer } {
  return { key: `${bucket}:${id.subarray(0, shardBytes).toString('hex')}`, field: id.subarray(shardBytes) };
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
// Claims the entries ARGV[6…] for job ARGV[2]; returns the 1-based positions of those it claimed. One is
// taken (a re-send, left out) when it names ARGV[2] itself (the same event twice in one write) or a
// job that is in Redis. An entry whose job is not in Redis is taken over, whatever its age: that job is
// being written right now by another request (another replica, a slow write), or it never reached Redis
// (Redis went away before the rollback ran). Two jobs may then carry the event for a moment; the worker
// settles it (OWNERS_SCRIPT), so no clock decides. Re-sends found are counted in the counts hash KEYS[3]
// under series ARGV[5] (none when ''), in the same step, so a killed process loses no count. Its only
// writes are HSET, EXPIRE and HINCRBY: a Redis out of memory refuses the first, before anything is written.
// Every script takes the shard's bytes in ARGV[1]; KEYS name buckets, whose hashes share their slot.
const ENTRY_JOB = `
local function jobOf(value)
  local at = string.find(value, '@', 1, true)
  return at and string.sub(value, 1, at - 1) or value
end
local shardBytes = tonumber(ARGV[1])
local function entryAt(bucket, id)
  local shard = ''
  for b = 1, shardBytes do shard = shard .. string.format('%02x', string.byte(id, b)) end
  return bucket .. ':' .. shard, string.sub(id, shardBytes + 1)
end
local function hget(bucket, id)
  local key, field = entryAt(bucket, id)
  return redis.call('HGET', key, field)
end
local expiring = {}
local function hset(bucket, id, value, ttl)
  local key, field = entryAt(bucket, id)
  redis.call('HSET', key, field, value)
  if not expiring[key] then
    expiring[key] = true
    if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
  end
end
`;
const CLAIM_SCRIPT = `${ENTRY_JOB}
local jobId, ttl, jobKeyPrefix, series = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local claimed = {}
local n, duplicates = 0, 0
for i = 6, #ARGV do
  local id = ARGV[i]
  local value = hget(KEYS[1], id) or hget(KEYS[2], id)
  local taken = false
  if value then
    local owner = jobOf(value)
    taken = owner == jobId or redis.call('EXISTS', jobKeyPrefix .. owner) == 1
  end
  if taken then
    duplicates = duplicates + 1
  else
    hset(KEYS[1], id, jobId, ttl)
    n = n + 1
    claimed[n] = i - 5
  end
end
if duplicates > 0 and series ~= '' then redis.call('HINCRBY', KEYS[3], series, duplicates) end
return claimed
`;

/** Jobs the producer writes have ids that start with this; jobs made from jobs never do (writer.ts). */
export const PRODUCER_JOB_MARK = 'g';

// Run by a worker before it sends the items of a job the producer wrote (ARGV[2]): returns the 1-based
// positions of the entries (ARGV[6…]) that now name ANOTHER job the producer wrote that is in Redis. That job
// took the event over (see CLAIM_SCRIPT) and delivers it; this one leaves it out. Every other item is kept,
// and an entry that names no job in Redis (the other copy's write is still on its way, or never arrived;
// an expired entry) is pointed at ARGV[2]: the other copy, when it lands, finds this job and leaves the
// event out. An entry that names a job made from this one (its run after a crash) is left alone.
const OWNERS_SCRIPT = `${ENTRY_JOB}
local jobId, ttl, jobKeyPrefix, mark = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local others = {}
local n = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  local value = hget(KEYS[1], id) or hget(KEYS[2], id)
  local owner = value and jobOf(value)
  local stored = owner and (owner == jobId or redis.call('EXISTS', jobKeyPrefix .. owner) == 1)
  if owner and owner ~= jobId and stored and string.sub(owner, 1, #mark) == mark then
    n = n + 1
    others[n] = i - 5
  elseif not stored then
    hset(KEYS[1], id, jobId, ttl)
  end
end
return others
`;

// Removes the entries of bucket KEYS[1] that still point at job ARGV[2] (a commit that was rolled back).
const RELEASE_SCRIPT = `${ENTRY_JOB}
local n = 0
for i = 3, #ARGV do
  local key, field = entryAt(KEYS[1], ARGV[i])
  local value = redis.call('HGET', key, field)
  if value and jobOf(value) == ARGV[2] then
    redis.call('HDEL', key, field)
    n = n + 1
  end
end
return n
`;

// Points the entries ARGV[3], ARGV[5], … at the jobs ARGV[4], ARGV[6], … (items moved to a new job).
const POINT_SCRIPT = `${ENTRY_JOB}
for i = 3, #ARGV, 2 do hset(KEYS[1], ARGV[i], ARGV[i + 1], ARGV[2]) end
return 1
`;

/** The job id of an entry's value (`<jobId>`, or `<jobId>@<ms>` written by an earlier version). */
export function jobIdOfEntry(value: string): string {
  const at = value.indexOf('@');
  return at < 0 ? value : value.slice(0, at);
}

type IndexConnection = RedisConnection & {
  cioClaim(numKeys: number, ...keysAndArgs: Array<string | number | Buffer>): Promise<number[]>;
  cioRelease(numKeys: number, ...keysAndArgs: Array<string | number | Buffer>): Promise<number>;
  cioOwners(numKeys: number, ...keysAndArgs: Array<string | number | Buffer>): Promise<number[]>;
  cioPoint(numKeys: number, ...keysAndArgs: Array<string | number | Buffer>): Promise<number>;
};

function withScripts(connection: RedisConnection): IndexConnection {
  const c = connection as IndexConnection;
  if (typeof c.cioClaim !== 'function') connection.defineCommand('cioClaim', { lua: CLAIM_SCRIPT });
  if (typeof c.cioRelease !== 'function') connection.defineCommand('cioRelease', { lua: RELEASE_SCRIPT });
  if (typeof c.cioOwners !== 'function') connection.defineCommand('cioOwners', { lua: OWNERS_SCRIPT });
  if (typeof c.cioPoint !== 'function') connection.defineCommand('cioPoint', { lua: POINT_SCRIPT });
  return c;
}

export class MessageIndex {
  private readonly redis: IndexConnection;

  constructor(
    connection: RedisConnection,
    private readonly windowSeconds: number,
    private readonly clock: () => number = Date.now,
    /** Bytes of the id that pick an entry's hash; tests measure a full hash with fewer. */
    private readonly shardBytes = SHARD_BYTES,
  ) {
    this.redis = withScripts(connection);
  }

  /**
   * Claims the fields for `jobId`; resolves with the indexes (0-based) of those that were new, or whose
   * entry's job is not in Redis (taken over). `jobKeyPrefix`: the key of a job of this queue without its
   * id. `counted`: where the re-sends found are counted, in the same step (the queue's counts hash and
   * the series), or nothing.
   */
  async claim(queueKeyPrefix: string, jobKeyPrefix: string, jobId: string, fields: Buffer[], counted?: { key: string; series: string }): Promise<number[]> {
    if (fields.length === 0) return [];
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const countsKey = counted?.key ?? `${queueKeyPrefix}:counts`;
    const claimed = await this.redis.cioClaim(3, b.current, b.previous, countsKey, this.shardBytes, jobId, b.ttlSeconds, jobKeyPrefix, counted?.series ?? '', ...fields);
    return claimed.map((position) => Number(position) - 1);
  }

  /**
   * For a job the producer wrote: the indexes (0-based) of its events that another job the producer wrote,
   * in Redis now, took over (a copy of the same request through another replica); the worker leaves them
   * out. Points the entries that name no job in Redis at `jobId`.
   */
  async ownedElsewhere(queueKeyPrefix: string, jobKeyPrefix: string, jobId: string, fields: Buffer[]): Promise<number[]> {
    if (fields.length === 0 || !jobId.startsWith(PRODUCER_JOB_MARK)) return [];
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const others = await this.redis.cioOwners(2, b.current, b.previous, this.shardBytes, jobId, b.ttlSeconds, jobKeyPrefix, PRODUCER_JOB_MARK, ...fields);
    return others.map((position) => Number(position) - 1);
  }

  /** Undoes a claim of `jobId` (in both buckets: the window may have turned since). */
  async release(queueKeyPrefix: string, jobId: string, fields: Buffer[]): Promise<void> {
    if (fields.length === 0) return;
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    await Promise.all([b.current, b.previous].map((key) => this.redis.cioRelease(1, key, this.shardBytes, jobId, ...fields)));
  }

  /** Points the fields at the job that holds their items now (`jobId`: the value written). */
  async point(queueKeyPrefix: string, entries: Array<{ field: Buffer; jobId: string }>): Promise<void> {
    if (entries.length === 0) return;
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const args: Array<string | Buffer> = [];
    for (const e of entries) args.push(e.field, e.jobId);
    await this.redis.cioPoint(1, b.current, this.shardBytes, b.ttlSeconds, ...args);
  }

  /** Notes events that fired nothing, with why (`integrations`, `no_subscription`). */
  async noteFiltered(basePrefix: string, events: Array<{ messageId: string; reason: string }>): Promise<void> {
    const prefix = `${basePrefix}:{${FILTERED_SLOT}}`;
    await this.point(prefix, events.map((e) => ({ field: indexField(FILTERED_SUBSCRIPTION, e.messageId), jobId: e.reason })));
  }

  /** Why an event fired no subscription, if it was noted within the window. */
  filteredReason(basePrefix: string, messageId: string): Promise<string | undefined> {
    return this.lookup(`${basePrefix}:{${FILTERED_SLOT}}`, indexField(FILTERED_SUBSCRIPTION, messageId));
  }

  /** The job that holds the item now, if it was queued within the window. */
  async lookup(queueKeyPrefix: string, id: Buffer): Promise<string | undefined> {
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    for (const bucket of [b.current, b.previous]) {
      const { key, field } = entryAt(bucket, id, this.shardBytes);
      const value = await this.redis.hget(key, field);
      if (value) return jobIdOfEntry(value);
    }
    return undefined;
  }
}

/**
 * Removes the message index kept under a prefix (tests, the benchmark, the demo: what obliterating the
 * queues leaves behind). SCAN on a single Redis; on a cluster, on each master.
 */
export async function removeMessageIndex(connection: RedisConnection, basePrefix: string): Promise<void> {
  await deleteMatching(connection, `${basePrefix}:{*}:seen:*`);
}
