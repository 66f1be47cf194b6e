// `cio-relay stats`: job counts by action queue and state, as a table or as JSON.

import { ACTION_KEYS, type ActionKey } from '../core/types';
import { CannotRunError, EXIT, defineCommand, plural, refuseArguments, table } from './args';
import { readQueues } from './queue-reader';
import { anyQueue, noQueuesMessage } from './prefix-check';
import { openRedis } from './redis';
import { COUNTED_JOB_STATES } from '../redis/keys';
import { pauseEnd } from '../jobs/pause';


const options = { json: 'flag', all: 'flag' } as const;

export const statsCommand = defineCommand({
  name: 'stats',
  summary: 'queue depth by action and state',
  options,
  help: `Usage: cio-relay stats [--json] [--all]

Prints how many jobs each action queue holds in each state (a job carries the
events of one subscription that arrived together; a failed job is one item):
  waiting    queued, not yet taken by a worker
  active     in a worker's hands (a batch filling or a request in flight)
  delayed    waiting for a retry after a 5xx or timeout
  failed     failed for good; see the reason in the dashboard, replay with
             cio-relay replay once fixed
  completed  delivered, kept for COMPLETED_RETENTION_SECONDS
A queue marked "(paused)" is paused now; its jobs count as waiting. One marked
"(paused until <time>)" waits out a 429 or refused credentials until then.

Options:
  --all       list every action, not only those with a subscription or jobs
  --json      one JSON object: {queuePrefix, actions: {action: {state: n,
              …, queuePaused, pausedUntil?}}, totals: {state: n}}; always
              every action (pausedUntil: ISO time, while a pause holds)
  -h, --help  this text

It only reads: nothing in Redis is created or changed.

Environment: REDIS_URL and QUEUE_PREFIX, as for the service.

Exit codes:
  0  done
  2  could not run: bad arguments or configuration, Redis unreachable, or no
     queues under QUEUE_PREFIX (the prefixes found are listed)`,

  async run(ctx, { options: opts, positionals }) {
    refuseArguments(positionals);
    const config = ctx.config();
    const open = await openRedis(config);
    try {
      const readings = await readQueues(open.redis, config.redis.queuePrefix);
      if (!anyQueue(readings)) {
        throw new CannotRunError(await noQueuesMessage(open.redis, config.redis.queuePrefix, open.where));
      }
      const counts = {} as Record<ActionKey, Record<string, number>>;
      for (const action of ACTION_KEYS) counts[action] = readings[action].counts;
      const paused = new Set<ActionKey>(ACTION_KEYS.filter((a) => readings[a].paused));
      // A 429 or refused credentials hold a queue back by BullMQ's limiter, not by its paused flag.
      const now = Date.now();
      const pauses = await Promise.all(ACTION_KEYS.map((a) => pauseEnd(open.redis, config.redis.queuePrefix, a, now)));
      const pausedUntil = new Map(ACTION_KEYS.flatMap((a, i) => (pauses[i] ? [[a, new Date(pauses[i]!).toISOString()] as const] : [])));

      // The columns, in the order a job moves through them; `prioritized` only when in use.
      const prioritized = ACTION_KEYS.some((a) => (counts[a].prioritized ?? 0) > 0);
      // BullMQ 6 keeps a paused queue's jobs in waiting: no paused column (the queue is marked instead).
      const states: string[] = COUNTED_JOB_STATES.filter((s) => s !== 'prioritized' || prioritized);
      const totals: Record<string, number> = {};
      for (const state of states) totals[state] = ACTION_KEYS.reduce((sum, a) => sum + (counts[a][state] ?? 0), 0);

      if (opts.json) {
        const actions: Record<string, Record<string, number | boolean | string>> = {};
        for (const action of ACTION_KEYS) {
          actions[action] = Object.fromEntries(states.map((s) => [s, counts[action][s] ?? 0]));
          actions[action].queuePaused = paused.has(action);
          if (pausedUntil.has(action)) actions[action].pausedUntil = pausedUntil.get(action)!;
        }
        ctx.out(JSON.stringify({ queuePrefix: config.redis.queuePrefix, actions, totals }, null, 2));
        return EXIT.ok;
      }

      const subscribed = new Set(config.subscriptions.filter((s) => s.spec.enabled).map((s) => s.action));
      const shown = ACTION_KEYS.filter(
        (a) => opts.all || subscribed.has(a) || paused.has(a) || pausedUntil.has(a) || states.some((s) => (counts[a][s] ?? 0) > 0),
      );
      const rows = [
        ['action', ...states],
        ...shown.map((a) => [marked(a, paused.has(a), pausedUntil.get(a)), ...states.map((s) => String(counts[a][s] ?? 0))]),
        ['total', ...states.map((s) => String(totals[s]))],
      ];
      ctx.out(`Queues under QUEUE_PREFIX=${config.redis.queuePrefix} at ${open.where}:`);
      for (const line of table(rows)) ctx.out(line);
      const hidden = ACTION_KEYS.length - shown.length;
      if (hidden > 0) ctx.out(`(${hidden} other ${plural(hidden, 'action')} without subscription or jobs: --all lists them)`);
      return EXIT.ok;
    } finally {
      await open.close();
    }
  },
});

/** The action's name in the table, with its queue's pause if any. */
function marked(action: ActionKey, paused: boolean, until: string | undefined): string {
  const marks = [paused ? 'paused' : '', until ? `paused until ${until}` : ''].filter(Boolean);
  return marks.length ? `${action} (${marks.join('; ')})` : action;
}
