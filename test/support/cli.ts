// Runs the CLI as a real process (`node --require tsx/cjs src/cli/index.ts …`), as a user would, with an
// environment built from scratch for the test: the developer's own CUSTOMERIO_* or CIO_CONFIG never leak in.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
const ENTRY = path.join(ROOT, 'src/cli/index.ts');

/** Settings of the service that a test must set itself when it wants them. */
const SERVICE_VARIABLES = /^(CUSTOMERIO_|CIO_CONFIG$|QUEUE_PREFIX$|REDIS_|WRITE_KEYS$|HOST$|PORT$|DASHBOARD_|LOG_LEVEL$)/;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

/** The environment of a CLI run: this process's, minus the service's settings, plus `vars` (undefined removes). */
export function cliEnv(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!SERVICE_VARIABLES.test(key)) env[key] = value;
  for (const [key, value] of Object.entries(vars)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function startCli(args: string[], vars: Record<string, string | undefined> = {}): CliProcess {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', ENTRY, ...args], {
    cwd: ROOT,
    env: cliEnv(vars),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs the CLI to the end; a run that outlives `timeoutMs` is killed and reported with its output. */
export async function runCli(args: string[], vars: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<CliResult> {
  const run = startCli(args, vars);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`cio-relay ${args.join(' ')} still running after ${timeoutMs} ms\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` until it holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Both streams, for assertion messages. */
export function transcript(result: CliResult): string {
  return `exit ${result.code ?? result.signal}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}
