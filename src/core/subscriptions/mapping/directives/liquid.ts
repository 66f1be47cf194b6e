// @liquid: a Liquid template rendered with the event as its scope, by liquidjs, the engine mapping-kit
// uses, set up as mapping-kit sets it up (the same limits, the same tags and filters disabled), so a
// template renders here as it renders at Segment.
//
// mapping-kit parses the template again on every event and fails that event when it cannot. Here it
// is parsed once, when the configuration loads, and a template Segment would refuse (too long, a
// syntax error, a disabled tag or filter) stops the load with the place in the mapping named.

import { Liquid, type Template } from 'liquidjs';
import { MappingError } from '../errors';
import { describe } from '../helpers';
import type { CompiledValue } from '../types';

/** mapping-kit's limit on a template's length, in characters. */
export const MAX_LIQUID_LENGTH = 1000;

/** mapping-kit's engine limits: parse length (characters), render time (ms) and memory (characters). */
const LIMITS = { parseLimit: 1000, renderLimit: 500, memoryLimit: 1e8 } as const;

// Loops, includes and the heavier collection filters are off at Segment, so a template's cost stays
// bounded by its own length and the size of the event it reads.
export const DISABLED_TAGS = ['case', 'for', 'include', 'layout', 'render', 'tablerow'] as const;
export const DISABLED_FILTERS = [
  'array_to_sentence_string',
  'concat',
  'find',
  'find_exp',
  'find_index',
  'find_index_exp',
  'group_by',
  'group_by_exp',
  'has',
  'has_exp',
  'map',
  'newline_to_br',
  'reject',
  'reject_exp',
  'reverse',
  'sort',
  'sort_natural',
  'uniq',
  'where_exp',
  'type',
] as const;

function disabledTag(tag: string) {
  const refuse = () => {
    throw new Error(`tag "${tag}" is disabled`);
  };
  return { parse: refuse, render: refuse };
}

function disabledFilter(filter: string) {
  return () => {
    throw new Error(`filter "${filter}" is disabled`);
  };
}

/** The engine that renders: as mapping-kit's, a disabled filter fails when it runs. */
function renderingEngine(): Liquid {
  const engine = new Liquid({ ...LIMITS });
  for (const tag of DISABLED_TAGS) engine.registerTag(tag, disabledTag(tag));
  for (const filter of DISABLED_FILTERS) engine.registerFilter(filter, disabledFilter(filter));
  return engine;
}

/**
 * The engine that checks, at load: liquidjs looks each filter of an output or a tag argument up while
 * parsing, so a disabled filter that fails on that look-up is refused at load, even in a branch that a
 * given event would not take. Unknown filters stay allowed (liquidjs passes the value through, as at
 * Segment).
 */
function checkingEngine(): Liquid {
  const engine = renderingEngine();
  for (const filter of DISABLED_FILTERS) {
    Object.defineProperty(engine.filters, filter, {
      get: disabledFilter(filter),
      enumerable: true,
      configurable: true,
    });
  }
  return engine;
}

let engines: { render: Liquid; check: Liquid } | undefined;
function liquid(): { render: Liquid; check: Liquid } {
  engines ??= { render: renderingEngine(), check: checkingEngine() };
  return engines;
}

export function compileLiquid(arg: unknown, where: string): CompiledValue {
  if (typeof arg !== 'string') throw new MappingError(`${where}: expected a Liquid template string, got ${describe(arg)}`);
  if (arg.length === 0) return () => '';
  if (arg.length > MAX_LIQUID_LENGTH) {
    throw new MappingError(`${where}: the Liquid template is ${arg.length} characters; Segment allows at most ${MAX_LIQUID_LENGTH}`);
  }
  const { render, check } = liquid();
  let templates: Template[];
  try {
    check.parse(arg);
    templates = render.parse(arg);
  } catch (err) {
    throw new MappingError(`${where}: the Liquid template cannot be used: ${(err as Error).message}`);
  }
  return (event) => {
    let out: unknown;
    try {
      out = render.renderSync(templates, event as object | undefined);
    } catch (err) {
      throw new MappingError(`${where}: the Liquid template failed on this event: ${(err as Error).message}`);
    }
    // mapping-kit's answer when the engine gives something other than text.
    return typeof out === 'string' ? out : 'error';
  };
}
