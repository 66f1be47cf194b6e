// Segment's subscription language (FQL), parsed and evaluated by Segment's own package.
//
// `@segment/destination-subscriptions` is what Segment's action runtime uses, so evaluation here is
// Segment's by construction. Its parser, though, is lenient in ways that hide mistakes: it skips
// tokens it does not understand (`foo = "x"`, a stray `)`, a `!` before a plain condition), takes
// whatever follows a field as the operator (`type foo "x"`), and reads the end of input as the value
// "eos" (`type = `). So before handing a trigger to it, compileTrigger walks the same tokens (from
// the same lexer) with the grammar the parser actually implements and refuses anything the parser
// would misread. Everything the parser reads as written is accepted, including two of its quirks,
// which are kept because Segment evaluates them this way and a pasted trigger must behave the same:
//
// - One level mixing `and` and `or` is not evaluated with precedence: the level takes the operator of
//   its last `and`/`or` (`a and b or c` is `a or b or c`). Use parentheses.
// - A word operator without a value (`exists`, `not_exists`, `is_true`, `is_false`) swallows the
//   next token, so in `properties.x exists or type = "track"` the `or` is lost and the level is an
//   `and`. `properties.x != null` (what Segment's UI writes) has no such problem.
//
// Segment's parser does not support nested parentheses; neither, therefore, does this module.

import { parseFql, validate } from '@segment/destination-subscriptions';
import type { Subscription } from '@segment/destination-subscriptions';
// The lexer destination-subscriptions itself depends on (and parses with).
import { lex } from '@segment/fql-ts';

export class TriggerError extends Error {
  override name = 'TriggerError';
}

export type CompiledTrigger = (event: unknown) => boolean;

/** Parses a trigger once; the returned function tells whether an event matches it. */
export function compileTrigger(fql: string, where = 'trigger'): CompiledTrigger {
  if (typeof fql !== 'string') throw new TriggerError(`${where}: must be a string, got ${typeof fql}`);
  const problem = findProblem(fql);
  if (problem) throw new TriggerError(`${where}: ${problem} in ${JSON.stringify(fql)}`);

  const parsed = parseFql(fql);
  if ('error' in parsed) throw new TriggerError(`${where}: ${parsed.error.message} in ${JSON.stringify(fql)}`);
  const condition: Subscription = parsed;
  return (event) => typeof event === 'object' && event !== null && validate(condition, event);
}

// ---------------------------------------------------------------------------------------------------
// The grammar destination-subscriptions' parser implements:
//
//   level      = term { conditional term }
//   term       = "(" level ")"                    (top level only: no nesting)
//              | [ "!" ] function "(" field "," value ")"
//              | field operator value | field word-unary-operator
//   field      = type | event | name | userId | properties.<path> | traits.<path> | context.<path>

interface Token {
  type: string;
  value: string;
}

const SIMPLE_FIELDS = new Set(['type', 'event', 'name', 'userId']);
const PATH_FIELDS = new Set(['properties', 'traits', 'context']);
const SYMBOL_OPERATORS = new Set(['=', '!=', '<', '<=', '>', '>=']);
const WORD_OPERATORS = new Set([
  'contains',
  'not_contains',
  'starts_with',
  'not_starts_with',
  'ends_with',
  'not_ends_with',
  'number_equals',
  'number_not_equals',
]);
const UNARY_OPERATORS = new Set(['exists', 'not_exists', 'is_true', 'is_false']);
const VALUE_TOKENS = new Set(['string', 'number', 'null', 'ident']);

class Problem extends Error {}

function findProblem(fql: string): string | undefined {
  if (fql.trim() === '') return 'the trigger is empty';
  const lexed = lex(fql);
  if (lexed.error) return `cannot read the trigger (${lexed.error.message})`;
  try {
    new Checker(joinDottedNames(lexed.tokens)).check();
    return undefined;
  } catch (err) {
    if (err instanceof Problem) return err.message;
    throw err;
  }
}

/** `properties`, `.`, `total` → `properties.total`, the way the parser normalises its tokens. */
function joinDottedNames(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const last = out[out.length - 1];
    if (last?.type === 'ident' && tokens[i].type === 'dot' && tokens[i + 1]?.type === 'ident') {
      out[out.length - 1] = { type: 'ident', value: `${last.value}.${tokens[i + 1].value}` };
      i++;
    } else {
      out.push(tokens[i]);
    }
  }
  return out;
}

class Checker {
  private i = 0;

  constructor(private readonly tokens: Token[]) {}

  check(): void {
    this.level(false);
  }

  private peek(): Token {
    return this.tokens[this.i] ?? { type: 'eos', value: 'eos' };
  }

  private next(): Token {
    const token = this.peek();
    if (this.i < this.tokens.length) this.i++;
    return token;
  }

