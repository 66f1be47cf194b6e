import { expect } from 'chai';
import { compileTrigger, TriggerError } from '../../src/core/subscriptions/trigger';
import { loadVectors } from '../support/vectors';

// The 15 automatic presets' subscribe strings, as Segment's destination defines them, by preset name.
const PRESETS: Record<string, string> = {
  'Create or Update Person': 'type = "identify"',
  'Track Event':
    'type = "track" and event != "Application Installed" and event != "Application Opened" and event != "Application Uninstalled" and event != "Device Created or Updated" and event != "Device Deleted" and event != "Relationship Deleted" and event != "User Deleted" and event != "User Suppressed" and event != "User Unsuppressed" and event != "Object Deleted" and event != "Report Delivery Event" and event != "Report Content Event"',
  'Create or Update Device': 'event = "Application Installed" or event = "Application Opened" or event = "Device Created or Updated"',
  'Track Page View': 'type = "page"',
  'Delete Device': 'event = "Application Uninstalled" or event = "Device Deleted"',
  'Track Screen View': 'type = "screen"',
  'Create or Update Object': 'type = "group"',
  'Delete Relationship': 'event = "Relationship Deleted"',
  'Unsuppress Person': 'event = "User Unsuppressed"',
  'Merge People': 'type = "alias"',
  'Delete Object': 'event = "Object Deleted"',
  'Suppress Person': 'event = "User Suppressed"',
  'Delete Person': 'event = "User Deleted"',
  'Report Delivery Event': 'event = "Report Delivery Event"',
  'Report Content Event': 'event = "Report Content Event"',
};

function matches(fql: string, event: unknown): boolean {
  return compileTrigger(fql)(event);
}

function rejection(fql: string, where?: string): string {
  try {
    compileTrigger(fql, where);
  } catch (err) {
    expect(err).to.be.instanceOf(TriggerError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(fql)} to be refused`);
}

describe('compileTrigger: the preset triggers', () => {
  it('compiles all 15 preset subscribe strings', () => {
    expect(Object.keys(PRESETS)).to.have.length(15);
    for (const [name, fql] of Object.entries(PRESETS)) {
      expect(() => compileTrigger(fql), name).to.not.throw();
    }
  });

  it('fires exactly the presets the reference fired for each of the 400 captured events', () => {
    const cases = loadVectors<Array<{ event: unknown; fired: Array<{ subscription: string }> }>>('preset-events.json');
    const triggers = Object.entries(PRESETS).map(([name, fql]) => [name, compileTrigger(fql)] as const);
    expect(cases).to.have.length(400);
    for (const [i, c] of cases.entries()) {
      const fired = triggers.filter(([, matchesEvent]) => matchesEvent(c.event)).map(([name]) => name);
      expect(fired.sort(), `event #${i}`).to.deep.equal(c.fired.map((f) => f.subscription).sort());
    }
  });

  it('Track Event fires for a track without an event name (!= is true when the field is missing)', () => {
    expect(matches(PRESETS['Track Event'], { type: 'track' })).to.equal(true);
    expect(matches(PRESETS['Track Event'], { type: 'track', event: 'Device Deleted' })).to.equal(false);
    expect(matches(PRESETS['Track Event'], { type: 'identify', event: 'Order Completed' })).to.equal(false);
  });

  it('the device presets do not look at the type, so any call carrying the event name fires them', () => {
    expect(matches(PRESETS['Create or Update Device'], { type: 'identify', event: 'Application Opened' })).to.equal(true);
    expect(matches(PRESETS['Delete Device'], { type: 'page', event: 'Device Deleted' })).to.equal(true);
  });

  it('treats newlines and indentation inside a trigger as spaces', () => {
    expect(matches('type = "track"\n    and event != "X"', { type: 'track', event: 'Y' })).to.equal(true);
  });
});

