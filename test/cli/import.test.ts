import { expect } from 'chai';
import { itemJobs } from '../support/items';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ACTION_KEYS } from '../../src/core/types';
import { prepareEvents } from '../../src/producer/prepare';
import { TRACK_SUBSCRIPTION } from '../support/track-subscription';
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
    expect(summaryNumber(result.stdout, 'already queued')).to.equal(0);
    expect(result.stdout).to.include(`(items by action: createUpdatePerson ${identifies}, trackEvent ${tracks})`);
    expect(result.stdout).to.match(/filtered\s+1\s+\(no subscription fired 0, integrations 1\)/);
    expect(result.stdout).to.match(/refused\s+3\s+\(lines 17, 4000, 9999\)/);
    expect(result.stdout).to.not.match(/jobs/);

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
      alreadyQueued: 0,
      items: 1200,
      itemsByAction: { trackEvent: 1200 },
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

  // Issue 18 point 6: the summary said "events queued" for re-sends (a second import said 19,919 queued,
  // 0 were), and identical lines without a messageId collapsed into one event.
  it('point 1, import: a line whose messageId is a number or holds a lone surrogate is refused with the message the API gives', async () => {
    const file = path.join(dir, 'ids.ndjson');
    writeFileSync(file, `${trackLine(1)}\n{"type":"track","userId":"u","event":"E","messageId":12345678901234567890}\n{"type":"track","userId":"u","event":"E","messageId":"m-\\ud800"}\n`);
    const result = await runCli(['import', file], env());
    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stderr).to.match(/^line 2: the event has a "messageId" that is a number; "messageId" must be a string/m);
    expect(result.stderr).to.match(/^line 3: the event has a "messageId" with a lone UTF-16 surrogate/m);
    expect(summaryNumber(result.stdout, 'refused')).to.equal(2);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 1 });
  });

  it('point 6, import summary: a second import of the same file says 0 queued, N already queued, in events', async () => {
    const lines = [...Array.from({ length: 40 }, (_, i) => trackLine(i + 1)), identifyLine(41), '{"not": "an event"}', trackLine(43, { messageId: undefined })];
    const file = path.join(dir, 'again.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);

    const first = await runCli(['import', file], env());
    expect(first.code, transcript(first)).to.equal(1); // one line refused
    expect(summaryNumber(first.stdout, 'events queued')).to.equal(42);
    expect(summaryNumber(first.stdout, 'already queued')).to.equal(0);
    expect(summaryNumber(first.stdout, 'refused')).to.equal(1);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 41, createUpdatePerson: 1 });

    const again = await runCli(['import', file], env());
    expect(again.code, transcript(again)).to.equal(1);
    expect(summaryNumber(again.stdout, 'events queued')).to.equal(0);
    expect(summaryNumber(again.stdout, 'already queued')).to.equal(42);
    expect(summaryNumber(again.stdout, 'refused')).to.equal(1);
    expect(again.stdout).to.not.match(/jobs/);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 41, createUpdatePerson: 1 });
  });

  it('point 6, import ids: identical lines without a messageId stay distinct events, with the ids the HTTP API gives them, a resumed run included', async () => {
    const same = { type: 'track', event: 'Clicked', userId: 'u-same', properties: { button: 'buy' } };
    const other = { type: 'track', event: 'Clicked', userId: 'u-other' };
    const events = [same, same, other, same, same];
    const file = path.join(dir, 'same.ndjson');
    // Key order differs line to line: the id is of the content, as over HTTP, not of the text.
    const texts = events.map((e, i) => (i % 2 === 0 ? JSON.stringify(e) : JSON.stringify(Object.fromEntries(Object.entries(e).reverse()))));
    writeFileSync(file, `${texts.join('\n')}\n`);
    // What the HTTP API makes of the same events in one request (it runs prepareEvents on them).
    const httpIds = prepareEvents(structuredClone(events), [TRACK_SUBSCRIPTION], 0).prepared.map((p) => p.messageId);
    expect(new Set(httpIds).size).to.equal(5);

    const first = await runCli(['import', file], env());
    expect(first.code, transcript(first)).to.equal(0);
    expect(summaryNumber(first.stdout, 'events queued')).to.equal(5);
    const queuedIds = (await itemJobs(q.queues.trackEvent, ['waiting'])).map((j) => j.data.event.messageId).sort();
    expect(queuedIds).to.deep.equal([...httpIds].sort());
    await q.empty();

    // A checkpoint after line 2, as an interrupted run leaves it: the resumed run must number lines 4 and 5
    // as the third and fourth equal events, not as the first and second again.
    const stat = statSync(file);
    const counts = { lines: 2, blank: 0, events: 2, queued: 2, alreadyQueued: 0, items: 2, itemsByAction: { trackEvent: 2 }, filteredNoSubscription: 0, filteredIntegrations: 0, bad: 0, badLines: [] };
    const offset = Buffer.byteLength(`${texts.slice(0, 2).join('\n')}\n`);
    writeFileSync(`${file}.cio-import.json`, JSON.stringify({ version: 1, file, size: stat.size, mtimeMs: stat.mtimeMs, totalLines: 5, queuePrefix: q.prefix, line: 2, offset, counts, updatedAt: new Date().toISOString() }));
    const resumed = await runCli(['import', file], env());
    expect(resumed.code, transcript(resumed)).to.equal(0);
    const afterResume = (await itemJobs(q.queues.trackEvent, ['waiting'])).map((j) => j.data.event.messageId).sort();
    expect(afterResume).to.deep.equal(httpIds.slice(2).sort());

    const whole = await runCli(['import', file], env());
    expect(whole.code, transcript(whole)).to.equal(0);
    expect(summaryNumber(whole.stdout, 'events queued')).to.equal(2); // lines 1 and 2, not queued by the resumed run
    expect(summaryNumber(whole.stdout, 'already queued')).to.equal(3);
    const all = (await itemJobs(q.queues.trackEvent, ['waiting'])).map((j) => j.data.event.messageId).sort();
    expect(all).to.deep.equal([...httpIds].sort());
  });

  it('issue 19 point 5, import reads a gzipped export, by its .gz name or by gzip\'s magic bytes, and resumes inside it', async () => {
    const lines = Array.from({ length: 1500 }, (_, i) => trackLine(i + 1));
    const text = `${lines.join('\n')}\n`;
    const named = path.join(dir, 'export.ndjson.gz');
    writeFileSync(named, gzipSync(text));
    const byName = await runCli(['import', named], env());
    expect(byName.code, transcript(byName)).to.equal(0);
    expect(summaryNumber(byName.stdout, 'lines read')).to.equal(1500);
    expect(summaryNumber(byName.stdout, 'events queued')).to.equal(1500);
    expect(await jobsInRedis()).to.deep.equal({ trackEvent: 1500 });

    // No .gz in the name, and a checkpoint after line 1000 (offsets are of the uncompressed text).
    const unnamed = path.join(dir, 'export-more.ndjson');
    const more = Array.from({ length: 1500 }, (_, i) => trackLine(i + 2001));
    writeFileSync(unnamed, gzipSync(`${more.join('\n')}\n`));
    const stat = statSync(unnamed);
    const counts = { lines: 1000, blank: 0, events: 1000, queued: 1000, alreadyQueued: 0, items: 1000, itemsByAction: { trackEvent: 1000 }, filteredNoSubscription: 0, filteredIntegrations: 0, bad: 0, badLines: [] };
    const offset = Buffer.byteLength(`${more.slice(0, 1000).join('\n')}\n`);
    writeFileSync(`${unnamed}.cio-import.json`, JSON.stringify({ version: 1, file: unnamed, size: stat.size, mtimeMs: stat.mtimeMs, totalLines: 1500, queuePrefix: q.prefix, line: 1000, offset, counts, updatedAt: new Date().toISOString() }));
    const resumed = await runCli(['import', unnamed], env());
    expect(resumed.code, transcript(resumed)).to.equal(0);
    expect(resumed.stdout).to.include('(this run: 500 lines, 500 events)');
    const ids = new Set((await itemJobs(q.queues.trackEvent, ['waiting'])).map((j) => j.data.event.messageId));
    expect(ids.size).to.equal(2000);
    expect(ids.has('msg-3000')).to.equal(false);
    expect(ids.has('msg-3001')).to.equal(true);
    expect(ids.has('msg-3500')).to.equal(true);
  });

  it('with Redis unreachable, says so, exits 2 and keeps the checkpoint', async () => {
    const file = path.join(dir, 'later.ndjson');
    writeFileSync(file, `${trackLine(1)}\n${trackLine(2)}\n`);
    const stat = statSync(file);
    const checkpoint = JSON.stringify({
      version: 1, file, size: stat.size, mtimeMs: stat.mtimeMs, totalLines: 2, queuePrefix: q.prefix, line: 1,
      offset: Buffer.byteLength(`${trackLine(1)}\n`),
      counts: { lines: 1, blank: 0, events: 1, queued: 1, alreadyQueued: 0, items: 1, itemsByAction: { trackEvent: 1 }, filteredNoSubscription: 0, filteredIntegrations: 0, bad: 0, badLines: [] },
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
    expect(help.stdout).to.match(/Exit codes:\n\s+0 .*\n\s+1 .*refused/);
  });
});
