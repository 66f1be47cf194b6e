// A throwaway three-master Redis Cluster on loopback ports, in a temp dir of its own, for tests.
//
// Each node is a `redis-server --cluster-enabled yes` child of the test process (no daemonize), so the test
// owns its pids and can always stop them; `redis-cli --cluster create` assigns the 16384 slots over the
// three masters. Nothing is persisted (`--appendonly no --save ''`) and the temp dir is removed on stop.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';

export interface ClusterNode {
  host: string;
  port: number;
  /** The cluster bus port (node-to-node gossip). */
  busPort: number;
  process: ChildProcess;
  /** The node's log file (its tail is quoted when the cluster does not come up). */
  logFile: string;
}

export interface LocalRedisCluster {
  dir: string;
  nodes: ClusterNode[];
  /** `host:port,host:port,host:port`: the value for REDIS_CLUSTER_NODES. */
  seeds: string;
  /** A plain (non-cluster) connection to one node (one per port, closed by stop), for CLUSTER KEYSLOT, SCAN and the like. */
  nodeClient(port: number): IORedis;
  /** Which node (by port) serves the slot of a key. */
  nodeForKey(key: string): Promise<number>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Why a cluster cannot be started on this machine, or undefined when redis-server and redis-cli are there. */
export function redisClusterUnavailable(): string | undefined {
  for (const bin of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      return `${bin} is not on PATH (${(probe.error as NodeJS.ErrnoException).code}); install Redis 7 (apt-get install redis-server) to run the Redis Cluster test`;
    }
    const major = Number(/v=(\d+)|redis-cli (\d+)/.exec(probe.stdout)?.slice(1).find(Boolean));
    if (major && major < 7) return `${bin} is version ${major}; the Redis Cluster test needs Redis 7 or newer (cluster-port)`;
  }
  return undefined;
}

/** Starts three masters and creates the cluster; retries on a port race. Stops what it started on failure. */
export async function startRedisCluster(opts: { timeoutMs?: number } = {}): Promise<LocalRedisCluster> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(opts.timeoutMs ?? 20_000);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(timeoutMs: number): Promise<LocalRedisCluster> {
  const deadline = Date.now() + timeoutMs;
  const dir = mkdtempSync(join(tmpdir(), 'cio-redis-cluster-'));
  liveDirs.add(dir);
  const ports = await freePorts(6);
  const nodes: ClusterNode[] = [];
  const clients: IORedis[] = [];
  const stop = once(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => stopProcess(n.process)));
    forget(nodes);
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  });

  try {
    for (let i = 0; i < 3; i++) {
      const port = ports[i];
      const busPort = ports[i + 3];
      const logFile = join(dir, `redis-${port}.log`);
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', HOST,
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-port', String(busPort),
          '--cluster-node-timeout', '5000',
          '--appendonly', 'no',
          '--save', '',
          '--dir', dir,
          '--logfile', logFile,
          '--daemonize', 'no',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.resume();
      nodes.push({ host: HOST, port, busPort, process: child, logFile });
      remember(child);
    }

    const byPort = new Map<number, IORedis>();
    const nodeClient = (port: number): IORedis => {
      const known = byPort.get(port);
      if (known) return known;
      const client = new IORedis({ host: HOST, port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
      client.on('error', () => undefined);
      clients.push(client);
      byPort.set(port, client);
      return client;
    };

    const direct = nodes.map((n) => nodeClient(n.port));
    for (const [i, client] of direct.entries()) {
      await until(deadline, `node ${nodes[i].port} answers PING`, async () => {
        if (nodes[i].process.exitCode !== null) throw new Error(`redis-server on port ${nodes[i].port} exited with ${nodes[i].process.exitCode}`);
        return (await client.ping().catch(() => '')) === 'PONG';
      });
    }

    const create = await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      Math.max(1000, deadline - Date.now()),
    );
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed (${create.code}):\n${create.output}`);

    for (const [i, client] of direct.entries()) {
      await until(deadline, `node ${nodes[i].port} reports cluster_state:ok`, async () => {
        const info = await client.cluster('INFO').catch(() => '');
        return /cluster_state:ok/.test(String(info)) && /cluster_slots_assigned:16384/.test(String(info));
      });
    }

    return {
      dir,
      nodes,
      seeds: nodes.map((n) => `${HOST}:${n.port}`).join(','),
      nodeClient,
      async nodeForKey(key: string) {
        const slot = Number(await direct[0].cluster('KEYSLOT', key));
        const slots = await direct[0].cluster('SLOTS');
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`slot ${slot} of ${key} is served by no node`);
        return Number(range[2][1]);
      },
      stop,
    };
  } catch (err) {
    const logs = nodes
      .map((n) => `--- redis-server ${n.port} (${n.logFile}):\n${existsSync(n.logFile) ? readFileSync(n.logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)'}`)
      .join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/** Ports the OS says are free now (all distinct). A race with another process is retried by the caller. */
async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

async function until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}\n${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

// If the test process dies without running its teardown (mocha --exit, a crash), the nodes still go.
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
function remember(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
function forget(nodes: ClusterNode[]): void {
  for (const n of nodes) live.delete(n.process);
}
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});
