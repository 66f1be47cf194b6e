// A bound on how deeply a mapping nests. The compiler is recursive, so without it a mapping nested
// some thousands deep ends in "Maximum call stack size exceeded", naming no place. Real mappings nest
// a handful of levels (a directive inside @if inside @arrayPath inside an object is four).

import { MappingError } from './errors';
import { childWhere, isPlainObject } from './helpers';

/** Objects and arrays a mapping may nest, one inside the other. */
export const MAX_MAPPING_DEPTH = 64;

interface Visit {
  value: unknown;
  depth: number;
  key?: string | number;
  parent?: Visit;
}

/** Walks the mapping without recursion and refuses the first place nested deeper than the limit. */
export function checkDepth(mapping: unknown, where: string): void {
  const pending: Visit[] = [{ value: mapping, depth: 0 }];
  while (pending.length > 0) {
    const visit = pending.pop()!;
    const { value, depth } = visit;
    if (!Array.isArray(value) && !isPlainObject(value)) continue;
    if (depth >= MAX_MAPPING_DEPTH) {
      throw new MappingError(`${placeOf(visit, where)}: nested more than ${MAX_MAPPING_DEPTH} objects and arrays deep; flatten the mapping`);
    }
    if (Array.isArray(value)) value.forEach((item, i) => pending.push({ value: item, depth: depth + 1, key: i, parent: visit }));
    else for (const key of Object.keys(value)) pending.push({ value: value[key], depth: depth + 1, key, parent: visit });
  }
}

/** The place of a visit, spelled as the compiler's messages spell it. The chain is at most the limit long. */
function placeOf(visit: Visit, where: string): string {
  const keys: Array<string | number> = [];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) keys.push(v.key);
  let place = where;
  for (const key of keys.reverse()) {
    if (typeof key === 'number') place += `[${key}]`;
    else place = key.startsWith('@') ? `${place}.${key}` : childWhere(place, key);
  }
  return place;
}
