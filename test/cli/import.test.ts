import { expect } from 'chai';
import { itemJobs } from '../support/items';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ACTION_KEYS } from '../../src/core/types';
import { runCli, startCli, transcript, until } from '../support/cli';
import { openTestQueues, TEST_REDIS_URL, UNREACHABLE_REDIS_URL, type TestQueues } from '../support/redis';

/** The presets' names for the two actions these files fire (no CIO_CONFIG: the presets apply). */

function trackLine(n: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'track',
    event: 'Order Completed',
    userId: `user-${n}`,
    messageId: `msg-${n}`,
    timestamp: '2024-03-15T12:34:56.789Z',
    properties: { n },
    ...extra,
  });
}

function identifyLine(n: number): string {
  return JSON.stringify({ type: 'identify', userId: `user-${n}`, messageId: `msg-${n}`, traits: { email: `user-${n}@example.com` } });
}

describe('cli: import', function () {
  this.timeout(60_000);
  let dir: string;
  let q: TestQueues;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cio-import-'));
    q = await openTestQueues();
  });

  afterEach(async () => {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: q.prefix });

  async function jobsInRedis(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const action of ACTION_KEYS) {
      // Items, not jobs: a job carries a group of events.
      const n = (await itemJobs(q.queues[action], ['waiting', 'delayed', 'prioritized'])).length;
      if (n > 0) out[action] = n;
    }
    return out;
  }

  function summaryNumber(stdout: string, label: string): number {
    const m = new RegExp(`^\\s+${label}\\s+(\\d+)`, 'm').exec(stdout);
    if (!m) throw new Error(`no "${label}" in the summary:\n${stdout}`);
    return Number(m[1]);
  }

  it('imports a 10 000-line export with progress lines, reports bad lines by number and goes on, and queues as many jobs as the summary says', async () => {
    const bad = new Map<number, string>([
      [17, '{"type": "track", "event": '],
      [4000, JSON.stringify({ type: 'purchase', messageId: 'weird', userId: 'u' })],
      [9999, '[1, 2, 3]'],
    ]);
    const lines: string[] = [];
    for (let n = 1; n <= 10_012; n++) {
      if (bad.has(n)) lines.push(bad.get(n)!);
      else if (n === 50) lines.push('');
      else if (n === 60) lines.push(trackLine(n, { integrations: { All: false } }));
      else if (n % 5 === 0) lines.push(identifyLine(n));
      else lines.push(trackLine(n));
    }
    const file = path.join(dir, 'export.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);

    const result = await runCli(['import', file], env());

    expect(result.code, transcript(result)).to.equal(1); // some lines were bad
    const progress = result.stderr.split('\n').filter((l) => l.startsWith('imported '));
    expect(progress.length, result.stderr).to.be.greaterThanOrEqual(5);
    for (const line of progress) expect(line).to.match(/^imported \d+\/10012 lines \(\d+%\) \d+ events\/s ETA (\d+[smh]|\d+m\d+s|\?)$/);
    expect(progress[progress.length - 1]).to.match(/^imported 10012\/10012 lines \(100%\) \d+ events\/s ETA 0s$/);

    expect(result.stderr).to.match(/^line 17: not JSON \(.+\)$/m);
    expect(result.stderr).to.match(/^line 4000: the event has an unknown type "purchase"/m);
    expect(result.stderr).to.match(/^line 9999: the event must be a JSON object$/m);
    expect(result.stderr.match(/^line \d+:/gm)).to.have.length(3);

    const identifies = lines.filter((l) => l.includes('"identify"')).length;
    const tracks = 10_012 - 3 - 1 - 1 - identifies; // bad, blank, filtered by integrations
    expect(summaryNumber(result.stdout, 'lines read')).to.equal(10_012);
    expect(summaryNumber(result.stdout, 'events queued')).to.equal(tracks + identifies);
    expect(summaryNumber(result.stdout, 'jobs queued')).to.equal(tracks + identifies);
    expect(result.stdout).to.include(`(createUpdatePerson ${identifies}, trackEvent ${tracks})`);
    expect(result.stdout).to.match(/filtered\s+1\s+\(no subscription fired 0, integrations 1\)/);
    expect(result.stdout).to.match(/bad lines\s+3\s+\(lines 17, 4000, 9999\)/);

    expect(await jobsInRedis()).to.deep.equal({ createUpdatePerson: identifies, trackEvent: tracks });
    expect(existsSync(`${file}.cio-import.json`), 'checkpoint removed when the file is done').to.equal(false);
  });

  it('resumes after a hand-written checkpoint: says so, and queues only the lines after it', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => trackLine(i + 1));
    const file = path.join(dir, 'half-done.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const stat = statSync(file);
    const offset = Buffer.byteLength(`${lines.slice(0, 1200).join('\n')}\n`);
    const counts = {
      lines: 1200,
      blank: 0,
      events: 1200,
      queued: 1200,
      jobs: 1200,
      jobsByAction: { trackEvent: 1200 },
      filteredNoSubscription: 0,
      filteredIntegrations: 0,
      bad: 0,
      badLines: [],
    };
    const checkpoint = { version: 1, file, size: stat.size, mtimeMs: stat.mtimeMs, totalLines: 2000, queuePrefix: q.prefix, line: 1200, offset, counts, updatedAt: new Date().toISOString() };
    writeFileSync(`${file}.cio-import.json`, JSON.stringify(checkpoint));

    const result = await runCli(['import', file], env());

    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stderr).to.include('resuming at line 1201');
    expect(result.stdout).to.include('resumed at line 1201');
    expect(result.stdout).to.include('(this run: 800 lines, 800 events)');
    expect(summaryNumber(result.stdout, 'events queued')).to.equal(2000); // the whole file, over both runs
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 800 });
    const queuedIds = new Set((await itemJobs(q.queues.trackEvent, ['waiting'])).map((j) => j.data.event.messageId));
    expect(queuedIds.has('msg-1200')).to.equal(false);
    expect(queuedIds.has('msg-1201')).to.equal(true);
    expect(existsSync(`${file}.cio-import.json`)).to.equal(false);
  });

  it('killed after its first checkpoint, a second run resumes there and every event ends up queued exactly once', async () => {
    const total = 6000;
    const lines = Array.from({ length: total }, (_, i) => trackLine(i + 1));
    const file = path.join(dir, 'interrupted.ndjson');
    const checkpointFile = `${file}.cio-import.json`;
    writeFileSync(file, `${lines.join('\n')}\n`);

    // Slowed down so that it is surely killed mid-file.
    const first = startCli(['import', file, '--rate', '2000'], env());
    const checkpointLine = () => (existsSync(checkpointFile) ? (JSON.parse(readFileSync(checkpointFile, 'utf8')) as { line: number }).line : 0);
    await until(() => checkpointLine() > 0, 'the first checkpoint');
    first.child.kill('SIGKILL');
    await first.done;
    const line = checkpointLine();
    expect(line).to.be.greaterThan(0).and.lessThan(total);

    const second = await runCli(['import', file], env());

    expect(second.code, transcript(second)).to.equal(0);
    expect(second.stderr).to.include(`resuming at line ${line + 1}`);
    expect(second.stdout).to.include(`(this run: ${total - line} lines, ${total - line} events)`);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: total });
    const jobs = await itemJobs(q.queues.trackEvent, ['waiting']);
    expect(new Set(jobs.map((j) => j.data.event.messageId)).size).to.equal(total);
    expect(existsSync(checkpointFile)).to.equal(false);
  });

  it('run twice (--restart), queues nothing twice, lines without a messageId included', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? trackLine(i + 1) : trackLine(i + 1, { messageId: undefined })));
    const file = path.join(dir, 'twice.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);

    const first = await runCli(['import', file], env());
    expect(first.code, transcript(first)).to.equal(0);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 300 });

    const again = await runCli(['import', file, '--restart'], env());
    expect(again.code, transcript(again)).to.equal(0);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 300 });
  });

  it('with Redis unreachable, says so, exits 2 and keeps the checkpoint', async () => {
    const file = path.join(dir, 'later.ndjson');
    writeFileSync(file, `${trackLine(1)}\n${trackLine(2)}\n`);
    const stat = statSync(file);
    const checkpoint = JSON.stringify({
      version: 1, file, size: stat.size, mtimeMs: stat.mtimeMs, totalLines: 2, queuePrefix: q.prefix, line: 1,
      offset: Buffer.byteLength(`${trackLine(1)}\n`),
      counts: { lines: 1, blank: 0, events: 1, queued: 1, jobs: 1, jobsByAction: { trackEvent: 1 }, filteredNoSubscription: 0, filteredIntegrations: 0, bad: 0, badLines: [] },
      updatedAt: new Date().toISOString(),
    });
    writeFileSync(`${file}.cio-import.json`, checkpoint);

    const result = await runCli(['import', file], { REDIS_URL: UNREACHABLE_REDIS_URL, QUEUE_PREFIX: q.prefix });

    expect(result.code, transcript(result)).to.equal(2);
    expect(result.stderr).to.include('Cannot reach Redis at redis://127.0.0.1:1');
    expect(result.stderr).to.include('The checkpoint is kept: run the same command again to resume at line 2.');
    expect(readFileSync(`${file}.cio-import.json`, 'utf8')).to.equal(checkpoint);
  });

  it('refuses bad arguments with exit 2 and documents the exit codes in --help', async () => {
    const missing = await runCli(['import', path.join(dir, 'nope.ndjson')], env());
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/cannot read .*nope\.ndjson: ENOENT/);

    const typo = await runCli(['import', 'x.ndjson', '--rate', 'fast'], env());
    expect(typo.code).to.equal(2);
    expect(typo.stderr).to.include('--rate must be a whole number');

    const help = await runCli(['import', '--help'], {});
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/Exit codes:\n\s+0 .*\n\s+1 .*bad/);
  });
});
