// Errors that repeat (a Redis that is down makes every connection and every BullMQ worker report the same
// refusal many times a second) are logged once, at once, and then summed up: at most one line per
// interval saying how many more came and what the last one was. A quiet interval closes the window, so
// the next error is again logged at once.
//
// The decisions (log now, count, summarize) are a pure state machine that takes the clock as an argument;
// the timer that writes the summary when errors stop coming is the only I/O.

import type pino from 'pino';

export const ERROR_LOG_INTERVAL_MS = 10_000;

export type ThrottleDecision = 'log' | 'count';

export interface ThrottleSummary {
  count: number;
  last: string;
  intervalMs: number;
}

/** The pure core: which error to log, which to count, and what a window's summary says. */
export class ErrorWindow {
  private openedAt: number | undefined;
  private suppressed = 0;
  private last = '';

  constructor(readonly intervalMs: number) {}

  /** An error at `now`: log it (the first of a window) or count it. */
  note(description: string, now: number): ThrottleDecision {
    if (this.openedAt === undefined) {
      this.openedAt = now;
      return 'log';
    }
    this.suppressed++;
    this.last = description;
    return 'count';
  }

  /** When the window ends: the summary of what was counted (a new window opens), or undefined (it closes). */
  close(now: number): ThrottleSummary | undefined {
    if (this.openedAt === undefined) return undefined;
    if (this.suppressed === 0) {
      this.openedAt = undefined;
      return undefined;
    }
    const summary = { count: this.suppressed, last: this.last, intervalMs: this.intervalMs };
    this.openedAt = now;
    this.suppressed = 0;
    this.last = '';
    return summary;
  }

  /** When the current window ends, or undefined when none is open. */
  endsAt(): number | undefined {
    return this.openedAt === undefined ? undefined : this.openedAt + this.intervalMs;
  }
}

export interface ThrottleOptions {
  intervalMs?: number;
  clock?: () => number;
  /** Given what a window counted, when it ends with errors counted. */
  summarize?: (summary: ThrottleSummary) => void;
}

export type ErrorLog = (err: unknown, fields?: Record<string, unknown>) => void;

/**
 * The one throttle of the service: `report` gets the first error of a run at once; the others of its window
 * are counted and handed to `summarize` when the window ends, as described at the top of this file.
 */
export function throttle(report: ErrorLog, opts: ThrottleOptions = {}): ErrorLog {
  const clock = opts.clock ?? Date.now;
  const window = new ErrorWindow(opts.intervalMs ?? ERROR_LOG_INTERVAL_MS);
  let timer: NodeJS.Timeout | undefined;

  const schedule = () => {
    const endsAt = window.endsAt();
    if (endsAt === undefined) return;
    timer = setTimeout(onWindowEnd, Math.max(0, endsAt - clock()));
    timer.unref(); // a pending summary never keeps the process alive
  };
  const onWindowEnd = () => {
    timer = undefined;
    const summary = window.close(clock());
    if (summary) opts.summarize?.(summary);
    schedule();
  };

  return (err, fields) => {
    if (window.note(describeError(err), clock()) === 'count') return;
    report(err, fields);
    if (!timer) schedule();
  };
}

export interface ThrottledErrorLogOptions {
  logger: pino.Logger;
  /** What fails, in words: "Redis connection (producer)", "BullMQ worker". */
  source: string;
  /** What happens next, appended to the first line: "reconnecting by itself". */
  next: string;
  level?: 'error' | 'warn';
  intervalMs?: number;
  clock?: () => number;
}

/** A short description of an error: its code and first line, never a stack. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return code && !message.includes(code) ? `${code} ${message}` : message;
}

/** A function to hand every error of one source to; it logs as described at the top of this file. */
export function throttledErrorLog(opts: ThrottledErrorLogOptions): ErrorLog {
  const level = opts.level ?? 'error';
  return throttle(
    (err, fields) => {
      const description = describeError(err);
      opts.logger[level]({ ...fields, source: opts.source, err: description }, `${opts.source} error: ${description}; ${opts.next}`);
    },
    {
      intervalMs: opts.intervalMs,
      clock: opts.clock,
      summarize: (summary) => {
        const span = summary.intervalMs % 1000 === 0 ? `${summary.intervalMs / 1000} s` : `${summary.intervalMs} ms`;
        opts.logger[level](
          { source: opts.source, count: summary.count, last: summary.last },
          `${summary.count} more ${opts.source} errors in the last ${span} (last: ${summary.last})`,
        );
      },
    },
  );
}

const byLogger = new WeakMap<pino.Logger, Map<string, ErrorLog>>();

/**
 * The one throttled log of `source` for this logger: every caller that reports the same source (the
 * fifteen BullMQ workers of a pool, say) shares its window, so together they write one line per interval.
 */
export function sharedErrorLog(logger: pino.Logger, source: string, next: string): ErrorLog {
  let logs = byLogger.get(logger);
  if (!logs) byLogger.set(logger, (logs = new Map()));
  let log = logs.get(source);
  if (!log) logs.set(source, (log = throttledErrorLog({ logger, source, next })));
  return log;
}