describe("compileTrigger: semantics (Segment's subscription language, @segment/destination-subscriptions)", () => {
  it('= is strict equality with the value as a string', () => {
    expect(matches('userId = "42"', { userId: '42' })).to.equal(true);
    expect(matches('userId = "42"', { userId: 42 })).to.equal(false);
    expect(matches('name = "Home"', { name: 'Home' })).to.equal(true);
    expect(matches('name = "Home"', { name: 'home' })).to.equal(false);
  });

  it('!= is true when the field is missing or null', () => {
    expect(matches('userId != "x"', {})).to.equal(true);
    expect(matches('userId != "x"', { userId: null })).to.equal(true);
    expect(matches('userId != "x"', { userId: 'x' })).to.equal(false);
  });

  it('numeric comparisons hold only for numbers', () => {
    expect(matches('properties.total > 10', { properties: { total: 11 } })).to.equal(true);
    expect(matches('properties.total > 10', { properties: { total: '11' } })).to.equal(false);
    expect(matches('properties.total <= 10', { properties: { total: 10 } })).to.equal(true);
    expect(matches('properties.total = 10', { properties: { total: 10 } })).to.equal(true);
    expect(matches('properties.total = 10', { properties: { total: '10' } })).to.equal(false);
  });

  it('and needs every condition, or needs one, and parentheses group', () => {
    const fql = 'type = "track" and (properties.total > 10 or traits.plan = "pro")';
    expect(matches(fql, { type: 'track', properties: { total: 20 } })).to.equal(true);
    expect(matches(fql, { type: 'track', traits: { plan: 'pro' } })).to.equal(true);
    expect(matches(fql, { type: 'track', properties: { total: 5 }, traits: { plan: 'free' } })).to.equal(false);
    expect(matches(fql, { type: 'identify', properties: { total: 20 } })).to.equal(false);
  });

  it('string operators hold only for strings', () => {
    expect(matches('event starts_with "Order"', { event: 'Order Completed' })).to.equal(true);
    expect(matches('event starts_with "Order"', { event: 'Cart Viewed' })).to.equal(false);
    expect(matches('context.app.version contains "2."', { context: { app: { version: '2.19' } } })).to.equal(true);
    expect(matches('context.app.version contains "2."', { context: { app: { version: 2.19 } } })).to.equal(false);
    expect(matches('contains(event, "Order")', { event: 'New Order' })).to.equal(true);
    expect(matches('!contains(event, "Order")', { event: 'New Order' })).to.equal(false);
    expect(matches('match(event, "Order*")', { event: 'Order Completed' })).to.equal(true);
    expect(matches('match(event, "*Completed")', { event: 'Order Completed' })).to.equal(true);
    expect(matches('!match(event, "Order*")', { event: 'Order Completed' })).to.equal(false);
  });

  it('exists and != null treat null as missing', () => {
    for (const fql of ['properties.x exists', 'properties.x != null']) {
      expect(matches(fql, { properties: { x: 0 } }), fql).to.equal(true);
      expect(matches(fql, { properties: { x: null } }), fql).to.equal(false);
      expect(matches(fql, { properties: {} }), fql).to.equal(false);
    }
    expect(matches('traits.plan = null', { traits: {} })).to.equal(true);
  });

  it('= true and = false test booleans', () => {
    expect(matches('properties.paid = true', { properties: { paid: true } })).to.equal(true);
    expect(matches('properties.paid = true', { properties: { paid: 'true' } })).to.equal(false);
    expect(matches('traits.vip = false', { traits: { vip: false } })).to.equal(true);
  });

  it('never matches something that is not an event object', () => {
    const trigger = compileTrigger('userId != "x"');
    for (const event of [null, undefined, 'track', 42]) expect(trigger(event), String(event)).to.equal(false);
  });

  it('keeps Segment’s reading of a level that mixes and/or: the last operator wins', () => {
    // Segment's parser has no precedence: `a and b or c` is evaluated as `a or b or c`.
    expect(matches('type = "track" and event = "A" or event = "B"', { type: 'identify', event: 'B' })).to.equal(true);
  });

  it('keeps Segment’s reading of `exists` followed by `or`: the `or` is swallowed and the level is an `and`', () => {
    const fql = 'properties.x exists or type = "track"';
    expect(matches(fql, { type: 'track', properties: {} })).to.equal(false);
    expect(matches(fql, { type: 'track', properties: { x: 1 } })).to.equal(true);
    expect(matches('(properties.x exists) or type = "track"', { type: 'track', properties: {} })).to.equal(true);
  });
});

