// Issue 18, point 5: counters under kills. An API process killed with SIGKILL under load must leave
// cio_items_enqueued_total equal to the items stored in Redis, exactly: the count is written in the same
// transaction as the job, so no kill can fall between the two.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { removeCounts } from '../../src/counts/redis-store';
import { seriesKey } from '../../src/counts/tally';
import { markerKey } from '../../src/redis/health/data-marker';
import { queuePrefix } from '../../src/redis/keys';
import { removeMessageIndex } from '../../src/redis/message-index';
import { postJson, SHARED_REDIS_URL, trackEvent, trackOnly, waitUntil } from '../support/chaos';
import { useChaosRun } from '../support/chaos-run';
import { startServiceProcess } from '../support/process';

const KILLS = 4;
const CLIENTS = 6;
const BATCH = 40;

describe('point 5: counters under kills', function () {
  this.timeout(120_000);
  const run = useChaosRun();

  it('point 5: after SIGKILLs of the API under load, cio_items_enqueued_total equals the items stored', async () => {
    // Not under `cio-*`: the root hook of any suite run on the shared Redis removes counts there when it ends.
    const prefix = `kill-counts-${randomBytes(4).toString('hex')}`;
    const config = run.config(trackOnly());
    const inspect = await run.inspect(SHARED_REDIS_URL, prefix);
    run.onCleanup(async () => {
      await removeMessageIndex(inspect.redis, prefix);
      await removeCounts(inspect.redis, prefix);
      // The API processes' marker of their Redis's data (redis/health): kept without a TTL, like the counts.
      await inspect.redis.del(markerKey(prefix));
    });
    let sent = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const api = await startServiceProcess({ mode: 'api', name: `api-${kill}`, env: { REDIS_URL: SHARED_REDIS_URL, QUEUE_PREFIX: prefix, CIO_CONFIG: config.path } });
      let answered = 0;
      let stop = false;
      const client = async () => {
        while (!stop) {
          const batch = Array.from({ length: BATCH }, () => {
            const n = sent++;
            return trackEvent(`kill-${n}`, n);
          });
          const answer = await postJson(api.url, '/v1/batch', { batch }).catch(() => undefined);
          if (!answer) return; // the process is gone
          if (answer.status === 200) answered++;
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      // Killed while requests are in flight, once some have been answered.
      await waitUntil(() => answered >= 10, 30_000, 'answers before the kill');
      await api.stop('SIGKILL');
      stop = true;
      await Promise.all(clients);
    }
    const jobs = await inspect.queues.trackEvent.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    const stored = jobs.reduce((n, job) => n + (job.data as { count: number }).count, 0);
    expect(stored).to.be.greaterThan(0);
    const counted = Number((await inspect.redis.hget(`${queuePrefix(prefix, 'trackEvent')}:counts`, seriesKey('cio_items_enqueued_total', { action: 'trackEvent' }))) ?? 0);
    expect(counted, `stored ${stored}, counted ${counted}`).to.equal(stored);
  });
});
