// Which directive names exist, and which are refused on purpose.

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { hasOwn } from '../helpers';
import type { CompiledValue } from '../types';
import { compileIf } from './conditional';
import { compileJson } from './json';
import { compileFlatten, compileMerge } from './objects';
import { compileArrayPath, compilePathDirective } from './paths';
import { compileCase, compileReplace } from './strings';
import { compileTemplateDirective } from './template';

export type DirectiveCompiler = (arg: unknown, where: string, keepUndefined: boolean) => CompiledValue;

const NOT_SUPPORTED = new Set(['@transform', '@liquid', '@excludeWhenNull']);

// Built on first use, not at load: the directive modules import ../compile, which imports this
// module, so at load time one of them may not have finished evaluating yet.
let directives: Record<string, DirectiveCompiler> | undefined;

function table(): Record<string, DirectiveCompiler> {
  directives ??= {
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
  return directives;
}

/** The compiler for a directive name, or a MappingError naming `where`. */
export function lookupDirective(name: string, where: string): DirectiveCompiler {
  const all = table();
  const compiler = hasOwn.call(all, name) ? all[name] : undefined;
  if (!compiler) {
    if (NOT_SUPPORTED.has(name)) throw new MappingError(`${where}: directive '${name}' is not supported`);
    throw new MappingError(`${where}: unknown directive '${name}'`);
  }
  return compiler;
}
