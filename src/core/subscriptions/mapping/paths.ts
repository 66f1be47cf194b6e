// Path parsing and property getters, shared by @path, @arrayPath and template placeholders.

import { MappingError } from './errors';
import { hasOwn } from './helpers';
import type { CompiledValue, Dict } from './types';

export type PathSegments = readonly string[];

export function stripDollar(path: string): string {
  return path.startsWith('$.') ? path.slice(2) : path;
}

/**
 * Splits `a.b[0]['c.d']` into ['a', 'b', '0', 'c.d']. As in mapping-kit, '.', '[' and ']' separate
 * names and empty names are skipped; a quoted bracket name is taken as is. '' and '.' are the root.
 */
export function parsePath(path: string, where: string): PathSegments {
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

// Short paths (the common case) get unrolled getters, so the hot path has no loop.
export function compileGetter(segments: PathSegments): CompiledValue {
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

export function getPath(root: unknown, segments: PathSegments): unknown {
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
