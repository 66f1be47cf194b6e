// The Track Event preset leaves alone the track events other actions' presets take by name: a new action
// that takes one must add it to RESERVED_TRACK_EVENTS (src/core/types.ts), or both presets would fire.

import { expect } from 'chai';
import { ACTIONS } from '../../src/core/actions';
import { ACTION_KEYS, RESERVED_TRACK_EVENTS } from '../../src/core/types';
import { compileTrigger } from '../../src/core/subscriptions/trigger';

/** The names in `event = "…"` clauses of a preset's trigger. */
function namedEvents(trigger: string): string[] {
  return [...trigger.matchAll(/\bevent = "([^"]+)"/g)].map((m) => m[1]);
}

describe('RESERVED_TRACK_EVENTS', () => {
  it('holds every event name another action\'s preset takes, and no other', () => {
    const taken = ACTION_KEYS.filter((k) => k !== 'trackEvent').flatMap((k) => namedEvents(ACTIONS[k].defaultSubscription));
    expect([...RESERVED_TRACK_EVENTS]).to.have.members(taken);
  });

  // Issue 18 point 11: this used to check that the Track Event preset's text names each entry of the list it
  // is built from, which cannot fail. The names here come from the other presets' own triggers, and what is
  // checked is what the Track Event preset does with a track event of each name.
  it('leaves to the other presets every track event they take by name: the Track Event preset does not fire for them', () => {
    const trackPreset = compileTrigger(ACTIONS.trackEvent.defaultSubscription, 'trackEvent preset');
    const claims = ACTION_KEYS.filter((k) => k !== 'trackEvent').flatMap((k) => namedEvents(ACTIONS[k].defaultSubscription).map((name) => ({ action: k, name })));
    expect(claims.length, 'presets that take track events by name').to.be.greaterThan(5);
    for (const { action, name } of claims) {
      const event = { type: 'track', event: name, userId: 'u1' };
      expect(compileTrigger(ACTIONS[action].defaultSubscription)(event), `${action} takes "${name}"`).to.equal(true);
      expect(trackPreset(event), `the Track Event preset fires for "${name}", which ${action} takes`).to.equal(false);
    }
    expect(trackPreset({ type: 'track', event: 'Order Completed', userId: 'u1' }), 'any other track event').to.equal(true);
  });
});
