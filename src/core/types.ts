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

/** The actions of the Customer.io (Actions) destination (15, as in Segment), by the keys Segment uses. */
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

/**
 * Track event names that other actions' presets take (`event = "…"` in their triggers): the Track Event
 * preset leaves them alone. Segment's own list, in its order; an action that takes a named event adds it
 * here (test/actions/reserved-events.test.ts checks that none is missing).
 */
export const RESERVED_TRACK_EVENTS = [
  'Application Installed',
  'Application Opened',
  'Application Uninstalled',
  'Device Created or Updated',
  'Device Deleted',
  'Relationship Deleted',
  'User Deleted',
  'User Suppressed',
  'User Unsuppressed',
  'Object Deleted',
  'Report Delivery Event',
  'Report Content Event',
] as const;

export function isActionKey(value: unknown): value is ActionKey {
  return typeof value === 'string' && (ACTION_KEYS as readonly string[]).includes(value);
}

export type Region = 'US' | 'EU';

/** Customer.io's Track API credentials (Basic auth: the site id is the user, the API key the password). */
export interface CustomerIoCredentials {
  siteId: string;
  apiKey: string;
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
