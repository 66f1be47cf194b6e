// The smallest subscription for tests of ingestion: every track event fires it; the mapping is never run.
import type { Subscription } from '../../src/core/subscriptions';

export const TRACK_SUBSCRIPTION: Subscription = {
  name: 'Track Event',
  action: 'trackEvent',
  trigger: (e) => (e as { type?: unknown }).type === 'track',
  mapping: () => ({}),
  batchSize: 50,
  enableBatching: true,
  spec: { name: 'Track Event', action: 'trackEvent', trigger: 'type = "track"', mapping: {}, enabled: true },
};
