// The message index: for each (subscription, messageId) queued within the window, the job that holds the
// event now. It is what makes a re-sent event queue once (dedupe), and what `cio-relay trace` reads.
//
// Layout, chosen for memory (one entry per event and subscription is the largest cost per event once
// events are grouped and compressed): one Redis hash per action queue and time bucket,
// `<prefix>:{<action>}:seen:<bucket>`, in the queue's own cluster slot; field = the first 12 bytes of
// SHA-1(subscription NUL messageId), value = the job id. A bucket is `windowSeconds` long and lives for two
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

// Claims the fields that neither bucket holds yet, for the job ARGV[1]; returns the 1-based positions of
// the fields it claimed. Its only writes are HSETNX and EXPIRE: a Redis out of memory refuses the first
// HSETNX, before anything is written, so a claim is whole or nothing.
const CLAIM_SCRIPT = `
local claimed = {}
local n = 0
for i = 3, #ARGV do
  local field = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], field) == 0 and redis.call('HSETNX', KEYS[1], field, ARGV[1]) == 1 then
    n = n + 1
    claimed[n] = i - 2
  end
end
if n > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return claimed
`;

// Removes the fields that still point at job ARGV[1] (a commit that was rolled back).
const RELEASE_SCRIPT = `
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

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

  /** Claims the fields for `jobId`; resolves with the indexes (0-based) of those that were new. */
  async claim(queueKeyPrefix: string, jobId: string, fields: string[]): Promise<number[]> {
    if (fields.length === 0) return [];
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const claimed = await this.redis.cioClaim(2, b.current, b.previous, jobId, b.ttlSeconds, ...fields);
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
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const args: string[] = [];
    for (const e of entries) args.push(e.field, e.jobId);
    await this.redis.multi().hset(b.current, ...args).expire(b.current, b.ttlSeconds).exec();
  }

  /** The job that holds the item now, if it was queued within the window. */
  async lookup(queueKeyPrefix: string, field: string): Promise<string | undefined> {
    const b = bucketsAt(queueKeyPrefix, this.windowSeconds, this.clock());
    const current = await this.redis.hget(b.current, field);
    if (current) return current;
    return (await this.redis.hget(b.previous, field)) ?? undefined;
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
