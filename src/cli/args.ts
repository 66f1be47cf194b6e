// What every command shares: a small argument parser, the exit codes, and the context a command runs in.
// The parser knows two kinds of option, flags (`--dry-run`) and options with a value (`--rate 500`,
// `--rate=500`); anything else is a UsageError, so a typo never silently changes what a command does.

import type { ServiceConfig } from '../config';
import type { Queues } from '../jobs/queues';
import type { RedisConnection } from '../redis/connection';

/** Exit codes, the same for every command (also listed in each command's --help). */
export const EXIT = {
  /** Done, nothing to report. */
  ok: 0,
  /** The command ran and found problems: bad lines, refused credentials, wrong region. */
  problems: 1,
  /** The command could not run: bad arguments or configuration, input missing, Redis unreachable. */
  cannotRun: 2,
  /** Stopped by Ctrl-C; whatever can be resumed can be resumed. */
  interrupted: 130,
} as const;

/** The conventional exit code after a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : EXIT.interrupted;
}

/** Bad arguments: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command cannot run (Redis unreachable, input unreadable): printed as is, exit 2. */
export class CannotRunError extends Error {
  override name = 'CannotRunError';
}

/** Why a file operation failed, for a message: the errno code (ENOENT, EACCES…) when there is one. */
export function fileErrorReason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

export type OptionKind = 'flag' | 'value';
export type OptionSpec = Record<string, OptionKind>;
export type ParsedOptions<S extends OptionSpec> = { [K in keyof S]?: S[K] extends 'flag' ? boolean : string };

export interface ParsedArgs<S extends OptionSpec> {
  options: ParsedOptions<S>;
  positionals: string[];
}

/**
 * Parses `argv` (the words after the command name) against `spec`. `-h` means `--help`; `--` ends the
 * options. A value option given twice keeps the last value, as most CLIs do.
 */
export function parseArgs<S extends OptionSpec>(argv: readonly string[], spec: S): ParsedArgs<S> {
  const options: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word === '-h') {
      options.help = true;
      continue;
    }
    if (!word.startsWith('--') || word === '-') {
      if (word.startsWith('-') && word !== '-') throw new UsageError(`unknown option ${word}`);
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : word.slice(eq + 1);
    const kind = name === 'help' ? 'flag' : spec[name];
    if (kind === undefined) throw new UsageError(`unknown option --${name}`);
    if (kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value`);
    }
    if (inline === undefined) i++;
    options[name] = value;
  }
  return { options: options as ParsedOptions<S>, positionals };
}

/** For the commands that take no positional arguments: the first one given is a UsageError. */
export function refuseArguments(positionals: readonly string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
}

/** A whole number ≥ min from an option's text, or a UsageError naming the option. */
export function wholeNumber(name: string, raw: string, min = 1): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Queues on a live Redis connection, opened by the entry point for the commands that need them. */
export interface OpenQueues {
  queues: Queues;
  redis: RedisConnection;
  /** Where Redis is, without its password: for messages. */
  where: string;
  close(): Promise<void>;
}

/** What a command gets from the entry point: its I/O, the environment, and ways to reach config and Redis. */
export interface CliContext {
  env: Record<string, string | undefined>;
  /** A line on stdout: results. */
  out(line?: string): void;
  /** A line on stderr: progress, warnings and problems. */
  err(line?: string): void;
  /** The raw stderr, for the progress bar (drawn only when it is a TTY). */
  stderr: NodeJS.WriteStream;
  /** loadConfig over `env`; a ConfigError is turned into exit 2 by the entry point. */
  config(): ServiceConfig;
  /** Connects and waits for Redis; throws CannotRunError with the reason and how to fix it. */
  openQueues(config: ServiceConfig): Promise<OpenQueues>;
  /**
   * Takes over the first SIGINT/SIGTERM, so the command can stop at a clean point (a second signal still
   * exits at once). A command that does not call this is simply ended by the signal, with exit 130.
   */
  onInterrupt(handler: (signal: NodeJS.Signals) => void): void;
}

export interface Command<S extends OptionSpec = OptionSpec> {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** The full --help text. */
  help: string;
  options: S;
  run(ctx: CliContext, args: ParsedArgs<S>): Promise<number>;
}

export function defineCommand<S extends OptionSpec>(command: Command<S>): Command<S> {
  return command;
}

/** `2s`, `4m05s`, `2h03m`; with `precise`, `1.3s` under a minute (for elapsed times). */
export function formatDuration(ms: number, precise = false): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (precise && ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `word`, with an `s` unless there is exactly one: `plural(2, 'job')` is `jobs`. */
export function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

/** Pads cells to a plain-text table; by default the first column is left-aligned and the others right. */
export function table(rows: string[][], align: Array<'left' | 'right'> = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => ((align[i] ?? (i === 0 ? 'left' : 'right')) === 'left' ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}
