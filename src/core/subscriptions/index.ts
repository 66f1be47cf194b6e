// Subscriptions as users write them ({name, action, trigger, mapping, enabled}, as exported from Segment),
// checked and compiled once when the configuration loads.

import { ACTIONS, buildForOrderKeys, buildItem, type BuildResult } from '../actions';
import { BATCHING_FIELDS, validatePayload, type Fields } from '../actions/fields';
import { BATCH_ITEMS } from '../limits';
import { unknownKeys } from '../suggest';
import { isActionKey, type ActionKey } from '../types';
import { isDisabledByIntegrations } from './integrations';
import { literalValue } from './literals';
import { compileMapping, MappingError, type CompiledMapping } from './mapping';
import { presetSubscriptions, type SubscriptionSpec } from './presets';
import { compileTrigger, type CompiledTrigger } from './trigger';

export { presetSubscriptions, type SubscriptionSpec } from './presets';
export { isDisabledByIntegrations } from './integrations';

export const MAX_SUBSCRIPTIONS = 50;

/** The keys of a subscription: ours, and Segment's export spellings of the action and trigger. */
export const SUBSCRIPTION_KEYS = ['name', 'action', 'partnerAction', 'trigger', 'subscribe', 'mapping', 'enabled'] as const;

export interface Subscription {
  name: string;
  action: ActionKey;
  trigger: CompiledTrigger;
  mapping: CompiledMapping;
  /** Items per request when batching (2–100), from the mapping's `batch_size`. */
  batchSize: number;
  /** False: one item per /api/v2/entity request. */
  enableBatching: boolean;
  /** The source, for `check` and the dashboard. */
  spec: SubscriptionSpec;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Checks and compiles subscriptions; throws ConfigError naming the subscription and the field. */
export function compileSubscriptions(input: unknown): Subscription[] {
  if (input === undefined || input === null) return presetSubscriptions().map(compileOne);
  if (!Array.isArray(input)) throw new ConfigError('subscriptions must be an array of {name, action, trigger, mapping, enabled}');
  if (input.length > MAX_SUBSCRIPTIONS) {
    throw new ConfigError(`subscriptions: at most ${MAX_SUBSCRIPTIONS} per destination, got ${input.length}`);
  }
  const specs = input.map((raw, index) => readSpec(raw, index));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new ConfigError(`subscription "${spec.name}": name: used twice; names must be unique`);
    seen.add(spec.name);
  }
  return specs.map(compileOne);
}

function readSpec(raw: unknown, index: number): SubscriptionSpec {
  const at = `subscriptions[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${at}: must be an object`);
  const r = raw as Record<string, unknown>;
  const name = typeof r.name === 'string' && r.name.trim() ? r.name.trim() : undefined;
  if (!name) throw new ConfigError(`${at}: name: required, a non-empty string`);
  const where = `subscription "${name}"`;
  // A misspelt key would otherwise be ignored: `enabeld: false` would leave the subscription on.
  const unknown = unknownKeys(Object.keys(r), SUBSCRIPTION_KEYS);
  if (unknown) throw new ConfigError(`${where}: ${unknown}`);
  // Segment exports call the action `partnerAction` and the trigger `subscribe`; accept both spellings.
  const action = r.action ?? r.partnerAction;
  if (!isActionKey(action)) {
    throw new ConfigError(`${where}: action: unknown action ${JSON.stringify(action)}; one of ${Object.keys(ACTIONS).join(', ')}`);
  }
  const trigger = r.trigger ?? r.subscribe;
  if (typeof trigger !== 'string' || !trigger.trim()) throw new ConfigError(`${where}: trigger: required, a subscription condition such as type = "track"`);
  const mapping = r.mapping ?? {};
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping)) {
    throw new ConfigError(`${where}: mapping: must be an object of field → directive`);
  }
  const enabled = r.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new ConfigError(`${where}: enabled: must be true or false`);
  return { name, action, trigger, mapping: mapping as Record<string, unknown>, enabled };
}

