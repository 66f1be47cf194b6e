// docker-compose.yml must stay valid: parsed by the docker-compose client (no Docker engine runs here).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'chai';

const root = resolve(__dirname, '..', '..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const env = {
  PATH: process.env.PATH,
  CUSTOMERIO_SITE_ID: 'site',
  CUSTOMERIO_API_KEY: 'key',
  WRITE_KEYS: 'wk',
  DASHBOARD_USER: 'admin',
  DASHBOARD_PASSWORD: 'pw',
};

function compose(args: string[], extraEnv: Record<string, string | undefined> = env) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: root, env: extraEnv as NodeJS.ProcessEnv, encoding: 'utf8' });
}

describe('docker-compose.yml', function () {
  this.timeout(30_000);
  before(function () {
    if (!hasCompose) {
      // .ci/run installs Debian's docker-compose; elsewhere say why nothing was checked.
      if (process.env.CI) throw new Error('docker-compose is not installed (.ci/run should have installed it)');
      this.skip();
    }
  });

  it('passes `docker-compose config`', () => {
    const run = compose(['config', '-q']);
    expect(run.stderr).to.equal('');
    expect(run.status).to.equal(0);
  });

  it('runs Redis with AOF and noeviction, the API, and scalable workers', () => {
    const config = compose(['config']).stdout;
    expect(config).to.match(/- --appendonly\n\s+- "yes"\n/);
    expect(config).to.match(/- --maxmemory-policy\n\s+- noeviction\n/);
    expect(config).to.include('dist/main.js');
    const services = compose(['config', '--services']).stdout.trim().split('\n').sort();
    expect(services).to.deep.equal(['api', 'redis', 'worker']);
  });

  it('refuses to start without Customer.io credentials, naming the variable', () => {
    const run = compose(['config', '-q'], { ...env, CUSTOMERIO_API_KEY: undefined });
    expect(run.status).to.not.equal(0);
    expect(run.stderr).to.include('set CUSTOMERIO_API_KEY');
  });
});
