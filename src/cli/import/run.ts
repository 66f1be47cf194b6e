// One run of an import: reads the lines after the starting point, queues their events a chunk at a time,
// reports bad lines by number, and moves the checkpoint after each chunk. A first SIGINT or SIGTERM stops
// it after the chunk in hand, with the checkpoint kept.

import type { Stats } from 'node:fs';
import type { ServiceConfig } from '../../config';
import { Producer, type PublishResult } from '../../producer/publish';
import type { Metrics } from '../../counts/metrics';
import type { Queues } from '../../jobs/queues';
import type { RedisConnection } from '../../redis/connection';
import { EXIT, signalExitCode, type CliContext } from '../args';
import { removeCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointSubject } from './checkpoint';
import { countAcceptedEvent, countBadLine, emptyCounts, type Counts } from './counts';
import { entryOf, type Entry } from './entry';
import { readLines } from './lines';
import { Progress } from './progress';
import { publishChunk } from './publish';
import { eventsPerChunk, holdToRate } from './rate';
import { printSummary } from './summary';

export interface RunOptions {
  file: string;
  stat: Stats;
  checkpointFile: string;
  totalLines: number;
  queuePrefix: string;
  rate?: number;
  resumeFrom?: Checkpoint;
  /** Counts what is queued in the deployment's cio_* counters (source="import"). */
  metrics?: Metrics;
}

export class ImportRun {
  private readonly producer: Producer;
  private readonly actionOf: Map<string, string>;
  private readonly checkpointSubject: CheckpointSubject;
  private readonly counts: Counts;
  private readonly progress: Progress;
  private readonly chunkEvents: number;
  private readonly startedAt = Date.now();
  private readonly startLine: number;
  /** Events the producer took in this run (for the rate and the rate cap). */
  private eventsThisRun = 0;
  /** Equal events without messageId seen in the file so far, by content hash: the file is one request (entry.ts). */
  private readonly repeats = new Map<string, number>();
  private line: number;
  private offset: number;
  private stopSignal?: NodeJS.Signals;

  constructor(
    private readonly ctx: CliContext,
    config: ServiceConfig,
    queues: Queues,
    redis: RedisConnection,
    private readonly opts: RunOptions,
  ) {
    this.producer = new Producer({ queues, redis, queuePrefix: config.redis.queuePrefix, subscriptions: config.subscriptions, policy: config.jobs, metrics: opts.metrics });
    this.actionOf = new Map(config.subscriptions.map((s) => [s.name, s.action]));
    const { file, stat, totalLines, queuePrefix } = opts;
    this.checkpointSubject = { file, size: stat.size, mtimeMs: stat.mtimeMs, totalLines, queuePrefix };
    const cp = opts.resumeFrom;
    // A checkpoint from an older version may lack counts added since: they start at 0.
    this.counts = cp ? { ...emptyCounts(), ...cp.counts } : emptyCounts();
    this.line = this.startLine = cp?.line ?? 0;
    this.offset = cp?.offset ?? 0;
    this.chunkEvents = eventsPerChunk(opts.rate);
    this.progress = new Progress(ctx.stderr, opts.totalLines, this.startLine);
  }

  async execute(): Promise<number> {
    this.ctx.onInterrupt((signal) => {
      this.stopSignal = signal;
      this.progress.note(`${signal}: stopping after the chunk in hand (again to stop at once)`);
    });
    this.saveCheckpoint(); // fails early, before anything is queued, when the directory is not writable
    await this.countRepeatsBefore(this.line);
    await this.queueLines();
    this.progress.finish(this.line, this.eventsThisRun);

    if (this.stopSignal) {
      this.printSummary(`Stopped by ${this.stopSignal} at line ${this.line} of ${this.opts.totalLines}`);
      this.ctx.out(`Run the same command again to resume at line ${this.line + 1}.`);
      return signalExitCode(this.stopSignal);
    }
    removeCheckpoint(this.opts.checkpointFile);
    this.printSummary(`Imported ${this.opts.file}`);
    return this.counts.bad > 0 ? EXIT.problems : EXIT.ok;
  }

  /**
   * A resumed run numbers equal events without messageId as a whole run would: it reads the lines already
   * queued once more, only to count them (their ids are derived and dropped; nothing is queued).
   */
  private async countRepeatsBefore(line: number): Promise<void> {
    if (line === 0) return;
    for await (const l of readLines(this.opts.file, 0, 0)) {
      if (l.n > line) break;
      entryOf(l, this.repeats);
    }
  }

  /** Reads the lines and queues them a chunk at a time, until the end of the file or a stop signal. */
  private async queueLines(): Promise<void> {
    let pending: Entry[] = [];
    let pendingEvents = 0;
    for await (const line of readLines(this.opts.file, this.offset, this.line)) {
      const entry = entryOf(line, this.repeats);
      pending.push(entry);
      if (entry.event !== undefined) pendingEvents++;
      // Bad and blank lines also end a chunk now and then, so a long run of them still moves the checkpoint.
      if (pendingEvents >= this.chunkEvents || pending.length >= this.chunkEvents * 4) {
        await this.flush(pending);
        pending = [];
        pendingEvents = 0;
        if (this.stopSignal) return;
      }
    }
    if (!this.stopSignal) await this.flush(pending);
  }

  /** Queues a chunk's events, reports its bad lines in order, then moves the checkpoint past it. */
  private async flush(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const withEvents = entries.filter((e) => e.event !== undefined);
    const results = withEvents.length > 0 ? await this.publish(withEvents) : [];
    results.forEach((result, i) => this.count(withEvents[i], result));
    for (const entry of entries) {
      if (entry.bad === undefined) {
        if (entry.event === undefined) this.counts.blank++;
        continue;
      }
      countBadLine(this.counts, entry.n);
      this.progress.note(`line ${entry.n}: ${entry.bad}`);
    }
    const last = entries[entries.length - 1];
    this.counts.lines += entries.length;
    this.line = last.n;
    this.offset = last.end;
    this.saveCheckpoint();
    this.progress.update(this.line, this.eventsThisRun);
    await holdToRate(this.opts.rate, this.startedAt, this.eventsThisRun);
  }

  private publish(entries: Entry[]): Promise<PublishResult[]> {
    return publishChunk(this.producer, entries, {
      queuedThrough: this.line,
      stopping: () => this.stopSignal !== undefined,
      note: (text) => this.progress.note(text),
    });
  }

  private count(entry: Entry, result: PublishResult): void {
    if (result.error) {
      // The producer numbers events within the chunk ("event 3 has …"); the line number says more.
      entry.bad = `the event ${result.error.replace(/^event \d+ /, '')}`;
      return;
    }
    this.eventsThisRun++;
    countAcceptedEvent(this.counts, result, this.actionOf);
  }

  private saveCheckpoint(): void {
    writeCheckpoint(this.opts.checkpointFile, this.checkpointSubject, this.line, this.offset, this.counts);
  }

  private printSummary(heading: string): void {
    printSummary((line) => this.ctx.out(line), heading, {
      counts: this.counts,
      startedAt: this.startedAt,
      eventsThisRun: this.eventsThisRun,
      startLine: this.startLine,
      line: this.line,
    });
  }
}
