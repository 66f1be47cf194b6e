// @template: a template string, or a directive whose result is the template.

import { perEventText } from '../cache';
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
    return perEventText(templateOf, where, 'template', (template) => compileTemplate(template, where), (render: CompiledValue, event) => render(event));
  }
  throw new MappingError(`${where}: expected a template string or a directive, got ${describe(arg)}`);
}
