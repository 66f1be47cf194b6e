// `cio-relay import FILE.ndjson`: backfills a Segment export (one event per line) through the producer,
// source `import`, in chunks, with progress on stderr and a summary on stdout.
//
// The file is streamed and never held whole: lines are split out of the byte stream here (not with
// readline) so that each line's end offset is known, and a checkpoint can say "lines 1–N are queued,
// the next line starts at byte B". A restart with the same file (same size and modification time)
// seeks straight to B.
//
// Re-queuing a line that was already queued is harmless: a job id is derived from the event's messageId
// and the subscription (queues.ts, jobIdFor), so Redis keeps one job while the first is still there
// (waiting, active, failed, or completed within COMPLETED_RETENTION_SECONDS). Past that window a
// re-queued track, page or screen event still carries its id, so Customer.io drops the duplicate.
// That is why a checkpoint is written only after a chunk is in Redis and may lag behind by one chunk.

import { createHash } from 'node:crypto';
import { createReadStream, renameSync, rmSync, statSync, writeFileSync, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { ServiceConfig } from '../config';
import { Producer, QueueUnavailableError, type PublishResult } from '../producer/publish';
import { MAX_EVENT_BYTES } from '../producer/prepare';
import type { Queues } from '../queues';
import type { SegmentEvent } from '../types';
import {
  CannotRunError,
  EXIT,
  UsageError,
  defineCommand,
  formatDuration,
  signalExitCode,
  table,
  wholeNumber,
  type CliContext,
} from './args';

/** Events per producer.publish call: one addBulk per action queue each. */
const CHUNK_EVENTS = 500;
/** A line longer than this is reported bad without being held in memory (an event is at most 32 KB). */
const MAX_LINE_BYTES = 1024 * 1024;
/** How long a chunk is retried while Redis does not take jobs, before the run stops (checkpoint kept). */
const REDIS_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000];
/** Plain progress lines: one per this share of the file, or at least this often. */
const PLAIN_STEP = 0.1;
const PLAIN_EVERY_MS = 10_000;
const BAR_REDRAW_MS = 100;
/** Bad line numbers kept for the summary (every bad line is reported on stderr as it is found). */
const BAD_LINES_LISTED = 20;

const options = { restart: 'flag', rate: 'value' } as const;

export const importCommand = defineCommand({
  name: 'import',
  summary: 'backfill events from a Segment export (NDJSON), resumable',
  options,
  help: `Usage: cio-relay import FILE.ndjson [--rate N] [--restart]

Backfills events from FILE, one Segment event (JSON) per line, as a Segment export
holds them. Each event goes through the subscriptions like a live one (source
"import") and is queued; the workers deliver it.

Progress goes to stderr: a bar on a terminal, otherwise a line every 10% such as
  imported 5000/10000 lines (50%) 2400 events/s ETA 2s
A bad line (not JSON, or an event the producer refuses, e.g. an unknown type) is
reported as "line 17: <reason>" and the import goes on. At the end a summary on
stdout: lines read, events queued, jobs queued by action, filtered (no
subscription fired, or the event's integrations object turned Customer.io off)
and bad lines.

Resuming: after each chunk a checkpoint FILE.cio-import.json records the last
line that is fully queued. Run the same command again after an interruption
(Ctrl-C, a crash, Redis going away) and it resumes after that line, as long as
the file is unchanged (same size and modification time) and QUEUE_PREFIX is the
same. The checkpoint is removed when the file is done. Queuing a line twice is
harmless: the job id comes from the event's messageId and the subscription, so
an event already queued is not added again (an event without a messageId gets
one derived from its line's text).

Options:
  --rate N     queue at most N events per second, so a backfill leaves room for
               live traffic (default: as fast as Redis takes them)
  --restart    ignore the checkpoint and start at line 1
  -h, --help   this text

Environment: REDIS_URL, QUEUE_PREFIX and CIO_CONFIG, as for the service.

Exit codes:
  0    every line was queued or filtered
  1    some lines were bad (each reported with its number); the rest were queued
  2    could not run: bad arguments or configuration, file unreadable, Redis
       unreachable (the checkpoint is kept: run the same command to resume)
  130  interrupted by Ctrl-C (143 for SIGTERM) after the chunk in hand; the
       checkpoint is kept: run the same command to resume`,

  async run(ctx, { options: opts, positionals }) {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name the file to import' : 'import takes one file');
    const rate = opts.rate === undefined ? undefined : wholeNumber('rate', opts.rate);
    const config = ctx.config();
    const file = path.resolve(positionals[0]);
    const stat = statFile(file);

    const checkpointFile = `${file}.cio-import.json`;
    const start = startingPoint(ctx, checkpointFile, stat, config.queuePrefix, opts.restart === true);

    let open;
    try {
      open = await ctx.openQueues(config);
    } catch (err) {
      if (err instanceof CannotRunError && start.checkpoint) {
        throw new CannotRunError(`${err.message}\nThe checkpoint is kept: run the same command again to resume at line ${start.checkpoint.line + 1}.`);
      }
      throw err;
    }
    try {
      const totalLines = start.checkpoint?.totalLines ?? (await countLines(file));
      const run = new ImportRun(ctx, config, open.queues, {
        file,
        stat,
        checkpointFile,
        totalLines,
        queuePrefix: config.queuePrefix,
        rate,
        resumeFrom: start.checkpoint,
      });
      return await run.execute();
    } finally {
      await open.close();
    }
  },
});

