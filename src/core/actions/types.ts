import type { ActionKey, CioPath } from '../types';
import type { Fields } from './fields';

/** What the action needs besides the payload. The clock is an argument so that building is pure. */
export interface BuildContext {
  /** Milliseconds since the epoch. */
  now: number;
}

/** An action either builds the Customer.io item or refuses the event, with a reason that names the problem. */
export type BuildResult = { ok: true; item: Record<string, unknown> } | { ok: false; error: string };

/** One Customer.io (Actions) action: its fields, its preset trigger, and how a validated payload becomes an item. */
export interface ActionDefinition {
  key: ActionKey;
  title: string;
  /** Trigger of the action's automatic preset, in Segment's subscription language. */
  defaultSubscription: string;
  fields: Fields;
  /**
   * `batch`: a Track API v2 entity operation, sent in /api/v2/batch (or /api/v2/entity with batching off).
   * `metrics`: a delivery metric, sent on its own to /api/v1/metrics.
   */
  delivery: 'batch' | 'metrics';
  build(payload: Record<string, unknown>, ctx: BuildContext): BuildResult;
}

export type ActionRegistry = { readonly [K in ActionKey]: ActionDefinition & { key: K } };

export const PATH_FOR: Record<ActionDefinition['delivery'], { batched: CioPath; single: CioPath }> = {
  batch: { batched: '/api/v2/batch', single: '/api/v2/entity' },
  metrics: { batched: '/api/v1/metrics', single: '/api/v1/metrics' },
};
