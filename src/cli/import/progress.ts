// The progress of an import on stderr, as a bar or as plain lines such as
// "imported 5000/10000 lines (50%) 2400 events/s ETA 2s".

import { formatDuration } from '../args';

/** Plain progress lines: one per this share of the file, or at least this often. */
const PLAIN_STEP = 0.1;
const PLAIN_EVERY_MS = 10_000;
const BAR_REDRAW_MS = 100;

/**
 * Progress on stderr. On a terminal, a bar redrawn in place; elsewhere (CI logs, tests, pipes), a plain
 * line every PLAIN_STEP of the file or every PLAIN_EVERY_MS, whichever comes first.
 */
export class Progress {
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
