// `cio-relay import FILE.ndjson`: backfills a Segment export (one event per line) through the producer,
// source `import`, in chunks, with progress on stderr and a summary on stdout.
//
// This file takes the arguments, finds where to start and opens the queues; run.ts does the import.
// The file is streamed and never held whole (lines.ts), and a checkpoint next to it lets an interrupted
// import resume where it stopped (checkpoint.ts, which also says why queuing a line twice is harmless).

import { statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { ServiceConfig } from '../../config';
import { CannotRunError, UsageError, defineCommand, fileErrorReason, wholeNumber, type CliContext, type OpenQueues } from '../args';
import { checkpointPathFor, resumableCheckpoint, type Checkpoint } from './checkpoint';
import { countLines } from './lines';
import { createMetrics } from '../../counts/metrics';
import { redisCounterStore } from '../../counts/redis-store';
import { ImportRun } from './run';

const options = { restart: 'flag', rate: 'value' } as const;

export const importCommand = defineCommand({
  name: 'import',
  summary: 'backfill events from a Segment export (NDJSON), resumable',
  options,
  help: `Usage: cio-relay import FILE.ndjson[.gz] [--rate N] [--restart]

Backfills events from FILE, one Segment event (JSON) per line, as a Segment export
holds them; a gzipped file (FILE.ndjson.gz, or gzip's magic bytes) is read as is.
Each event goes through the subscriptions like a live one (source "import") and
is queued; the workers deliver it.

Progress goes to stderr: a bar on a terminal, otherwise a line every 10% such as
  imported 5000/10000 lines (50%) 2400 events/s ETA 2s
A line refused (not JSON, or an event the producer refuses, e.g. an unknown type)
is reported as "line 17: <reason>" and the import goes on. At the end a summary
on stdout, in events: queued (with the items by action), already queued (queued
before, within the re-send window: not queued again), refused, and filtered (no
subscription fired, or the event's integrations object turned Customer.io off).

Resuming: after each chunk a checkpoint FILE.cio-import.json records the last
line that is fully queued. Run the same command again after an interruption
(Ctrl-C, a crash, Redis going away) and it resumes after that line, as long as
the file is unchanged (same size and modification time) and QUEUE_PREFIX is the
same. The checkpoint is removed when the file is done. Queuing a line twice is
harmless: an event already queued (same messageId and subscription) is not
added again, and the summary counts it as already queued. An event without a
messageId gets one derived from its content, as the HTTP API derives it, with
the file as one request: equal lines stay distinct events, numbered in order.

Options:
  --rate N     queue at most N events per second, so a backfill leaves room for
               live traffic (default: as fast as Redis takes them)
  --restart    ignore the checkpoint and start at line 1
  -h, --help   this text

Environment: REDIS_URL, QUEUE_PREFIX and CIO_CONFIG, as for the service.

Exit codes:
  0    every line was queued, already queued or filtered
  1    some lines were refused (each reported with its number); the rest were queued
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

    const checkpointFile = checkpointPathFor(file);
    const resumeFrom = resumableCheckpoint(ctx, checkpointFile, stat, config.redis.queuePrefix, opts.restart === true);
    const open = await openQueuesKeepingCheckpoint(ctx, config, resumeFrom);
    const metrics = createMetrics({ counterStore: redisCounterStore(open.redis, config.redis.queuePrefix) });
    try {
      const totalLines = resumeFrom?.totalLines ?? (await countLines(file));
      const run = new ImportRun(ctx, config, open.queues, open.redis, {
        file,
        stat,
        checkpointFile,
        totalLines,
        queuePrefix: config.redis.queuePrefix,
        rate,
        resumeFrom,
        metrics,
      });
      return await run.execute();
    } finally {
      await metrics.flush();
      await open.close();
    }
  },
});

function statFile(file: string): Stats {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch (err) {
    throw new CannotRunError(`cannot read ${file}: ${fileErrorReason(err)}`);
  }
  if (!stat.isFile()) throw new CannotRunError(`${file} is not a file`);
  return stat;
}

/** Opens the queues; when Redis cannot be reached and there is a checkpoint, says that it is kept. */
async function openQueuesKeepingCheckpoint(ctx: CliContext, config: ServiceConfig, resumeFrom: Checkpoint | undefined): Promise<OpenQueues> {
  try {
    return await ctx.openQueues(config);
  } catch (err) {
    if (err instanceof CannotRunError && resumeFrom) {
      throw new CannotRunError(`${err.message}\nThe checkpoint is kept: run the same command again to resume at line ${resumeFrom.line + 1}.`);
    }
    throw err;
  }
}
