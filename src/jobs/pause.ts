// When a queue's pause ends. A 429 or refused credentials pause an action's queue with BullMQ's
// queue.rateLimit(ms), which sets the queue's limiter key to the largest safe integer for `ms`; the
// workers' own limiter (a cap never reached) counts jobs in the same key, far below that value, so only
// a pause holds it there. Read with GET and PTTL: nothing is written.

import type { RedisConnection } from '../redis/connection';
import { queueKey } from '../redis/keys';
import type { ActionKey } from '../core/types';

/** When the pause of `action`'s queue ends (epoch ms), or undefined when the queue is not paused. */
export async function pauseEnd(redis: RedisConnection, basePrefix: string, action: ActionKey, now: number): Promise<number | undefined> {
  const key = queueKey(basePrefix, action, 'limiter');
  const replies = (await redis.pipeline().get(key).pttl(key).exec()) ?? [];
  for (const [err] of replies) if (err) throw err;
  return pauseEndOf(replies[0]?.[1] as string | null, Number(replies[1]?.[1]), now);
}

/** Pure: the end of a pause from the limiter key's value and its PTTL. */
export function pauseEndOf(value: string | null | undefined, ttlMs: number, now: number): number | undefined {
  if (value === null || value === undefined || Number(value) < Number.MAX_SAFE_INTEGER || !(ttlMs > 0)) return undefined;
  return now + ttlMs;
}
