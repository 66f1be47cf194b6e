// Pure: what the service would make of one event, step by step as the API and the worker do it: the
// envelope check and the fields the API fills (producer/prepare.ts), then for each subscription its
// switch, the integrations object, its trigger, the mapping and the item's validation (core/subscriptions
// transform), and the size check Delivery makes before sending. No I/O: nothing is sent or queued.

import { envelopeProblem, normalize } from '../producer/prepare';
import { isDisabledByIntegrations, transform, type Subscription } from '../core/subscriptions';
import { MAX_ITEM_BYTES } from '../core/limits';
import type { ActionKey, SegmentEvent } from '../core/types';

/** Why a subscription makes no item of the event. */
export type NoItem = 'disabled' | 'integrations' | 'no_trigger_match' | 'invalid' | 'too_large';

export interface SubscriptionPreview {
  subscription: string;
  action: ActionKey;
  /** The item the worker would send (also when too large, to show it). */
  item?: Record<string, unknown>;
  /** Set when no item would be sent, with the reason in words. */
  none?: NoItem;
  reason?: string;
}

export interface EventPreview {
  /** The event's position in the input (0-based). */
  index: number;
  /** The messageId, the event's own or the one the API would give it. */
  messageId?: string;
  /** The API would refuse the event (400): why. */
  refused?: string;
  subscriptions: SubscriptionPreview[];
}

export function previewEvent(raw: unknown, index: number, subscriptions: readonly Subscription[], now: number): EventPreview {
  const problem = envelopeProblem(raw);
  if (problem) return { index, refused: `the event ${problem}`, subscriptions: [] };
  // The worker maps the event as the API stored it: with messageId, receivedAt and timestamp filled.
  const event = normalize(raw as SegmentEvent, now);
  const off = isDisabledByIntegrations(event);
  return {
    index,
    messageId: String(event.messageId),
    subscriptions: subscriptions.map((sub) => previewOne(sub, event, off, now)),
  };
}

function previewOne(sub: Subscription, event: SegmentEvent, integrationsOff: boolean, now: number): SubscriptionPreview {
  const base = { subscription: sub.name, action: sub.action };
  if (!sub.spec.enabled) return { ...base, none: 'disabled', reason: 'the subscription is disabled ("enabled": false)' };
  if (integrationsOff) return { ...base, none: 'integrations', reason: "the event's integrations object turns Customer.io off" };
  if (!sub.trigger(event)) return { ...base, none: 'no_trigger_match', reason: `its trigger does not match: ${sub.spec.trigger}` };
  let built: ReturnType<typeof transform>;
  try {
    built = transform(sub, event, now);
  } catch (err) {
    return { ...base, none: 'invalid', reason: `internal error while mapping the event: ${(err as Error).message}` };
  }
  if (!built.ok) return { ...base, none: 'invalid', reason: built.error };
  const bytes = Buffer.byteLength(JSON.stringify(built.item));
  if (bytes > MAX_ITEM_BYTES) {
    return { ...base, item: built.item, none: 'too_large', reason: `the item is ${bytes} bytes; an item may be at most ${MAX_ITEM_BYTES} bytes, so it would fail unsent` };
  }
  return { ...base, item: built.item };
}
