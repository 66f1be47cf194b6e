// How the service uses the checks of this folder: at start-up it refuses a Redis that may evict jobs, then
// it watches for a Redis that lost its data, nearly full memory (the API only), and logs connection errors
// without flooding the log.

import type pino from 'pino';
import type { Registry } from 'prom-client';
import { sharedErrorLog } from '../../log/throttle';
import type { RedisConnection } from '../connection';
import { RedisDataWatch } from './data-marker';
import { checkEvictionPolicy } from './eviction-policy';
import { RedisMemoryGate, type MemoryGateSettings } from './memory-gate';
import { once } from 'node:events';

/** Throws, with how to fix it, when Redis may evict jobs; warns when its policy cannot be read. */
export async function refuseEvictingRedis(connection: RedisConnection, logger: pino.Logger): Promise<void> {
  const verdict = await checkEvictionPolicy(connection);
  if (verdict.problems.length > 0) throw new Error(verdict.problems.join('\n'));
  for (const why of verdict.unreadable) {
    logger.warn({ why }, `could not read Redis's maxmemory-policy (${why}): make sure it is noeviction, or queued jobs may be evicted without a trace`);
  }
}

export interface RedisSupervisionOptions {
  settings: MemoryGateSettings & { queuePrefix: string };
  logger: pino.Logger;
  /** The connection the API and the queues use; a check of the data runs when it or `others` reconnect. */
  producer: RedisConnection;
  others: RedisConnection[];
  /** Whether this process takes events (the API): only then does the memory gate run. */
  ingests: boolean;
  registry?: Registry;
}

export interface RedisSupervision {
  memoryGate?: RedisMemoryGate;
  /** Resolves once every connection is ready and the checks of the data their reconnects started are done. */
  settled(): Promise<void>;
  stop(): void;
}

export async function superviseRedis(opts: RedisSupervisionOptions): Promise<RedisSupervision> {
  const connections = [opts.producer, ...opts.others];
  connections.forEach((c, i) => {
    const role = i === 0 ? 'producer' : 'worker';
    c.on('error', sharedErrorLog(opts.logger, `Redis connection (${role})`, 'it reconnects by itself; meanwhile events get 503 and jobs wait'));
  });
  const watch = new RedisDataWatch({ connections, basePrefix: opts.settings.queuePrefix, logger: opts.logger, registry: opts.registry });
  await watch.start();
  let memoryGate: RedisMemoryGate | undefined;
  if (opts.ingests) {
    memoryGate = new RedisMemoryGate(opts.producer, opts.settings, opts.logger);
    await memoryGate.start();
  }
  return {
    memoryGate,
    async settled() {
      // A connection's check is queued by its 'ready' listener, registered above before this one.
      await Promise.all(connections.map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
      await watch.settled();
    },
    stop() {
      watch.stop();
      memoryGate?.stop();
    },
  };
}