  private level(inGroup: boolean): void {
    let terms = 0;
    let danglingConditional: string | undefined;
    for (;;) {
      const token = this.peek();
      if (token.type === 'eos' || token.type === 'parenright') {
        if (danglingConditional) throw new Problem(`'${danglingConditional}' is not followed by a condition`);
        if (terms === 0) throw new Problem(inGroup ? 'empty parentheses' : 'no condition');
        if (token.type === 'eos' && inGroup) throw new Problem("a '(' is never closed");
        if (token.type === 'parenright' && !inGroup) throw new Problem("a ')' has no matching '('");
        if (inGroup) this.next();
        return;
      }
      if (terms > 0 && !danglingConditional) {
        if (token.type !== 'conditional') {
          const lower = token.value.toLowerCase();
          if (token.type === 'ident' && (lower === 'and' || lower === 'or')) {
            throw new Problem(`write '${lower}' in lower case (found '${token.value}')`);
          }
          throw new Problem(`expected 'and' or 'or' before ${show(token)}`);
        }
        danglingConditional = this.next().value;
        continue;
      }
      if (token.type === 'conditional') throw new Problem(`expected a condition before '${token.value}'`);
      const swallowed = this.term(inGroup);
      terms++;
      danglingConditional = swallowed;
    }
  }

  /** Returns the `and`/`or` a unary word operator swallowed, if any. */
  private term(inGroup: boolean): string | undefined {
    const token = this.next();
    if (token.type === 'parenleft') {
      if (inGroup) throw new Problem('nested parentheses are not supported by Segment\'s subscription language');
      this.level(true);
      return undefined;
    }
    if (token.type === 'operator' && token.value === '!') {
      const fn = this.peek();
      if (fn.type !== 'ident' || !isFunctionName(fn.value)) {
        throw new Problem("'!' can only negate contains(…) or match(…)");
      }
      this.next();
      this.fn(fn.value);
      return undefined;
    }
    if (token.type !== 'ident') throw new Problem(`expected a condition, found ${show(token)}`);
    if (isFunctionName(token.value) && this.peek().type === 'parenleft') {
      this.fn(token.value);
      return undefined;
    }
    this.field(token.value, true);

    const op = this.next();
    if (op.type === 'operator' && SYMBOL_OPERATORS.has(op.value)) {
      this.value(`${token.value} ${op.value}`);
      return undefined;
    }
    if (op.type === 'ident' && WORD_OPERATORS.has(op.value)) {
      this.value(`${token.value} ${op.value}`);
      return undefined;
    }
    if (op.type === 'ident' && UNARY_OPERATORS.has(op.value)) {
      // The parser reads one more token as this condition's (ignored) value.
      const after = this.peek();
      if (after.type === 'eos' || after.type === 'parenright') return undefined;
      if (after.type === 'conditional') return this.next().value;
      throw new Problem(`expected 'and', 'or' or the end after '${token.value} ${op.value}', found ${show(after)}`);
    }
    if (op.type === 'eos') throw new Problem(`'${token.value}' has no operator`);
    throw new Problem(`unknown operator ${show(op)} after '${token.value}'`);
  }

  /** contains(field, "text") or match(field, "prefix*" | "*suffix"). */
  private fn(name: string): void {
    this.expect('parenleft', `'(' after ${name}`);
    const field = this.next();
    if (field.type !== 'ident') throw new Problem(`${name}() needs a field first, found ${show(field)}`);
    this.field(field.value, false);
    this.expect('comma', `',' after the field of ${name}()`);
    const value = this.value(`${name}(${field.value},`);
    if (name === 'match') {
      if (value.type !== 'string') throw new Problem('match() needs a quoted pattern');
      const pattern = value.value.slice(1, -1);
      const prefix = pattern.endsWith('*');
      const suffix = pattern.startsWith('*');
      if (prefix === suffix && pattern !== '*') {
        throw new Problem(`match() patterns are "text*" (starts with) or "*text" (ends with), got ${value.value}`);
      }
    }
    this.expect('parenright', `')' to close ${name}()`);
  }

  private field(name: string, typeAllowed: boolean): void {
    const dot = name.indexOf('.');
    const root = dot === -1 ? name : name.slice(0, dot);
    if (SIMPLE_FIELDS.has(root)) {
      if (!typeAllowed && root === 'type') throw new Problem("contains() and match() do not take 'type'");
      if (dot !== -1) throw new Problem(`'${root}' has no sub-fields (in '${name}')`);
      return;
    }
    if (PATH_FIELDS.has(root)) {
      if (dot === -1 || dot === name.length - 1) throw new Problem(`'${root}' needs a property name, as in '${root}.total'`);
      return;
    }
    throw new Problem(
      `unknown field '${name}': a condition starts with type, event, name, userId, properties.…, traits.… or context.…`,
    );
  }

  private value(after: string): Token {
    const token = this.next();
    if (!VALUE_TOKENS.has(token.type)) throw new Problem(`'${after}' needs a value, found ${show(token)}`);
    // The parser only strips double quotes; 'x' would be compared with the quotes included.
    if (token.type === 'string' && token.value.startsWith("'")) {
      throw new Problem(`strings take double quotes: ${token.value}`);
    }
    return token;
  }

  private expect(type: string, what: string): void {
    const token = this.next();
    if (token.type !== type) throw new Problem(`expected ${what}, found ${show(token)}`);
  }
}

function isFunctionName(name: string): boolean {
  return name === 'contains' || name === 'match';
}

function show(token: Token): string {
  switch (token.type) {
    case 'eos':
      return 'the end';
    case 'string':
      return token.value;
    default:
      return `'${token.value}'`;
  }
}
