// Every default of the service, in one place, grouped as the configuration is (config/index.ts); units are
// in the names. The defaults of the settings come from their table (settings.ts); the few that are not
// settings are here. The modules whose options fall back to a default read it here.

import { defaultsOf } from './settings';

export const DEFAULTS = {
  redis: defaultsOf('redis'),
  jobs: defaultsOf('jobs'),
  worker: defaultsOf('worker'),
  http: {
    ...defaultsOf('http'),
    /** How long an event request waits for Redis to take its jobs before answering 503 (not a setting). */
    enqueueTimeoutMs: 10_000,
    /** How long /health waits for Redis to answer PING (not a setting). */
    healthTimeoutMs: 1000,
  },
  customerio: {
    ...defaultsOf('customerio'),
    /** Upper bound on any Retry-After from Customer.io (429 and 5xx); customerio-node caps it at 300 s too. */
    maxRetryAfterMs: 5 * 60_000,
  },
  counts: {
    /** How long a scrape of /metrics waits for the queue depth and the counts (Redis may be unreachable). */
    scrapeTimeoutMs: 2000,
    /** Wait before storing counts again after Redis refused them. */
    retryMs: 1000,
  },
  ...defaultsOf('service'),
} as const;
