// Every case of vectors/upstream-cases.json: the reference's own tests, run on the batch and the
// single path, US and EU. The item we build (or the error we give) must equal the reference's, except where
// README.md's "Where we differ from Segment's destination" says we do better; those cases assert our documented behaviour and name the deviation.
import { expect } from 'chai';
import { ACTIONS, buildItem, defaultMapping, PATH_FOR } from '../../src/core/actions';
import { basicAuthorization, parseRegion, trackBaseUrl } from '../../src/core/settings';
import { compileMapping } from '../../src/core/subscriptions/mapping';
import { loadVectors, VECTOR_NOW } from '../support/vectors';

interface UpstreamCase {
  name: string;
  action: keyof typeof ACTIONS;
  mode: 'batch' | 'single';
  settings: { siteId?: string; apiKey?: string; accountRegion?: string };
  mapping: Record<string, unknown> | null;
  event: Record<string, unknown>;
  expected_request: { method: string; url: string; headers: Record<string, string>; body: any } | null;
  expected_error?: { message: string };
}

const cases = loadVectors<UpstreamCase[]>('upstream-cases.json');

/** Cases where a deviation applies: the expected item is the reference's, changed as the deviation says. */
const DEVIATIONS: Record<string, { deviation: string; expect: (referenceItem: any) => any }> = {};
for (const mode of ['batch', 'single']) {
  for (const region of ['US', 'EU']) {
    // D3: a numeric created_at is sent as the number it arrived as, not as the digit string "1710506096".
    DEVIATIONS[`createUpdatePerson | ${mode} | ${region} | should not convert created_at if it's already a number`] = {
      deviation: 'D3',
      expect: (item) => ({ ...item, attributes: { ...item.attributes, created_at: Number(item.attributes.created_at) } }),
    };
  }
}

describe('upstream cases (vectors/upstream-cases.json)', () => {
  it('has all 309 cases', () => expect(cases).to.have.length(309));

  for (const c of cases) {
    const title = DEVIATIONS[c.name] ? `${c.name} [our behaviour: ${DEVIATIONS[c.name].deviation}]` : c.name;
    it(title, () => {
      const action = ACTIONS[c.action];
      const mapped = compileMapping(c.mapping ?? defaultMapping(action.fields))(c.event);
      const result = buildItem(action, mapped, { now: VECTOR_NOW });

      if (!c.expected_request) {
        expect(result, 'the reference refused this event').to.deep.equal({ ok: false, error: c.expected_error!.message });
        return;
      }
      const region = parseRegion(c.settings.accountRegion);
      const path = c.mode === 'batch' ? PATH_FOR[action.delivery].batched : PATH_FOR[action.delivery].single;
      expect(trackBaseUrl(region) + path).to.equal(c.expected_request.url);
      expect(basicAuthorization(c.settings.siteId ?? '', c.settings.apiKey ?? '')).to.equal(
        c.expected_request.headers.authorization,
      );

      const referenceItem = c.mode === 'batch' && action.delivery === 'batch' ? single(c.expected_request.body.batch) : c.expected_request.body;
      const deviation = DEVIATIONS[c.name];
      expect(result).to.deep.equal({ ok: true, item: deviation ? deviation.expect(referenceItem) : referenceItem });
    });
  }
});

function single(batch: unknown[]): unknown {
  expect(batch).to.have.length(1);
  return batch[0];
}
