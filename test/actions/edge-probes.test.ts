// vectors/edge-probes.json: further scenarios run against the reference. Each probe's items (or
// errors) are checked here; what the service then does with Customer.io's answers (P01–P05, P13) is checked
// end to end in test/worker/outcomes.test.ts. Probes a deviation of README.md
// ("Where we differ from Segment's destination", D1–D10) applies to assert our behaviour instead.
import { expect } from 'chai';
import { ACTIONS, buildItem, defaultMapping, PATH_FOR } from '../../src/core/actions';
import { basicAuthorization, parseRegion, trackBaseUrl } from '../../src/core/settings';
import { compileMapping } from '../../src/core/subscriptions/mapping';
import { loadVectors, VECTOR_NOW } from '../support/vectors';

interface Probe {
  name: string;
  action: keyof typeof ACTIONS;
  mode: 'batch' | 'single';
  settings: { siteId: string; apiKey: string; accountRegion?: string };
  mapping: Record<string, unknown> | null;
  event?: Record<string, unknown>;
  events?: Record<string, unknown>[];
  expected_request?: { url: string; headers: Record<string, string>; body: any } | null;
  expected_requests?: Array<{ url: string; body: any }>;
  expected_error?: { message: string; status?: number };
  expected_multistatus?: any[];
  raw?: unknown;
}

const probes = loadVectors<Probe[]>('edge-probes.json');
const id = (p: Probe) => p.name.split(' ')[0];

type Expectation = (Record<string, unknown> | { error: string })[];

/** The items (or refusals) the reference produced, one per event, in event order. */
function referenceItems(p: Probe): Expectation {
  const events = p.events ?? [p.event!];
  if (p.expected_error && events.length === 1 && !p.expected_request) return [{ error: p.expected_error.message }];
  const requests = p.expected_requests ?? (p.expected_request ? [p.expected_request] : []);
  const sent = requests.flatMap((r) => (Array.isArray(r.body?.batch) ? r.body.batch : [r.body]));
  const multistatus = p.expected_multistatus;
  // Events refused by validation are not in the request; the multistatus says where they were.
  return events.map((_, i) => {
    const entry = multistatus?.[i];
    if (entry && entry.status === 400 && entry.errortype === 'PAYLOAD_VALIDATION_FAILED') return { error: entry.errormessage };
    return sent.shift();
  });
}

const reference = (p: Probe) => referenceItems(p);

/** Where we deliberately differ (README.md's D1–D10), the items we send instead. */
const OURS: Record<string, { deviation: string; items: (p: Probe) => Expectation }> = {
  P07: {
    deviation: 'D3: numeric created_at and timestamp are sent as numbers',
    items: (p) => reference(p).map((item: any) => ({
      ...item,
      attributes: { ...item.attributes, created_at: 1700000000 },
      timestamp: 1710506096,
    })),
  },
  P10b: {
    deviation: 'D5: an empty event id is absent in batches too',
    items: (p) => reference(p).map(({ id: _empty, ...item }: any) => item),
  },
  P13: {
    deviation: 'D8: delivery metrics are sent one by one to /api/v1/metrics whatever enable_batching says',
    items: () => [{ delivery_id: 'd1', metric: 'opened', timestamp: 1710506096 }],
  },
  P25: {
    deviation: 'D4: an item with no identifiers is never sent',
    items: () => [{ error: 'The item has no anonymous_id (the only identifier this action sends), so Customer.io would refuse it; it was not sent.' }],
  },
  P26: {
    deviation: 'D2: event names and ids are sent exactly as given',
    items: (p) => reference(p).map((item: any) => ({ ...item, name: '2024-01-01', id: '2024-02-02T00:00:00Z' })),
  },
  P27: {
    deviation: 'D2: object ids are sent exactly as given',
    items: (p) => reference(p).map((item: any) => ({ ...item, identifiers: { ...item.identifiers, object_id: '2024-01-01' } })),
  },
  P28: {
    deviation: "D10: createUpdatePerson converts relationship attributes' dates too",
    items: (p) =>
      reference(p).map((item: any) => ({
        ...item,
        cio_relationships: [{ ...item.cio_relationships[0], relationship_attributes: { since: 1704067200 } }],
      })),
  },
  P29: {
    deviation: 'D4: an item with no identifiers is never sent',
    items: () => [{ error: "The item has no object_id (the object's identifier), so Customer.io would refuse it; it was not sent." }],
  },
  P30: {
    deviation: 'D4: an item with no identifiers is never sent',
    items: () => [{ error: 'The item has no person identifier (a userId, an email or an anonymousId), so Customer.io would refuse it; it was not sent.' }],
  },
};

/** Probes that are not about building items, with the reason they are not run here. */
const NOT_ITEMS: Record<string, string> = {
  P18: "Segment's onDelete hook (DELETE /api/v1/customers/{id}) is not a subscription action; user deletion goes through the Delete Person action's items.",
  P19: 'A capture of the reference’s multistatus without its input events; which events fire the Track Event preset is checked by preset-events.test.ts and the trigger tests.',
};

describe('edge probes (vectors/edge-probes.json)', () => {
  it('has all 32 probes', () => expect(probes).to.have.length(32));

  for (const probe of probes) {
    const key = id(probe);
    if (NOT_ITEMS[key]) {
      it(`${probe.name} — not an item probe: ${NOT_ITEMS[key]}`, () => {
        expect(probe.raw, 'a raw capture, no event to build').to.be.an('object');
      });
      continue;
    }
    const ours = OURS[key];
    it(ours ? `${probe.name} [our behaviour: ${ours.deviation}]` : probe.name, () => {
      const action = ACTIONS[probe.action];
      const compiled = compileMapping(probe.mapping ?? defaultMapping(action.fields));
      const events = probe.events ?? [probe.event!];
      const built = events.map((event) => {
        const result = buildItem(action, compiled(event), { now: VECTOR_NOW });
        return result.ok ? result.item : { error: result.error };
      });
      expect(built).to.deep.equal(ours ? ours.items(probe) : referenceItems(probe));

      const request = probe.expected_request ?? probe.expected_requests?.[0];
      if (request && key !== 'P13') {
        const path = probe.mode === 'batch' ? PATH_FOR[action.delivery].batched : PATH_FOR[action.delivery].single;
        expect(trackBaseUrl(parseRegion(probe.settings.accountRegion)) + path).to.equal(request.url);
        if (probe.expected_request) {
          expect(basicAuthorization(probe.settings.siteId, probe.settings.apiKey)).to.equal(probe.expected_request.headers.authorization);
        }
      }
    });
  }
});
