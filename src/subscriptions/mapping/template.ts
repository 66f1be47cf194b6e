// Template strings ("Hi {{traits.name}}"), split once into text and getters.

import { compileGetter, parsePath } from './paths';
import type { CompiledValue } from './types';

const TRIPLE = /\{\{\{([^}]+)\}\}\}/g;
const DOUBLE = /\{\{([^}]+)\}\}/g;

/** Splits the template once into text and getters; rendering is then plain concatenation. */
export function compileTemplate(template: string, where: string): CompiledValue {
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
