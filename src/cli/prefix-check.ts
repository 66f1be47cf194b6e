// A command run under a QUEUE_PREFIX no service has used (a typo, the wrong Redis) stops with exit 2 and
// the prefixes that do hold queues, instead of answering "nothing failed" or "not seen" about queues that
// do not exist. Read-only: it looks before any BullMQ Queue is opened, as opening one writes its meta key.

import type { ServiceConfig } from '../config';
import type { RedisConnection } from '../redis/connection';
import { CannotRunError } from './args';
import { PREFIX_PATTERN, findPrefixes, readQueues, type QueueReading } from './queue-reader';
import { openRedis } from './redis';

/** Whether any queue was ever opened under the prefix, or holds a job. */
export function anyQueue(readings: Record<string, QueueReading>): boolean {
  return Object.values(readings).some((r) => r.exists || Object.values(r.counts).some((n) => n > 0));
}

/** Why there is nothing to show, and the prefixes that do hold queues. */
export async function noQueuesMessage(redis: RedisConnection, prefix: string, where: string): Promise<string> {
  const found = await findPrefixes(redis);
  const shown = found.slice(0, 10).join(', ') + (found.length > 10 ? ` and ${found.length - 10} more` : '');
  return [
    `No queues under QUEUE_PREFIX=${prefix} at ${where}: no service has used this prefix there. Is it mistyped?`,
    found.length ? `Prefixes with queues in this Redis: ${shown}` : 'No prefix in this Redis holds queues yet: start the service (npm start) first.',
    `(List them yourself: redis-cli --scan --pattern '${PREFIX_PATTERN}', the prefix is what comes before ":{trackEvent}".)`,
  ].join('\n');
}

/** Throws a CannotRunError (exit 2) naming the prefixes found when no queue exists under QUEUE_PREFIX. */
export async function refuseUnknownPrefix(config: ServiceConfig): Promise<void> {
  const open = await openRedis(config);
  try {
    const readings = await readQueues(open.redis, config.redis.queuePrefix);
    if (!anyQueue(readings)) throw new CannotRunError(await noQueuesMessage(open.redis, config.redis.queuePrefix, open.where));
  } finally {
    await open.close();
  }
}
