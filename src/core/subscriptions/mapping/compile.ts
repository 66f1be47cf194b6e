// The recursive core: turns any mapping value (literal, array, object, directive) into a closure.
// Directives are looked up in ./directives/registry, whose compilers call back into compileNode for
// their nested values.

import { lookupDirective } from './directives/registry';
import { MappingError } from './errors';
import { childWhere, describe, isDirectiveLike, isPlainObject, setOwn } from './helpers';
import type { CompiledValue, Dict } from './types';

// keepUndefined: build objects with their undefined-valued keys (one level). Only @merge asks for
// it, through @if / @literal, because mapping-kit merges before it removes undefined values.
export function compileNode(value: unknown, where: string, keepUndefined: boolean): CompiledValue {
  if (value === null || value === undefined) return () => value;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return () => value;
    case 'object':
      break;
    default:
      throw new MappingError(`${where}: not a JSON value (${describe(value)})`);
  }
  if (Array.isArray(value)) return compileArray(value, where);
  if (!isPlainObject(value)) throw new MappingError(`${where}: not a JSON value (${describe(value)})`);
  if (isDirectiveLike(value)) return compileDirective(value, where, keepUndefined);
  return compileObject(value, where, keepUndefined);
}

function compileArray(items: unknown[], where: string): CompiledValue {
  const fns = items.map((item, i) => compileNode(item, `${where}[${i}]`, false));
  const n = fns.length;
  return (event) => {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = fns[i](event);
    return out;
  };
}

export function compileObject(obj: Dict, where: string, keepUndefined: boolean): CompiledValue {
  const keys = Object.keys(obj);
  const fns = keys.map((key) => compileNode(obj[key], childWhere(where, key), false));
  const n = keys.length;
  const needsDefine = keys.includes('__proto__');
  return (event) => {
    const out: Dict = {};
    for (let i = 0; i < n; i++) {
      const v = fns[i](event);
      if (v === undefined && !keepUndefined) continue;
      if (needsDefine) setOwn(out, keys[i], v);
      else out[keys[i]] = v;
    }
    return out;
  };
}

/** An object with an '@' key: exactly one directive, optionally beside `_metadata`. */
export function compileDirective(obj: Dict, where: string, keepUndefined: boolean): CompiledValue {
  const keys = Object.keys(obj);
  const directiveKeys = keys.filter((k) => k.startsWith('@'));
  if (directiveKeys.length > 1) {
    throw new MappingError(`${where}: only one directive per object, got ${directiveKeys.join(', ')}`);
  }
  const name = directiveKeys[0];
  // mapping-kit tolerates a `_metadata` key beside the directive (the UI stores hints there).
  const others = keys.filter((k) => k !== name && k !== '_metadata');
  if (others.length > 0) {
    throw new MappingError(`${where}: directive '${name}' cannot sit beside other keys (${others.join(', ')})`);
  }
  const compiler = lookupDirective(name, where);
  return compiler(obj[name], `${where}.${name}`, keepUndefined);
}
