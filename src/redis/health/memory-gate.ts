// The API's guard against a full Redis. With noeviction, a Redis at its maxmemory refuses writes, and a
// request whose jobs go to several queues could find some written and some refused. So the API stops
// taking events a little before that: a background poll reads INFO memory (once per REDIS_MEMORY_POLL_MS,
// never per request) and, while used_memory is above REDIS_MEMORY_REFUSE_RATIO of maxmemory, the event
// routes answer 503 with Retry-After and /health says why. Workers keep draining the queues, which
// frees the memory, and the gate opens again by itself.
//
// The same poll notices a maxmemory-policy changed at runtime to one that evicts, and refuses too:
// accepting events into a Redis that may delete them would be a false success.

import type pino from 'pino';
import type { RedisConnection } from '../connection';
import { evictionProblem } from './eviction-policy';
import { readInfo, serverName, serversOf } from './info';

export interface MemoryReading {
  server: string;
  usedBytes: number;
  /** 0: no limit. */
  maxBytes: number;
  policy?: string;
}

export interface MemoryGateSettings {
  /** Refuse events while used_memory / maxmemory is above this (0 < ratio ≤ 1). */
  memoryRefuseRatio: number;
  memoryPollMs: number;
}

/** Why ingestion must wait, from the servers' readings; undefined while every server has room. */
export function memoryProblem(readings: MemoryReading[], refuseRatio: number): string | undefined {
  for (const r of readings) {
    if (r.policy !== undefined) {
      const eviction = evictionProblem(r.policy, r.server);
      if (eviction) return `${eviction} Until then the API takes no events`;
    }
    if (r.maxBytes > 0 && r.usedBytes > r.maxBytes * refuseRatio) {
      const percent = Math.round((r.usedBytes / r.maxBytes) * 100);
      return (
        `Redis at ${r.server} is near its memory limit: ${mb(r.usedBytes)} used of maxmemory ${mb(r.maxBytes)} (${percent}%); ` +
        `the API takes no events above ${Math.round(refuseRatio * 100)}% (REDIS_MEMORY_REFUSE_RATIO) until the workers drain the queues or maxmemory is raised`
      );
    }
  }
  return undefined;
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function memoryReading(server: string, info: Record<string, string>): MemoryReading {
  return {
    server,
    usedBytes: Number(info.used_memory ?? 0),
    maxBytes: Number(info.maxmemory ?? 0),
    policy: info.maxmemory_policy || undefined,
  };
}

export class RedisMemoryGate {
  private current: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly settings: MemoryGateSettings,
    private readonly logger: pino.Logger,
  ) {}

  /** Reads once (so the first request already sees the state), then keeps reading in the background. */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  /** Why events are refused now, or undefined: no Redis call, the last reading decides. */
  problem(): string | undefined {
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll().finally(() => this.schedule()), this.settings.memoryPollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let readings: MemoryReading[];
    try {
      readings = await Promise.all(serversOf(this.connection).map(async (s) => memoryReading(serverName(s), await readInfo(s, 'memory'))));
    } catch {
      // Redis unreachable: the connection's state answers for it (503, /health); keep the last reading.
      return;
    }
    const problem = memoryProblem(readings, this.settings.memoryRefuseRatio);
    if (problem && !this.current) this.logger.warn({ reason: problem }, `events are refused with 503: ${problem}`);
    if (!problem && this.current) this.logger.info('Redis has room again: the API takes events again');
    this.current = problem;
  }
}
