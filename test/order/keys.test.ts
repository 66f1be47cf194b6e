// The producer builds each item only to find its person keys (actions/index.ts buildForOrderKeys), skipping
// the date conversions; the worker builds the whole item to send it and reads the keys from that. Both
// must agree on every event, or an item would wait on (and hold) a place the other side never names.
import { expect } from 'chai';
import { ACTIONS, buildForOrderKeys, buildItem, defaultMapping } from '../../src/core/actions';
import { orderKeysOf, orderKindOf } from '../../src/core/order/rule';
import { compileMapping } from '../../src/core/subscriptions/mapping';
import { ACTION_KEYS, type ActionKey } from '../../src/core/types';
import { loadVectors, VECTOR_NOW } from '../support/vectors';

interface Case {
  action?: ActionKey;
  mapping?: Record<string, unknown> | null;
  event: Record<string, unknown>;
}

function keysBothWays(action: ActionKey, mapping: Record<string, unknown>, event: unknown) {
  const definition = ACTIONS[action];
  const mapped = compileMapping(mapping)(event);
  const full = buildItem(definition, mapped, { now: VECTOR_NOW });
  const light = buildForOrderKeys(definition, mapped, { now: VECTOR_NOW });
  const kind = orderKindOf(action);
  return {
    full: full.ok ? orderKeysOf(full.item, kind) : full.error,
    light: light.ok ? orderKeysOf(light.item, kind) : light.error,
  };
}

describe('person keys: the producer finds the same ones as the worker', () => {
  it('on every vector event, under every action with its default mapping, and under the upstream cases\' own mappings', () => {
    const presetEvents = loadVectors<Case[]>('preset-events.json').map((c) => c.event);
    const upstream = [...loadVectors<Case[]>('upstream-cases.json'), ...loadVectors<Case[]>('edge-probes.json')];
    let compared = 0;
    let withKeys = 0;
    const events = [...presetEvents, ...upstream.map((c) => c.event)].filter((e) => typeof e === 'object' && e !== null);
    for (const action of ACTION_KEYS) {
      const mapping = defaultMapping(ACTIONS[action].fields);
      for (const event of events) {
        const { full, light } = keysBothWays(action, mapping, event);
        expect(light, `${action} on ${JSON.stringify(event).slice(0, 200)}`).to.deep.equal(full);
        compared++;
        if (Array.isArray(full) && full.length > 0) withKeys++;
      }
    }
    for (const c of upstream) {
      if (!c.action || !ACTIONS[c.action] || typeof c.event !== 'object' || c.event === null) continue;
      const { full, light } = keysBothWays(c.action, c.mapping ?? defaultMapping(ACTIONS[c.action].fields), c.event);
      expect(light, `${c.action}: ${JSON.stringify(c.mapping)}`).to.deep.equal(full);
      compared++;
    }
    // The comparison is worth something only if most of it built items with keys.
    expect(compared).to.be.greaterThan(5000);
    expect(withKeys).to.be.greaterThan(compared / 4);
  });

  it('an anonymous id among the traits that looks like a date is converted like the sent item converts it; the one the item steers by is not', () => {
    const identify = (extra: Record<string, unknown>) => ({ type: 'identify', messageId: 'm1', timestamp: '2024-03-15T12:00:00Z', ...extra });
    const mapping = defaultMapping(ACTIONS.createUpdatePerson.fields);
    const onlyTraits = keysBothWays('createUpdatePerson', mapping, identify({ userId: 'u1', traits: { anonymous_id: '2024-01-02T03:04:05Z' } }));
    expect(onlyTraits.full).to.deep.equal(['id:u1', `anonymous_id:${Date.parse('2024-01-02T03:04:05Z') / 1000}`]);
    expect(onlyTraits.light).to.deep.equal(onlyTraits.full);
    const steering = keysBothWays('createUpdatePerson', mapping, identify({ userId: 'u1', anonymousId: '2024-01-02T03:04:05Z', traits: { anonymous_id: 'other' } }));
    expect(steering.full).to.deep.equal(['id:u1', 'anonymous_id:2024-01-02T03:04:05Z']);
    expect(steering.light).to.deep.equal(steering.full);
    const notConverted = keysBothWays('createUpdatePerson', { ...mapping, convert_timestamp: false }, identify({ userId: 'u1', traits: { anonymous_id: '2024-01-02T03:04:05Z' } }));
    expect(notConverted.full).to.deep.equal(['id:u1', 'anonymous_id:2024-01-02T03:04:05Z']);
    expect(notConverted.light).to.deep.equal(notConverted.full);
  });

  it('an invalid timestamp makes both refuse the item alike', () => {
    const mapping = defaultMapping(ACTIONS.reportDeliveryEvent.fields);
    const event = { type: 'track', event: 'Report Delivery Event', messageId: 'm2', timestamp: 'not a date', properties: { deliveryId: 'd', metric: 'opened' } };
    const { full, light } = keysBothWays('reportDeliveryEvent', mapping, event);
    expect(light).to.deep.equal(full);
  });
});
