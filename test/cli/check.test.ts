import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CustomerIoStandIn } from '../../src/demo/customerio-stand-in';
import { runCli, transcript, type CliResult } from '../support/cli';
import { startPrivateRedis } from '../support/chaos';
import { TEST_REDIS_URL, UNREACHABLE_REDIS_URL } from '../support/redis';

const SITE_ID = 'site-1234';
const API_KEY = 'track-key-s3cr3t-0042';
const WRITE_KEY = 'write-key-very-secret';

describe('cli: check', function () {
  this.timeout(60_000);
  let standIn: CustomerIoStandIn;
  let dir: string;
  let configFile: string;

  before(async () => {
    standIn = await CustomerIoStandIn.start({ siteId: SITE_ID, apiKey: API_KEY });
    dir = mkdtempSync(path.join(os.tmpdir(), 'cio-check-'));
    configFile = path.join(dir, 'cio.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        subscriptions: [
          {
            name: 'Orders',
            partnerAction: 'trackEvent',
            subscribe: 'type = "track" and event = "Order Completed"',
            mapping: { name: { '@path': '$.event' }, id: { '@path': '$.userId' }, batch_size: 25 },
            enabled: true,
          },
          { name: 'People', action: 'createUpdatePerson', trigger: 'type = "identify"', mapping: { enable_batching: false }, enabled: false },
        ],
      }),
    );
  });

  afterEach(() => standIn.reset());

  after(async () => {
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function env(overrides: Record<string, string | undefined> = {}) {
    return {
      REDIS_URL: TEST_REDIS_URL,
      CIO_CONFIG: configFile,
      CUSTOMERIO_SITE_ID: SITE_ID,
      CUSTOMERIO_API_KEY: API_KEY,
      CUSTOMERIO_REGION: 'US',
      CUSTOMERIO_TRACK_URL: standIn.url,
      WRITE_KEYS: WRITE_KEY,
      HOST: '127.0.0.1',
      ...overrides,
    };
  }

  function expectNoSecrets(result: CliResult): void {
    const all = result.stdout + result.stderr;
    for (const secret of [API_KEY, WRITE_KEY, 'hunter2', Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')]) {
      expect(all, `printed a secret: ${secret}`).to.not.include(secret);
    }
  }

  it('prints what it accepted of each subscription, then "credentials OK" when the region matches (exit 0)', async () => {
    const result = await runCli(['check'], env());

    expect(result.code, transcript(result)).to.equal(0);
    expect(result.stdout).to.include('Subscriptions: 2, from CIO_CONFIG; 1 enabled');
    expect(result.stdout).to.include('"Orders" → trackEvent, enabled, batch size 25');
    expect(result.stdout).to.include('trigger: type = "track" and event = "Order Completed"');
    expect(result.stdout).to.include('mapped fields: name, id');
    expect(result.stdout).to.include('"People" → createUpdatePerson, disabled, batching off (one request per item)');
    expect(result.stdout).to.include('Redis: OK');
    expect(result.stdout).to.include('credentials OK, workspace region us matches CUSTOMERIO_REGION=US');
    expect(result.stdout.trimEnd().split('\n').pop()).to.equal('All checks passed.');
    const asked = standIn.requests.find((r) => r.path === '/api/v1/accounts/region');
    expect(asked?.method).to.equal('GET');
    expectNoSecrets(result);
  });

  it('says which region to set when the workspace is elsewhere (exit 1)', async () => {
    standIn.respondNext({ status: 200, body: { url: 'https://track-eu.customer.io', region: 'eu', environment_id: 7 } });

    const result = await runCli(['check'], env());

    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout).to.include('credentials OK but the workspace is in EU while CUSTOMERIO_REGION=US: set CUSTOMERIO_REGION=EU');
  });

  it('reports refused credentials without printing them (exit 1)', async () => {
    const result = await runCli(['check'], env({ CUSTOMERIO_API_KEY: 'hunter2' }));

    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout).to.include('Customer.io refused the credentials (401)');
    expect(result.stdout).to.include('API key  set (not shown)');
    expectNoSecrets(result);
  });

  it('reports an unreachable Customer.io and an unreachable Redis, without the Redis password (exit 1)', async () => {
    const result = await runCli(
      ['check'],
      env({ CUSTOMERIO_TRACK_URL: 'http://127.0.0.1:1', REDIS_URL: UNREACHABLE_REDIS_URL.replace('//', '//relay:hunter2@') }),
    );

    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout).to.include('redis://relay:***@127.0.0.1:1');
    expect(result.stdout).to.include('Redis: Cannot reach Redis');
    expect(result.stdout).to.match(/Customer\.io unreachable at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    expect(result.stdout.trimEnd().split('\n').pop()).to.equal(
      'Check failed: Redis (unreachable); Customer.io (unreachable). The configuration itself is valid.',
    );
    expectNoSecrets(result);
  });

  // Issue 18 point 9: the verdict said "Redis (unreachable)" for a Redis that answered but evicts.
  it('point 9, check against an evicting Redis: names the eviction policy as the problem, not "unreachable" (exit 1)', async () => {
    const evicting = await startPrivateRedis({ args: ['--appendonly', 'no', '--maxmemory', '50mb', '--maxmemory-policy', 'allkeys-lru'] });
    try {
      const result = await runCli(['check'], env({ REDIS_URL: evicting.url }));
      expect(result.code, transcript(result)).to.equal(1);
      expect(result.stdout).to.include(`Redis: ${evicting.url} answers, but may evict queued jobs.`);
      expect(result.stdout).to.include('has maxmemory-policy allkeys-lru');
      expect(result.stdout).to.not.include('unreachable');
      expect(result.stdout.trimEnd().split('\n').pop()).to.equal(
        'Check failed: Redis (maxmemory-policy allkeys-lru may evict queued jobs; set noeviction). The configuration itself is valid.',
      );
    } finally {
      await evicting.destroy();
    }
  });

  it('says how to set missing credentials, and ends with a verdict naming them (exit 1)', async () => {
    const result = await runCli(['check'], env({ CUSTOMERIO_SITE_ID: undefined, CUSTOMERIO_API_KEY: undefined }));

    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout).to.include('Customer.io credentials are missing: set CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY');
    expect(result.stdout.trimEnd().split('\n').pop()).to.equal(
      'Check failed: Customer.io credentials (missing: CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY). The configuration itself is valid.',
    );
    expect(standIn.requests).to.have.length(0);
  });

  it('names every part that failed, Redis too, when the credentials are missing (exit 1)', async () => {
    const result = await runCli(['check'], env({ CUSTOMERIO_API_KEY: undefined, REDIS_URL: UNREACHABLE_REDIS_URL }));

    expect(result.code, transcript(result)).to.equal(1);
    expect(result.stdout.trimEnd().split('\n').pop()).to.equal(
      'Check failed: Redis (unreachable); Customer.io credentials (missing: CUSTOMERIO_API_KEY). The configuration itself is valid.',
    );
  });

  it('ends each failure with a verdict naming the part that failed', async () => {
    standIn.respondNext({ status: 200, body: { url: 'https://track-eu.customer.io', region: 'eu', environment_id: 7 } });
    const region = await runCli(['check'], env());
    expect(region.stdout.trimEnd().split('\n').pop()).to.equal('Check failed: Customer.io region (the workspace is in EU). The configuration itself is valid.');

    const refused = await runCli(['check'], env({ CUSTOMERIO_API_KEY: 'hunter2' }));
    expect(refused.stdout.trimEnd().split('\n').pop()).to.equal('Check failed: Customer.io credentials (refused, 401). The configuration itself is valid.');
  });

  it('prints a configuration error, naming the subscription and the field (exit 2)', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ subscriptions: [{ name: 'Oops', action: 'trackEvents', trigger: 'type = "track"' }] }));

    const result = await runCli(['check'], env({ CIO_CONFIG: bad }));

    expect(result.code, transcript(result)).to.equal(2);
    expect(result.stderr).to.match(/^Configuration error: subscription "Oops": action: unknown action "trackEvents"/m);
  });

  it('refuses a misspelt key or region, naming it and the closest valid key (exit 2)', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { subscriptions: [{ name: 'Orders', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: 'n' }, enabeld: false }] },
        /^Configuration error: subscription "Orders": unknown key "enabeld" \(did you mean "enabled"\?\)/m,
      ],
      [
        { subscriptions: [{ name: 'Orders', action: 'trackEvent', tigger: 'type = "track"', mapping: { name: 'n' } }] },
        /^Configuration error: subscription "Orders": unknown key "tigger" \(did you mean "trigger"\?\)/m,
      ],
      [{ settings: { acountRegion: 'EU' } }, /^Configuration error: CIO_CONFIG=.*: settings: unknown key "acountRegion" \(did you mean "accountRegion"\?\)/m],
      [{ settings: { accountRegion: 'EU1' } }, /^Configuration error: CIO_CONFIG=.*: settings: accountRegion must be "US" or "EU" .*got "EU1"$/m],
    ];
    for (const [content, message] of cases) {
      const bad = path.join(dir, 'typo.json');
      writeFileSync(bad, JSON.stringify(content));
      const result = await runCli(['check'], env({ CIO_CONFIG: bad, CUSTOMERIO_REGION: undefined }));
      expect(result.code, transcript(result)).to.equal(2);
      expect(result.stderr).to.match(message);
      expect(result.stdout, 'nothing is reported valid').to.not.include('Configuration: valid');
    }
  });

  it('refuses what start-up refuses: a batch_size of 50.5, a 10,000-deep mapping, a disabled Liquid tag (exit 2)', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        JSON.stringify({ subscriptions: [{ name: 'Half', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: 'n', batch_size: 50.5 } }] }),
        /^Configuration error: subscription "Half": mapping\.batch_size: must be a whole number from 2 to 100, got 50\.5$/m,
      ],
      [
        `{"subscriptions":[{"name":"Deep","action":"trackEvent","trigger":"type = \\"track\\"","mapping":{"name":"n","data":${'['.repeat(10_000)}${']'.repeat(10_000)}}}]}`,
        /^Configuration error: subscription "Deep": mapping\.data(\[0\])+: nested more than 64 objects and arrays deep/m,
      ],
      [
        JSON.stringify({ subscriptions: [{ name: 'Loop', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: { '@liquid': '{% for x in y %}{% endfor %}' } } }] }),
        /^Configuration error: subscription "Loop": mapping\.name\.@liquid: the Liquid template cannot be used: tag "for" is disabled/m,
      ],
    ];
    for (const [text, message] of cases) {
      const bad = path.join(dir, 'bad-number.json');
      writeFileSync(bad, text);
      const result = await runCli(['check'], env({ CIO_CONFIG: bad }));
      expect(result.code, transcript(result)).to.equal(2);
      expect(result.stderr).to.match(message);
    }
  });
});
