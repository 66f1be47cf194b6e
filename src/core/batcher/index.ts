export {
  Batcher,
  batchBodyBytes,
} from './batcher';
export type { AddResult, BatchLimits, Flush, FlushReason, Pending } from './batcher';
