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
 *
 * With a list, a request whose Origin is not on it is refused before its body is read, whatever its
 * method and content type: a "simple" request (a text/plain POST with the write key in the body) has no
 * preflight, and refusing only the preflight would let it through. A request without Origin (a server,
 * curl, an SDK outside a browser) is not a page's, and the list says nothing about it.
 */
export function registerCors(api: FastifyInstance, origins: string[]): void {
  const cors = corsPolicy(origins);
  api.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const allowed = cors(origin);
    if (allowed) reply.header('access-control-allow-origin', allowed).header('vary', 'Origin');
    else if (origin !== undefined) {
      return reply.code(403).send(refusal('CIO_ERR_ORIGIN_REFUSED', `pages of the origin ${JSON.stringify(origin.slice(0, 200))} may not post events here (it is not in CORS_ORIGINS); nothing was queued`));
    }
  });
  api.options('/v1/*', async (request, reply) => {
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'content-type, authorization')
      .header('access-control-max-age', '86400')
      .send();
  });
}
