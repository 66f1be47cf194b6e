// @json: encode a value to a JSON string, or decode a JSON string from the event (a string that is not
// JSON is left as it is).

import { compileNode } from '../compile';
import { MappingError } from '../errors';
import { describe } from '../helpers';
import type { CompiledValue } from '../types';
import { checkUnused, optionsObject } from './options';

export function compileJson(arg: unknown, where: string): CompiledValue {
  const opts = optionsObject(arg, where, "an object with 'mode' and 'value'");
  const { mode } = opts;
  if (mode !== 'encode' && mode !== 'decode') {
    throw new MappingError(`${where}.mode: must be "encode" or "decode", got ${describe(mode)}`);
  }
  if (!opts.value) throw new MappingError(`${where}: needs a 'value'`);
  checkUnused(opts, ['mode', 'value'], where);
  const valueOf = compileNode(opts.value, `${where}.value`, false);
  if (mode === 'encode') {
    return (event) => {
      try {
        return JSON.stringify(valueOf(event));
      } catch (err) {
        throw new MappingError(`${where}: cannot encode the value as JSON (${(err as Error).message})`);
      }
    };
  }
  // As mapping-kit: a string that is not JSON, and any other value, comes through unchanged.
  return (event) => {
    const v = valueOf(event);
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  };
}
