// The service as a real process, the way `npm start`, `npm run api` and `npm run worker` run it: spawned
// from src/main.ts through tsx, with the environment it is given and nothing else inherited (so no setting
// of the test's own environment, REDIS_URL or QUEUE_PREFIX say, leaks into it), its stdout and stderr
// captured line by line, and stopped with whatever signal the test chooses (SIGKILL for a crash). The URL
// comes from its "cio-relay <mode> ready at http://…" log line (so PORT=0 works), then /health must say 200.
// This is the one helper every test that runs the service as a process uses.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServiceMode } from '../../src/service';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export type Env = Record<string, string | undefined>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly mode: ServiceMode;
  readonly name: string;
  readonly pid: number;
  /** Base URL from the "ready at" line: the API, or a worker's /metrics and /health. */
  readonly url: string;
  readonly stdout: string[];
  readonly stderr: string[];
  /** stdout and stderr, in one text. */
  output(): string;
  /** The stdout lines that are JSON (pino), parsed. */
  logs(): any[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  isRunning(): boolean;
  /** Sends the signal and waits for the exit (SIGKILL after `graceMs` if it is still running). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
  /** Resident set size in bytes, from /proc (Linux). */
  rssBytes(): number;
}

export interface StartOptions {
  mode: ServiceMode;
  /** The whole environment of the process, on top of PATH/HOME; undefined values are left out. */
  env: Env;
  /** A label for messages. */
  name?: string;
  /** Until the ready line, and again until /health says 200. Default 20 s. */
  readyTimeoutMs?: number;
}

/** Every process started here and not yet stopped, so an after-hook can stop what a failed test left. */
const running = new Set<ServiceProcess>();

/**
 * The environment of every process a test starts: what node itself needs (PATH, HOME, TMPDIR) and what the
 * test gives (undefined leaves a variable out). Nothing else of the test's own environment leaks in, so a
 * developer's REDIS_URL, CUSTOMERIO_* or CIO_CONFIG never changes an outcome.
 */
export function testEnv(vars: Env = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR };
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Every process a test starts from this repository: `entry` (a path from the root) run by node, through
 * tsx for TypeScript, from the root, in testEnv(vars), with stdout and stderr piped.
 */
export function spawnNode(entry: string, args: string[], vars: Env = {}): ChildProcess {
  const loader = entry.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [];
  return spawn(process.execPath, [...loader, entry, ...args], { cwd: REPO_ROOT, env: testEnv(vars), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The service listens on a free port of loopback, and logs at info, unless the test says otherwise. */
function spawnMain(mode: string, env: Env): ChildProcess {
  return spawnNode('src/main.ts', [mode], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
}

function collectLines(stream: NodeJS.ReadableStream, into: string[], onLine?: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      into.push(line);
      onLine?.(line);
    }
  });
  stream.on('end', () => {
    if (rest) {
      into.push(rest);
      onLine?.(rest);
    }
  });
}

/** Starts the service and resolves once it has logged "ready at <url>" and its /health answers 200. */
export async function startServiceProcess(opts: StartOptions): Promise<ServiceProcess> {
  const name = opts.name ?? opts.mode;
  const child = spawnMain(opts.mode, opts.env);
  const stdout: string[] = [];
  const stderr: string[] = [];
  let url: string | undefined;
  let onReady: ((url: string) => void) | undefined;
  collectLines(child.stdout!, stdout, (line) => {
    const m = /"msg":"cio-relay \w+ ready at (http:\/\/[^"\s]+)"/.exec(line);
    if (m && !url) {
      url = m[1];
      onReady?.(url);
    }
  });
  collectLines(child.stderr!, stderr);
  let alive = true;
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      alive = false;
      // stdio may still hold the last lines; 'close' comes once they are read.
      child.once('close', () => resolveExit({ code, signal }));
    });
  });

  const proc: ServiceProcess = {
    mode: opts.mode,
    name,
    pid: child.pid!,
    get url() {
      if (!url) throw new Error(`${name} has not said where it listens`);
      return url;
    },
    stdout,
    stderr,
    output: () => [...stdout, ...stderr].join('\n'),
    logs: () =>
      stdout.flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      }),
    exited,
    isRunning: () => alive,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      if (alive) child.kill(signal);
      const timer = setTimeout(() => alive && child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        running.delete(proc);
      }
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!m) throw new Error(`no VmRSS in /proc/${child.pid}/status`);
      return Number(m[1]) * 1024;
    },
  } as ServiceProcess;
  running.add(proc);

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  try {
    const readyUrl = await new Promise<string>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms`)), timeoutMs);
      void exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (code ${e.code}, signal ${e.signal})`));
      });
      onReady = (u) => {
        clearTimeout(timer);
        resolveReady(u);
      };
      if (url) onReady(url);
    });
    await waitForHealth(readyUrl, 200, Math.max(1000, timeoutMs));
  } catch (err) {
    await proc.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- output of ${name} ---\n${proc.output().slice(-4000)}`);
  }
  return proc;
}

/** Runs the service expecting it to stop by itself (a start-up refusal); resolves with its exit and output. */
export async function runUntilExit(mode: string, env: Env, timeoutMs = 20_000): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawnMain(mode, env);
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout!, stdout);
  collectLines(child.stderr!, stderr);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await new Promise<Exit>((resolveExit) => child.once('close', (code, signal) => resolveExit({ code, signal })));
  clearTimeout(timer);
  return { ...exit, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/** Polls GET /health until it answers `status` (200: ready; 503: Redis unavailable). */
export async function waitForHealth(baseUrl: string, status: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.status === status) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > until) throw new Error(`${baseUrl}/health did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops (SIGKILL) every service process a test left running. */
export async function stopAllServiceProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

// A test run that ends without its teardown (mocha --exit, a crash) leaves no service running.
process.once('exit', () => {
  for (const p of running) {
    if (!p.isRunning()) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