interface Counts {
  lines: number;
  blank: number;
  /** Events the producer took: queued, or filtered. */
  events: number;
  /** Events for which at least one subscription fired. */
  queued: number;
  jobs: number;
  jobsByAction: Record<string, number>;
  filteredNoSubscription: number;
  filteredIntegrations: number;
  bad: number;
  badLines: number[];
}

interface Checkpoint {
  version: 1;
  file: string;
  size: number;
  mtimeMs: number;
  totalLines: number;
  queuePrefix: string;
  /** The last line that is fully queued (its events are in Redis). */
  line: number;
  /** The byte offset just after that line: where a resumed run starts reading. */
  offset: number;
  /** For the whole file up to `line`, so the final summary covers every run. */
  counts: Counts;
  updatedAt: string;
}

function emptyCounts(): Counts {
  return {
    lines: 0,
    blank: 0,
    events: 0,
    queued: 0,
    jobs: 0,
    jobsByAction: {},
    filteredNoSubscription: 0,
    filteredIntegrations: 0,
    bad: 0,
    badLines: [],
  };
}

function statFile(file: string): Stats {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch (err) {
    throw new CannotRunError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!stat.isFile()) throw new CannotRunError(`${file} is not a file`);
  return stat;
}

/** Whether to resume, and why not when there is a checkpoint that cannot be used. */
function startingPoint(ctx: CliContext, checkpointFile: string, stat: Stats, queuePrefix: string, restart: boolean): { checkpoint?: Checkpoint } {
  let text: string;
  try {
    text = readFileSync(checkpointFile, 'utf8');
  } catch {
    return {};
  }
  let cp: Checkpoint;
  try {
    cp = JSON.parse(text) as Checkpoint;
    if (cp.version !== 1 || typeof cp.line !== 'number' || typeof cp.offset !== 'number' || !cp.counts) throw new Error('not a checkpoint of this version');
  } catch (err) {
    ctx.err(`ignoring the unreadable checkpoint ${checkpointFile} (${(err as Error).message}); starting at line 1`);
    return {};
  }
  if (restart) {
    ctx.err(`--restart: ignoring the checkpoint at line ${cp.line}; starting at line 1`);
    return {};
  }
  if (cp.size !== stat.size || cp.mtimeMs !== stat.mtimeMs) {
    ctx.err(
      `the file changed since the checkpoint ${checkpointFile} was written (size or modification time); starting at line 1 ` +
        '(events already queued are not queued twice)',
    );
    return {};
  }
  if (cp.queuePrefix !== queuePrefix) {
    ctx.err(`the checkpoint was written for QUEUE_PREFIX=${cp.queuePrefix}, not ${queuePrefix}; starting at line 1`);
    return {};
  }
  ctx.err(`resuming at line ${cp.line + 1} (lines 1–${cp.line} were queued by an earlier run; checkpoint ${checkpointFile})`);
  return { checkpoint: cp };
}

/** Lines in the file: newline characters, plus one for a last line without a newline. */
async function countLines(file: string): Promise<number> {
  let count = 0;
  let last = 10;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) count++;
    if (chunk.length > 0) last = chunk[chunk.length - 1];
  }
  return last === 10 ? count : count + 1;
}

interface Line {
  n: number;
  /** Byte offset just after the line (and its newline). */
  end: number;
  text?: string;
  /** Set instead of text when the line is over MAX_LINE_BYTES. */
  tooLongBytes?: number;
}

