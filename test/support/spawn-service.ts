// Runs the service as a real process, as `npm run api` / `npm run worker` would (from the TypeScript
// sources through tsx): `node --require tsx/cjs src/main.ts <mode>`. Its output is captured; the URL comes
// from its "cio-relay <mode> ready at http://…" log line (so PORT=0 works), then GET /health must say 200.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Settings the test environment might carry that would change what the spawned service does. */
const SERVICE_ENV = [
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'QUEUE_PREFIX',
  'CIO_CONFIG',
  'WRITE_KEYS',
  'PORT',
  'HOST',
  'METRICS_PORT',
  'CUSTOMERIO_SITE_ID',
  'CUSTOMERIO_API_KEY',
  'CUSTOMERIO_REGION',
  'CUSTOMERIO_TRACK_URL',
  'FLUSH_INTERVAL_MS',
  'MAX_REQUESTS_PER_SECOND',
  'DASHBOARD_USER',
  'DASHBOARD_PASSWORD',
  'LOG_LEVEL',
];

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedService {
  name: string;
  mode: 'all' | 'api' | 'worker';
  /** From the ready line: the API, or a worker's /metrics and /health. */
  url: string;
  process: ChildProcess;
  /** stdout and stderr as written so far. */
  output(): string;
  /** Parsed JSON log lines from stdout. */
  logs(): any[];
  exited: Promise<ExitStatus>;
  /** SIGTERM, then waits for the exit; SIGKILL after `timeoutMs` (the status then says so). */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL at once (teardown after a failure). */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  name?: string;
  env: Record<string, string>;
  /** Until the ready line and a 200 from /health. Default 30 s (tsx compiles on start). */
  readyTimeoutMs?: number;
}

export async function spawnService(mode: 'all' | 'api' | 'worker', opts: SpawnOptions): Promise<SpawnedService> {
  const name = opts.name ?? mode;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of SERVICE_ENV) delete env[key];
  Object.assign(env, opts.env);

  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main.ts', mode], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  remember(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<ExitStatus>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });

  const killNow = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const fail = async (why: string): Promise<never> => {
    await killNow();
    throw new Error(`${name} (${mode}) ${why}. Its output:\n${out}`);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  const readyLine = new RegExp(`cio-relay ${mode} ready at (https?://[^"\\s]+)`);
  let url: string | undefined;
  while (!url) {
    url = readyLine.exec(out)?.[1];
    if (url) break;
    if (child.exitCode !== null || child.signalCode !== null) return fail(`exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    if (Date.now() > deadline) return fail('did not log its ready line in time');
    await sleep(50);
  }
  for (;;) {
    const status = await fetch(`${url}/health`).then((r) => r.status, () => 0);
    if (status === 200) break;
    if (child.exitCode !== null || child.signalCode !== null) return fail(`exited (${child.exitCode ?? child.signalCode}) before /health said 200`);
    if (Date.now() > deadline) return fail(`GET ${url}/health did not answer 200 in time (last: ${status || 'no answer'})`);
    await sleep(100);
  }

  return {
    name,
    mode,
    url,
    process: child,
    output: () => out,
    logs,
    exited,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
      const result = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (result !== 'late') return result;
      await killNow();
      throw new Error(`${name} (${mode}) did not exit within ${timeoutMs} ms of SIGTERM; killed. Its output:\n${out}`);
    },
    kill: killNow,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// A test that dies without its teardown (mocha --exit, a crash) leaves no service running.
const live = new Set<ChildProcess>();
function remember(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
