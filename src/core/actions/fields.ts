// Field declarations of the actions, and the validation every mapped payload goes through before an
// action builds its Customer.io item. The rules and the error texts are those of the reference's
// schema validation (type coercion, required fields, choices, bounds), so a refused item carries the
// same message a Segment user already knows ("The root value is missing the required field 'name'.").

import { isPlainObject, parseDateUtc } from './timestamps';
import { BATCH_ITEMS } from '../limits';

export type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'datetime';

export interface FieldSpec {
  label: string;
  type: FieldType;
  required?: boolean;
  /** The default mapping: a literal or a mapping directive. */
  default?: unknown;
  choices?: readonly string[];
  minimum?: number;
  maximum?: number;
}

export type Fields = Record<string, FieldSpec>;

/** Every action carries these two; they steer batching and are never sent. */
export const BATCHING_FIELDS = {
  enable_batching: { label: 'Enable Batching', type: 'boolean', default: true },
  batch_size: { label: 'Batch Size', type: 'number', default: BATCH_ITEMS.default, minimum: BATCH_ITEMS.min, maximum: BATCH_ITEMS.max },
} as const satisfies Fields;

export const CONVERT_TIMESTAMP_FIELD = {
  label: 'Convert Timestamps',
  type: 'boolean',
  default: true,
} as const satisfies FieldSpec;

export const path = (p: string) => ({ '@path': p });
export const pathOr = (first: string, second: string) => ({
  '@if': { exists: { '@path': first }, then: { '@path': first }, else: { '@path': second } },
});

/** The default mapping of an action: each field's declared default. */
export function defaultMapping(fields: Fields): Record<string, unknown> {
  const mapping: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    if (spec.default !== undefined) mapping[key] = spec.default;
  }
  return mapping;
}

export type Validated = { ok: true; payload: Record<string, unknown> } | { ok: false; error: string };

/**
 * Cleans, coerces and checks a mapped payload against the action's fields.
 * - unknown keys are dropped; `null`, and `''` at the top level, count as absent (deviation D5: in every mode);
 * - scalars are coerced to the declared type (123 → "123", "50" → 50, "true" → true, [x] → x);
 * - errors are collected (missing required fields first, then per field) and joined with a space.
 * The input is not modified.
 */
export function validatePayload(fields: Fields, mapped: Record<string, unknown>): Validated {
  const payload: Record<string, unknown> = {};
  let missing: string[] | undefined;
  let fieldErrors: string[] | undefined;
  for (const [key, spec] of entriesOf(fields)) {
    const raw = mapped[key];
    if (raw === undefined || raw === null || raw === '') {
      if (spec.required) (missing ??= []).push(`The root value is missing the required field '${key}'.`);
      continue;
    }
    // The usual case, a value of the right type, allocates nothing beyond the payload.
    const value = coerce(spec.type, raw);
    if (value !== NOT_COERCIBLE && !(spec.type === 'datetime' && Array.isArray(raw))) {
      const problem = checkConstraints(spec, value);
      if (problem) (fieldErrors ??= []).push(problem);
      payload[key] = value;
      continue;
    }
    const odd = oddValue(spec, raw);
    if (odd.errors.length > 0) (fieldErrors ??= []).push(...odd.errors);
    if (odd.value !== NOT_COERCIBLE) payload[key] = odd.value;
  }
  if (!missing && !fieldErrors) return { ok: true, payload };
  return { ok: false, error: [...(missing ?? []), ...(fieldErrors ?? [])].join(' ') };
}

/**
 * A value that does not coerce to the field's type, or an array for a date field: the schema step's errors
 * for it, in its order, and the value it ends with (NOT_COERCIBLE when none). A value of the wrong type
 * for a field with choices gets both the type and the choices error, as each keyword is checked.
 */
function oddValue(spec: FieldSpec, raw: unknown): { value: unknown; errors: string[] } {
  if (spec.type === 'datetime' && Array.isArray(raw) && raw.length === 1) return dateInArray(spec, raw[0]);
  // The schema step unwraps a one-element array before it gives up, and names what it unwrapped.
  const seen = spec.type !== 'object' && Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  const errors = [`${spec.label} must be ${typeLabel(spec.type)} but it was ${describeType(seen)}.`];
  if (spec.choices) errors.push(choicesError(spec.choices, spec));
  return { value: NOT_COERCIBLE, errors };
}

