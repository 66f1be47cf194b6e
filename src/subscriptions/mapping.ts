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
// - @template gives a string always; a missing value becomes ''; `{{x}}` and `{{{x}}}` are the same.
// - @replace on a value that is not a string (after numbers and booleans are stringified) gives ''.
// - Keys that resolve to undefined are left out, at every level the mapping spells out; inside @merge
//   they still override (and so delete) a key of an earlier object, as Object.assign + removeUndefined do.
//
// Where this module differs from mapping-kit (all corner cases):
// - a leading `$.` is stripped from @path; mapping-kit strips the first `$.` wherever it is.
// - `a['b']` / `a["b.c"]` read the key `b` / `b.c`; mapping-kit would look for a key with the quotes.
// - a value substituted into a template is never scanned for placeholders again.
// - @json `mode` and @merge `direction` must be lower case (mapping-kit's validator accepts `ENCODE`,
//   which then silently resolves to undefined).
// - undefined-valued keys inside objects taken from the event are kept (mapping-kit's removeUndefined
//   copies and cleans the whole result). Parsed JSON has no undefined, so only in-process events differ.
// - @transform, @liquid and @excludeWhenNull are not supported and are refused at compile time.
//
// Sharing with the event: values taken from the event (by @path, @arrayPath without an item shape,
// @case on a non-string, …) are the event's own objects and arrays, not copies; that keeps the hot path
// cheap. Every object and array that the mapping itself spells out (and the results of @merge, @flatten
// and @arrayPath with a shape) is new on every call. Callers that mutate a mapped value must copy it
// first. Nothing exported here mutates anything.

export class MappingError extends Error {
  override name = 'MappingError';
}

export type CompiledValue = (event: unknown) => unknown;
export type CompiledMapping = (event: unknown) => Record<string, unknown>;

type Dict = Record<string, unknown>;

const hasOwn = Object.prototype.hasOwnProperty;
const objectToString = Object.prototype.toString;

/** Compiles a subscription's mapping (an object of field → value or directive). */
export function compileMapping(mapping: unknown, where = 'mapping'): CompiledMapping {
  if (!isPlainObject(mapping) || isDirectiveLike(mapping)) {
    throw new MappingError(`${where}: must be an object of field mappings, got ${describe(mapping)}`);
  }
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
  return compileNode(value, where, false);
}

