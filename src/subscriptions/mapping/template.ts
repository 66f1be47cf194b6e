// Template strings ("Hi {{traits.name}}"), as mapping-kit renders them: {{{…}}} placeholders are
// replaced first, then {{…}} placeholders in the resulting text. Neither is HTML-escaped (mapping-kit
// stopped escaping; @segment/actions-core 3.170 renders values as they are).

import { MappingError } from './errors';
import { compileGetter, parsePath } from './paths';
import type { CompiledValue } from './types';

const TRIPLE = /\{\{\{([^}]+)\}\}\}/g;
const DOUBLE = /\{\{([^}]+)\}\}/g;
const HAS_TRIPLE = /\{\{\{[^}]+\}\}\}/;

export function compileTemplate(template: string, where: string): CompiledValue {
  if (!HAS_TRIPLE.test(template)) return compileParts(template, DOUBLE, where);
  // A value put in by the first pass may itself hold a {{…}}, which the second pass then replaces, so
  // that pass runs on each event's text. Templates without {{{…}}} (every preset) stay precompiled.
  const firstPass = compileParts(template, TRIPLE, where);
  return (event) => (firstPass(event) as string).replace(DOUBLE, (_match, inner: string) => toText(lenientGetter(inner)(event)));
}

/** Splits the template once into text and getters; rendering is then plain concatenation. */
function compileParts(template: string, placeholders: RegExp, where: string): CompiledValue {
  const parts: Array<string | CompiledValue> = [];
  let last = 0;
  for (const m of template.matchAll(placeholders)) {
    if (m.index! > last) parts.push(template.slice(last, m.index));
    parts.push(placeholder(m[1], where));
    last = m.index! + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));

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

/** For placeholders that come from event data: a path that names no property reads the root, as mapping-kit's get. */
function lenientGetter(inner: string): CompiledValue {
  try {
    return compileGetter(parsePath(inner.trim(), 'template'));
  } catch (err) {
    if (err instanceof MappingError) return (event) => event;
    throw err;
  }
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
