// @flatten and @merge: building new objects out of other values.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { describe, isPlainObject, setOwn, withoutUndefined } from '../helpers';
import type { CompiledValue, Dict } from '../types';
import { checkUnused, optionalBoolean, optionsObject } from './options';

export function compileFlatten(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'value' and 'separator'");
  const { separator } = opts;
  if (typeof separator !== 'string' || separator === '') {
    throw new MappingError(`${where}.separator: must be a non-empty string, got ${describe(separator)}`);
  }
  if (opts.value === undefined) throw new MappingError(`${where}: needs a 'value'`);
  const omitArrays = optionalBoolean(opts.omitArrays, `${where}.omitArrays`) ?? false;
  checkUnused(opts, ['value', 'separator', 'omitArrays'], where);
  const valueOf = compileNode(opts.value, `${where}.value`, false);
  return (event) => {
    const out: Dict = {};
    flattenInto(out, valueOf(event), '', separator, omitArrays);
    return withoutUndefined(out);
  };
}

function flattenInto(out: Dict, value: unknown, prefix: string, separator: string, omitArrays: boolean): void {
  if (isPlainObject(value) || (!omitArrays && Array.isArray(value))) {
    for (const key of Object.keys(value as object)) {
      flattenInto(out, (value as Dict)[key], prefix ? `${prefix}${separator}${key}` : key, separator, omitArrays);
    }
    return;
  }
  setOwn(out, prefix, value);
}

export function compileMerge(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'objects' and 'direction'");
  const { direction, objects } = opts;
  if (direction !== 'left' && direction !== 'right') {
    throw new MappingError(`${where}.direction: must be "left" or "right", got ${describe(direction)}`);
  }
  if (!Array.isArray(objects)) {
    throw new MappingError(`${where}.objects: must be an array, got ${describe(objects)}`);
  }
  checkUnused(opts, ['objects', 'direction'], where);
  const fns = objects.map((item, i) => {
    const at = `${where}.objects[${i}]`;
    if (!isPlainObject(item)) throw new MappingError(`${at}: must be an object or a directive, got ${describe(item)}`);
    return compileNode(item, at, true);
  });
  // 'left': earlier objects win, as mapping-kit gets by reversing the list before Object.assign.
  if (direction === 'left') fns.reverse();
  return (event) => {
    const out: Dict = {};
    for (const fn of fns) {
      const v = fn(event);
      if (v === undefined || v === null) continue;
      // Object.assign semantics: own enumerable keys; a string spreads into its characters.
      const source = Object(v) as Dict;
      for (const key of Object.keys(source)) setOwn(out, key, source[key]);
    }
    return withoutUndefined(out);
  };
}
