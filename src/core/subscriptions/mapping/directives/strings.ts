// @case and @replace: string rewriting.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { describe } from '../helpers';
import type { CompiledValue } from '../types';
import { boundedString, checkUnused, optionalBoolean, optionsObject, requireStringOrDirective } from './options';

export function compileCase(arg: unknown, where: string): CompiledValue {
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

export function compileReplace(arg: unknown, where: string): CompiledValue {
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
