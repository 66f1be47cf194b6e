// Write keys and the dashboard's credentials: compared by digest, in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';

export interface KeyChecker {
  required: boolean;
  known(key: string): boolean;
}

/** Compares digests, so neither the time taken nor a length difference says how close a guess was. */
export function keyChecker(keys: readonly string[]): KeyChecker {
  const digests = keys.map(sha256);
  return {
    required: digests.length > 0,
    known: (key) => {
      const d = sha256(key);
      return digests.some((k) => timingSafeEqual(k, d));
    },
  };
}

/** The decoded "user:password" of a Basic Authorization header, or undefined. */
export function basicCredentials(header: string | undefined): string | undefined {
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? Buffer.from(match[1], 'base64').toString('utf8') : undefined;
}

/** Segment's SDKs send the write key as the Basic-auth user name with an empty password. */
export function basicAuthUser(header: string | undefined): string | undefined {
  const credentials = basicCredentials(header);
  if (credentials === undefined) return undefined;
  const colon = credentials.indexOf(':');
  return colon < 0 ? credentials : credentials.slice(0, colon);
}

/** Whether `given` ("user:password") has the digest `expected`, compared in constant time. */
export function credentialsMatch(given: string, expected: Buffer): boolean {
  return timingSafeEqual(sha256(given), expected);
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
