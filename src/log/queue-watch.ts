// What the BullMQ objects report, through the logger. A Queue with no 'error' listener hands each
// connection error to console.error (BullMQ's QueueBase.emit), which writes a raw multi-line block to
// stderr for every retry of every queue while Redis is down; a listener here sends them to the throttled
// log instead. It also says, once at start, which queues are still held by a pause stored before a
// restart, and which jobs of a worker that died came back.

import type { Queue, Worker } from 'bullmq';
import type pino from 'pino';
import { sharedErrorLog } from './throttle';

/** Every queue's errors go to one throttled log (at most one line per interval for all of them). */
export function logQueueErrors(queues: Record<string, Queue>, logger: pino.Logger): void {
  const log = sharedErrorLog(logger, 'BullMQ queue', 'it reconnects with its Redis connection by itself');
  for (const [action, queue] of Object.entries(queues)) queue.on('error', (err) => log(err, { action }));
}

/**
 * One line per queue still held at start: by a 401/429 pause (BullMQ's rate-limit key, set with
 * Queue.rateLimit, outlives the process that set it) or by a pause of the whole queue (the dashboard's).
 * Its jobs wait until then; without this line a restarted worker looks idle for no reason.
 */
export async function reportHeldQueues(queues: Record<string, Queue>, logger: pino.Logger): Promise<void> {
  await Promise.all(
    Object.entries(queues).map(async ([action, queue]) => {
      const [ttlMs, paused] = await Promise.all([queue.getRateLimitTtl(), queue.isPaused()]);
      if (ttlMs > 0) {
        const until = new Date(Date.now() + ttlMs).toISOString();
        logger.warn({ action, pauseMs: ttlMs, until }, `queue ${action} is still paused until ${until} by a pause set before this start (Customer.io answered 401 or 429); its jobs wait until then`);
      }
      if (paused) logger.warn({ action }, `queue ${action} is paused (from the dashboard or BullMQ's API): its jobs wait until it is resumed`);
    }),
  );
}

/**
 * Jobs that come back because the worker holding them stopped without finishing (a crash, a kill, a lost
 * lock): BullMQ emits 'stalled' for each, in one go per check, so they are summed up in one line per
 * queue and check.
 */
export function logStalledJobs(workers: Array<Pick<Worker, 'name' | 'on'>>, logger: pino.Logger): void {
  for (const worker of workers) {
    let ids: string[] = [];
    worker.on('stalled', (jobId: string) => {
      if (ids.length === 0) {
        setImmediate(() => {
          const shown = ids.slice(0, 5);
          logger.warn(
            { action: worker.name, jobs: ids.length, ids: shown },
            `${ids.length} job(s) of ${worker.name} came back to the queue: the worker holding them stopped without finishing (stalled); they run again`,
          );
          ids = [];
        });
      }
      ids.push(jobId);
    });
  }
}
