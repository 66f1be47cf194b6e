// The demo's Redis when none answers at REDIS_URL: a redis-server of its own, on a free loopback port, with
// its files in a temporary folder, stopped and removed when the demo ends. So a first try needs nothing
// running. `npm start` never does this: a service must keep its jobs in a Redis that outlives it.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** How to get a Redis, in one line. */
export const GET_REDIS = 'install one (apt install redis-server, or brew install redis) or run `docker run -d -p 6379:6379 redis:7-alpine`';

/** Whether something accepts a TCP connection at the host and port of `url` (a cheap "is Redis there"). */
export function answers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** redis-server on PATH (or REDIS_SERVER_BIN), or undefined. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.REDIS_SERVER_BIN ? [env.REDIS_SERVER_BIN] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'redis-server'));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface PrivateRedisServer {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server (nothing saved to disk, noeviction as the service requires) and waits until it answers. */
export async function startPrivateRedisServer(bin: string, timeoutMs = 10_000): Promise<PrivateRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cio-relay-redis-'));
  const child: ChildProcess = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  // However the process ends (an error, a closed pipe), the server does not outlive it.
  const onExit = () => {
    if (running) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    process.off('exit', onExit);
    if (running) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + timeoutMs;
  while (!(await answers(url, 200))) {
    if (!running || Date.now() > until) {
      await stop();
      throw new Error(`${bin} did not start on port ${port}; ${GET_REDIS}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, stop };
}
