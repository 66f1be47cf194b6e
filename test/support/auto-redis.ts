// `npm test` on a machine where no Redis answers at REDIS_URL: a private redis-server for the run (a temp
// folder, a free port, nothing saved), its URL put in REDIS_URL before any test file is loaded (they read
// it at load time), and stopped when the process ends. Without a redis-server binary, one line says how
// to get one and the run stops. This runs synchronously, as mocha requires the root hooks before the files.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../../src/config';
import { findRedisServer, GET_REDIS } from '../../src/demo/private-redis';

function answersSync(host: string, port: number): boolean {
  const probe = `const s=require('net').connect(${port},${JSON.stringify(host)});s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),1000)`;
  return spawnSync(process.execPath, ['-e', probe]).status === 0;
}

function freePortSync(): number {
  const run = spawnSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(run.stdout.trim());
}

export function ensureTestRedis(): void {
  if (process.env.REDIS_CLUSTER_NODES) return;
  const url = process.env.REDIS_URL || DEFAULTS.redis.url;
  const { hostname, port } = new URL(url);
  if (answersSync(hostname.replace(/^\[|\]$/g, ''), Number(port || 6379))) return;
  const bin = findRedisServer();
  if (!bin) {
    process.stderr.write(`No Redis answers at ${url} and redis-server is not installed: ${GET_REDIS}, then run the tests again.\n`);
    process.exit(1);
  }
  const own = freePortSync();
  const dir = mkdtempSync(join(tmpdir(), 'cio-test-redis-'));
  const child = spawn(bin, ['--port', String(own), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  child.unref(); // the run ends when its tests do; the 'exit' handler stops the server
  process.once('exit', () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 100 && !answersSync('127.0.0.1', own); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  process.env.REDIS_URL = `redis://127.0.0.1:${own}`;
  process.stderr.write(`No Redis answers at ${url}: the tests run a private redis-server at ${process.env.REDIS_URL}, stopped at the end.\n`);
}
