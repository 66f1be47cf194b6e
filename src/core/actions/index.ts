// The actions' public face: look one up, validate a mapped payload against it, build the item.

import { convertsTimestamps } from './build-payload';
import { validatePayload } from './fields';
import { ACTIONS } from './registry';
import { convertAttributeTimestamps, isPlainObject } from './timestamps';
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

/**
 * The item buildItem makes, as far as its person keys go (core/order/rule.ts orderKeysOf: identifiers,
 * `attributes.anonymous_id`, a merge's people, relationships), for the producer, which builds each item
 * only to find them: dates in attributes are not converted and the timestamp is not made sendable, the
 * largest part of building an item and neither can change a key. Same validity, same keys
 * (test/order/keys.test.ts compares them on every vector); the rest of the item is not what is sent.
 */
export function buildForOrderKeys(action: ActionDefinition, mapped: Record<string, unknown>, ctx: BuildContext): BuildResult {
  const validated = validatePayload(action.fields, mapped);
  if (!validated.ok) return validated;
  const payload = validated.payload;
  const built = action.build({ ...payload, convert_timestamp: false, timestamp: undefined }, ctx);
  if (!built.ok || !convertsTimestamps(payload)) return built;
  // An anonymous id that came in the attributes themselves (not the one the item steers by, which is
  // sent as given) is converted like the rest of them, so its key is the one the sent item has.
  const attributes = built.item.attributes;
  if (isPlainObject(attributes) && attributes.anonymous_id !== undefined && attributes.anonymous_id !== payload.anonymous_id) {
    built.item.attributes = { ...attributes, anonymous_id: convertAttributeTimestamps({ anonymous_id: attributes.anonymous_id }).anonymous_id };
  }
  return built;
}

export function actionFor(key: keyof typeof ACTIONS): ActionDefinition {
  return ACTIONS[key];
}
