// docker-compose.yml must stay valid and carry every setting: parsed by the docker-compose client (no Docker
// engine runs here), in a copy of the checkout's compose files with a .env made as the README says
// (`cp .env.example .env`), so a developer's own .env never changes the outcome.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

const root = path.resolve(__dirname, '..', '..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const example = readFileSync(path.join(root, '.env.example'), 'utf8');
/** What the README asks to set in .env after copying it. */
const REQUIRED = { CUSTOMERIO_SITE_ID: 'site-1', CUSTOMERIO_API_KEY: 'key-1', WRITE_KEYS: 'wk-1', DASHBOARD_PASSWORD: 'pw-1' };
/** .env.example with the required values filled in, as a user leaves it. */
const filled = Object.entries(REQUIRED).reduce((text, [name, value]) => text.replace(new RegExp(`^${name}=.*$`, 'm'), `${name}=${value}`), example);

/** `docker-compose config …` in a fresh project directory whose .env is `dotEnv`, with no other environment. */
function compose(args: string[], dotEnv: string | undefined = filled) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cio-compose-'));
  try {
    for (const file of ['docker-compose.yml', 'Dockerfile', 'cio-config.json']) copyFileSync(path.join(root, file), path.join(dir, file));
    if (dotEnv !== undefined) writeFileSync(path.join(dir, '.env'), dotEnv);
    const run = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: dir, env: { PATH: process.env.PATH }, encoding: 'utf8' });
    return { ...run, dir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The variables of the README's configuration table. */
function documentedVariables(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### Subscriptions'));
  const names = new Set<string>();
  for (const line of table.split('\n')) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1] ?? '';
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1]);
  }
  return [...names];
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

  it('refuses .env copied from .env.example unchanged, naming what to set', () => {
    const run = compose(['config', '-q'], example);
    expect(run.status).to.not.equal(0);
    expect(run.stderr).to.match(/set (CUSTOMERIO_SITE_ID|CUSTOMERIO_API_KEY|WRITE_KEYS|DASHBOARD_PASSWORD) in \.env/);
  });

  it('passes `docker-compose config` once .env sets the credentials, write keys and dashboard password', () => {
    const run = compose(['config', '-q']);
    expect(run.stderr).to.equal('');
    expect(run.status).to.equal(0);
  });

  it('runs Redis with AOF and noeviction, the API, and scalable workers', () => {
    const config = compose(['config']).stdout;
    expect(config).to.match(/- --appendonly\n\s+- "yes"\n/);
    expect(config).to.match(/- --maxmemory-policy\n\s+- noeviction\n/);
    expect(config).to.match(/- --maxmemory\n\s+- 512mb\n/);
    expect(compose(['config'], `${filled}\nREDIS_MAXMEMORY=2gb\n`).stdout).to.match(/- --maxmemory\n\s+- 2gb\n/);
    expect(config).to.include('dist/main.js');
    const services = compose(['config', '--services']).stdout.trim().split('\n').sort();
    expect(services).to.deep.equal(['api', 'redis', 'worker']);
  });

  it('gives the API and every worker a setting made only in .env, and mounts the CIO_CONFIG file read-only', () => {
    const run = compose(['config'], `${filled}\nJOB_ATTEMPTS=7\nFLUSH_INTERVAL_MS=250\n`);
    expect(run.status, run.stderr).to.equal(0);
    for (const service of ['api', 'worker']) {
      const block = serviceBlock(run.stdout, service);
      expect(block, service).to.match(/\n\s+JOB_ATTEMPTS: '7'\n/);
      expect(block, service).to.match(/\n\s+FLUSH_INTERVAL_MS: '250'\n/);
      expect(block, service).to.match(/\n\s+CIO_CONFIG: \/config\/cio-config\.json\n/);
      expect(block, service).to.include(`- ${run.dir}/cio-config.json:/config/cio-config.json:ro`);
    }
  });

  it('mounts the file CIO_CONFIG_FILE names instead, when set', () => {
    const run = compose(['config'], `${filled}\nCIO_CONFIG_FILE=/srv/relay/subscriptions.json\n`);
    expect(run.status, run.stderr).to.equal(0);
    expect(serviceBlock(run.stdout, 'worker')).to.include('- /srv/relay/subscriptions.json:/config/cio-config.json:ro');
  });

  it('checks the health of the API and of the workers on the port each serves /health on', () => {
    const config = compose(['config']).stdout;
    expect(serviceBlock(config, 'api')).to.include("fetch('http://127.0.0.1:3000/health')");
    const worker = serviceBlock(config, 'worker');
    expect(worker).to.match(/\n\s+METRICS_PORT: '9464'\n/);
    expect(worker).to.include("fetch('http://127.0.0.1:9464/health')");
  });

  it('refuses to start without Customer.io credentials, naming the variable', () => {
    const run = compose(['config', '-q'], filled.replace(/^CUSTOMERIO_API_KEY=.*$/m, ''));
    expect(run.status).to.not.equal(0);
    expect(run.stderr).to.include('set CUSTOMERIO_API_KEY');
  });

  it('.env.example lists every setting of the README configuration table', () => {
    const documented = documentedVariables();
    expect(documented.length).to.be.greaterThan(30);
    const listed = new Set([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(documented.filter((name) => !listed.has(name))).to.deep.equal([]);
  });
});

/** One service's part of `docker-compose config` output (services are indented two spaces). */
function serviceBlock(config: string, service: string): string {
  const start = config.indexOf(`\n  ${service}:\n`);
  if (start < 0) throw new Error(`no service ${service} in:\n${config}`);
  const next = config.slice(start + 1).search(/\n {2}[a-z-]+:\n|\n[a-z]/);
  return next < 0 ? config.slice(start) : config.slice(start, start + 1 + next);
}
