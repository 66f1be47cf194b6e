// Which pages may post events from a browser (CORS_ORIGINS).

import type { FastifyInstance } from 'fastify';
import { refusal } from './errors';

/** The Access-Control-Allow-Origin value for a request's Origin, or undefined (no header). */
export function corsPolicy(origins: string[]): (origin: string | undefined) => string | undefined {
  const any = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  return (origin) => {
    if (origin === undefined) return undefined;
    if (any) return '*';
    return allowed.has(origin.toLowerCase()) ? origin : undefined;
  };
}

/**
 * Browsers (analytics.js) post from the site's own origin. The answer carries the CORS header, refusals
 * too, so the page can read it; without it the SDK would take every event as failed and send it again.
 * Like Segment's API, any origin is allowed by default: the write key decides, not the origin.
 */
export function registerCors(api: FastifyInstance, origins: string[]): void {
  const cors = corsPolicy(origins);
  api.addHook('onRequest', async (request, reply) => {
    const allowed = cors(request.headers.origin);
    if (allowed) reply.header('access-control-allow-origin', allowed).header('vary', 'Origin');
  });
  api.options('/v1/*', async (request, reply) => {
    if (!cors(request.headers.origin)) return reply.code(403).send(refusal('CIO_ERR_ORIGIN_REFUSED', 'this origin may not post events here (CORS_ORIGINS)'));
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'content-type, authorization')
      .header('access-control-max-age', '86400')
      .send();
  });
}
