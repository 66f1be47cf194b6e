// Deleting every key that matches a pattern, on one Redis or on every master of a cluster (SCAN, then DEL
// in pages): what tests, the benchmark and the demo use to leave nothing behind under their prefix.

import type { RedisConnection } from './connection';
import { serversOf } from './health/info';

export async function deleteMatching(connection: RedisConnection, pattern: string): Promise<void> {
  await Promise.all(
    serversOf(connection).map(async (server) => {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await Promise.all(keys.map((key) => server.del(key)));
      } while (cursor !== '0');
    }),
  );
}
