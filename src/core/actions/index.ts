// The actions' public face: look one up, validate a mapped payload against it, build the item.

import { validatePayload } from './fields';
import { ACTIONS } from './registry';
import type { ActionDefinition, BuildContext, BuildResult } from './types';

export { ACTIONS } from './registry';
export { defaultMapping } from './fields';
export type { ActionDefinition, BuildContext, BuildResult } from './types';
export { PATH_FOR } from './types';

/**
 * From a mapped payload (the subscription's mapping applied to the event) to the Customer.io item, or the
 * reason the item is refused. Pure: same inputs, same output.
 */
export function buildItem(action: ActionDefinition, mapped: Record<string, unknown>, ctx: BuildContext): BuildResult {
  const validated = validatePayload(action.fields, mapped);
  if (!validated.ok) return validated;
  return action.build(validated.payload, ctx);
}

export function actionFor(key: keyof typeof ACTIONS): ActionDefinition {
  return ACTIONS[key];
}
