// Template strings ("Hi {{traits.name}}"), as mapping-kit renders them: {{{…}}} placeholders are
// replaced first, then {{…}} placeholders in the resulting text. Neither is HTML-escaped (mapping-kit
// stopped escaping; @segment/actions-core 3.170 renders values as they are).
//
// mapping-kit finds placeholders with the regular expressions /\{\{\{([^}]+)\}\}\}/g and
// /\{\{([^}]+)\}\}/g. Run by a backtracking engine they take time quadratic in the length of a run of
// '{' without a matching close (a template of 128 KB of '{' took 13 s), and the second pass runs over
// event values. findPlaceholders gives the same matches in one forward pass, so compiling and
// rendering stay linear in the text, whatever the template or the event holds.

import { MappingError } from './errors';
import { compileGetter, parsePath } from './paths';
import type { CompiledValue } from './types';

/** Longest template string a mapping may hold; far above any real one, low enough to check in a blink. */
export const MAX_TEMPLATE_LENGTH = 10_000;

type Braces = 2 | 3;

interface Placeholder {
  start: number;
  end: number;
  inner: string;
}

/**
 * The placeholders mapping-kit's expression for `braces` would find, left to right. At a run of `braces`
 * '{', the expression's `[^}]+` can only stop right before the first '}' after it, so a match there
 * exists exactly when that '}' is not adjacent and `braces` '}' follow; otherwise the search moves one
 * character on. The first '}' at or after a position is kept between steps, so the scan is linear.
 */
export function findPlaceholders(text: string, braces: Braces): Placeholder[] {
  const found: Placeholder[] = [];
  let close = -2; // the first '}' at or after the last position asked about; -1: none left
  const closeFrom = (from: number): number => {
    if (close !== -1 && close < from) close = text.indexOf('}', from);
    return close;
  };
  let i = text.indexOf('{');
  while (i !== -1 && i + 2 * braces < text.length) {
    if (opens(text, i, braces)) {
      const j = closeFrom(i + braces);
      if (j === -1) break; // no '}' left: nothing further can match
      if (j > i + braces && closes(text, j, braces)) {
        found.push({ start: i, end: j + braces, inner: text.slice(i + braces, j) });
        i = text.indexOf('{', j + braces);
        continue;
      }
    }
    i = text.indexOf('{', i + 1);
  }
  return found;
}

function opens(text: string, at: number, braces: Braces): boolean {
  return text.charCodeAt(at + 1) === 123 && (braces === 2 || text.charCodeAt(at + 2) === 123);
}

function closes(text: string, at: number, braces: Braces): boolean {
  return text.charCodeAt(at + 1) === 125 && (braces === 2 || text.charCodeAt(at + 2) === 125);
}

export function compileTemplate(template: string, where: string): CompiledValue {
  const triples = findPlaceholders(template, 3);
  if (triples.length === 0) return compileParts(template, findPlaceholders(template, 2), where);
  // A value put in by the first pass may itself hold a {{…}}, which the second pass then replaces, so
  // that pass runs on each event's text. Templates without {{{…}}} (every preset) stay precompiled.
  const firstPass = compileParts(template, triples, where);
  return (event) => renderLeniently(firstPass(event) as string, event);
}

/** Splits the template once into text and getters; rendering is then plain concatenation. */
function compileParts(template: string, placeholders: Placeholder[], where: string): CompiledValue {
  const parts: Array<string | CompiledValue> = [];
  let last = 0;
  for (const p of placeholders) {
    if (p.start > last) parts.push(template.slice(last, p.start));
    parts.push(placeholder(p.inner, where));
    last = p.end;
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

/** The second pass over text that holds event data: each {{…}} replaced once, never rescanned. */
function renderLeniently(text: string, event: unknown): string {
  const placeholders = findPlaceholders(text, 2);
  if (placeholders.length === 0) return text;
  let out = '';
  let last = 0;
  for (const p of placeholders) {
    out += text.slice(last, p.start) + toText(lenientGetter(p.inner)(event));
    last = p.end;
  }
  return out + text.slice(last);
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
