// vectors/preset-events.json: 400 generated events of every kind. For each, the presets that fire
// must be the reference's, and each one's item (or error) must equal the reference's, except where a
// deviation applies.
import { expect } from 'chai';
import { ACTIONS, PATH_FOR } from '../../src/core/actions';
import { isIsoDate } from '../../src/core/actions/timestamps';
import { compileSubscriptions, matchEvent, transform } from '../../src/core/subscriptions';
import { loadVectors, VECTOR_NOW } from '../support/vectors';

interface Fired {
  subscription: string;
  action: keyof typeof ACTIONS;
  endpoint?: string;
  body?: Record<string, any>;
  error?: string;
}
interface PresetCase {
  event: Record<string, any>;
  fired: Fired[];
}

const cases = loadVectors<PresetCase[]>('preset-events.json');
const presets = compileSubscriptions(undefined);

/**
 * The deviations that can show in these events, applied to the reference's item. Each returns the item
 * we send (or our refusal), or undefined when it does not apply to this event.
 */
function ourItem(fired: Fired, event: Record<string, any>): { item?: any; error?: string; deviation?: string } {
  if (fired.error) return { error: fired.error };
  let item = fired.body!;
  const deviations: string[] = [];
  // D4: items without identifiers are refused rather than sent.
  if (ACTIONS[fired.action].delivery === 'batch' && fired.action !== 'mergePeople' && !item.identifiers) {
    return { error: missingIdentifierError(fired.action), deviation: 'D4' };
  }
  // D2: names, ids and tokens that look like dates are sent as given.
  if (typeof item.name === 'number' && ['trackEvent', 'trackScreenView', 'trackPageView'].includes(fired.action)) {
    item = { ...item, name: fired.action === 'trackPageView' ? event.properties.url : fired.action === 'trackEvent' ? event.event : event.name };
    deviations.push('D2');
  }
  if (typeof item.id === 'number' && isIsoDate(String(event.messageId))) {
    item = { ...item, id: event.messageId };
    deviations.push('D2');
  }
  // D3: numeric or digit-string epochs are sent as numbers.
  if (typeof item.timestamp === 'string' && /^\d+(\.\d+)?$/.test(item.timestamp)) {
    item = { ...item, timestamp: Number(item.timestamp) };
    deviations.push('D3');
  }
  if (typeof item.attributes?.created_at === 'string' && /^\d+(\.\d+)?$/.test(item.attributes.created_at) && fired.action === 'createUpdatePerson') {
    item = { ...item, attributes: { ...item.attributes, created_at: Number(item.attributes.created_at) } };
    deviations.push('D3');
  }
  if (typeof item.device?.last_used === 'string' && /^\d+(\.\d+)?$/.test(item.device.last_used)) {
    item = { ...item, device: { ...item.device, last_used: Number(item.device.last_used) } };
    deviations.push('D3');
  }
  return { item, deviation: deviations.length ? deviations.join(', ') : undefined };
}

function missingIdentifierError(action: string): string {
  if (action === 'deleteObject') return "The item has no object_id (the object's identifier), so Customer.io would refuse it; it was not sent.";
  if (action === 'reportContentEvent') return 'The item has no anonymous_id (the only identifier this action sends), so Customer.io would refuse it; it was not sent.';
  return 'The item has no person identifier (a userId, an email or an anonymousId), so Customer.io would refuse it; it was not sent.';
}

describe('preset events (vectors/preset-events.json)', () => {
  it('has all 400 events', () => expect(cases).to.have.length(400));

  cases.forEach((c, index) => {
    const label = `#${index} ${c.event.type} ${c.event.event ?? c.event.name ?? ''} (${c.event.messageId})`;
    it(`${label}: fires ${c.fired.map((f) => f.subscription).join(', ') || 'nothing'}`, () => {
      const { fired } = matchEvent(presets, c.event);
      expect(fired.map((s) => s.name)).to.deep.equal(c.fired.map((f) => f.subscription));

      for (const expected of c.fired) {
        const subscription = fired.find((s) => s.name === expected.subscription)!;
        const result = transform(subscription, c.event, VECTOR_NOW);
        const ours = ourItem(expected, c.event);
        if (ours.error !== undefined) {
          expect(result, `${expected.subscription}${ours.deviation ? ` [${ours.deviation}]` : ''}`).to.deep.equal({ ok: false, error: ours.error });
        } else {
          expect(result, `${expected.subscription}${ours.deviation ? ` [${ours.deviation}]` : ''}`).to.deep.equal({ ok: true, item: ours.item });
          expect(PATH_FOR[ACTIONS[expected.action].delivery].single).to.equal(expected.endpoint);
        }
      }
    });
  });
});
