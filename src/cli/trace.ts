// `cio-relay trace <messageId>`: what was sent for one event and where it is now, for each subscription it was queued for.

import { describeTrace, traceMessage } from '../jobs/trace';
import { EXIT, UsageError, defineCommand } from './args';
import { refuseUnknownPrefix } from './prefix-check';

const options = { json: 'flag' } as const;

export const traceCommand = defineCommand({
  name: 'trace',
  summary: 'what was sent for an event, Customer.io\'s answer, and where it is now',
  options,
  help: `Usage: cio-relay trace <messageId> [--json]

Follows one event (by its messageId) through the queues, for every subscription
of the configuration it was queued for: the event as received, the Customer.io
item it becomes, the jobs that carried it, each request it went in (when, the
status, how many items) with Customer.io's answer for the item, and where it is
now. The item is rebuilt from the event with the current CIO_CONFIG (items are
not stored): it is the item that was sent unless the configuration changed.
An earlier attempt of a retried item shows with its reason; a job held by its
queue's pause (a 429, refused credentials) says "paused until <time>".
Where it is now:
  DELIVERED  Customer.io accepted it (with the status of its request)
  FAILED     refused for good, with the reason (replay it once fixed)
  RETRYING   a transient failure; the next attempt and when it runs
  WAITING    queued, or waiting out a 429 / refused credentials
  SENDING    in a worker's hands now
  GONE       its job was removed after its retention time
An event is known for COMPLETED_RETENTION_SECONDS after it was queued (at least;
at most twice that); after that, or for an id never received, it says so.

Options:
  --json      the answer as one JSON object
  -h, --help  this text

Environment: REDIS_URL, QUEUE_PREFIX and CIO_CONFIG, as for the service.

Exit codes:
  0  the event was found
  1  not seen within the retention window
  2  could not run: bad arguments or configuration, Redis unreachable, or no
     queues under QUEUE_PREFIX (the prefixes found are listed)`,

  async run(ctx, { options: opts, positionals }) {
    if (positionals.length !== 1 || !positionals[0]) throw new UsageError('trace needs exactly one messageId');
    const config = ctx.config();
    await refuseUnknownPrefix(config);
    const open = await ctx.openQueues(config);
    try {
      const answer = await traceMessage(
        open.queues,
        open.redis,
        { queuePrefix: config.redis.queuePrefix, subscriptions: config.subscriptions, windowSeconds: config.jobs.completedRetentionSeconds },
        positionals[0],
      );
      if (opts.json) ctx.out(JSON.stringify(answer, null, 2));
      else for (const line of describeTrace(answer)) ctx.out(line);
      return answer.found.length > 0 ? EXIT.ok : EXIT.problems;
    } finally {
      await open.close();
    }
  },
});
