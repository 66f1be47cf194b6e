// @template: a template string, or a directive whose result is the template.

import { SmallCache } from '../cache';
import { compileDirective } from '../compile';
import { MappingError } from '../errors';
import { describe, isDirectiveLike, isPlainObject } from '../helpers';
import { compileTemplate, MAX_TEMPLATE_LENGTH } from '../template';
import type { CompiledValue } from '../types';

export function compileTemplateDirective(arg: unknown, where: string): CompiledValue {
  if (typeof arg === 'string') {
    if (arg.length > MAX_TEMPLATE_LENGTH) {
      throw new MappingError(`${where}: the template is ${arg.length} characters; at most ${MAX_TEMPLATE_LENGTH} are allowed`);
    }
    return compileTemplate(arg, where);
  }
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
