// The automatic presets of the Customer.io (Actions) destination: one per action, its default trigger and
// its default mapping. They apply when the configuration names no subscriptions.

import { ACTIONS, defaultMapping } from '../actions';
import { ACTION_KEYS, type ActionKey } from '../types';

export interface SubscriptionSpec {
  name: string;
  action: ActionKey;
  trigger: string;
  mapping: Record<string, unknown>;
  enabled: boolean;
}

export function presetSubscriptions(): SubscriptionSpec[] {
  return ACTION_KEYS.map((key) => {
    const action = ACTIONS[key];
    return {
      name: action.title,
      action: key,
      trigger: action.defaultSubscription,
      mapping: defaultMapping(action.fields),
      enabled: true,
    };
  });
}
