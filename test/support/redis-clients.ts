// The Redis connections of a process, from outside it: which local ports its sockets to Redis use (Linux,
// /proc), and a wait until Redis has closed them all. Once Redis has closed a killed process's connections
// it has read them to the end, so every command the process wrote before it died has been applied: an
// event to wait on, instead of a sleep that is long enough on most machines.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { RedisConnection } from '../../src/redis/connection';
import { waitUntil } from './chaos';

/** The local ports of the process's TCP connections to `redisPort`. */
export function redisClientPorts(pid: number, redisPort: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      if (parseInt(f[2].split(':')[1], 16) === redisPort) ports.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** Resolves once Redis lists no client connected from one of `ports` (of 127.0.0.1 or ::1). */
export async function untilRedisClosed(admin: RedisConnection, ports: Set<number>, timeoutMs = 20_000): Promise<void> {
  const open = async () => {
    const list = String(await admin.call('CLIENT', 'LIST'));
    return [...list.matchAll(/\baddr=\S*:(\d+) /g)].filter((m) => ports.has(Number(m[1]))).length;
  };
  await waitUntil(async () => (await open()) === 0, timeoutMs, `Redis to close the ${ports.size} connections of the killed process`);
}
