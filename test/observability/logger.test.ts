import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets, redactUrl } from '../../src/log/logger';

const API_KEY = 'sk_live_0f9e8d7c6b5a';
const SITE_ID = 'site_1234abcd';
const WRITE_KEY = 'wk_segment_secret_99';
const REDIS_PASSWORD = 'r3dis-pa55';

/** A logger whose output lands in memory, exactly as it would be written to stdout. */
function captured(level = 'trace') {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level, destination, name: 'test' });
  return {
    log,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('observability: logger', () => {
  it('writes one JSON line per call with the level name, the logger name and an ISO time', () => {
    const out = captured();
    out.log.info({ subscription: 'track events' }, 'flushed');
    const [line] = out.lines();
    expect(line).to.include({ level: 'info', name: 'test', subscription: 'track events', msg: 'flushed' });
    expect(line.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('drops calls below the configured level', () => {
    const out = captured('warn');
    out.log.info('quiet');
    out.log.warn('loud');
    expect(out.lines().map((l) => l.msg)).to.deep.equal(['loud']);
  });

  it('refuses an unknown level with a message that lists the valid ones', () => {
    expect(() => createLogger({ level: 'verbose' })).to.throw(/unknown log level "verbose".*info/);
  });

  it('redacts secret fields at the top level and nested, and in child bindings', () => {
    const out = captured();
    out.log.info(
      {
        apiKey: API_KEY,
        settings: { apiKey: API_KEY, siteId: SITE_ID },
        destination: { settings: { apiKey: API_KEY } },
        password: REDIS_PASSWORD,
        writeKey: WRITE_KEY,
        source: { writeKey: WRITE_KEY },
        config: { writeKeys: [WRITE_KEY] },
        headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
        request: { headers: { Authorization: `Basic ${Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')}` } },
      },
      'config loaded',
    );
    out.log.child({ apiKey: API_KEY }).warn('child');
    const text = out.text();
    expect(text).not.to.include(API_KEY);
    expect(text).not.to.include(WRITE_KEY);
    expect(text).not.to.include(REDIS_PASSWORD);
    expect(text).not.to.include(Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64'));
    expect(text).not.to.include(Buffer.from(`${WRITE_KEY}:`).toString('base64'));
    const [first, child] = out.lines();
    expect(first.settings).to.deep.equal({ apiKey: '[redacted]', siteId: SITE_ID }); // non-secrets stay readable
    expect(child.apiKey).to.equal('[redacted]');
  });

  it('shows a Redis URL with its password hidden but its host visible', () => {
    const out = captured();
    out.log.info({ redisUrl: `redis://default:${REDIS_PASSWORD}@cache.internal:6380/2` }, 'connecting');
    out.log.info({ config: { redisUrl: `rediss://:${REDIS_PASSWORD}@cache.internal` } }, 'connecting');
    expect(out.text()).not.to.include(REDIS_PASSWORD);
    const [a, b] = out.lines();
    expect(a.redisUrl).to.equal('redis://default:***@cache.internal:6380/2');
    expect((b.config as Record<string, unknown>).redisUrl).to.equal('rediss://:***@cache.internal');
  });

  it('keeps the Authorization header, the socket request and the full response of an HTTP-client error out of the log', () => {
    const basic = `Basic ${Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')}`;
    const err = Object.assign(new Error('Request failed with status code 401'), {
      isAxiosError: true,
      code: 'ERR_BAD_REQUEST',
      config: { method: 'post', url: '/api/v2/batch', baseURL: 'https://track.customer.io', headers: { Authorization: basic }, auth: { username: SITE_ID, password: API_KEY } },
      request: { _header: `POST /api/v2/batch HTTP/1.1\r\nAuthorization: ${basic}\r\n` },
      response: { status: 401, statusText: 'Unauthorized', data: '', config: { headers: { Authorization: basic } } },
    });
    const out = captured();
    out.log.error({ err }, 'batch request failed');
    out.log.error(err, 'same error as the first argument');
    const text = out.text();
    expect(text).not.to.include(API_KEY);
    expect(text).not.to.include(basic.slice('Basic '.length));
    const [line] = out.lines();
    expect(line.err).to.deep.include({
      type: 'Error',
      message: 'Request failed with status code 401',
      code: 'ERR_BAD_REQUEST',
      request: { method: 'post', url: '/api/v2/batch', baseURL: 'https://track.customer.io' },
      response: { status: 401, statusText: 'Unauthorized', data: '' },
    });
  });

  it('keeps the fields of ordinary errors', () => {
    const out = captured();
    out.log.error({ err: Object.assign(new Error('boom'), { attempt: 3 }) }, 'failed');
    expect(out.lines()[0].err).to.include({ type: 'Error', message: 'boom', attempt: 3 });
  });
});

describe('observability: redactUrl', () => {
  it('hides the password of a URL with a user name', () => {
    expect(redactUrl('redis://user:pass@host')).to.equal('redis://user:***@host');
  });

  it('hides a password given without a user name and keeps port, path and query', () => {
    expect(redactUrl('rediss://:s3cret@h.example:6380/0?tls=true')).to.equal('rediss://:***@h.example:6380/0?tls=true');
  });

  it('hides a password that itself contains an unencoded "@" or ":"', () => {
    expect(redactUrl('redis://u:p@ss:w@host:6379')).to.equal('redis://u:***@host:6379');
  });

  it('leaves URLs without a password unchanged', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://user@host', 'redis://host/0?x=a:b@c', 'not a url', '']) {
      expect(redactUrl(url)).to.equal(url);
    }
  });
});

describe('observability: redactSecrets', () => {
  it('replaces every occurrence of each secret', () => {
    expect(redactSecrets(`key=${API_KEY}; again ${API_KEY}`, [API_KEY])).to.equal('key=[redacted]; again [redacted]');
  });

  it('replaces the Basic-auth form base64(siteId:apiKey) when given both', () => {
    const header = `Authorization: Basic ${Buffer.from(`${SITE_ID}:${API_KEY}`).toString('base64')}`;
    expect(redactSecrets(header, [SITE_ID, API_KEY])).to.equal('Authorization: Basic [redacted]');
    expect(redactSecrets(header, [API_KEY, SITE_ID])).to.equal('Authorization: Basic [redacted]');
  });

  it('ignores empty secrets instead of redacting between every character', () => {
    expect(redactSecrets('nothing secret here', ['', API_KEY])).to.equal('nothing secret here');
  });

  it('replaces a secret that contains another one whole', () => {
    expect(redactSecrets('token abc123xyz', ['abc', 'abc123xyz'])).to.equal('token [redacted]');
  });
});