function compileOne(spec: SubscriptionSpec): Subscription {
  const where = `subscription "${spec.name}"`;
  const fields = ACTIONS[spec.action].fields;
  for (const key of Object.keys(spec.mapping)) {
    if (!(key in fields)) {
      throw new ConfigError(`${where}: mapping.${key}: not a field of ${spec.action}; fields are ${Object.keys(fields).join(', ')}`);
    }
  }
  let trigger: CompiledTrigger;
  let mapping: CompiledMapping;
  try {
    trigger = compileTrigger(spec.trigger, `${where}: trigger`);
    mapping = compileMapping(spec.mapping, `${where}: mapping`);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  checkFieldsEveryEventMeets(spec, fields, where);
  const { batchSize, enableBatching } = batchingOf(spec, where);
  return { name: spec.name, action: spec.action, trigger, mapping, batchSize, enableBatching, spec };
}

/**
 * What the mapping fixes for every event is checked now, not on each item: a required field left out (or
 * mapped to a literal null or ''), and a literal value the field's validation would refuse. Otherwise
 * the configuration would start and then fail every item it fires for.
 */
function checkFieldsEveryEventMeets(spec: SubscriptionSpec, fields: Fields, where: string): void {
  for (const [key, field] of Object.entries(fields)) {
    if (key in BATCHING_FIELDS) continue; // batchingOf checks these, with their own rules
    const value = spec.mapping[key];
    if (value === undefined) {
      if (field.required) throw new ConfigError(`${where}: mapping.${key}: ${field.label} is required by ${spec.action}; map it, e.g. ${JSON.stringify(field.default)}`);
      continue;
    }
    const literal = literalValue(value);
    if (!literal.fixed) continue;
    const checked = validatePayload({ [key]: field }, { [key]: literal.value });
    if (!checked.ok) throw new ConfigError(`${where}: mapping.${key}: ${checked.error} Every event would fail on it.`);
  }
}

// Batching settings are literals in the mapping; they are checked here so a bad one stops start-up.
function batchingOf(spec: SubscriptionSpec, where: string): { batchSize: number; enableBatching: boolean } {
  const literal: Record<string, unknown> = {};
  for (const key of ['batch_size', 'enable_batching'] as const) {
    const value = spec.mapping[key];
    if (value !== undefined && (typeof value === 'object' && value !== null)) {
      throw new ConfigError(`${where}: mapping.${key}: must be a literal value, not a directive`);
    }
    if (value !== undefined) literal[key] = value;
  }
  const checked = validatePayload(BATCHING_FIELDS, literal);
  if (!checked.ok) throw new ConfigError(`${where}: mapping: ${checked.error}`);
  const batchSize = (checked.payload.batch_size as number | undefined) ?? BATCH_ITEMS.default;
  // Segment's schema takes any number from 2 to 100; a batch holds a whole number of items.
  if (!Number.isInteger(batchSize)) {
    throw new ConfigError(`${where}: mapping.batch_size: must be a whole number from 2 to 100, got ${JSON.stringify(literal.batch_size)}`);
  }
  return {
    batchSize,
    enableBatching: (checked.payload.enable_batching as boolean | undefined) ?? true,
  };
}

/** Why an event fired nothing: its integrations object opted out of this destination, or no trigger matched. */
export const FILTER_REASONS = ['integrations', 'no_subscription'] as const;
export type FilterReason = (typeof FILTER_REASONS)[number];

export type Match = { fired: Subscription[]; filtered?: FilterReason };

/** Which subscriptions fire for an event. */
export function matchEvent(subscriptions: readonly Subscription[], event: unknown): Match {
  if (isDisabledByIntegrations(event)) return { fired: [], filtered: 'integrations' };
  const fired = subscriptions.filter((s) => s.spec.enabled && s.trigger(event));
  return fired.length > 0 ? { fired } : { fired: [], filtered: 'no_subscription' };
}

/**
 * Map an event with a subscription and build its item: the whole pure transformation. `forOrderKeys`: the
 * item is wanted only for its person keys (actions/index.ts buildForOrderKeys).
 */
export function transform(subscription: Subscription, event: unknown, now: number, forOrderKeys = false): BuildResult {
  let mapped: Record<string, unknown>;
  try {
    mapped = subscription.mapping(event);
  } catch (err) {
    // A directive that cannot apply to this event (e.g. @json decoding a string that is not JSON).
    if (err instanceof MappingError) return { ok: false, error: err.message };
    throw err;
  }
  return (forOrderKeys ? buildForOrderKeys : buildItem)(ACTIONS[subscription.action], mapped, { now });
}
