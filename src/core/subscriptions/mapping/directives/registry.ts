// Which directive names exist: all thirteen of mapping-kit (@segment/actions-core 3.170).

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { hasOwn } from '../helpers';
import type { CompiledValue } from '../types';
import { compileIf } from './conditional';
import { compileJson } from './json';
import { compileLiquid } from './liquid';
import { compileFlatten, compileMerge } from './objects';
import { compileArrayPath, compilePathDirective } from './paths';
import { compileExcludeWhenNull, compileTransform } from './reshape';
import { compileCase, compileReplace } from './strings';
import { compileTemplateDirective } from './template';

export type DirectiveCompiler = (arg: unknown, where: string, keepUndefined: boolean) => CompiledValue;

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
    '@transform': compileTransform,
    '@excludeWhenNull': compileExcludeWhenNull,
    '@liquid': compileLiquid,
  };
  return directives;
}

/** The compiler for a directive name, or a MappingError naming `where`. */
export function lookupDirective(name: string, where: string): DirectiveCompiler {
  const all = table();
  const compiler = hasOwn.call(all, name) ? all[name] : undefined;
  if (!compiler) throw new MappingError(`${where}: unknown directive '${name}'`);
  return compiler;
}
