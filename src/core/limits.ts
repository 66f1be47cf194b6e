// Every size limit of the service, once. Segment's and Customer.io's limits agree (32 KB an event or item,
// 500 KB a request), so one constant serves both sides; the worker keeps its batches under a budget below
// Customer.io's request limit. test/layout/one-home.test.ts checks that no other file writes them again.

/** One event (Segment's limit) and one item for Customer.io (in a batch, or a whole /api/v2/entity request). */
export const MAX_ITEM_BYTES = 32 * 1024;

/** One request: Segment's limit for a request to the tracking API, and Customer.io's for one /api/v2/batch. */
export const MAX_REQUEST_BYTES = 500 * 1024;

/** A batch to Customer.io is always smaller than this (exclusive): MAX_REQUEST_BYTES with headroom. */
export const BATCH_BUDGET_BYTES = 480_000;

/** Items per batch request: the batch_size setting's default and bounds, as in Segment. */
export const BATCH_ITEMS = { default: 50, min: 2, max: 100 } as const;

/** Deeper JSON (a request body, an event) is refused: the steps after (size, triggers, mappings) recurse. */
export const MAX_JSON_DEPTH = 64;
