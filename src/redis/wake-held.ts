// Waking held jobs at the head of their queue.
//
// A held job (items held behind an earlier operation of their person, worker/order.ts) waits in BullMQ's
// `delayed` set. When what it waits behind has its outcome, the order book names it and it is woken.
// BullMQ's own promote puts a woken job at the tail of the wait list, behind every job queued since: under
// a backlog (a backfill, a pipeline faster than its workers) each link of a person's chain of operations
// then waits for the whole backlog, and the person's next items are held again behind it. Its items were
// accepted before most of that backlog, so the woken job goes to the head instead (the end workers take
// from), the same way BullMQ's promote does otherwise: the job leaves `delayed`, the queue's marker wakes a
// waiting worker unless the queue is paused or at its concurrency limit, a `waiting` event is written.
//
// This writes BullMQ's keys directly (its promote script, with the other end of the list): the layout is
// BullMQ 6's (redis/keys.ts), which package.json pins to major version 6. A job that has left `delayed`
// (running, done, or woken already) is left alone.

import type { ActionKey } from '../core/types';
import type { RedisConnection } from './connection';
import { queueKey } from './keys';

// KEYS: delayed, wait, meta, active, marker, events (one queue). ARGV[1]: the queue's job key prefix, then
// the job ids. Returns how many were woken.
const WAKE_SCRIPT = `
local woken = 0
for i = 2, #ARGV do
  local jobId = ARGV[i]
  if redis.call('ZREM', KEYS[1], jobId) == 1 then
    -- a marker an older BullMQ left in the wait list is not needed once a job is there
    local first = redis.call('LINDEX', KEYS[2], 0)
    if first and string.sub(first, 1, 2) == '0:' then redis.call('LPOP', KEYS[2]) end
    redis.call('RPUSH', KEYS[2], jobId)
    local meta = redis.call('HMGET', KEYS[3], 'paused', 'concurrency')
    local stopped = meta[1] ~= false
    if not stopped and meta[2] then stopped = redis.call('LLEN', KEYS[4]) >= tonumber(meta[2]) end
    if not stopped then redis.call('ZADD', KEYS[5], 0, '0') end
    redis.call('XADD', KEYS[6], '*', 'event', 'waiting', 'jobId', jobId, 'prev', 'delayed')
    redis.call('HSET', ARGV[1] .. jobId, 'delay', 0)
    woken = woken + 1
  end
end
return woken
`;

type WakeConnection = RedisConnection & { cioWakeHeld(numKeys: number, ...keysAndArgs: string[]): Promise<number> };

function withScript(connection: RedisConnection): WakeConnection {
  const c = connection as WakeConnection;
  if (typeof c.cioWakeHeld !== 'function') connection.defineCommand('cioWakeHeld', { lua: WAKE_SCRIPT });
  return c;
}

/**
 * Moves the delayed jobs `jobIds` of one action's queue to the head of its wait list (the next taken);
 * returns how many were still delayed and moved.
 */
export async function wakeAtHead(connection: RedisConnection, basePrefix: string, action: ActionKey, jobIds: readonly string[]): Promise<number> {
  if (jobIds.length === 0) return 0;
  const key = (suffix: string) => queueKey(basePrefix, action, suffix);
  const keys = [key('delayed'), key('wait'), key('meta'), key('active'), key('marker'), key('events')];
  return Number(await withScript(connection).cioWakeHeld(keys.length, ...keys, key(''), ...jobIds));
}
