import { MappingError } from './errors';
import { describe } from './helpers';
import type { CompiledValue } from './types';

/** Parsed paths and templates for directives whose argument is itself computed per event. */
export class SmallCache<T> {
  private readonly entries = new Map<string, T>();
  get(key: string, make: () => T): T {
    let hit = this.entries.get(key);
    if (hit === undefined) {
      if (this.entries.size >= 256) this.entries.clear();
      hit = make();
      this.entries.set(key, hit);
    }
    return hit;
  }
}

/**
 * A directive whose string argument (a path, a template) is computed per event by another directive
 * (`textOf`): each distinct string is compiled once, kept in a SmallCache, and applied to the event.
 */
export function perEventText<T>(
  textOf: CompiledValue,
  where: string,
  what: string,
  compile: (text: string) => T,
  apply: (compiled: T, event: unknown) => unknown,
): CompiledValue {
  const cache = new SmallCache<T>();
  return (event) => {
    const text = textOf(event);
    if (typeof text !== 'string') throw new MappingError(`${where}: the ${what} must be a string, got ${describe(text)}`);
    return apply(cache.get(text, () => compile(text)), event);
  };
}
