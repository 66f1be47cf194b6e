// Validation of a directive's options object, with mapping-kit's validator rules and our error texts.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { childWhere, describe, isDirectiveLike, isPlainObject } from '../helpers';
import type { Dict } from '../types';

export function optionsObject(arg: unknown, where: string, expected: string): Dict {
  if (!isPlainObject(arg)) throw new MappingError(`${where}: expected ${expected}, got ${describe(arg)}`);
  const directiveKey = Object.keys(arg).find((k) => k.startsWith('@'));
  if (directiveKey) throw new MappingError(`${where}: expected ${expected}, got directive '${directiveKey}'`);
  return arg;
}

/** Keys a directive does not use are still checked, as mapping-kit's validator walks every key. */
export function checkUnused(opts: Dict, used: string[], where: string, alsoUnused: string[] = []): void {
  for (const key of Object.keys(opts)) {
    if (!used.includes(key) || alsoUnused.includes(key)) compileNode(opts[key], childWhere(where, key), false);
  }
}

export function requireStringOrDirective(value: unknown, where: string): void {
  if (typeof value === 'string') return;
  if (isPlainObject(value) && isDirectiveLike(value)) return;
  throw new MappingError(`${where}: expected a string or a directive, got ${describe(value)}`);
}

export function boundedString(
  value: unknown,
  where: string,
  min: number,
  max: number,
  required: boolean,
): string | undefined {
  if (value === undefined) {
    if (required) throw new MappingError(`${where}: is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new MappingError(`${where}: must be a string, got ${describe(value)}`);
  if (value.length < min) throw new MappingError(`${where}: must be at least ${min} character${min === 1 ? '' : 's'}`);
  if (value.length > max) throw new MappingError(`${where}: must be at most ${max} characters`);
  return value;
}

export function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new MappingError(`${where}: must be true or false, got ${describe(value)}`);
  return value;
}