/** Splits the byte stream at '\n' (a byte that never occurs inside a UTF-8 sequence), keeping offsets. */
async function* readLines(file: string, fromOffset: number, fromLine: number): AsyncGenerator<Line> {
  const stream = createReadStream(file, { start: fromOffset, highWaterMark: 1 << 16 });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let offset = fromOffset;
  let n = fromLine;
  const lineOf = (tail: Buffer, end: number): Line => {
    n++;
    const bytes = partBytes + tail.length;
    if (bytes > MAX_LINE_BYTES) return { n, end, tooLongBytes: bytes };
    let text = (parts.length === 0 ? tail : Buffer.concat([...parts, tail])).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { n, end, text };
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
      yield lineOf(chunk.subarray(from, nl), offset + nl + 1);
      parts = [];
      partBytes = 0;
      from = nl + 1;
    }
    const rest = chunk.subarray(from);
    // Past the limit the bytes are only counted, so a file without newlines cannot fill the memory.
    if (partBytes + rest.length <= MAX_LINE_BYTES) parts.push(rest);
    else parts = [];
    partBytes += rest.length;
    offset += chunk.length;
  }
  if (partBytes > 0) yield lineOf(Buffer.alloc(0), offset);
}

/** A line on its way to Redis: an event, a bad line (reason) or a blank line. */
interface Entry {
  n: number;
  end: number;
  event?: unknown;
  bad?: string;
}

function entryOf(line: Line): Entry {
  const { n, end } = line;
  if (line.tooLongBytes !== undefined) {
    return { n, end, bad: `the line is ${line.tooLongBytes} bytes; an event may be at most ${MAX_EVENT_BYTES} bytes` };
  }
  const text = (line.text ?? '').trim();
  if (text === '') return { n, end };
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (err) {
    return { n, end, bad: `not JSON (${(err as Error).message})` };
  }
  // Without a messageId the producer would make up a random one, and a resumed or repeated import would
  // queue the event again. One derived from the line's text makes the line idempotent like the others.
  if (typeof event === 'object' && event !== null && !Array.isArray(event)) {
    const e = event as Record<string, unknown>;
    if (e.messageId === undefined || e.messageId === null || e.messageId === '') {
      e.messageId = `import-${createHash('sha1').update(text).digest('base64url')}`;
    }
  }
  return { n, end, event };
}

interface RunOptions {
  file: string;
  stat: Stats;
  checkpointFile: string;
  totalLines: number;
  queuePrefix: string;
  rate?: number;
  resumeFrom?: Checkpoint;
}

class ImportRun {
  private readonly producer: Producer;
  private readonly actionOf: Map<string, string>;
  private readonly counts: Counts;
  private readonly progress: Progress;
  private readonly chunkEvents: number;
  private readonly startedAt = Date.now();
  private readonly startLine: number;
  /** Events the producer took in this run (for the rate and the rate cap). */
  private eventsThisRun = 0;
  private line: number;
  private offset: number;
  private stopSignal?: NodeJS.Signals;

  constructor(
    private readonly ctx: CliContext,
    config: ServiceConfig,
    queues: Queues,
    private readonly opts: RunOptions,
  ) {
    this.producer = new Producer({ queues, subscriptions: config.subscriptions, policy: config });
    this.actionOf = new Map(config.subscriptions.map((s) => [s.name, s.action]));
    const cp = opts.resumeFrom;
    this.counts = cp ? cp.counts : emptyCounts();
    this.line = this.startLine = cp?.line ?? 0;
    this.offset = cp?.offset ?? 0;
    // Under a rate cap, chunks shrink so that the events go out evenly, about five chunks a second.
    this.chunkEvents = opts.rate ? Math.max(1, Math.min(CHUNK_EVENTS, Math.floor(opts.rate / 5))) : CHUNK_EVENTS;
    this.progress = new Progress(ctx.stderr, opts.totalLines, this.startLine);
  }

