// The checkpoint FILE.cio-import.json: "lines 1–N are queued, the next line starts at byte B". A run
// with the same file (same size and modification time) and QUEUE_PREFIX resumes at B.
//
// Re-queuing a line that was already queued is harmless: the message index (redis/message-index.ts)
// knows each event queued for a subscription within COMPLETED_RETENTION_SECONDS, and leaves out a
// re-sent one. Past that window a
// re-queued track, page or screen event still carries its id, so Customer.io drops the duplicate.
// That is why a checkpoint is written only after a chunk is in Redis and may lag behind by one chunk.

import { readFileSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { CannotRunError, fileErrorReason, type CliContext } from '../args';
import type { Counts } from './counts';

export interface Checkpoint {
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

/** What a checkpoint says of the file it belongs to: fixed for a run. */
export type CheckpointSubject = Pick<Checkpoint, 'file' | 'size' | 'mtimeMs' | 'totalLines' | 'queuePrefix'>;

/** Where the checkpoint of `file` lives: next to it. */
export function checkpointPathFor(file: string): string {
  return `${file}.cio-import.json`;
}

/** The checkpoint to resume from, if any; says on stderr why one that is there cannot be used. */
export function resumableCheckpoint(ctx: CliContext, checkpointFile: string, stat: Stats, queuePrefix: string, restart: boolean): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(checkpointFile, 'utf8');
  } catch {
    return undefined;
  }
  let cp: Checkpoint;
  try {
    cp = JSON.parse(text) as Checkpoint;
    if (cp.version !== 1 || typeof cp.line !== 'number' || typeof cp.offset !== 'number' || !cp.counts) throw new Error('not a checkpoint of this version');
  } catch (err) {
    ctx.err(`ignoring the unreadable checkpoint ${checkpointFile} (${(err as Error).message}); starting at line 1`);
    return undefined;
  }
  if (restart) {
    ctx.err(`--restart: ignoring the checkpoint at line ${cp.line}; starting at line 1`);
    return undefined;
  }
  if (cp.size !== stat.size || cp.mtimeMs !== stat.mtimeMs) {
    ctx.err(
      `the file changed since the checkpoint ${checkpointFile} was written (size or modification time); starting at line 1 ` +
        '(events already queued are not queued twice)',
    );
    return undefined;
  }
  if (cp.queuePrefix !== queuePrefix) {
    ctx.err(`the checkpoint was written for QUEUE_PREFIX=${cp.queuePrefix}, not ${queuePrefix}; starting at line 1`);
    return undefined;
  }
  ctx.err(`resuming at line ${cp.line + 1} (lines 1–${cp.line} were queued by an earlier run; checkpoint ${checkpointFile})`);
  return cp;
}

/** Records that lines 1–`line` are queued and the next one starts at byte `offset`. */
export function writeCheckpoint(checkpointFile: string, subject: CheckpointSubject, line: number, offset: number, counts: Counts): void {
  const cp: Checkpoint = {
    version: 1,
    file: subject.file,
    size: subject.size,
    mtimeMs: subject.mtimeMs,
    totalLines: subject.totalLines,
    queuePrefix: subject.queuePrefix,
    line,
    offset,
    counts,
    updatedAt: new Date().toISOString(),
  };
  // Written aside and renamed, so a crash mid-write never leaves a torn checkpoint.
  const tmp = `${checkpointFile}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(cp, null, 2)}\n`);
    renameSync(tmp, checkpointFile);
  } catch (err) {
    throw new CannotRunError(
      `cannot write the checkpoint ${checkpointFile} (${fileErrorReason(err)}); ` +
        'import needs a writable directory next to the file: copy the file somewhere writable',
    );
  }
}

/** Once the whole file is queued there is nothing to resume. */
export function removeCheckpoint(checkpointFile: string): void {
  rmSync(checkpointFile, { force: true });
}
