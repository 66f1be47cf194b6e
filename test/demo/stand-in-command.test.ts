// `npm run stand-in` as a user runs it: it prints the URL to point the service at, logs each request with
// its answer and refusals, refuses or fails what it is told to, and stops cleanly on SIGINT/SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { until } from '../support/cli';
import { spawnNode } from '../support/process';

interface Running {
  child: ChildProcess;
  output(): string;
  url: string;
  exit: Promise<number | null>;
}

async function startStandIn(args: string[]): Promise<Running> {
  const child = spawnNode('src/demo/stand-in.ts', ['--port', '0', ...args]);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  await until(() => /CUSTOMERIO_TRACK_URL=(\S+)/.test(output) || child.exitCode !== null, 'the stand-in to print its URL');
  const url = /CUSTOMERIO_TRACK_URL=(\S+)/.exec(output)?.[1];
  if (!url) throw new Error(`the stand-in printed no CUSTOMERIO_TRACK_URL:\n${output}`);
  return { child, output: () => output, url, exit };
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/api/v2/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('x:y').toString('base64')}` },
    body: JSON.stringify(body),
  });
}

const person = (id: string, extra: Record<string, unknown> = {}) => ({ type: 'person', action: 'identify', identifiers: { id }, ...extra });

describe('npm run stand-in', function () {
  this.timeout(30_000);
  const started: Running[] = [];
  afterEach(() => {
    for (const s of started.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  it('prints the CUSTOMERIO_TRACK_URL line, logs each request with its items, status and refusals, and stops on SIGINT', async () => {
    const standIn = await startStandIn(['--refuse-matching', 'refuse-me']);
    started.push(standIn);
    expect(standIn.output()).to.match(/CUSTOMERIO_TRACK_URL=http:\/\/127\.0\.0\.1:\d+ CUSTOMERIO_SITE_ID=x CUSTOMERIO_API_KEY=y npm start/);

    const res = await post(standIn.url, { batch: [person('a'), person('refuse-me'), person('b', { attributes: { bio: 'x'.repeat(1001) } })] });
    expect(res.status).to.equal(207);
    const body = (await res.json()) as { errors: Array<{ batch_index: number }> };
    expect(body.errors.map((e) => e.batch_index)).to.deep.equal([1, 2]);

    await until(() => standIn.output().includes('item 2:'), 'the request in the log');
    expect(standIn.output()).to.match(/POST \/api\/v2\/batch {2}3 items → 207, 2 refused\n/);
    expect(standIn.output()).to.include('item 1: invalid: refused by the stand-in: the item contains "refuse-me" (--refuse-matching)');
    expect(standIn.output()).to.include('item 2: invalid attributes.bio: property value cannot be longer than 1000 bytes');

    standIn.child.kill('SIGINT');
    expect(await standIn.exit).to.equal(0);
    expect(standIn.output()).to.include('Stopped (SIGINT): 1 request(s), 1 item(s) accepted, 2 refused.');
  });

  it('with --verbose, logs each item it receives as one line of compact JSON, after its request; without, no item', async () => {
    const verbose = await startStandIn(['--verbose', '--refuse-matching', 'refuse-me']);
    const quiet = await startStandIn([]);
    started.push(verbose, quiet);
    const items = [person('a', { attributes: { plan: 'pro' } }), person('refuse-me')];
    expect((await post(verbose.url, { batch: items })).status).to.equal(207);
    expect((await post(quiet.url, { batch: items })).status).to.equal(200);
    const entity = await fetch(`${verbose.url}/api/v2/entity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('x:y').toString('base64')}` },
      body: JSON.stringify(person('c')),
    });
    expect(entity.status).to.equal(200);

    await until(() => verbose.output().includes('/api/v2/entity') && quiet.output().includes('→ 200'), 'the requests in the logs');
    const lines = verbose.output().split('\n');
    const batchAt = lines.findIndex((l) => /POST \/api\/v2\/batch {2}2 items → 207, 1 refused$/.test(l));
    expect(lines.slice(batchAt + 1, batchAt + 4)).to.deep.equal([
      '    item 1: invalid: refused by the stand-in: the item contains "refuse-me" (--refuse-matching)',
      `    item 0 ${JSON.stringify(items[0])}`,
      `    item 1 ${JSON.stringify(items[1])}`,
    ]);
    const entityAt = lines.findIndex((l) => /POST \/api\/v2\/entity {2}1 item → 200$/.test(l));
    expect(lines[entityAt + 1]).to.equal(`    item 0 ${JSON.stringify(person('c'))}`);
    expect(quiet.output()).not.to.include('item 0');
  });

  it('answers 429 with Retry-After, or 500, to the share of requests it is told to, and stops on SIGTERM', async () => {
    const limited = await startStandIn(['--rate-limit', '1', '--retry-after', '7']);
    const failing = await startStandIn(['--server-errors', '100%']);
    started.push(limited, failing);

    const res429 = await post(limited.url, { batch: [person('a')] });
    expect(res429.status).to.equal(429);
    expect(res429.headers.get('retry-after')).to.equal('7');
    const res500 = await post(failing.url, { batch: [person('a'), person('b')] });
    expect(res500.status).to.equal(500);
    await until(() => failing.output().includes('→ 500') && limited.output().includes('→ 429'), 'the answers in the logs');
    expect(failing.output()).to.match(/2 items → 500\n/);

    for (const s of [limited, failing]) s.child.kill('SIGTERM');
    expect(await limited.exit).to.equal(0);
    expect(await failing.exit).to.equal(0);
  });

  it('refuses a bad option with exit 2 and a message naming it', async () => {
    const child = spawnNode('src/demo/stand-in.ts', ['--refuse-items', '3']);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).to.equal(2);
    expect(err).to.include('--refuse-items is a share of 0 to 1 (0.2, or 20%), got "3"');
  });
});
