export {
  Batcher,
  batchBodyBytes,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_ITEM_BYTES,
  DEFAULT_MAX_ITEMS,
} from './batcher';
export type { AddResult, BatchLimits, Flush, FlushReason, Pending } from './batcher';
