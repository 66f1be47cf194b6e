// Reading the export line by line. The lines are split out of the byte stream here, not with readline,
// so that each line's end offset is known: a checkpoint records it and a resumed run seeks straight to it.
//
// A gzipped export (gzip's magic bytes, or a name ending in .gz) is read through gunzip; its offsets are
// those of the uncompressed text, and a resumed run reads the compressed file from the start and skips
// to the offset (gzip cannot be entered in the middle).

import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** A line longer than this is reported bad without being held in memory (an event is at most 32 KB). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** '\n', a byte that never occurs inside a UTF-8 sequence, so the bytes can be split at it before decoding. */
const NEWLINE = 10;

export interface Line {
  n: number;
  /** Byte offset just after the line (and its newline). */
  end: number;
  text?: string;
  /** Set instead of text when the line is over MAX_LINE_BYTES. */
  tooLongBytes?: number;
}

/** Whether the file is gzip-compressed: its first two bytes are gzip's magic (1f 8b), or its name ends in .gz. */
export function isGzipped(file: string): boolean {
  if (file.toLowerCase().endsWith('.gz')) return true;
  const head = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** The file's text as bytes from `fromOffset` (of the uncompressed text), gunzipped when it is gzipped. */
async function* textBytes(file: string, fromOffset: number, highWaterMark: number): AsyncGenerator<Buffer> {
  if (!isGzipped(file)) {
    yield* createReadStream(file, { start: fromOffset, highWaterMark }) as AsyncIterable<Buffer>;
    return;
  }
  let skip = fromOffset;
  const text = createReadStream(file, { highWaterMark }).pipe(createGunzip({ chunkSize: highWaterMark }));
  for await (const chunk of text as AsyncIterable<Buffer>) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    yield skip > 0 ? chunk.subarray(skip) : chunk;
    skip = 0;
  }
}

/** Lines in the file: newline characters, plus one for a last line without a newline. */
export async function countLines(file: string): Promise<number> {
  let count = 0;
  let last = NEWLINE;
  for await (const chunk of textBytes(file, 0, 1 << 20)) {
    for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) count++;
    if (chunk.length > 0) last = chunk[chunk.length - 1];
  }
  return last === NEWLINE ? count : count + 1;
}

/** The lines from byte `fromOffset` on, numbered after `fromLine`; a CR before the newline and a BOM are dropped. */
export async function* readLines(file: string, fromOffset: number, fromLine: number): AsyncGenerator<Line> {
  const stream = textBytes(file, fromOffset, 1 << 16);
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
  for await (const chunk of stream) {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
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