describe('compileTrigger: what it accepts and refuses', () => {
  it('accepts the triggers Segment reads as written', () => {
    for (const fql of [
      'type = "track" and (properties.total > 10 or traits.plan = "pro")',
      'event starts_with "Order"',
      'properties.x exists',
      'context.app.version contains "2."',
      'userId != "x"',
      'name = "Home"',
      'type = track',
      'properties.total >= 10.5',
      'properties.delta < -1',
      'traits.first\\ name = "Al"',
      '(event = "a" or event = "b") and userId exists',
      'properties.x not_exists',
      'event not_starts_with "Test"',
    ]) {
      expect(() => compileTrigger(fql), fql).to.not.throw();
    }
  });

  it('refuses an empty trigger', () => {
    expect(rejection('')).to.equal('trigger: the trigger is empty in ""');
    expect(rejection('   \n ')).to.match(/^trigger: the trigger is empty/);
  });

  it('refuses unbalanced or nested parentheses', () => {
    expect(rejection('(type = "track"')).to.match(/^trigger: a '\(' is never closed/);
    expect(rejection('type = "track")')).to.match(/^trigger: a '\)' has no matching '\('/);
    expect(rejection('((type = "track"))')).to.match(/^trigger: nested parentheses are not supported/);
    expect(rejection('type = "a" and ()')).to.match(/^trigger: empty parentheses/);
  });

  it('refuses an unknown operator or a missing value instead of reading "eos" as the value', () => {
    expect(rejection('type foo "track"')).to.match(/^trigger: unknown operator 'foo' after 'type'/);
    expect(rejection('type = ')).to.match(/^trigger: 'type =' needs a value, found the end/);
    expect(rejection('type == "track"')).to.match(/^trigger: 'type =' needs a value, found '='/);
    expect(rejection('type')).to.match(/^trigger: 'type' has no operator/);
    expect(rejection('type ~ "x"')).to.match(/^trigger: cannot read the trigger \(invalid character "~"\)/);
  });

  it('refuses unknown fields and fields used the wrong way', () => {
    expect(rejection('foo = "x"')).to.match(/^trigger: unknown field 'foo'/);
    expect(rejection('type = "a" and foo = "b"')).to.match(/^trigger: unknown field 'foo'/);
    expect(rejection('properties = "x"')).to.match(/^trigger: 'properties' needs a property name/);
    expect(rejection('event.name = "x"')).to.match(/^trigger: 'event' has no sub-fields/);
    expect(rejection('contains(type, "tr")')).to.match(/^trigger: contains\(\) and match\(\) do not take 'type'/);
  });

  it('refuses conditions that are not joined by and/or, and dangling and/or', () => {
    expect(rejection('event = "a" event = "b"')).to.match(/^trigger: expected 'and' or 'or' before 'event'/);
    expect(rejection('type = "a" AND event = "b"')).to.match(/^trigger: write 'and' in lower case/);
    expect(rejection('type = "a" and')).to.match(/^trigger: 'and' is not followed by a condition/);
    expect(rejection('or type = "a"')).to.match(/^trigger: expected a condition before 'or'/);
    expect(rejection('properties.x exists type = "a"')).to.match(/^trigger: expected 'and', 'or' or the end after 'properties.x exists'/);
  });

  it('refuses what Segment would silently misread: single quotes, a bare !, a match() without *', () => {
    expect(rejection("type = 'track'")).to.match(/^trigger: strings take double quotes/);
    expect(rejection('!(type = "track")')).to.match(/^trigger: '!' can only negate contains/);
    expect(rejection('match(event, "Order")')).to.match(/^trigger: match\(\) patterns are "text\*" \(starts with\) or "\*text"/);
  });

  it('names the place it was given and quotes the trigger', () => {
    expect(rejection('type = ', 'subscriptions[2].trigger')).to.equal(
      "subscriptions[2].trigger: 'type =' needs a value, found the end in \"type = \"",
    );
  });
});
