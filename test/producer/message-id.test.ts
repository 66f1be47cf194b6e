// Issue 18 point 1: event identity is lossless. Ids that were distinct when the client sent them used to
// merge (numbers past 2^53, 1e400 and 2e400 both Infinity, strings differing only in lone surrogates,
// which UTF-8 turns into U+FFFD), and the second event was dropped as a re-send under a 200. A messageId
// must now be a well-formed string; anything else is refused, naming the field, and nothing is queued.
import { expect } from 'chai';
import pino from 'pino';
import { startService, type RunningService } from '../../src/service';
import { ACTION_KEYS } from '../../src/core/types';
import { removeMessageIndex } from '../../src/redis/message-index';
import { itemsOf } from '../support/items';
import { testConfig } from '../support/pipeline';

const TRACK_ONLY = [{ name: 'Track', action: 'trackEvent', trigger: 'type = "track"', mapping: { id: { '@path': '$.userId' }, name: { '@path': '$.event' } } }];

/** Each pair: two ids a client sent as different ones, as JSON text (so the HTTP case sends exactly these bytes). */
const COLLIDING = [
  { name: 'numbers past 2^53', a: '12345678901234567890', b: '12345678901234567891' },
  { name: '1e400 and 2e400 (both Infinity once parsed)', a: '1e400', b: '2e400' },
  { name: 'strings differing only in lone surrogates', a: '"order-\\ud800"', b: '"order-\\udc00"' },
];

const eventText = (id: string) => `{"type":"track","userId":"u1","event":"Bought","messageId":${id}}`;

describe('point 1: event identity is lossless', function () {
  this.timeout(30_000);
  const config = testConfig({ subscriptionSpecs: TRACK_ONLY });
  let service: RunningService;

  before(async () => {
    service = await startService(config, 'api', pino({ level: 'silent' }));
  });
  afterEach(async () => {
    await Promise.all(ACTION_KEYS.map((a) => service.queues[a].obliterate({ force: true })));
    await removeMessageIndex(service.redis, config.redis.queuePrefix).catch(() => undefined);
  });
  after(async () => service && (await service.close()));

  const queued = async () => (await itemsOf(service.queues.trackEvent)).map((i) => i.messageId).sort();
  const post = (body: string) => fetch(`${service.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  for (const { name, a, b } of COLLIDING) {
    it(`point 1, HTTP API: ${name} are refused with a 400 naming "messageId", and nothing is queued`, async () => {
      for (const id of [a, b]) {
        const res = await post(`{"batch":[${eventText(id)}]}`);
        const answer = (await res.json()) as { code?: string; error?: string };
        expect(res.status, `${id}: ${JSON.stringify(answer)}`).to.equal(400);
        expect(answer.code).to.equal('CIO_ERR_EVENTS_REFUSED');
        expect(answer.error).to.match(/"messageId"/);
      }
      expect(await queued()).to.deep.equal([]);
    });

    it(`point 1, publish(): ${name} are refused per event with the same message, and nothing is queued`, async () => {
      const results = await service.producer!.publish([a, b].map((id) => JSON.parse(eventText(id))));
      for (const r of results) {
        expect(r.error).to.match(/^event \d has a "messageId" /);
        expect(r.fired).to.deep.equal([]);
      }
      expect(await queued()).to.deep.equal([]);
    });
  }

  it('point 1: the same ids sent as well-formed strings stay two events, and an absent messageId is still derived from the content', async () => {
    const res = await post(`{"batch":[${eventText('"12345678901234567890"')},${eventText('"12345678901234567891"')},{"type":"track","userId":"u1","event":"Bought"}]}`);
    expect(res.status, await res.clone().text()).to.equal(200);
    const ids = await queued();
    expect(ids).to.have.length(3);
    expect(ids).to.include.members(['12345678901234567890', '12345678901234567891']);
    expect(ids.find((id) => id.startsWith('api-'))).to.match(/^api-[0-9a-f]{32}$/);
  });
});
