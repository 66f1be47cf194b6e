// Small value helpers shared by the compiler and the directives.

import type { Dict } from './types';

export const hasOwn = Object.prototype.hasOwnProperty;
const objectToString = Object.prototype.toString;

export function isPlainObject(value: unknown): value is Dict {
  return objectToString.call(value) === '[object Object]';
}

/** An object with any '@' key is a directive (or a malformed one), as mapping-kit's validator sees it. */
export function isDirectiveLike(obj: Dict): boolean {
  for (const key in obj) if (hasOwn.call(obj, key) && key.startsWith('@')) return true;
  return false;
}

export function withoutUndefined(obj: Dict): Dict {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/** Assigns without letting a '__proto__' key replace the prototype. */
export function setOwn(obj: Dict, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

export function childWhere(where: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return isPlainObject(value) ? 'an object' : objectToString.call(value).slice(8, -1);
  return typeof value;
}
