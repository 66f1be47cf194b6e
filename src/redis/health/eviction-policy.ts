// The queues need a Redis that refuses writes when it is full rather than one that makes room by deleting
// keys: an evicted job is an acknowledged event gone without a trace. So start-up and `check` read
// maxmemory-policy and refuse anything but noeviction.
//
// CONFIG GET is the direct way; managed Redis services often disable CONFIG, and then INFO memory's
// maxmemory_policy field (Redis 4 and later) says the same.

import type { RedisConnection } from '../connection';
import { readInfo, serverName, serversOf } from './info';

export const REQUIRED_POLICY = 'noeviction';

export interface PolicyReading {
  server: string;
  /** undefined when neither CONFIG GET nor INFO told it. */
  policy?: string;
  /** Why it could not be read. */
  unreadable?: string;
}

/** What is wrong with a policy, in words that say how to fix it; undefined for noeviction. */
export function evictionProblem(policy: string, server: string): string | undefined {
  if (policy === REQUIRED_POLICY) return undefined;
  return [
    `Redis at ${server} has maxmemory-policy ${policy}: when it runs short of memory it deletes keys to make room,`,
    'queued jobs among them, and those events are lost without any error. cio-relay needs noeviction (Redis then',
    'refuses writes, and the API answers 503 so that clients retry). Fix it with',
    `\`redis-cli -h ${server.split(':')[0]} -p ${server.split(':')[1] ?? 6379} CONFIG SET maxmemory-policy noeviction\`, and set`,
    '`maxmemory-policy noeviction` in redis.conf (or in your provider\'s settings) so that it survives a restart.',
  ].join(' ');
}

export async function readEvictionPolicy(server: RedisConnection): Promise<PolicyReading> {
  const name = serverName(server);
  let configError: string;
  try {
    const answer = (await server.config('GET', 'maxmemory-policy')) as string[];
    if (answer.length >= 2) return { server: name, policy: answer[1] };
    configError = 'CONFIG GET maxmemory-policy answered nothing';
  } catch (err) {
    configError = `CONFIG GET refused: ${(err as Error).message}`;
  }
  try {
    const policy = (await readInfo(server, 'memory')).maxmemory_policy;
    if (policy) return { server: name, policy };
    return { server: name, unreadable: `${configError}; INFO memory has no maxmemory_policy` };
  } catch (err) {
    return { server: name, unreadable: `${configError}; INFO memory refused: ${(err as Error).message}` };
  }
}

export interface PolicyVerdict {
  /** One message per server whose policy may evict jobs. */
  problems: string[];
  /** Servers whose policy could not be read, with why. */
  unreadable: string[];
  readings: PolicyReading[];
}

/** Reads the policy of every server that holds queues (each master of a cluster). */
export async function checkEvictionPolicy(connection: RedisConnection): Promise<PolicyVerdict> {
  const readings = await Promise.all(serversOf(connection).map(readEvictionPolicy));
  const problems: string[] = [];
  const unreadable: string[] = [];
  for (const r of readings) {
    if (r.policy === undefined) unreadable.push(`${r.server}: ${r.unreadable}`);
    else {
      const problem = evictionProblem(r.policy, r.server);
      if (problem) problems.push(problem);
    }
  }
  return { problems, unreadable, readings };
}
