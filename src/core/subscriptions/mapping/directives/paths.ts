// @path and @arrayPath: reading values out of the event.

import { perEventText } from '../cache';
import { compileDirective, compileNode } from '../compile';
import { MappingError } from '../errors';
import { describe, isDirectiveLike, isPlainObject } from '../helpers';
import { compileGetter, getPath, parsePath, stripDollar, type PathSegments } from '../paths';
import type { CompiledValue } from '../types';

/** `{"@path": "$.a.b"}`, or a directive whose result is the path. */
export function compilePathDirective(arg: unknown, where: string): CompiledValue {
  if (typeof arg === 'string') return compileGetter(parsePath(stripDollar(arg), where));
  if (isPlainObject(arg) && isDirectiveLike(arg)) {
    const pathOf = compileDirective(arg, where, false);
    return perEventText(pathOf, where, 'path', (path) => parsePath(stripDollar(path), where), (segments: PathSegments, event) => getPath(event, segments));
  }
  throw new MappingError(`${where}: expected a path string or a directive, got ${describe(arg)}`);
}

/** `["$.products", {item shape}]`: the value at the path, each item reshaped when a shape is given. */
export function compileArrayPath(arg: unknown, where: string): CompiledValue {
  if (!Array.isArray(arg)) throw new MappingError(`${where}: expected [path, item shape], got ${describe(arg)}`);
  const [path, shape] = arg;
  let rootOf: CompiledValue;
  if (typeof path === 'string') rootOf = compileGetter(parsePath(stripDollar(path), `${where}[0]`));
  else if (isPlainObject(path) && isDirectiveLike(path)) rootOf = compileDirective(path, `${where}[0]`, false);
  else throw new MappingError(`${where}[0]: expected a path string or a directive, got ${describe(path)}`);

  // As in mapping-kit, only a non-empty object (a directive counts) is a shape; anything else is ignored.
  if (!isPlainObject(shape) || Object.keys(shape).length === 0) return rootOf;
  const shapeOf = compileNode(shape, `${where}[1]`, false);
  return (event) => {
    const root = rootOf(event);
    if (Array.isArray(root)) return root.map((item) => shapeOf(item));
    if (isPlainObject(root)) return [shapeOf(root)];
    return root;
  };
}
