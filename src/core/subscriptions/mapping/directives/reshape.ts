// @transform and @excludeWhenNull: directives that reshape a value rather than read one.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { describe, isPlainObject, setOwn } from '../helpers';
import type { CompiledValue, Dict } from '../types';
import { checkUnused, optionsObject } from './options';

/**
 * `{"@transform": {"apply": {...}, "mapping": {...}}}`: `apply` is resolved against the event into a new
 * payload, and `mapping` is resolved against that payload. Both are compiled once, here.
 */
export function compileTransform(arg: unknown, where: string, keepUndefined: boolean): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'apply' and 'mapping'");
  const apply = objectOrDirective(opts.apply, `${where}.apply`);
  const mapping = objectOrDirective(opts.mapping, `${where}.mapping`);
  checkUnused(opts, ['apply', 'mapping'], where);
  const applyOf = compileNode(apply, `${where}.apply`, false);
  // As with @if, the result may sit in @merge, where mapping-kit still sees its undefined keys.
  const mappingOf = compileNode(mapping, `${where}.mapping`, keepUndefined);
  return (event) => {
    // mapping-kit's transform() takes object payloads only; inside @arrayPath an item may be anything.
    if (!isPlainObject(event)) {
      throw new MappingError(`${where}: can only apply to an object, got ${describe(event)}`);
    }
    return mappingOf(applyOf(event));
  };
}

function objectOrDirective(value: unknown, where: string): Dict {
  if (value === undefined) throw new MappingError(`${where}: is required`);
  if (!isPlainObject(value)) throw new MappingError(`${where}: must be an object or a directive, got ${describe(value)}`);
  return value;
}

/**
 * `{"@excludeWhenNull": value}`: a null result leaves the key out; in an object result, keys whose value
 * is null are left out, in nested objects too (not inside arrays), as mapping-kit's cleanNulls does.
 */
export function compileExcludeWhenNull(arg: unknown, where: string, keepUndefined: boolean): CompiledValue {
  const valueOf = compileNode(arg, where, keepUndefined);
  return (event) => {
    const value = valueOf(event);
    if (value === null) return undefined;
    return isPlainObject(value) ? withoutNulls(value, keepUndefined) : value;
  };
}

/**
 * A copy without null-valued keys. mapping-kit sets them to undefined, and its final clean-up removes
 * them; only an object that @merge is about to spread (keepUndefined) keeps them as undefined, so that,
 * as there, they still override an earlier object's key.
 */
function withoutNulls(obj: Dict, keepUndefined: boolean): Dict {
  const copy: Dict = { ...obj };
  for (const key of Object.keys(copy)) {
    const value = copy[key];
    if (value === null) {
      if (keepUndefined) setOwn(copy, key, undefined);
      else delete copy[key];
    } else if (isPlainObject(value)) {
      setOwn(copy, key, withoutNulls(value, false));
    }
  }
  return copy;
}
