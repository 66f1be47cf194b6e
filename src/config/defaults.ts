// Every default of the service, in one place, grouped as the configuration is (config/index.ts); units are
// in the names. The settings read their defaults here, and so do the modules whose options fall back to one.

export const DEFAULTS = {
  redis: {
    url: 'redis://127.0.0.1:6379',
    queuePrefix: 'cio',
    /** The API refuses events (503) while Redis's used_memory is above this share of its maxmemory. */
    memoryRefuseRatio: 0.9,
    /** How often the API reads Redis's INFO memory for that check. */
    memoryPollMs: 1000,
  },
  jobs: {
    /** Tries per item for transient failures (5xx, timeouts); 429 and 401/403 waits do not count. */
    attempts: 12,
    /** First retry delay; doubles each attempt, with jitter. 12 attempts span about an hour. */
    backoffMs: 1000,
    /** How long a finished job stays in Redis: the window in which a re-sent event is recognised. */
    completedRetentionSeconds: 3600,
    completedRetentionCount: 100_000,
    failedRetentionSeconds: 7 * 24 * 3600,
    /** Longest a request waits for others to share its write to Redis (group commit). */
    groupCommitWindowMs: 2,
    /** Events per job, at most. */
    groupMaxEvents: 100,
    /** Bytes of events (JSON, before compression) per job, at most; a single larger event is its own job. */
    groupMaxBytes: 256 * 1024,
    /** Events a producer holds while Redis has not taken them (waiting for or in a commit); past it, new requests get 503 at once. */
    producerMaxPendingEvents: 50_000,
    /** Bytes of events (JSON) a producer is writing to Redis at once; past it, new requests get 503 at once (large events). */
    producerMaxPendingBytes: 64 * 1024 * 1024,
  },
  worker: {
    /** Longest an item waits in a worker for its batch to fill. */
    flushIntervalMs: 500,
    /** Jobs each worker process holds at once per action queue: enough to fill several batches. */
    concurrency: 200,
    /** Events each worker process holds at once, across its jobs and queues (a job carries up to GROUP_MAX_EVENTS). */
    maxItems: 10_000,
    /** Requests to Customer.io in flight at once per worker process, for one-at-a-time paths. */
    requestConcurrency: 16,
    /** Pause when Customer.io refuses the credentials: the jobs wait, and are tried again after this. */
    authPauseMs: 30_000,
    /** Pause on a 429 without Retry-After. */
    rateLimitPauseMs: 10_000,
    /** Cap on requests per second to Customer.io, shared by all workers; 0 = none. */
    maxRequestsPerSecond: 0,
    /** How often a worker looks for jobs whose worker died (lock expired) and takes them back. */
    stalledIntervalMs: 30_000,
    lockDurationMs: 30_000,
    /** How many times a job may come back from a dead worker (or a long Redis outage) before it fails. */
    maxStalledCount: 10,
  },
  http: {
    port: 3000,
    /** Longest a client may take to send a whole request to the API; a slow or stuck one is cut off (408). */
    requestTimeoutMs: 30_000,
    /** Longest a client may take to send a request's headers. */
    headersTimeoutMs: 10_000,
    /** Origins whose pages may post events from a browser: any (the write key decides, as in Segment). */
    corsOrigins: ['*'],
    /** How long an event request waits for Redis to take its jobs before answering 503 (not a setting). */
    enqueueTimeoutMs: 10_000,
    /** How long /health waits for Redis to answer PING (not a setting). */
    healthTimeoutMs: 1000,
  },
  customerio: {
    /** Longest a request to Customer.io may take. */
    timeoutMs: 10_000,
    /** Upper bound on any Retry-After from Customer.io (429 and 5xx); customerio-node caps it at 300 s too. */
    maxRetryAfterMs: 5 * 60_000,
  },
  counts: {
    /** How long a scrape of /metrics waits for the queue depth and the counts (Redis may be unreachable). */
    scrapeTimeoutMs: 2000,
    /** Wait before storing counts again after Redis refused them. */
    retryMs: 1000,
  },
  shutdownTimeoutMs: 30_000,
} as const;
