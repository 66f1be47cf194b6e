// A cap on requests per second to Customer.io shared by every worker (MAX_REQUESTS_PER_SECOND).

import type { RedisConnection } from './connection';

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