// keepUndefined: build objects with their undefined-valued keys (one level). Only @merge asks for
// it, through @if / @literal, because mapping-kit merges before it removes undefined values.
function compileNode(value: unknown, where: string, keepUndefined: boolean): CompiledValue {
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

function compileObject(obj: Dict, where: string, keepUndefined: boolean): CompiledValue {
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

// ---------------------------------------------------------------------------------------------------
// Directives

type DirectiveCompiler = (arg: unknown, where: string, keepUndefined: boolean) => CompiledValue;

const DIRECTIVES: Record<string, DirectiveCompiler> = {
  '@path': compilePathDirective,
  '@if': compileIf,
  '@template': compileTemplateDirective,
  '@literal': (arg, where, keepUndefined) => compileNode(arg, where, keepUndefined),
  '@arrayPath': compileArrayPath,
  '@case': compileCase,
  '@replace': compileReplace,
  '@json': compileJson,
  '@flatten': compileFlatten,
  '@merge': compileMerge,
};

const NOT_SUPPORTED = new Set(['@transform', '@liquid', '@excludeWhenNull']);

function compileDirective(obj: Dict, where: string, keepUndefined: boolean): CompiledValue {
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
  const compiler = hasOwn.call(DIRECTIVES, name) ? DIRECTIVES[name] : undefined;
  if (!compiler) {
    if (NOT_SUPPORTED.has(name)) throw new MappingError(`${where}: directive '${name}' is not supported`);
    throw new MappingError(`${where}: unknown directive '${name}'`);
  }
  return compiler(obj[name], `${where}.${name}`, keepUndefined);
}

/** `{"@path": "$.a.b"}`, or a directive whose result is the path. */
function compilePathDirective(arg: unknown, where: string): CompiledValue {
  if (typeof arg === 'string') return compileGetter(parsePath(stripDollar(arg), where));
  if (isPlainObject(arg) && isDirectiveLike(arg)) {
    const pathOf = compileDirective(arg, where, false);
    const cache = new SmallCache<PathSegments>();
    return (event) => {
      const path = pathOf(event);
      if (typeof path !== 'string') {
        throw new MappingError(`${where}: the path must be a string, got ${describe(path)}`);
      }
      return getPath(event, cache.get(path, () => parsePath(stripDollar(path), where)));
    };
  }
  throw new MappingError(`${where}: expected a path string or a directive, got ${describe(arg)}`);
}

function compileIf(arg: unknown, where: string, keepUndefined: boolean): CompiledValue {
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

function compileTemplateDirective(arg: unknown, where: string): CompiledValue {
  if (typeof arg === 'string') return compileTemplate(arg, where);
  if (isPlainObject(arg) && isDirectiveLike(arg)) {
    const templateOf = compileDirective(arg, where, false);
    const cache = new SmallCache<CompiledValue>();
    return (event) => {
      const template = templateOf(event);
      if (typeof template !== 'string') {
        throw new MappingError(`${where}: the template must be a string, got ${describe(template)}`);
      }
      return cache.get(template, () => compileTemplate(template, where))(event);
    };
  }
  throw new MappingError(`${where}: expected a template string or a directive, got ${describe(arg)}`);
}

/** `["$.products", {item shape}]`: the value at the path, each item reshaped when a shape is given. */
function compileArrayPath(arg: unknown, where: string): CompiledValue {
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

function compileCase(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'operator' and 'value'");
  const { operator } = opts;
  if (operator !== 'lower' && operator !== 'upper') {
    throw new MappingError(`${where}.operator: must be "lower" or "upper", got ${describe(operator)}`);
  }
  if (opts.value !== undefined) requireStringOrDirective(opts.value, `${where}.value`);
  checkUnused(opts, ['operator', 'value'], where);
  if (!opts.value) return () => undefined;
  const valueOf = compileNode(opts.value, `${where}.value`, false);
  const lower = operator === 'lower';
  return (event) => {
    const v = valueOf(event);
    if (typeof v !== 'string') return v;
    return lower ? v.toLowerCase() : v.toUpperCase();
  };
}

const MAX_PATTERN_LENGTH = 10;
const MAX_REPLACEMENT_LENGTH = 10;

function compileReplace(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'pattern' and 'value'");
  const pattern = boundedString(opts.pattern, `${where}.pattern`, 1, MAX_PATTERN_LENGTH, true);
  const replacement = boundedString(opts.replacement, `${where}.replacement`, 0, MAX_REPLACEMENT_LENGTH, false) ?? '';
  const pattern2 = boundedString(opts.pattern2, `${where}.pattern2`, 0, MAX_PATTERN_LENGTH, false);
  const replacement2 = boundedString(opts.replacement2, `${where}.replacement2`, 0, MAX_REPLACEMENT_LENGTH, false) ?? '';
  const ignoreCase = optionalBoolean(opts.ignorecase, `${where}.ignorecase`) ?? false;
  const global = optionalBoolean(opts.global, `${where}.global`) ?? true;
  if (opts.value === undefined) throw new MappingError(`${where}: needs a 'value'`);
  requireStringOrDirective(opts.value, `${where}.value`);
  checkUnused(opts, ['pattern', 'replacement', 'pattern2', 'replacement2', 'ignorecase', 'global', 'value'], where);
  if (!opts.value) return () => undefined;

  // The pattern is literal text, never a regular expression.
  const flags = (global ? 'g' : '') + (ignoreCase ? 'i' : '');
  const first = new RegExp(escapeRegExp(pattern as string), flags);
  const second = pattern2 ? new RegExp(escapeRegExp(pattern2), flags) : undefined;
  const valueOf = compileNode(opts.value, `${where}.value`, false);
  return (event) => {
    let v = valueOf(event);
    if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
    if (typeof v !== 'string') return '';
    const once = v.replace(first, replacement);
    return second ? once.replace(second, replacement2) : once;
  };
}

function compileJson(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'mode' and 'value'");
  const { mode } = opts;
  if (mode !== 'encode' && mode !== 'decode') {
    throw new MappingError(`${where}.mode: must be "encode" or "decode", got ${describe(mode)}`);
  }
  if (!opts.value) throw new MappingError(`${where}: needs a 'value'`);
  checkUnused(opts, ['mode', 'value'], where);
  const valueOf = compileNode(opts.value, `${where}.value`, false);
  if (mode === 'encode') {
    return (event) => {
      try {
        return JSON.stringify(valueOf(event));
      } catch (err) {
        throw new MappingError(`${where}: cannot encode the value as JSON (${(err as Error).message})`);
      }
    };
  }
  return (event) => {
    const v = valueOf(event);
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch (err) {
      throw new MappingError(`${where}: the value is not valid JSON (${(err as Error).message})`);
    }
  };
}

function compileFlatten(arg: unknown, where: string): CompiledValue {
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

function compileMerge(arg: unknown, where: string): CompiledValue {
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

// ---------------------------------------------------------------------------------------------------
// Paths

type PathSegments = readonly string[];

function stripDollar(path: string): string {
  return path.startsWith('$.') ? path.slice(2) : path;
}

/**
 * Splits `a.b[0]['c.d']` into ['a', 'b', '0', 'c.d']. As in mapping-kit, '.', '[' and ']' separate
 * names and empty names are skipped; a quoted bracket name is taken as is. '' and '.' are the root.
 */
function parsePath(path: string, where: string): PathSegments {
  if (path === '' || path === '.') return [];
  const segments: string[] = [];
  let current = '';
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      if (current) segments.push(current);
      current = '';
      const quote = path[i + 1];
      if (quote === '"' || quote === "'") {
        const close = path.indexOf(quote + ']', i + 2);
        if (close !== -1) {
          segments.push(path.slice(i + 2, close));
          i = close + 2;
          continue;
        }
      }
      i++;
    } else if (c === '.' || c === ']') {
      if (current) segments.push(current);
      current = '';
      i++;
    } else {
      current += c;
      i++;
    }
  }
  if (current) segments.push(current);
  if (segments.length === 0) throw new MappingError(`${where}: path ${JSON.stringify(path)} names no property`);
  return segments;
}

function compileGetter(segments: PathSegments): CompiledValue {
  switch (segments.length) {
    case 0:
      return (event) => event;
    case 1: {
      const [a] = segments;
      return (event) => step(event, a);
    }
    case 2: {
      const [a, b] = segments;
      return (event) => step(step(event, a), b);
    }
    case 3: {
      const [a, b, c] = segments;
      return (event) => step(step(step(event, a), b), c);
    }
    default:
      return (event) => getPath(event, segments);
  }
}

function getPath(root: unknown, segments: PathSegments): unknown {
  let current = root;
  for (let i = 0; i < segments.length; i++) current = step(current, segments[i]);
  return current;
}

/**
 * One property step, like mapping-kit's `value && value[key]` (a falsy value met half way is the
 * result), but reading own properties only, so neither an inherited member nor a polluted
 * Object.prototype can answer.
 */
function step(value: unknown, key: string): unknown {
  if (!value) return value;
  const t = typeof value;
  // Strings keep their own indices and `length`; numbers and booleans only have prototype members.
  if (t !== 'object' && t !== 'string') return undefined;
  return hasOwn.call(value, key) ? (value as Dict)[key] : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Templates

const TRIPLE = /\{\{\{([^}]+)\}\}\}/g;
const DOUBLE = /\{\{([^}]+)\}\}/g;

/** Splits the template once into text and getters; rendering is then plain concatenation. */
function compileTemplate(template: string, where: string): CompiledValue {
  const parts: Array<string | CompiledValue> = [];
  const addText = (text: string) => {
    // mapping-kit replaces {{{…}}} first, then {{…}} in what is left.
    let last = 0;
    for (const m of text.matchAll(DOUBLE)) {
      if (m.index! > last) parts.push(text.slice(last, m.index));
      parts.push(placeholder(m[1], where));
      last = m.index! + m[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
  };
  let last = 0;
  for (const m of template.matchAll(TRIPLE)) {
    addText(template.slice(last, m.index));
    parts.push(placeholder(m[1], where));
    last = m.index! + m[0].length;
  }
  addText(template.slice(last));

  if (parts.length === 0) return () => '';
  if (parts.length === 1) {
    const only = parts[0];
    return typeof only === 'string' ? () => only : (event) => toText(only(event));
  }
  const n = parts.length;
  return (event) => {
    let out = '';
    for (let i = 0; i < n; i++) {
      const part = parts[i];
      out += typeof part === 'string' ? part : toText(part(event));
    }
    return out;
  };
}

// Template paths are read as written: no `$.` prefix is stripped, as in mapping-kit.
function placeholder(inner: string, where: string): CompiledValue {
  return compileGetter(parsePath(inner.trim(), where));
}

function toText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return '[object Object]'; // an object without a prototype
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

function isPlainObject(value: unknown): value is Dict {
  return objectToString.call(value) === '[object Object]';
}

/** An object with any '@' key is a directive (or a malformed one), as mapping-kit's validator sees it. */
function isDirectiveLike(obj: Dict): boolean {
  for (const key in obj) if (hasOwn.call(obj, key) && key.startsWith('@')) return true;
  return false;
}

function optionsObject(arg: unknown, where: string, expected: string): Dict {
  if (!isPlainObject(arg)) throw new MappingError(`${where}: expected ${expected}, got ${describe(arg)}`);
  const directiveKey = Object.keys(arg).find((k) => k.startsWith('@'));
  if (directiveKey) throw new MappingError(`${where}: expected ${expected}, got directive '${directiveKey}'`);
  return arg;
}

/** Keys a directive does not use are still checked, as mapping-kit's validator walks every key. */
function checkUnused(opts: Dict, used: string[], where: string, alsoUnused: string[] = []): void {
  for (const key of Object.keys(opts)) {
    if (!used.includes(key) || alsoUnused.includes(key)) compileNode(opts[key], childWhere(where, key), false);
  }
}

function requireStringOrDirective(value: unknown, where: string): void {
  if (typeof value === 'string') return;
  if (isPlainObject(value) && isDirectiveLike(value)) return;
  throw new MappingError(`${where}: expected a string or a directive, got ${describe(value)}`);
}

function boundedString(value: unknown, where: string, min: number, max: number, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) throw new MappingError(`${where}: is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new MappingError(`${where}: must be a string, got ${describe(value)}`);
  if (value.length < min) throw new MappingError(`${where}: must be at least ${min} character${min === 1 ? '' : 's'}`);
  if (value.length > max) throw new MappingError(`${where}: must be at most ${max} characters`);
  return value;
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new MappingError(`${where}: must be true or false, got ${describe(value)}`);
  return value;
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

function flattenInto(out: Dict, value: unknown, prefix: string, separator: string, omitArrays: boolean): void {
  if (isPlainObject(value) || (!omitArrays && Array.isArray(value))) {
    for (const key of Object.keys(value as object)) {
      flattenInto(out, (value as Dict)[key], prefix ? `${prefix}${separator}${key}` : key, separator, omitArrays);
    }
    return;
  }
  setOwn(out, prefix, value);
}

function withoutUndefined(obj: Dict): Dict {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/** Assigns without letting a '__proto__' key replace the prototype. */
function setOwn(obj: Dict, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function childWhere(where: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return isPlainObject(value) ? 'an object' : objectToString.call(value).slice(8, -1);
  return typeof value;
}

/** Parsed paths and templates for directives whose argument is itself computed per event. */
class SmallCache<T> {
  private readonly entries = new Map<string, T>();
  get(key: string, make: () => T): T {
    let hit = this.entries.get(key);
    if (hit === undefined) {
      if (this.entries.size >= 256) this.entries.clear();
      hit = make();
      this.entries.set(key, hit);
    }
    return hit;
  }
}
