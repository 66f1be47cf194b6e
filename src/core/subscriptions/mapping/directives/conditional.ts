// @if: `exists` / `blank` conditions with `then` and `else` branches.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import type { CompiledValue } from '../types';
import { checkUnused, optionsObject } from './options';

export function compileIf(arg: unknown, where: string, keepUndefined: boolean): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'exists' or 'blank'");
  // mapping-kit checks the mapping values, not what they resolve to: `exists: false` is an error.
  if (!opts.exists && !opts.blank) {
    throw new MappingError(`${where}: needs an 'exists' or a 'blank' condition`);
  }
  const useExists = opts.exists !== undefined;
  const condition = compileNode(useExists ? opts.exists : opts.blank, `${where}.${useExists ? 'exists' : 'blank'}`, false);
  const then = opts.then !== undefined ? compileNode(opts.then, `${where}.then`, keepUndefined) : undefined;
  const otherwise = opts.else ? compileNode(opts.else, `${where}.else`, keepUndefined) : undefined;
  checkUnused(opts, ['exists', 'blank', 'then', 'else'], where, useExists ? ['blank'] : ['exists']);
  const holds = useExists ? (v: unknown) => v !== undefined && v !== null : (v: unknown) => !isBlank(v);
  return (event) => {
    if (holds(condition(event))) return then ? then(event) : undefined;
    return otherwise ? otherwise(event) : undefined;
  };
}

// mapping-kit's blank test is `v !== undefined && v !== null && v != ''` with loose equality; this
// gives the same answers without asking arbitrary objects to convert themselves.
function isBlank(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  return Array.isArray(value) && joinsToEmpty(value);
}

function joinsToEmpty(arr: unknown[]): boolean {
  if (arr.length === 0) return true;
  if (arr.length > 1) return false; // join puts a comma between elements
  const only = arr[0];
  return only === undefined || only === null || only === '' || (Array.isArray(only) && joinsToEmpty(only));
}
