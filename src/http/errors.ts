// How the HTTP API refuses: an ApiError carries the status, and every 400 has one shape.

/** A refusal with its HTTP status; its message is sent to the client as `{"error": message}`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Every 400 has this shape: `index` names the event at fault, null when the whole request is. */
export interface BadRequest {
  error: string;
  errors: Array<{ index: number | null; error: string }>;
}

/** A refusal of the whole request (its body, its envelope), in the shape of every 400. */
export function badRequest(message: string): BadRequest {
  return { error: message, errors: [{ index: null, error: message }] };
}
