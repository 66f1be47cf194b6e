// Segment mapping directives (mapping-kit, `@segment/actions-core`), compiled once per subscription.
//
// A mapping is compiled into a tree of closures when the configuration is loaded. Per event nothing
// re-reads the mapping: paths are already split into property names, templates already split into
// text and placeholders, @replace patterns already turned into RegExps. A mistake in the mapping itself
// (which mapping-kit reports at validation or on every event) is a MappingError at compile time, naming
// where in the mapping it is ("mapping.id.@if.then: unknown directive '@foo'"). What depends on the
// event (a @json string that is not JSON, a computed @path that is not a string) is a MappingError,
// naming the same place, when that event is mapped.
//
// What mapping-kit does and this module repeats, on purpose:
// - @path walks properties like its `get`: `a && a[key]` at each step, so a falsy value met half way is
//   the result (`$.traits.email` with `traits: null` gives null, not undefined). Only own properties are
//   read: `__proto__`, `constructor` and friends never reach Object.prototype.
// - @if `exists` is "not undefined and not null"; `blank` also rejects whatever is loosely equal to ''
//   (so '', 0, false and [] are blank). `else` is used only when the mapping's `else` value is truthy.
// - @template gives a string always; a missing value becomes ''; `{{x}}` and `{{{x}}}` are the same
//   (found by a linear scan that gives what mapping-kit's regular expressions give, see template.ts).
// - @excludeWhenNull leaves out a null result, and null-valued keys of an object result and of the
//   objects nested in it (not inside arrays); @transform resolves `mapping` against what `apply` built.
// - @replace on a value that is not a string (after numbers and booleans are stringified) gives ''.
// - Keys that resolve to undefined are left out, at every level the mapping spells out; inside @merge
//   they still override (and so delete) a key of an earlier object, as Object.assign + removeUndefined do.
//
// Where this module differs from mapping-kit (all corner cases):
// - a leading `$.` is stripped from @path; mapping-kit strips the first `$.` wherever it is.
// - `a['b']` / `a["b.c"]` read the key `b` / `b.c`; mapping-kit would look for a key with the quotes.
// - @json `mode` and @merge `direction` must be lower case (mapping-kit's validator accepts `ENCODE`,
//   which then silently resolves to undefined).
// - undefined-valued keys inside objects taken from the event are kept (mapping-kit's removeUndefined
//   copies and cleans the whole result). Parsed JSON has no undefined, so only in-process events differ.
// - @liquid templates are parsed once, at load: one that mapping-kit would fail on every event (over
//   1,000 characters, a syntax error, a disabled tag or filter) is refused there. A disabled filter is
//   refused even in a branch no event reaches; mapping-kit fails only the events that reach it.
// - bounds mapping-kit does not have, refused at load with the place named: mappings nest at most 64
//   objects and arrays deep, and a @template string holds at most 10,000 characters.
//
// Sharing with the event: values taken from the event (by @path, @arrayPath without an item shape,
// @case on a non-string, …) are the event's own objects and arrays, not copies; that keeps the hot path
// cheap. Every object and array that the mapping itself spells out (and the results of @merge, @flatten
// and @arrayPath with a shape) is new on every call. Callers that mutate a mapped value must copy it
// first. Nothing exported here mutates anything.
//
// Layout: this file is the public entry. The compiler lives in ./mapping/: compile.ts (the recursive
// core), paths.ts and template.ts (parsed once, read per event), directives/ (one file per group of
// directives, plus registry.ts naming them and options.ts checking their options), helpers.ts.

import { compileNode, compileObject } from './mapping/compile';
import { checkDepth } from './mapping/depth';
import { MappingError } from './mapping/errors';
import { describe, isDirectiveLike, isPlainObject } from './mapping/helpers';
import type { CompiledMapping, CompiledValue, Dict } from './mapping/types';

export { MappingError } from './mapping/errors';
export { MAX_MAPPING_DEPTH } from './mapping/depth';
export { MAX_TEMPLATE_LENGTH } from './mapping/template';
export { MAX_LIQUID_LENGTH } from './mapping/directives/liquid';
export type { CompiledMapping, CompiledValue } from './mapping/types';

/** Compiles a subscription's mapping (an object of field → value or directive). */
export function compileMapping(mapping: unknown, where = 'mapping'): CompiledMapping {
  if (!isPlainObject(mapping) || isDirectiveLike(mapping)) {
    throw new MappingError(`${where}: must be an object of field mappings, got ${describe(mapping)}`);
  }
  checkDepth(mapping, where);
  const resolve = compileObject(mapping, where, false);
  return (event) => {
    if (!isPlainObject(event)) {
      throw new MappingError(`${where}: the event must be an object, got ${describe(event)}`);
    }
    return resolve(event) as Dict;
  };
}

/** Compiles one mapping value: a literal, an object or array of values, or a directive. */
export function compileValue(value: unknown, where: string): CompiledValue {
  checkDepth(value, where);
  return compileNode(value, where, false);
}
