// The Track Event preset leaves alone the track events other actions' presets take by name: a new action
// that takes one must add it to RESERVED_TRACK_EVENTS (src/core/types.ts), or both presets would fire.

import { expect } from 'chai';
import { ACTIONS } from '../../src/core/actions';
import { ACTION_KEYS, RESERVED_TRACK_EVENTS } from '../../src/core/types';

/** The names in `event = "…"` clauses of a preset's trigger. */
function namedEvents(trigger: string): string[] {
  return [...trigger.matchAll(/\bevent = "([^"]+)"/g)].map((m) => m[1]);
}

describe('RESERVED_TRACK_EVENTS', () => {
  it('holds every event name another action\'s preset takes, and no other', () => {
    const taken = ACTION_KEYS.filter((k) => k !== 'trackEvent').flatMap((k) => namedEvents(ACTIONS[k].defaultSubscription));
    expect([...RESERVED_TRACK_EVENTS]).to.have.members(taken);
  });

  it('is what the Track Event preset excludes', () => {
    for (const name of RESERVED_TRACK_EVENTS) expect(ACTIONS.trackEvent.defaultSubscription).to.include(`event != "${name}"`);
  });
});
