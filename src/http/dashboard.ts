// The dashboard (Bull Board at /admin/queues) and the trace of one event (/admin/trace/<messageId>), behind
// their own Basic-auth credentials (DASHBOARD_USER, DASHBOARD_PASSWORD).

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { DashboardLogin } from '../config';
import type { Subscription } from '../core/subscriptions';
import { traceMessage } from '../jobs/trace';
import type { RedisConnection } from '../redis/connection';
import type { Queues } from '../jobs/queues';
import { basicCredentials, credentialsMatch, sha256 } from './auth';
import { refusal } from './errors';

export const DASHBOARD_PATH = '/admin/queues';
/** GET /admin/trace/<messageId>: the trace of one event, as JSON (jobs/trace.ts). */
export const TRACE_PATH = '/admin/trace';

type BoardServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

export interface DashboardOptions {
  credentials: DashboardLogin;
  queues: Queues;
  redis: RedisConnection;
  subscriptions: readonly Subscription[];
  queuePrefix: string;
  /** How far back the trace looks: how long completed jobs stay (COMPLETED_RETENTION_SECONDS). */
  windowSeconds: number;
}

export async function dashboard(scope: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const { user, password, readOnly } = opts.credentials;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: Object.values(opts.queues).map((q) => new BullMQAdapter(q as unknown as Queue, { readOnlyMode: readOnly })),
    // @bull-board/fastify pins its own copy of @bull-board/api, one patch release apart from ours: the
    // same interface, but TypeScript sees two classes. The runtime contract is the same.
    serverAdapter: serverAdapter as unknown as BoardServerAdapter,
    options: { uiConfig: { boardTitle: 'cio-relay' } },
  });
  if (user && password) {
    const expected = sha256(`${user}:${password}`);
    scope.addHook('onRequest', async (request, reply) => {
      const given = basicCredentials(request.headers.authorization);
      if (given !== undefined && credentialsMatch(given, expected)) return;
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="cio-relay dashboard", charset="UTF-8"')
        .send(refusal('CIO_ERR_DASHBOARD_AUTH', given === undefined ? 'the dashboard needs a user name and password' : 'wrong dashboard user name or password'));
    });
  }
  await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  // `cio-relay trace` over HTTP, behind the dashboard's credentials: where one event is now.
  scope.get<{ Params: { messageId: string } }>(`${TRACE_PATH}/:messageId`, async (request) =>
    traceMessage(
      opts.queues,
      opts.redis,
      { queuePrefix: opts.queuePrefix, subscriptions: opts.subscriptions, windowSeconds: opts.windowSeconds },
      request.params.messageId,
    ),
  );
}
