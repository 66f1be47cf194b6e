// Per-person order: which of a person's operations must wait for which (README, "Order").
//
// The rule: for one person, two operations conflict unless both are events (track, page, screen, report
// content, report delivery: they carry their own timestamps, and their order among themselves does not
// change the person). When a conflicts with b and a was accepted first, b is sent only once a has an
// outcome (delivered, or failed for good). Pure: the keys come from the item the action built.

import type { ActionKey } from '../types';

/** `event`: free among events; `operation`: conflicts with everything of its person. */
export type OrderKind = 'event' | 'operation';

const EVENT_ACTIONS: ReadonlySet<ActionKey> = new Set<ActionKey>(['trackEvent', 'trackPageView', 'trackScreenView', 'reportContentEvent', 'reportDeliveryEvent']);

export function orderKindOf(action: ActionKey): OrderKind {
  return EVENT_ACTIONS.has(action) ? 'event' : 'operation';
}

/** Whether `later` must wait for `earlier` (both of one person, `earlier` accepted first and still open). */
export function conflicts(earlier: OrderKind, later: OrderKind): boolean {
  return earlier === 'operation' || later === 'operation';
}

/**
 * The identities an item touches, each as `kind:value` (`id:42`, `email:a@b.co`, `cio_id:…`,
 * `anonymous_id:…`, `object:<type>:<id>`), without repeats, in a fixed order:
 * - the identifier the item carries (`identifiers`: a person's one identifier, or an object's type and id);
 * - for an operation, the anonymous id it carries in its attributes (an identify of a known person that
 *   also names the visitor's anonymous id: Customer.io links the anonymous activity to the person, so the
 *   identify waits for, and holds, both). An event is ordered with the identifier it is sent under only:
 *   it changes nobody's state, so it need only follow that person's earlier operations (and an identify
 *   that links its anonymous id holds the anonymous key, so the visitor's earlier events go first);
 * - a merge's primary and secondary;
 * - the people or objects of its relationships (`cio_relationships`).
 * An item that names nobody (a delivery metric) has no keys and is never held.
 */
export function orderKeysOf(item: Record<string, unknown>, kind: OrderKind = 'operation'): string[] {
  const keys: string[] = [];
  const add = (key: string | undefined) => {
    if (key !== undefined && !keys.includes(key)) keys.push(key);
  };
  add(identityKey(item.identifiers));
  const attributes = item.attributes;
  if (kind === 'operation' && isRecord(attributes) && isId(attributes.anonymous_id)) add(`anonymous_id:${String(attributes.anonymous_id)}`);
  add(identityKey(item.primary));
  add(identityKey(item.secondary));
  if (Array.isArray(item.cio_relationships)) {
    for (const relationship of item.cio_relationships) if (isRecord(relationship)) add(identityKey(relationship.identifiers));
  }
  return keys;
}

const PERSON_IDENTIFIERS = ['id', 'email', 'cio_id', 'anonymous_id'] as const;

function identityKey(identifiers: unknown): string | undefined {
  if (!isRecord(identifiers)) return undefined;
  if (isId(identifiers.object_id)) return `object:${String(identifiers.object_type_id ?? '1')}:${String(identifiers.object_id)}`;
  for (const name of PERSON_IDENTIFIERS) if (isId(identifiers[name])) return `${name}:${String(identifiers[name])}`;
  return undefined;
}

function isId(value: unknown): boolean {
  return (typeof value === 'string' && value !== '') || typeof value === 'number';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
