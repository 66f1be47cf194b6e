// Which mapping values are the same for every event: literals, and @literal around a literal. The
// configuration checks those against their field once, when it loads.

import { isDirectiveLike, isPlainObject } from './mapping/helpers';

export type Literal = { fixed: true; value: unknown } | { fixed: false };

/** The value a mapping entry gives for every event, or `fixed: false` when it depends on the event. */
export function literalValue(value: unknown): Literal {
  if (isPlainObject(value) && isDirectiveLike(value)) {
    const keys = Object.keys(value).filter((k) => k !== '_metadata');
    if (keys.length === 1 && keys[0] === '@literal' && !holdsDirective(value['@literal'])) return { fixed: true, value: value['@literal'] };
    return { fixed: false };
  }
  return holdsDirective(value) ? { fixed: false } : { fixed: true, value };
}

/** Whether a directive sits anywhere inside; iterative, as the mapping's depth is checked elsewhere. */
function holdsDirective(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (Array.isArray(v)) pending.push(...v);
    else if (isPlainObject(v)) {
      if (isDirectiveLike(v)) return true;
      pending.push(...Object.values(v));
    }
  }
  return false;
}
