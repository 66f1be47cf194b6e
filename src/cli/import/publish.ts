// Publishing a chunk through the producer, riding out a short Redis outage (a restart, a failover):
// the chunk is tried again for a while before the run gives up, with the checkpoint kept.

import { setTimeout as sleep } from 'node:timers/promises';
import { QueueUnavailableError, type Producer, type PublishResult } from '../../producer/publish';
import type { SegmentEvent } from '../../core/types';
import { CannotRunError, formatDuration } from '../args';
import type { Entry } from './entry';

/** How long a chunk is retried while Redis does not take jobs, before the run stops (checkpoint kept). */
const REDIS_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000];

/** What the retries need to know of the run. */
export interface RetryContext {
  /** The last line fully queued before this chunk (0 for none): a new run resumes after it. */
  queuedThrough: number;
  /** Whether a signal asked the run to stop: then a refused chunk is not tried again. */
  stopping(): boolean;
  /** A message on stderr between progress updates. */
  note(text: string): void;
}

/** Publishes the events of `entries` (source `import`); throws CannotRunError when Redis keeps refusing. */
export async function publishChunk(producer: Producer, entries: Entry[], run: RetryContext): Promise<PublishResult[]> {
  // Parsed JSON of any shape: prepareEvents checks each one and refuses what is not an event.
  const events = entries.map((e) => e.event) as SegmentEvent[];
  for (let attempt = 0; ; attempt++) {
    try {
      return await producer.publish(events, 'import');
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      const delay = REDIS_RETRY_DELAYS_MS[attempt];
      if (delay === undefined || run.stopping()) throw redisGaveUp(entries[0].n, err.message, run.queuedThrough);
      run.note(`Redis is not taking jobs (${err.message}); trying the chunk again in ${formatDuration(delay)}`);
      await sleep(delay);
    }
  }
}

function redisGaveUp(firstLine: number, reason: string, queuedThrough: number): CannotRunError {
  return new CannotRunError(
    `Redis stopped taking jobs at line ${firstLine} (${reason}).\n` +
      (queuedThrough > 0
        ? `Lines 1–${queuedThrough} are queued and the checkpoint is kept: run the same command again to resume at line ${queuedThrough + 1}.`
        : 'Nothing was queued: run the same command again once Redis is back.'),
  );
}