/**
 * A date field (string or number) given a one-element array, as the schema step treats it: a number,
 * boolean or null inside becomes text and is checked as a date; a string inside is refused as the
 * wrong type (and checked as a date too); anything else is refused as the wrong type.
 */
function dateInArray(spec: FieldSpec, element: unknown): { value: unknown; errors: string[] } {
  if (typeof element === 'number' || typeof element === 'boolean' || element === null) {
    const text = element === null ? '' : String(element);
    return { value: text, errors: isDateLike(text) ? [] : [dateError(spec)] };
  }
  const errors = [`${spec.label} must be ${typeLabel('datetime')} but it was ${describeType(element)}.`];
  if (typeof element === 'string' && !isDateLike(element)) errors.push(dateError(spec));
  return { value: NOT_COERCIBLE, errors };
}

// Field lists are fixed per action: read each once, not on every event.
const ENTRIES = new WeakMap<Fields, Array<[string, FieldSpec]>>();
function entriesOf(fields: Fields): Array<[string, FieldSpec]> {
  let entries = ENTRIES.get(fields);
  if (!entries) ENTRIES.set(fields, (entries = Object.entries(fields)));
  return entries;
}

/** The value coerced to the field's type, or NOT_COERCIBLE. For a scalar type, a one-element array stands for its element. */
function coerce(type: FieldType, raw: unknown): unknown {
  const direct = coerceScalar(type, raw);
  if (direct !== NOT_COERCIBLE || type === 'object' || !Array.isArray(raw) || raw.length !== 1) return direct;
  return coerceScalar(type, raw[0]);
}

const NOT_COERCIBLE = Symbol('not coercible');

function coerceScalar(type: FieldType, value: unknown): unknown {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      if (value === null) return '';
      return NOT_COERCIBLE;
    case 'datetime':
      // string or number; a boolean (or null) becomes text, as the string branch would make it
      if (typeof value === 'string' || typeof value === 'number') return value;
      if (typeof value === 'boolean') return String(value);
      if (value === null) return '';
      return NOT_COERCIBLE;
    case 'number':
      if (typeof value === 'number') return value;
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (value === null) return 0;
      if (typeof value === 'string' && value !== '' && Number(value) === Number(value)) return Number(value);
      return NOT_COERCIBLE;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'false' || value === 0 || value === null) return false;
      if (value === 'true' || value === 1) return true;
      return NOT_COERCIBLE;
    case 'object':
      return isPlainObject(value) ? value : NOT_COERCIBLE;
  }
}

function checkConstraints(spec: FieldSpec, value: unknown): string | undefined {
  if (spec.choices && !spec.choices.includes(value as string)) return choicesError(spec.choices, spec);
  if (typeof value === 'number') {
    if (spec.minimum !== undefined && value < spec.minimum) {
      return `${spec.label} must be equal to or greater than ${spec.minimum}.`;
    }
    if (spec.maximum !== undefined && value > spec.maximum) {
      return `${spec.label} must be equal to or less than ${spec.maximum}.`;
    }
  }
  if (spec.type === 'datetime' && typeof value === 'string' && !isDateLike(value)) return dateError(spec);
  return undefined;
}

function choicesError(choices: readonly string[], spec: FieldSpec): string {
  return `${spec.label} must be one of: ${humanList(choices.map((c) => JSON.stringify(c)), 'or')}.`;
}

function dateError(spec: FieldSpec): string {
  return `${spec.label} must be a valid date-like string but it was not.`;
}

/**
 * "date-like", as the schema step's format: a string that is a number written plainly ("1700000000",
 * not "1e9" or "0x10") is a count of seconds, valid while it is a representable date; anything else
 * must be readable as a date.
 */
function isDateLike(value: string): boolean {
  const n = Number(value);
  if (String(n) === value) return Number.isFinite(n) && Math.abs(n * 1000) <= 8.64e15;
  return !Number.isNaN(parseDateUtc(value));
}

function typeLabel(type: FieldType): string {
  switch (type) {
    case 'datetime':
      return 'a string or number';
    case 'object':
      return 'an object';
    default:
      return `a ${type}`;
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  if (t === 'object') return 'an object';
  if (t === 'undefined') return 'undefined';
  return `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
}

function humanList(items: string[], conjunction: string): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} ${conjunction} ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, ${conjunction} ${items[items.length - 1]}`;
}
