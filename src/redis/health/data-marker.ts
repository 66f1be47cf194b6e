// Noticing a Redis that came back empty. A Redis restarted without persistence (or flushed) answers PING
// like any other, BullMQ reconnects, and the jobs that were waiting are simply gone: nothing fails, so
// nothing would be reported. So each deployment keeps a marker key (`<prefix>:{meta}:instance`, a random
// id) and every process checks it whenever one of its connections becomes ready again. A missing marker
// means the data went away: the process that notices first logs it at error level and writes a new
// marker; a process that finds a marker other than the one it knew learns that another process reported a
// loss, and logs it at warn level. Each loss is reported once per process, never once per reconnect.
//
// Redis's run_id (a new one at each start) tells a restart that kept the data from a connection that
// merely dropped: the former is logged at info level.

import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import type pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { RedisConnection } from '../connection';
import { readInfo } from './info';

export const DATA_LOST_MESSAGE =
  'Redis came back without its data (restart without persistence, or a flush): jobs that were waiting may be lost; enable appendonly';

export function markerKey(basePrefix: string): string {
  return `${basePrefix}:{meta}:instance`;
}

export interface DataWatchOptions {
  /** The process's connections: a check runs whenever one of them is ready again. */
  connections: RedisConnection[];
  basePrefix: string;
  logger: pino.Logger;
  /** Where to register cio_redis_data_lost_total (the process's /metrics registry). */
  registry?: Registry;
}

export class RedisDataWatch {
  private readonly key: string;
  private readonly lost?: Counter;
  private known: string | undefined;
  private runId: string | undefined;
  private checks: Promise<void> = Promise.resolve();
  private readonly listeners = new Map<RedisConnection, () => void>();

  constructor(private readonly opts: DataWatchOptions) {
    this.key = markerKey(opts.basePrefix);
    if (opts.registry) {
      this.lost = new Counter({
        name: 'cio_redis_data_lost_total',
        help: 'Times this process found Redis without its data after a reconnect (a restart without persistence, or a flush): waiting jobs may be lost',
        registers: [opts.registry],
      });
      this.lost.inc(0);
    }
  }

  /** Reads (or, on a Redis that never had one, writes) the marker, then checks it after every reconnect. */
  async start(): Promise<void> {
    const [connection] = this.opts.connections;
    const existing = await connection.get(this.key);
    if (existing === null) {
      const fresh = randomUUID();
      const written = await connection.set(this.key, fresh, 'NX');
      this.known = written === 'OK' ? fresh : ((await connection.get(this.key)) ?? fresh);
    } else {
      this.known = existing;
    }
    this.runId = await this.readRunId(connection);
    for (const c of this.opts.connections) {
      const onReady = () => {
        this.checks = this.checks.then(() => this.check(c)).catch((err) => {
          this.opts.logger.warn({ err: (err as Error).message }, 'could not check whether Redis kept its data after reconnecting; will check at the next reconnect');
        });
      };
      this.listeners.set(c, onReady);
      c.on('ready', onReady);
    }
  }

  stop(): void {
    for (const [c, onReady] of this.listeners) c.off('ready', onReady);
    this.listeners.clear();
  }

  /** Resolves once the checks started so far are done (tests, shutdown). */
  settled(): Promise<void> {
    return this.checks;
  }

  private async check(connection: RedisConnection): Promise<void> {
    const runId = await this.readRunId(connection);
    const restarted = runId !== undefined && this.runId !== undefined && runId !== this.runId;
    const previousRunId = this.runId;
    this.runId = runId ?? this.runId;
    const details = { key: this.key, runId, previousRunId };

    const value = await connection.get(this.key);
    if (value === null) {
      const fresh = randomUUID();
      const written = await connection.set(this.key, fresh, 'NX');
      this.lost?.inc();
      if (written === 'OK') {
        this.known = fresh;
        this.opts.logger.error(details, DATA_LOST_MESSAGE);
      } else {
        this.known = (await connection.get(this.key)) ?? fresh;
        this.opts.logger.warn(details, `${DATA_LOST_MESSAGE} (another process noticed it at the same moment and reported it too)`);
      }
      return;
    }
    if (value !== this.known) {
      this.known = value;
      this.lost?.inc();
      this.opts.logger.warn(details, `${DATA_LOST_MESSAGE} (found by another process while this one was disconnected)`);
      return;
    }
    if (restarted) this.opts.logger.info(details, 'Redis restarted (new run_id) and came back with its data');
  }

  /** A single server's run_id; undefined for a cluster, whose nodes each have their own. */
  private async readRunId(connection: RedisConnection): Promise<string | undefined> {
    if (connection instanceof Cluster) return undefined;
    try {
      return (await readInfo(connection, 'server')).run_id || undefined;
    } catch {
      return undefined;
    }
  }
}
