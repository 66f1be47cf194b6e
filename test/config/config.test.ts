// Configuration is read once and checked: a rule broken stops start-up with a message that names the
// subscription and the field (or the environment variable).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';

const dir = mkdtempSync(join(tmpdir(), 'cio-config-'));
let n = 0;
function withFile(content: unknown): Record<string, string> {
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return { CIO_CONFIG: path };
}
const sub = (over: Record<string, unknown> = {}) => ({ name: 'Orders', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: { '@path': '$.event' } }, ...over });

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration', () => {
  it('with no subscriptions configured, the 15 presets apply with their default mappings', () => {
    const config = loadConfig({});
    expect(config.subscriptions.map((s) => s.action)).to.have.length(15);
    expect(config.subscriptions.every((s) => s.batchSize === 50 && s.enableBatching)).to.equal(true);
  });

  it('reads settings and subscriptions from CIO_CONFIG; the environment wins for credentials', () => {
    const env = withFile({ settings: { siteId: 'file-site', apiKey: 'file-key', accountRegion: 'EU 🇪🇺' }, subscriptions: [sub({ mapping: { batch_size: 10 } })] });
    const config = loadConfig({ ...env, CUSTOMERIO_API_KEY: 'env-key' });
    expect(config.customerio).to.include({ siteId: 'file-site', apiKey: 'env-key', region: 'EU' });
    expect(config.subscriptions.map((s) => [s.name, s.batchSize])).to.deep.equal([['Orders', 10]]);
  });

  it('accepts Segment’s own spellings (partnerAction, subscribe)', () => {
    const env = withFile({ subscriptions: [{ name: 'X', partnerAction: 'trackEvent', subscribe: 'type = "track"', mapping: {} }] });
    expect(loadConfig(env).subscriptions[0].action).to.equal('trackEvent');
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown action', { subscriptions: [sub({ action: 'sendSms' })] }, /^subscription "Orders": action: unknown action "sendSms"/],
    ['a trigger that does not parse', { subscriptions: [sub({ trigger: 'type = ' })] }, /^subscription "Orders": trigger/],
    ['an unknown directive', { subscriptions: [sub({ mapping: { name: { '@nope': 1 } } })] }, /^subscription "Orders": mapping\.name: unknown directive '@nope'/],
    ['a field the action does not have', { subscriptions: [sub({ mapping: { colour: 'red' } })] }, /^subscription "Orders": mapping\.colour: not a field of trackEvent/],
    ['batch_size 500', { subscriptions: [sub({ mapping: { batch_size: 500 } })] }, /^subscription "Orders": mapping: Batch Size must be equal to or less than 100\.$/],
    ['batch_size 1', { subscriptions: [sub({ mapping: { batch_size: 1 } })] }, /Batch Size must be equal to or greater than 2\./],
    ['a 51st subscription', { subscriptions: Array.from({ length: 51 }, (_, i) => sub({ name: `S${i}` })) }, /^subscriptions: at most 50 per destination, got 51$/],
    ['a name used twice', { subscriptions: [sub(), sub()] }, /^subscription "Orders": name: used twice/],
    ['a subscription without a name', { subscriptions: [sub({ name: '' })] }, /^subscriptions\[0\]: name: required/],
    ['enabled that is not a boolean', { subscriptions: [sub({ enabled: 'yes' })] }, /^subscription "Orders": enabled: must be true or false/],
    ['an unknown top-level key', { subscription: [] }, /unknown key\(s\) subscription/],
    ['a file that is not JSON', '{ nope', /not valid JSON/],
  ];
  for (const [what, content, message] of cases) {
    it(`refuses ${what}, naming where`, () => {
      expect(refusal(withFile(content))).to.match(message);
    });
  }

  it('refuses a missing CIO_CONFIG file', () => {
    expect(refusal({ CIO_CONFIG: join(dir, 'missing.json') })).to.match(/CIO_CONFIG=.*missing\.json: cannot read the file \(ENOENT\)/);
  });

  it('refuses bad environment values, naming the variable', () => {
    expect(refusal({ PORT: 'eighty' })).to.match(/^PORT must be a whole number/);
    expect(refusal({ FLUSH_INTERVAL_MS: '0' })).to.match(/^FLUSH_INTERVAL_MS must be a whole number from 1/);
    expect(refusal({ CUSTOMERIO_REGION: 'APAC' })).to.match(/^CUSTOMERIO_REGION: accountRegion must be "US" or "EU"/);
    expect(refusal({ REDIS_URL: 'localhost:6379' })).to.match(/^REDIS_URL must start with redis:\/\/ or rediss:\/\//);
    expect(refusal({ DASHBOARD_USER: 'admin' })).to.match(/DASHBOARD_USER and DASHBOARD_PASSWORD go together/);
  });

  it('listens on loopback without write keys, and refuses to listen beyond it without them', () => {
    expect(loadConfig({}).host).to.equal('127.0.0.1');
    expect(refusal({ HOST: '0.0.0.0' })).to.match(/^HOST=0\.0\.0\.0 would accept events from other machines without a write key/);
    expect(refusal({ HOST: '0.0.0.0', WRITE_KEYS: 'k' })).to.match(/dashboard .* without credentials/);
    expect(loadConfig({ WRITE_KEYS: 'k', DASHBOARD_USER: 'a', DASHBOARD_PASSWORD: 'b' }).host).to.equal('0.0.0.0');
  });

  it('allows browsers of any origin by default, or of the origins in CORS_ORIGINS, and refuses a malformed one', () => {
    expect(loadConfig({}).corsOrigins).to.deep.equal(['*']);
    expect(loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:8080' }).corsOrigins).to.deep.equal(['https://shop.example', 'http://localhost:8080']);
    expect(loadConfig({ CORS_ORIGINS: '' }).corsOrigins, 'empty: no browser').to.deep.equal([]);
    expect(refusal({ CORS_ORIGINS: 'https://shop.example/checkout' })).to.equal(
      'CORS_ORIGINS holds origins such as https://www.example.com (no path), or *; got "https://shop.example/checkout"',
    );
  });

  it('accepts the regions as Segment spells them', () => {
    expect(loadConfig({ CUSTOMERIO_REGION: 'EU 🇪🇺' }).customerio.region).to.equal('EU');
    expect(loadConfig({ CUSTOMERIO_REGION: 'eu' }).customerio.region).to.equal('EU');
    expect(loadConfig({ CUSTOMERIO_REGION: 'US 🇺🇸' }).customerio.region).to.equal('US');
  });

  it('accepts rediss:// URLs with a password', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://user:s3cret@redis.example:6380' }).redisUrl).to.equal('rediss://user:s3cret@redis.example:6380');
  });
});
