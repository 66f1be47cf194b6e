// `cio-relay replay`: puts failed jobs back in their queue once the cause is fixed, and says how many.
//
// Failed jobs are read oldest first, a page at a time. A retried job leaves the failed set, so the next
// page starts after the jobs that were left; a job that fails again while the replay runs comes back at
// the end of the set and is recognised by its id, so it is not replayed twice in one run.

import type { Job } from 'bullmq';
import type { GroupJobData } from '../jobs/group';
import { forgetCounted } from '../counts/redis-store';
import { type JobData, type Queues } from '../jobs/queues';
import { type RedisConnection } from '../redis/connection';
import { ACTION_KEYS, isActionKey, type ActionKey } from '../core/types';
import { EXIT, UsageError, defineCommand, plural, refuseArguments, table } from './args';
import { refuseUnknownPrefix } from './prefix-check';

const PAGE = 500;

const options = { action: 'value', since: 'value', reason: 'value', 'dry-run': 'flag' } as const;

export const replayCommand = defineCommand({
  name: 'replay',
  summary: 're-queue failed jobs after a fix',
  options,
  help: `Usage: cio-relay replay [--action A[,B…]] [--since T] [--reason TEXT] [--dry-run]

Moves failed jobs back to their queue, with a fresh set of attempts, so the
workers deliver them again, and prints per action how many were re-queued.

Replay after fixing the cause. A job whose mapping refused it (a required field
missing, an identifier too long…) fails again the same way unless the mapping
in CIO_CONFIG was fixed and the workers restarted with it; one Customer.io
refused (400, or listed in a 207) fails again unless the data or the workspace
changed. Jobs that failed on 5xx or timeouts after their last attempt replay as
they are.

Options:
  --action A     only these action queues (comma-separated), e.g. trackEvent
  --since T      only jobs that failed at or after T: an ISO time
                 (2024-05-01T12:00:00Z) or a time ago (90s, 30m, 2h, 7d)
  --reason TEXT  only jobs whose failure reason contains TEXT (case-insensitive)
  --dry-run      count the jobs that would be re-queued; change nothing
  -h, --help     this text

Environment: REDIS_URL and QUEUE_PREFIX, as for the service.

Exit codes:
  0  done (also when there was nothing to replay)
  2  could not run: bad arguments or configuration, Redis unreachable, or no
     queues under QUEUE_PREFIX (the prefixes found are listed)`,

  async run(ctx, { options: opts, positionals }) {
    refuseArguments(positionals);
    const actions = opts.action === undefined ? [...ACTION_KEYS] : parseActions(opts.action);
    const sinceMs = opts.since === undefined ? undefined : parseSince(opts.since, Date.now());
    const reason = opts.reason?.toLowerCase();
    if (reason === '') throw new UsageError('--reason needs some text to look for');
    const dryRun = opts['dry-run'] === true;
    const config = ctx.config();
    await refuseUnknownPrefix(config);

    const open = await ctx.openQueues(config);
    try {
      const filter: Filter = { sinceMs, reason };
      const rows: string[][] = [];
      let total = 0;
      let leftFailed = 0;
      let vanished = 0;
      const pausedQueues: string[] = [];
      for (const action of actions) {
        const result = await replayQueue(open.redis, open.queues, action, filter, dryRun);
        total += result.matched;
        leftFailed += result.unmatched;
        vanished += result.vanished;
        if (result.matched > 0 && (await open.queues[action].isPaused())) pausedQueues.push(action);
        if (result.matched + result.unmatched > 0 || opts.action !== undefined) rows.push([action, String(result.matched)]);
      }

      const conditions = [
        sinceMs !== undefined && `failed since ${new Date(sinceMs).toISOString()}`,
        reason !== undefined && `reason containing ${JSON.stringify(opts.reason)}`,
      ].filter(Boolean);
      ctx.out(`${dryRun ? 'Would re-queue' : 'Re-queued'} failed jobs (QUEUE_PREFIX=${config.redis.queuePrefix}${conditions.length ? `, ${conditions.join(', ')}` : ''}):`);
      if (rows.length === 0) ctx.out('  no failed jobs');
      for (const line of table(rows)) ctx.out(`  ${line}`);
      const totalJobs = `${total} failed ${plural(total, 'job')}`;
      ctx.out(dryRun ? `total: ${totalJobs} would be re-queued (dry run: nothing changed)` : `total: ${totalJobs} re-queued`);
      if (leftFailed > 0) ctx.out(`${leftFailed} other failed ${plural(leftFailed, 'job')} did not match --since/--reason and stay failed`);
      if (vanished > 0) ctx.out(`${vanished} ${plural(vanished, 'job')} left the failed state while this ran (retried or removed elsewhere) and were skipped`);
      for (const action of pausedQueues) {
        ctx.out(`note: the ${action} queue is paused (a 429 or refused credentials); its jobs wait until it resumes`);
      }
      return EXIT.ok;
    } finally {
      await open.close();
    }
  },
});

