// How the HTTP API refuses. Every refusal carries a stable code beside its message (`{"error", "code"}`), the
// way fastify codes its own errors (FST_ERR_…): clients and tests match the code, never the wording.
// README's answers table lists them. Every 400 also has `errors: [{index, error}]`.

/** Each code and the status it is sent with. */
export const API_ERRORS = {
  /** No body, or only whitespace. */
  CIO_ERR_BODY_EMPTY: 400,
  /** The body is JSON but not an object (an array, a string…). */
  CIO_ERR_BODY_NOT_OBJECT: 400,
  /** Over MAX_REQUEST_BYTES, as sent or once decompressed. */
  CIO_ERR_BODY_TOO_LARGE: 400,
  /** Nested deeper than MAX_JSON_DEPTH. */
  CIO_ERR_BODY_TOO_DEEP: 400,
  CIO_ERR_BODY_INVALID_JSON: 400,
  /** The body could not be read: cut off, a read error, or gzip/deflate data that does not decode. */
  CIO_ERR_BODY_UNREADABLE: 400,
  /** A Content-Type that is not a media type. */
  CIO_ERR_CONTENT_TYPE: 400,
  /** A Content-Encoding other than gzip, deflate or none. */
  CIO_ERR_CONTENT_ENCODING: 400,
  /** A /v1/batch body without a "batch" array. */
  CIO_ERR_BATCH_INVALID: 400,
  /** An event whose type differs from its endpoint's (/v1/track with "type": "identify"). */
  CIO_ERR_TYPE_MISMATCH: 400,
  /** One or more events refused; `errors` names each by its index. */
  CIO_ERR_EVENTS_REFUSED: 400,
  CIO_ERR_WRITE_KEY_MISSING: 401,
  CIO_ERR_WRITE_KEY_UNKNOWN: 401,
  /** The dashboard's user name and password are missing or wrong. */
  CIO_ERR_DASHBOARD_AUTH: 401,
  /** A request whose Origin is not in CORS_ORIGINS (a preflight or the request itself); nothing is queued. */
  CIO_ERR_ORIGIN_REFUSED: 403,
  CIO_ERR_NOT_FOUND: 404,
  CIO_ERR_INTERNAL: 500,
  /** Redis cannot take the events now (unreachable, nearly full, too many events waiting): nothing was queued; retry the same request. */
  CIO_ERR_UNAVAILABLE: 503,
  /** Redis did not confirm the write (slow, hung, failed part-way): the events may have been queued; the same request re-sent queues each once. */
  CIO_ERR_UNCONFIRMED: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** A refusal: its status follows from its code; its message is sent as `error`. */
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = API_ERRORS[code];
  }
}

/** The body of every refusal. `code` is ours (CIO_ERR_…) or, for errors fastify raises itself, fastify's. */
export interface Refusal {
  error: string;
  code: string;
}

/** Every 400 has this shape: `index` names the event at fault, null when the whole request is. */
export interface BadRequest extends Refusal {
  errors: Array<{ index: number | null; error: string }>;
}

export function refusal(code: ApiErrorCode | string, message: string): Refusal {
  return { error: message, code };
}

/** A refusal of the whole request (its body, its envelope), in the shape of every 400. */
export function badRequest(code: ApiErrorCode | string, message: string): BadRequest {
  return { error: message, code, errors: [{ index: null, error: message }] };
}
