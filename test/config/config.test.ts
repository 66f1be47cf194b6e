// Configuration is read once and checked: a rule broken stops start-up with a message that names the
// subscription and the field (or the environment variable).
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { ACTION_KEYS } from '../../src/core/types';
import { configRefusal, withConfigFile } from '../support/config-file';

// `mapping` given in `over` is laid over a mapping of the one required field.
const sub = (over: Record<string, unknown> = {}) => ({
  name: 'Orders',
  action: 'trackEvent',
  trigger: 'type = "track"',
  ...over,
  mapping: { name: { '@path': '$.event' }, ...(over.mapping as object | undefined) },
});

const withFile = withConfigFile;
const refusal = configRefusal;

describe('configuration', () => {
  it('with no subscriptions configured, the presets of every action apply with their default mappings', () => {
    const config = loadConfig({});
    expect(config.subscriptions.map((s) => s.action)).to.deep.equal([...ACTION_KEYS]);
    expect(config.subscriptions.every((s) => s.batchSize === 50 && s.enableBatching)).to.equal(true);
  });

  it('reads settings and subscriptions from CIO_CONFIG; the environment wins for credentials', () => {
    const env = withFile({ settings: { siteId: 'file-site', apiKey: 'file-key', accountRegion: 'EU 🇪🇺' }, subscriptions: [sub({ mapping: { batch_size: 10 } })] });
    const config = loadConfig({ ...env, CUSTOMERIO_API_KEY: 'env-key' });
    expect(config.customerio).to.include({ siteId: 'file-site', apiKey: 'env-key', region: 'EU' });
    expect(config.subscriptions.map((s) => [s.name, s.batchSize])).to.deep.equal([['Orders', 10]]);
  });

  it('accepts Segment’s own spellings (partnerAction, subscribe)', () => {
    const env = withFile({ subscriptions: [{ name: 'X', partnerAction: 'trackEvent', subscribe: 'type = "track"', mapping: { name: { '@path': '$.event' } } }] });
    expect(loadConfig(env).subscriptions[0].action).to.equal('trackEvent');
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown action', { subscriptions: [sub({ action: 'sendSms' })] }, /^subscription "Orders": action: unknown action "sendSms"/],
    ['a trigger that does not parse', { subscriptions: [sub({ trigger: 'type = ' })] }, /^subscription "Orders": trigger/],
    ['an unknown directive', { subscriptions: [sub({ mapping: { name: { '@nope': 1 } } })] }, /^subscription "Orders": mapping\.name: unknown directive '@nope'/],
    ['a field the action does not have', { subscriptions: [sub({ mapping: { colour: 'red' } })] }, /^subscription "Orders": mapping\.colour: not a field of trackEvent/],
    ['batch_size 500', { subscriptions: [sub({ mapping: { batch_size: 500 } })] }, /^subscription "Orders": mapping: Batch Size must be equal to or less than 100\.$/],
    ['batch_size 1', { subscriptions: [sub({ mapping: { batch_size: 1 } })] }, /Batch Size must be equal to or greater than 2\./],
    // Numbers a batch is made of are whole: 50.5 used to pass start-up and then fail every item at flush.
    ['batch_size 50.5', { subscriptions: [sub({ mapping: { batch_size: 50.5 } })] }, /^subscription "Orders": mapping\.batch_size: must be a whole number from 2 to 100, got 50\.5$/],
    ['batch_size 2.5', { subscriptions: [sub({ mapping: { batch_size: 2.5 } })] }, /mapping\.batch_size: must be a whole number from 2 to 100, got 2\.5$/],
    ['batch_size "99.9"', { subscriptions: [sub({ mapping: { batch_size: '99.9' } })] }, /mapping\.batch_size: must be a whole number from 2 to 100, got "99\.9"$/],
    ['batch_size from a directive', { subscriptions: [sub({ mapping: { batch_size: { '@path': '$.n' } } })] }, /mapping\.batch_size: must be a literal value/],
    ['enable_batching "sometimes"', { subscriptions: [sub({ mapping: { enable_batching: 'sometimes' } })] }, /^subscription "Orders": mapping: Enable Batching must be a boolean/],
    // Whatever else the mapping fixes for every event is checked at load too: a value every item would fail on.
    ['a required field left out', { subscriptions: [{ name: 'Orders', action: 'trackEvent', trigger: 'type = "track"', mapping: { id: { '@path': '$.userId' } } }] }, /^subscription "Orders": mapping\.name: Event Name is required by trackEvent; map it, e\.g\. \{"@path":"\$\.event"\}$/],
    ['a required field mapped to null', { subscriptions: [sub({ mapping: { name: null } })] }, /^subscription "Orders": mapping\.name: The root value is missing the required field 'name'\. Every event would fail on it\.$/],
    ['a literal date that is not a date', { subscriptions: [{ name: 'D', action: 'reportDeliveryEvent', trigger: 'type = "track"', mapping: { delivery_id: { '@path': '$.d' }, metric: 'opened', timestamp: 'yesterday' } }] }, /^subscription "D": mapping\.timestamp: .*Every event would fail on it\.$/],
    ['a literal of the wrong type', { subscriptions: [sub({ mapping: { convert_timestamp: 'maybe' } })] }, /^subscription "Orders": mapping\.convert_timestamp: Convert Timestamps must be a boolean/],
    ['a @literal outside the choices', { subscriptions: [{ name: 'D', action: 'reportDeliveryEvent', trigger: 'type = "track"', mapping: { delivery_id: { '@path': '$.d' }, metric: { '@literal': 'eaten' } } }] }, /^subscription "D": mapping\.metric: .*Every event would fail on it\.$/],
    ['a 51st subscription', { subscriptions: Array.from({ length: 51 }, (_, i) => sub({ name: `S${i}` })) }, /^subscriptions: at most 50 per destination, got 51$/],
    ['a name used twice', { subscriptions: [sub(), sub()] }, /^subscription "Orders": name: used twice/],
    ['a subscription without a name', { subscriptions: [sub({ name: '' })] }, /^subscriptions\[0\]: name: required/],
    ['enabled that is not a boolean', { subscriptions: [sub({ enabled: 'yes' })] }, /^subscription "Orders": enabled: must be true or false/],
    ['an unknown top-level key', { subscription: [] }, /unknown key "subscription" \(did you mean "subscriptions"\?\)/],
    ['a file that is not JSON', '{ nope', /not valid JSON/],
  ];
  for (const [what, content, message] of cases) {
    it(`refuses ${what}, naming where`, () => {
      expect(refusal(withFile(content))).to.match(message);
    });
  }

  it('accepts literal values the field takes, and leaves values read from the event to each event', () => {
    const env = withFile({ subscriptions: [sub({ mapping: { batch_size: '20', convert_timestamp: 'false', timestamp: { '@literal': '2024-01-02T03:04:05Z' }, data: { a: { '@path': '$.a' } } } })] });
    expect(loadConfig(env).subscriptions[0].batchSize).to.equal(20);
  });

  it('refuses a mapping nested 10,000 deep with the subscription and field named, not a stack overflow', () => {
    // Written as text: JSON.stringify itself overflows on such a value.
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const text = `{"subscriptions":[{"name":"Orders","action":"trackEvent","trigger":"type = \\"track\\"","mapping":{"name":"n","data":${deep}}}]}`;
    expect(refusal(withFile(text))).to.match(
      /^subscription "Orders": mapping\.data(\.a){63}: nested more than 64 objects and arrays deep/,
    );
  });

  it('refuses a template over the length limit, naming the subscription and field', () => {
    const env = withFile({ subscriptions: [sub({ mapping: { name: { '@template': '{'.repeat(1_000_000) } } })] });
    const started = Date.now();
    expect(refusal(env)).to.equal('subscription "Orders": mapping.name.@template: the template is 1000000 characters; at most 10000 are allowed');
    expect(Date.now() - started, 'ms to refuse').to.be.below(1000);
  });

  it('refuses a Liquid template Segment refuses, naming the subscription and field', () => {
    const liquid = (template: string) => withFile({ subscriptions: [sub({ mapping: { data: { text: { '@liquid': template } } } })] });
    expect(refusal(liquid('{% for p in properties.products %}{{ p.name }}{% endfor %}'))).to.equal(
      'subscription "Orders": mapping.data.text.@liquid: the Liquid template cannot be used: tag "for" is disabled, line:1, col:1',
    );
    expect(refusal(liquid('{{ properties.tags | uniq }}'))).to.match(/^subscription "Orders": mapping\.data\.text\.@liquid: the Liquid template cannot be used: filter "uniq" is disabled/);
    expect(refusal(liquid('x'.repeat(1001)))).to.equal('subscription "Orders": mapping.data.text.@liquid: the Liquid template is 1001 characters; Segment allows at most 1000');
  });

  it('refuses a missing CIO_CONFIG file', () => {
    expect(refusal({ CIO_CONFIG: join(dirname(withFile({}).CIO_CONFIG), 'missing.json') })).to.match(/CIO_CONFIG=.*missing\.json: cannot read the file \(ENOENT\)/);
  });

  it('refuses bad environment values, naming the variable', () => {
    expect(refusal({ PORT: 'eighty' })).to.match(/^PORT must be a whole number/);
    expect(refusal({ FLUSH_INTERVAL_MS: '0' })).to.match(/^FLUSH_INTERVAL_MS must be a whole number from 1/);
    expect(refusal({ FLUSH_INTERVAL_MS: '1.5' })).to.match(/^FLUSH_INTERVAL_MS must be a whole number from 1/);
    expect(refusal({ JOB_ATTEMPTS: '0' })).to.match(/^JOB_ATTEMPTS must be a whole number from 1/);
    expect(refusal({ WORKER_CONCURRENCY: '-4' })).to.match(/^WORKER_CONCURRENCY must be a whole number from 1/);
    // Number() reads these as whole numbers; they are typos, not settings.
    expect(refusal({ REQUEST_CONCURRENCY: '0x10' })).to.match(/^REQUEST_CONCURRENCY must be a whole number from 1 to 1000, got "0x10"$/);
    expect(refusal({ JOB_ATTEMPTS: '1e3' })).to.match(/^JOB_ATTEMPTS must be a whole number/);
    expect(refusal({ SHUTDOWN_TIMEOUT_MS: '  ' })).to.match(/^SHUTDOWN_TIMEOUT_MS must be a whole number/);
    // Past 2^31-1 ms a Node timer fires after 1 ms: a 35-day pause would become none at all.
    expect(refusal({ AUTH_PAUSE_MS: '3000000000' })).to.equal('AUTH_PAUSE_MS must be a whole number from 1 to 2147483647, got "3000000000"');
    expect(refusal({ CUSTOMERIO_TIMEOUT_MS: '9999999999' })).to.match(/^CUSTOMERIO_TIMEOUT_MS must be a whole number from 100 to 2147483647/);
    const read = loadConfig({ PORT: ' 8080 ', AUTH_PAUSE_MS: '2147483647' });
    expect(read.http.port).to.equal(8080);
    expect(read.worker.authPauseMs).to.equal(2_147_483_647);
    expect(refusal({ CUSTOMERIO_REGION: 'APAC' })).to.match(/^CUSTOMERIO_REGION: accountRegion must be "US" or "EU"/);
    expect(refusal({ REDIS_URL: 'localhost:6379' })).to.match(/^REDIS_URL must start with redis:\/\/ or rediss:\/\//);
    expect(refusal({ DASHBOARD_USER: 'admin' })).to.match(/DASHBOARD_USER and DASHBOARD_PASSWORD go together/);
  });

  it('listens on loopback without write keys, and refuses to listen beyond it without them', () => {
    expect(loadConfig({}).http.host).to.equal('127.0.0.1');
    expect(refusal({ HOST: '0.0.0.0' })).to.match(/^HOST=0\.0\.0\.0 would accept events from other machines without a write key/);
    expect(refusal({ HOST: '0.0.0.0', WRITE_KEYS: 'k' })).to.match(/dashboard .* without credentials/);
    expect(loadConfig({ WRITE_KEYS: 'k', DASHBOARD_USER: 'a', DASHBOARD_PASSWORD: 'b' }).http.host).to.equal('0.0.0.0');
  });

  it('allows browsers of any origin by default, or of the origins in CORS_ORIGINS, and refuses a malformed one', () => {
    expect(loadConfig({}).http.corsOrigins).to.deep.equal(['*']);
    expect(loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:8080' }).http.corsOrigins).to.deep.equal(['https://shop.example', 'http://localhost:8080']);
    expect(loadConfig({ CORS_ORIGINS: '' }).http.corsOrigins, 'empty: no browser').to.deep.equal([]);
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
    expect(loadConfig({ REDIS_URL: 'rediss://user:s3cret@redis.example:6380' }).redis.url).to.equal('rediss://user:s3cret@redis.example:6380');
  });
});
