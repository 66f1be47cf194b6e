// Runs the CLI as a real process (`node --require tsx/cjs src/cli/index.ts …`), as a user would, with an
// environment built from scratch for the test (support/process.ts: testEnv, spawnNode): the developer's own
// CUSTOMERIO_* or CIO_CONFIG never leak in.

import type { ChildProcess } from 'node:child_process';
import { spawnNode } from './process';

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

export function startCli(args: string[], vars: Record<string, string | undefined> = {}): CliProcess {
  const child = spawnNode('src/cli/index.ts', args, vars);
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
