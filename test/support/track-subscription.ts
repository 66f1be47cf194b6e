// The Track Event subscription of the tests, in one place: as a user writes it in CIO_CONFIG (trackSpec, its
// mapping TRACK_MAPPING), and compiled to the smallest form for tests of ingestion (TRACK_SUBSCRIPTION).
import type { Subscription } from '../../src/core/subscriptions';

/** The Track Event preset's fields, each read from the event by path. */
export const TRACK_MAPPING: Readonly<Record<string, unknown>> = {
  id: { '@path': '$.userId' },
  anonymous_id: { '@path': '$.anonymousId' },
  name: { '@path': '$.event' },
  event_id: { '@path': '$.messageId' },
  timestamp: { '@path': '$.timestamp' },
  data: { '@path': '$.properties' },
  convert_timestamp: true,
};

export interface TrackSpec {
  name: string;
  action: 'trackEvent';
  trigger: string;
  enabled: boolean;
  mapping: Record<string, unknown>;
}

/** A Track Event subscription as written in CIO_CONFIG; `mapping` is laid over TRACK_MAPPING (batch_size, a templated name…). */
export function trackSpec(over: { name?: string; trigger?: string; mapping?: Record<string, unknown> } = {}): TrackSpec {
  return {
    name: over.name ?? 'Track',
    action: 'trackEvent',
    trigger: over.trigger ?? 'type = "track"',
    enabled: true,
    mapping: { ...TRACK_MAPPING, ...over.mapping },
  };
}

/** The smallest subscription for tests of ingestion: every track event fires it; the mapping is never run. */
export const TRACK_SUBSCRIPTION: Subscription = {
  name: 'Track Event',
  action: 'trackEvent',
  trigger: (e) => (e as { type?: unknown }).type === 'track',
  mapping: () => ({}),
  batchSize: 50,
  enableBatching: true,
  spec: { name: 'Track Event', action: 'trackEvent', trigger: 'type = "track"', mapping: {}, enabled: true },
};
