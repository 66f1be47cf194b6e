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

// An entry's value: the job id and when it was written, `<jobId>@<ms>`. The time tells a claim whose job
// is being written right now (a concurrent request) from one whose job never made it to Redis (Redis went
// away between the claim and the write, before the rollback could run): see STALE_CLAIM_MS.
//
// Claims the fields that neither bucket holds for a live job yet, for ARGV[1] (`<jobId>@<ms>`); returns
// the 1-based positions of the fields it claimed. An entry is live while its job exists, or while it is
// younger than ARGV[5] ms (its job may be being written). Its only writes are HSET and EXPIRE: a Redis out
// of memory refuses the first HSET, before anything is written, so a claim is whole or nothing.
const CLAIM_SCRIPT = `
local jobKeyPrefix, now, staleMs = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local function live(value)
  if not value then return false end
  local at = string.find(value, '@', 1, true)
  local id = at and string.sub(value, 1, at - 1) or value
  if redis.call('EXISTS', jobKeyPrefix .. id) == 1 then return true end
  local written = at and tonumber(string.sub(value, at + 1)) or 0
  return now - written < staleMs
end
local claimed = {}
local n = 0
for i = 6, #ARGV do
  local field = ARGV[i]
  local current = redis.call('HGET', KEYS[1], field)
  local taken = live(current) or (not current and live(redis.call('HGET', KEYS[2], field)))
  if not taken then
    redis.call('HSET', KEYS[1], field, ARGV[1])
    n = n + 1
    claimed[n] = i - 5
  end
end
if n > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return claimed
`;

// Removes the fields that still point at job ARGV[1] (a commit that was rolled back).
const RELEASE_SCRIPT = `
local n = 0
local mine = ARGV[1] .. '@'
for i = 2, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and (value == ARGV[1] or string.sub(value, 1, #mine) == mine) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

/**
 * How long a claim whose job is not in Redis still counts as taken: the time between a claim and its job's
 * write is milliseconds, so a concurrent copy of the event within this time is a re-send. Past it, the job
 * never made it (Redis went away in between), and a client's retry claims the event anew. A retry that
 * comes sooner than this after such a failure is taken for a re-send: the window is kept short for that.
 */
export const STALE_CLAIM_MS = 1000;

/** The job id of an entry's value (`<jobId>@<ms>`, or a bare id written by an earlier version). */
export function jobIdOfEntry(value: string): string {
  const at = value.indexOf('@');
  return at < 0 ? value : value.slice(0, at);
}

type IndexConnection = RedisConnection & {
  cioClaim(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
  cioRelease(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
};

function withScripts(connection: RedisConnection): IndexConnection {
  const c = connection as IndexConnection;
  if (typeof c.cioClaim !== 'function') connection.defineCommand('cioClaim', { lua: CLAIM_SCRIPT });
  if (typeof c.cioRelease !== 'function') connection.defineCommand('cioRelease', { lua: RELEASE_SCRIPT });
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
   * Claims the fields for `jobId`; resolves with the indexes (0-based) of those that were new (or whose
   * earlier claim's job never reached Redis). `jobKeyPrefix`: the key of a job of this queue without its id.
   */
  async claim(queueKeyPrefix: string, jobKeyPrefix: string, jobId: string, fields: string[]): Promise<number[]> {
    if (fields.length === 0) return [];
    const now = this.clock();
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, now);
    const claimed = await this.redis.cioClaim(2, b.current, b.previous, `${jobId}@${now}`, b.ttlSeconds, jobKeyPrefix, now, STALE_CLAIM_MS, ...fields);
    return claimed.map((position) => Number(position) - 1);
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
    for (const e of entries) args.push(e.field, `${e.jobId}@${now}`);
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
