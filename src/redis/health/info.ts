// Reading what Redis says about itself (INFO sections, CONFIG GET) on a single server or on every master
// of a cluster. Parsing is pure; the calls are the only I/O.

import { Cluster } from 'ioredis';
import type { RedisConnection } from '../connection';

/** `field:value` lines of an INFO answer, section headers and blank lines left out. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** The servers that hold the queues: the one server, or every master of a cluster. */
export function serversOf(connection: RedisConnection): RedisConnection[] {
  return connection instanceof Cluster ? connection.nodes('master') : [connection];
}

/** A server's name for messages: host:port. */
export function serverName(server: RedisConnection): string {
  const options = (server as { options?: { host?: string; port?: number } }).options;
  return options?.host ? `${options.host}:${options.port ?? 6379}` : 'Redis';
}

export async function readInfo(server: RedisConnection, section: string): Promise<Record<string, string>> {
  return parseInfo(await server.info(section));
}
