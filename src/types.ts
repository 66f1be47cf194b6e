// Shared vocabulary of the service. Nothing here does I/O.

/** A Segment-spec event as pipelines and SDKs send it. Every field is optional until validated. */
export type SegmentEvent = Record<string, unknown> & {
  type?: unknown;
  messageId?: unknown;
  userId?: unknown;
  anonymousId?: unknown;
  timestamp?: unknown;
  event?: unknown;
  name?: unknown;
};

/** The 15 actions of the Customer.io (Actions) destination, by the keys Segment uses. */
export const ACTION_KEYS = [
  'createUpdatePerson',
  'trackEvent',
  'createUpdateDevice',
  'trackPageView',
  'deleteDevice',
  'trackScreenView',
  'createUpdateObject',
  'deleteRelationship',
  'unsuppressPerson',
  'mergePeople',
  'deleteObject',
  'suppressPerson',
  'deletePerson',
  'reportDeliveryEvent',
  'reportContentEvent',
] as const;

export type ActionKey = (typeof ACTION_KEYS)[number];

export function isActionKey(value: unknown): value is ActionKey {
  return typeof value === 'string' && (ACTION_KEYS as readonly string[]).includes(value);
}

export type Region = 'US' | 'EU';

/** Customer.io credentials and where to send. */
export interface CustomerIoSettings {
  siteId: string;
  apiKey: string;
  region: Region;
  /** Replaces the region's host (tests, proxies). No trailing slash. */
  trackUrl?: string;
}

/** The Track API paths the service posts to. */
export type CioPath = '/api/v2/batch' | '/api/v2/entity' | '/api/v1/metrics';

/** One per-item error as Customer.io lists it in a 2xx batch response. */
export interface CioItemError {
  batch_index?: number;
  reason?: string;
  field?: string;
  message?: string;
}
