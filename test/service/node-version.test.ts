// On a Node older than 24 the service says so in one log line at start, with how to get Node 24.
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { oldNodeWarning } from '../../src/log/node-version';
import { REPO_ROOT, testEnv } from '../support/process';

describe('the Node version warning', () => {
  it('names an older Node and both ways to get Node 24; nothing on 24 or later', () => {
    const warning = oldNodeWarning('22.11.0');
    expect(warning).to.include('Node 22.11.0 is older than 24');
    expect(warning).to.include('nvm install 24');
    expect(warning).to.include('npm install --prefix ~/.cache/cio-relay/node24 node@24');
    expect(oldNodeWarning('v20.1.0')).to.include('Node v20.1.0 is older than 24');
    expect(oldNodeWarning('24.0.0')).to.equal(undefined);
    expect(oldNodeWarning('25.2.1')).to.equal(undefined);
  });

  it('is logged once at start by the service run on an older node (the machine’s own, when it has one)', function () {
    const old = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (old.status !== 0 || Number(old.stdout.split('.')[0]) >= 24) this.skip();
    // No Redis here: the service stops right after its start-up lines, which is all this needs.
    const run = spawnSync('/usr/bin/node', ['dist/main.js', 'all'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 20_000,
      env: testEnv({ REDIS_URL: 'redis://127.0.0.1:1', CUSTOMERIO_SITE_ID: 's', CUSTOMERIO_API_KEY: 'k' }),
    });
    const warnings = run.stdout.split('\n').filter((l) => l.includes('is older than 24'));
    expect(warnings, run.stdout + run.stderr).to.have.length(1);
    expect(JSON.parse(warnings[0])).to.include({ level: 'warn', node: old.stdout.trim() });
  });
});