interface Filter {
  sinceMs?: number;
  /** Lower case. */
  reason?: string;
}

interface QueueResult {
  matched: number;
  unmatched: number;
  /** Matched, but no longer failed when we tried (another replay, the dashboard, retention). */
  vanished: number;
}

async function replayQueue(redis: RedisConnection, queues: Queues, action: ActionKey, filter: Filter, dryRun: boolean): Promise<QueueResult> {
  const queue = queues[action];
  const result: QueueResult = { matched: 0, unmatched: 0, vanished: 0 };
  const seen = new Set<string>();
  let start = 0;
  for (;;) {
    const page = (await queue.getJobs(['failed'], start, start + PAGE - 1, true)) as Array<Job<JobData> | undefined>;
    if (page.length === 0) break;
    let stayed = 0;
    for (const job of page) {
      if (!job?.id || seen.has(job.id)) {
        stayed++;
        continue;
      }
      seen.add(job.id);
      if (!matches(job, filter)) {
        result.unmatched++;
        stayed++;
        continue;
      }
      if (dryRun) {
        result.matched++;
        stayed++;
        continue;
      }
      try {
        // A fresh set of attempts: the fix is new, and a job that used up its attempts on an outage
        // would otherwise fail again after a single try. Its first attempt then counts again (metrics).
        await forgetCounted(redis, job);
        // A job made for one refused item carries its refusal (it fails with it when first run) and
        // items carry the attempts they used: both go, so the job is sent again as new.
        const data = job.data as GroupJobData;
        if (data.fail || data.attempt) await job.updateData(freshStart(data));
        // Its count of starts goes on: the jobs each run makes are named after it (worker/earlier-runs.ts).
        await job.retry('failed', { resetAttemptsMade: true });
        result.matched++;
      } catch {
        result.vanished++;
      }
    }
    start += stayed;
    if (page.length < PAGE) break;
  }
  return result;
}

function freshStart(data: GroupJobData): GroupJobData {
  const { fail: _fail, attempt: _attempt, ...rest } = data;
  return rest;
}

function matches(job: Job<JobData>, filter: Filter): boolean {
  if (filter.sinceMs !== undefined && (job.finishedOn ?? 0) < filter.sinceMs) return false;
  if (filter.reason !== undefined && !(job.failedReason ?? '').toLowerCase().includes(filter.reason)) return false;
  return true;
}

function parseActions(text: string): ActionKey[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError('--action needs an action name, e.g. trackEvent');
  for (const name of names) {
    if (!isActionKey(name)) throw new UsageError(`--action: unknown action ${JSON.stringify(name)}; one of ${ACTION_KEYS.join(', ')}`);
  }
  return [...new Set(names)] as ActionKey[];
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO time, or a time ago such as `30m` or `2h`, as epoch milliseconds. */
export function parseSince(text: string, now: number): number {
  const ago = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(text.trim());
  if (ago) return now - Number(ago[1]) * UNIT_MS[ago[2].toLowerCase()];
  // Only texts that look like a date: Date.parse alone would take "5" as the year 2005.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(`--since must be an ISO time such as 2024-05-01T12:00:00Z or a time ago such as 30m, 2h, 7d; got ${JSON.stringify(text)}`);
  }
  return ms;
}