  async execute(): Promise<number> {
    this.ctx.onInterrupt((signal) => {
      this.stopSignal = signal;
      this.progress.note(`${signal}: stopping after the chunk in hand (again to stop at once)`);
    });
    this.writeCheckpoint(); // fails early, before anything is queued, when the directory is not writable
    let pending: Entry[] = [];
    let pendingEvents = 0;
    for await (const line of readLines(this.opts.file, this.offset, this.line)) {
      const entry = entryOf(line);
      pending.push(entry);
      if (entry.event !== undefined) pendingEvents++;
      // Bad and blank lines also end a chunk now and then, so a long run of them still moves the checkpoint.
      if (pendingEvents >= this.chunkEvents || pending.length >= this.chunkEvents * 4) {
        await this.flush(pending);
        pending = [];
        pendingEvents = 0;
        if (this.stopSignal) break;
      }
    }
    if (!this.stopSignal) await this.flush(pending);
    this.progress.finish(this.line, this.eventsThisRun);

    if (this.stopSignal) {
      this.printSummary(`Stopped by ${this.stopSignal} at line ${this.line} of ${this.opts.totalLines}`);
      this.ctx.out(`Run the same command again to resume at line ${this.line + 1}.`);
      return signalExitCode(this.stopSignal);
    }
    rmSync(this.opts.checkpointFile, { force: true });
    this.printSummary(`Imported ${this.opts.file}`);
    return this.counts.bad > 0 ? EXIT.problems : EXIT.ok;
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
      this.counts.bad++;
      if (this.counts.badLines.length < BAD_LINES_LISTED) this.counts.badLines.push(entry.n);
      this.progress.note(`line ${entry.n}: ${entry.bad}`);
    }
    const last = entries[entries.length - 1];
    this.counts.lines += entries.length;
    this.line = last.n;
    this.offset = last.end;
    this.writeCheckpoint();
    this.progress.update(this.line, this.eventsThisRun);
    await this.holdToRate();
  }

  private count(entry: Entry, result: PublishResult): void {
    if (result.error) {
      // The producer numbers events within the chunk ("event 3 has …"); the line number says more.
      entry.bad = `the event ${result.error.replace(/^event \d+ /, '')}`;
      return;
    }
    this.counts.events++;
    this.eventsThisRun++;
    if (result.filtered === 'integrations') this.counts.filteredIntegrations++;
    else if (result.filtered === 'no_subscription') this.counts.filteredNoSubscription++;
    if (result.fired.length === 0) return;
    this.counts.queued++;
    this.counts.jobs += result.fired.length;
    for (const name of result.fired) {
      const action = this.actionOf.get(name) ?? name;
      this.counts.jobsByAction[action] = (this.counts.jobsByAction[action] ?? 0) + 1;
    }
  }

  /** Publishes a chunk; while Redis refuses, retries it for a while (a restart or failover), then gives up. */
  private async publish(entries: Entry[]): Promise<PublishResult[]> {
    // Parsed JSON of any shape: prepareEvents checks each one and refuses what is not an event.
    const events = entries.map((e) => e.event) as SegmentEvent[];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.producer.publish(events, 'import');
      } catch (err) {
        if (!(err instanceof QueueUnavailableError)) throw err;
        const delay = REDIS_RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.stopSignal) {
          throw new CannotRunError(
            `Redis stopped taking jobs at line ${entries[0].n} (${err.message}).\n` +
              (this.line > 0
                ? `Lines 1–${this.line} are queued and the checkpoint is kept: run the same command again to resume at line ${this.line + 1}.`
                : 'Nothing was queued: run the same command again once Redis is back.'),
          );
        }
        this.progress.note(`Redis is not taking jobs (${err.message}); trying the chunk again in ${formatDuration(delay)}`);
        await sleep(delay);
      }
    }
  }

  /** Under --rate, waits until the events sent so far are within the cap. */
  private async holdToRate(): Promise<void> {
    if (!this.opts.rate) return;
    const due = this.startedAt + (this.eventsThisRun / this.opts.rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
  }

  private writeCheckpoint(): void {
    const cp: Checkpoint = {
      version: 1,
      file: this.opts.file,
      size: this.opts.stat.size,
      mtimeMs: this.opts.stat.mtimeMs,
      totalLines: this.opts.totalLines,
      queuePrefix: this.opts.queuePrefix,
      line: this.line,
      offset: this.offset,
      counts: this.counts,
      updatedAt: new Date().toISOString(),
    };
    // Written aside and renamed, so a crash mid-write never leaves a torn checkpoint.
    const tmp = `${this.opts.checkpointFile}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(cp, null, 2)}\n`);
      renameSync(tmp, this.opts.checkpointFile);
    } catch (err) {
      throw new CannotRunError(
        `cannot write the checkpoint ${this.opts.checkpointFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
          'import needs a writable directory next to the file: copy the file somewhere writable',
      );
    }
  }

  private printSummary(heading: string): void {
    const c = this.counts;
    const elapsed = Date.now() - this.startedAt;
    const perSecond = Math.round(this.eventsThisRun / Math.max(elapsed / 1000, 0.001));
    this.ctx.out(`${heading} in ${formatDuration(elapsed, true)} (${perSecond} events/s).`);
    const byAction = Object.entries(c.jobsByAction)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([action, n]) => `${action} ${n}`)
      .join(', ');
    const rows: string[][] = [
      ['lines read', String(c.lines), ''],
      ['events queued', String(c.queued), ''],
      ['jobs queued', String(c.jobs), byAction ? `(${byAction})` : ''],
      ['filtered', String(c.filteredNoSubscription + c.filteredIntegrations), `(no subscription fired ${c.filteredNoSubscription}, integrations ${c.filteredIntegrations})`],
      ['bad lines', String(c.bad), c.bad > 0 ? `(line${c.bad > 1 ? 's' : ''} ${c.badLines.join(', ')}${c.bad > c.badLines.length ? ', …' : ''})` : ''],
    ];
    if (c.blank > 0) rows.push(['blank lines', String(c.blank), '(skipped)']);
    for (const row of table(rows, ['left', 'right', 'left'])) this.ctx.out(`  ${row}`);
    if (this.startLine > 0) {
      this.ctx.out(
        `  resumed at line ${this.startLine + 1}: the counts include lines 1–${this.startLine} from an earlier run ` +
          `(this run: ${this.line - this.startLine} lines, ${this.eventsThisRun} events)`,
      );
    }
  }
}

/**
 * Progress on stderr. On a terminal, a bar redrawn in place; elsewhere (CI logs, tests, pipes), a plain
 * line every PLAIN_STEP of the file or every PLAIN_EVERY_MS, whichever comes first.
 */
class Progress {
  private readonly tty: boolean;
  private readonly startedAt = Date.now();
  private lastDraw = 0;
  private lastLineWritten = -1;
  private nextStep: number;
  private barShown = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
    private readonly startLine: number,
  ) {
    this.tty = Boolean(stream.isTTY);
    this.nextStep = this.stepAfter(startLine);
  }

  update(line: number, events: number): void {
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw < BAR_REDRAW_MS) return;
      this.lastDraw = now;
      this.drawBar(line, events);
      return;
    }
    if (line < this.nextStep && now - this.lastDraw < PLAIN_EVERY_MS) return;
    this.lastDraw = now;
    this.nextStep = this.stepAfter(line);
    this.writePlain(line, events);
  }

  /** A message between progress updates (a bad line, a warning). */
  note(text: string): void {
    this.clearBar();
    this.stream.write(`${text}\n`);
  }

  finish(line: number, events: number): void {
    if (this.tty) {
      this.drawBar(line, events);
      this.stream.write('\n');
      this.barShown = false;
    } else if (line !== this.lastLineWritten) {
      this.writePlain(line, events);
    }
  }

  private writePlain(line: number, events: number): void {
    this.stream.write(`${this.describe(line, events)}\n`);
    this.lastLineWritten = line;
  }

  private stepAfter(line: number): number {
    const step = Math.max(1, Math.ceil(this.total * PLAIN_STEP));
    return (Math.floor(line / step) + 1) * step;
  }

  private describe(line: number, events: number): string {
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    // The file may have grown since it was counted: the count then follows the lines read.
    const total = Math.max(this.total, line);
    const pct = total > 0 ? Math.floor((line / total) * 100) : 100;
    const linesPerSecond = (line - this.startLine) / seconds;
    // Rounded up: "ETA 0s" while lines remain would be a small lie.
    const etaMs = linesPerSecond > 0 ? Math.ceil((total - line) / linesPerSecond) * 1000 : NaN;
    const eta = line >= total ? '0s' : formatDuration(etaMs);
    return `imported ${line}/${total} lines (${pct}%) ${Math.round(events / seconds)} events/s ETA ${eta}`;
  }

  private drawBar(line: number, events: number): void {
    const text = this.describe(line, events).replace(/^imported /, '');
    const columns = this.stream.columns || 80;
    // Fixed for the run (the text beside it changes length), leaving room for that text.
    const width = Math.max(10, Math.min(40, columns - 64));
    const filled = this.total > 0 ? Math.min(width, Math.round((line / this.total) * width)) : width;
    this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
    this.barShown = true;
  }

  private clearBar(): void {
    if (!this.barShown) return;
    this.stream.write('\r\x1b[2K');
    this.barShown = false;
    this.lastDraw = 0; // redraw at the next update
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
