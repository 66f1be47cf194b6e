// Reading an event request's body: decompressed (gzip, deflate), at most MAX_REQUEST_BYTES once decoded,
// no deeper than MAX_JSON_DEPTH, parsed as JSON whatever the content type. Every refusal is an ApiError (a 400)
// that names the problem.

import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, inflate, inflateRaw } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_JSON_DEPTH, MAX_REQUEST_BYTES } from '../core/limits';
import { ApiError } from './errors';

/** A body over the limit is still read (and thrown away) up to this size, so the answer can say how big it
 * was and the client reads a 400 rather than a reset connection. Past it the connection is closed. */
export const MAX_DRAINED_BYTES = 4 * MAX_REQUEST_BYTES;

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

/** The body as text: read, decompressed, and at most MAX_REQUEST_BYTES; throws an ApiError otherwise. */
export async function readBody(payload: Readable, headers: FastifyRequest['headers']): Promise<string> {
  const encoding = String(headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const compressed = encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate';
  if (!compressed && encoding !== 'identity' && encoding !== '') {
    throw new ApiError('CIO_ERR_CONTENT_ENCODING', `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or none`);
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_DRAINED_BYTES) throw tooLarge(declared, compressed);

  const raw = await readStream(payload, compressed ? MAX_DRAINED_BYTES : MAX_REQUEST_BYTES);
  if (raw.bytes > MAX_REQUEST_BYTES && !compressed) throw tooLarge(raw.complete ? raw.bytes : undefined, false);
  if (!raw.complete) throw tooLarge(undefined, compressed);
  if (!compressed) return raw.body.toString('utf8');

  const limit = { maxOutputLength: MAX_DRAINED_BYTES };
  let decoded: Buffer;
  try {
    if (encoding === 'deflate') {
      // "deflate" should be zlib-wrapped, but some clients send raw deflate; the header tells them apart.
      const zlibWrapped = raw.body.length >= 2 && (raw.body[0] & 0x0f) === 8 && raw.body.readUInt16BE(0) % 31 === 0;
      decoded = await (zlibWrapped ? inflateAsync(raw.body, limit) : inflateRawAsync(raw.body, limit));
    } else {
      decoded = await gunzipAsync(raw.body, limit);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(undefined, true);
    throw new ApiError('CIO_ERR_BODY_UNREADABLE', `request body is not valid ${encoding} data (${(err as Error).message})`);
  }
  if (decoded.length > MAX_REQUEST_BYTES) throw tooLarge(decoded.length, true);
  return decoded.toString('utf8');
}

function tooLarge(bytes: number | undefined, decoded: boolean): ApiError {
  const size = bytes === undefined ? `over ${MAX_DRAINED_BYTES}` : String(bytes);
  return new ApiError('CIO_ERR_BODY_TOO_LARGE', `request body is ${size} bytes${decoded ? ' once decompressed' : ''}; at most ${MAX_REQUEST_BYTES}`);
}

/** Reads the stream, keeping at most `keep` bytes and counting up to MAX_DRAINED_BYTES; `complete` is
 * false when it stopped there. */
function readStream(stream: Readable, keep: number): Promise<{ body: Buffer; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (complete: boolean) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (!complete) stream.pause();
      resolve({ body: Buffer.concat(chunks), bytes, complete });
    };
    const onData = (chunk: Buffer) => {
      if (bytes + chunk.length <= keep) chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > MAX_DRAINED_BYTES) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (err: Error) => reject(new ApiError('CIO_ERR_BODY_UNREADABLE', `request body could not be read (${err.message})`));
    const onAborted = () => reject(new ApiError('CIO_ERR_BODY_UNREADABLE', 'request body was cut off: the client closed the connection'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}

export function parseBody(
  text: string,
  parseJson: ReturnType<FastifyInstance['getDefaultJsonParser']>,
  request: FastifyRequest,
): unknown {
  if (text.trim() === '') throw new ApiError('CIO_ERR_BODY_EMPTY', 'request body is empty; expected a JSON object');
  const depth = jsonDepthOver(text, MAX_JSON_DEPTH);
  if (depth) throw new ApiError('CIO_ERR_BODY_TOO_DEEP', `request body nests more than ${MAX_JSON_DEPTH} levels deep; refused`);
  let parsed: unknown;
  let failed = false;
  // Fastify's parser (secure-json-parse) drops __proto__ and constructor.prototype keys; its error says
  // nothing of where the JSON breaks, so JSON.parse is asked for that.
  parseJson(request, text, (err, body) => {
    failed = err !== null && err !== undefined;
    parsed = body;
  });
  if (failed) {
    let reason = 'invalid JSON';
    try {
      JSON.parse(text);
    } catch (err) {
      reason = (err as Error).message;
    }
    throw new ApiError('CIO_ERR_BODY_INVALID_JSON', `request body is not valid JSON: ${reason}`);
  }
  return parsed;
}

/** True when the JSON text opens more than `max` objects/arrays inside one another. Strings are skipped. */
function jsonDepthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
