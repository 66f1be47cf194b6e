// @liquid, @transform and @excludeWhenNull (the three directives added last), and the bounds that keep
// a mapping's compile and render time linear: template scanning, template length, nesting depth.
import { expect } from 'chai';
import { compileMapping, compileValue, MappingError } from '../../src/core/subscriptions/mapping';
import { findPlaceholders } from '../../src/core/subscriptions/mapping/template';
import { thrown } from '../support/config-file';

function resolve(value: unknown, event: unknown): unknown {
  return compileValue(value, 'value')(event);
}

const compileError = (value: unknown): string => thrown(() => compileValue(value, 'value'), MappingError);

function runError(value: unknown, event: unknown): string {
  const compiled = compileValue(value, 'value');
  return thrown(() => compiled(event), MappingError);
}

/** Milliseconds a call takes; the bounds below are generous, far above the linear cost, far below the old quadratic one. */
function timed(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

describe('@excludeWhenNull', () => {
  it('leaves the key out when the value is null, and keeps other values as they are', () => {
    const mapping = compileMapping({ a: { '@excludeWhenNull': { '@path': '$.a' } }, b: { '@excludeWhenNull': { '@path': '$.b' } } });
    expect(mapping({ a: null, b: 0 })).to.deep.equal({ b: 0 });
    expect(Object.keys(mapping({ a: null, b: null }))).to.deep.equal([]);
    expect(resolve({ '@excludeWhenNull': { '@path': '$.a' } }, { a: '' })).to.equal('');
    expect(resolve({ '@excludeWhenNull': 'text' }, {})).to.equal('text');
  });

  it("drops null-valued keys of an object, in nested objects too but not inside arrays, as mapping-kit's cleanNulls does", () => {
    const event = { t: { a: null, b: 1, c: { d: null, e: { f: null, g: 2 } }, l: [null, { x: null }] } };
    expect(resolve({ '@excludeWhenNull': { '@path': '$.t' } }, event)).to.deep.equal({ b: 1, c: { e: { g: 2 } }, l: [null, { x: null }] });
    expect(event.t, 'the event is not changed').to.deep.equal({ a: null, b: 1, c: { d: null, e: { f: null, g: 2 } }, l: [null, { x: null }] });
  });

  it('cleans an object the mapping spells out', () => {
    expect(resolve({ '@excludeWhenNull': { a: { '@path': '$.a' }, b: null, c: { d: null } } }, { a: 1 })).to.deep.equal({ a: 1, c: {} });
  });

  it('inside @merge, a null key it drops still removes the key of an earlier object, as in mapping-kit', () => {
    const merge = {
      '@merge': { direction: 'right', objects: [{ '@path': '$.base' }, { '@excludeWhenNull': { '@path': '$.over' } }] },
    };
    expect(resolve(merge, { base: { a: 1, b: 2 }, over: { a: null, c: 3 } })).to.deep.equal({ b: 2, c: 3 });
    expect(resolve(merge, { base: { a: 1 }, over: null })).to.deep.equal({ a: 1 });
  });

  it('works inside @if and @arrayPath', () => {
    const ifThen = { '@if': { exists: { '@path': '$.t' }, then: { '@excludeWhenNull': { '@path': '$.t' } }, else: 'none' } };
    expect(resolve(ifThen, { t: { a: null, b: 1 } })).to.deep.equal({ b: 1 });
    const list = { '@arrayPath': ['$.items', { n: { '@excludeWhenNull': { '@path': '$.n' } }, m: { '@path': '$.n' } }] };
    expect(resolve(list, { items: [{ n: null }, { n: 2 }] })).to.deep.equal([{ m: null }, { n: 2, m: 2 }]);
  });
});

describe('@transform', () => {
  it('resolves apply against the event, then mapping against what apply built', () => {
    const transform = { '@transform': { apply: { who: { '@path': '$.traits' }, kind: { '@path': '$.type' } }, mapping: { email: { '@path': '$.who.email' }, k: { '@template': '{{kind}}:{{who.name}}' } } } };
    expect(resolve(transform, { type: 'identify', traits: { email: 'a@b.co', name: 'Al' } })).to.deep.equal({ email: 'a@b.co', k: 'identify:Al' });
  });

  it('takes a directive for apply (the new payload is its value) and for mapping', () => {
    const transform = { '@transform': { apply: { '@path': '$.properties' }, mapping: { '@path': '$.total' } } };
    expect(resolve(transform, { properties: { total: 12 } })).to.equal(12);
  });

  it('nests: inside @if, @merge and @arrayPath, and inside another @transform', () => {
    const inner = { '@transform': { apply: { v: { '@path': '$.a' } }, mapping: { doubled: { '@template': '{{v}}{{v}}' } } } };
    expect(resolve({ '@if': { exists: { '@path': '$.a' }, then: inner } }, { a: 'x' })).to.deep.equal({ doubled: 'xx' });
    expect(resolve({ '@merge': { direction: 'right', objects: [{ z: 1 }, inner] } }, { a: 'y' })).to.deep.equal({ z: 1, doubled: 'yy' });
    expect(resolve({ '@arrayPath': ['$.items', { out: inner }] }, { items: [{ a: 1 }, { a: 2 }] })).to.deep.equal([{ out: { doubled: '11' } }, { out: { doubled: '22' } }]);
    const outer = { '@transform': { apply: { a: { '@path': '$.deep.a' } }, mapping: { r: inner } } };
    expect(resolve(outer, { deep: { a: 'q' } })).to.deep.equal({ r: { doubled: 'qq' } });
  });

  it('fails the event, not the load, when it meets a payload that is not an object (as in @arrayPath over numbers)', () => {
    const list = { '@arrayPath': ['$.items', { out: { '@transform': { apply: { v: { '@path': '$.a' } }, mapping: { '@path': '$.v' } } } }] };
    expect(runError(list, { items: [5] })).to.equal('value.@arrayPath[1].out.@transform: can only apply to an object, got 5');
  });
});

describe('@liquid', () => {
  it('renders with the event as its scope, with filters and conditions', () => {
    const event = { traits: { name: 'ada lovelace', email: 'ADA@X.CO' }, properties: { total: 41 } };
    expect(resolve({ '@liquid': 'Hi {{ traits.name | capitalize }}, {{ traits.email | downcase }}' }, event)).to.equal('Hi Ada lovelace, ada@x.co');
    expect(resolve({ '@liquid': '{% if properties.total > 40 %}big{% else %}small{% endif %} {{ properties.total | plus: 1 }}' }, event)).to.equal('big 42');
    expect(resolve({ '@liquid': '{% assign parts = traits.email | split: "@" %}{{ parts | last }}' }, event)).to.equal('X.CO');
    expect(resolve({ '@liquid': '' }, event)).to.equal('');
    expect(resolve({ '@liquid': '{{ missing.value }}' }, event)).to.equal('');
  });

  it('passes a value through an unknown filter, as liquidjs does at Segment', () => {
    expect(resolve({ '@liquid': '{{ a | no_such_filter }}' }, { a: 'x' })).to.equal('x');
  });

  it('reads only the event’s own properties', () => {
    expect(resolve({ '@liquid': '{{ a.constructor }}{{ __proto__ }}' }, { a: {} })).to.equal('');
  });

  it('refuses a disabled tag, a disabled filter and a template over 1,000 characters when compiling', () => {
    expect(compileError({ '@liquid': '{% for p in products %}{{ p }}{% endfor %}' })).to.equal('value.@liquid: the Liquid template cannot be used: tag "for" is disabled, line:1, col:1');
    for (const tag of ['case', 'include', 'layout', 'render', 'tablerow']) {
      expect(compileError({ '@liquid': `{% ${tag} x %}` })).to.match(new RegExp(`^value\\.@liquid: the Liquid template cannot be used: tag "${tag}" is disabled`));
    }
    expect(compileError({ '@liquid': '{{ tags | concat: more }}' })).to.match(/^value\.@liquid: the Liquid template cannot be used: filter "concat" is disabled/);
    // Refused wherever it stands, even in a branch a given event would not reach.
    expect(compileError({ '@liquid': '{% if false %}{% assign s = tags | sort %}{% endif %}' })).to.match(/filter "sort" is disabled/);
    expect(compileError({ '@liquid': 'x'.repeat(1001) })).to.equal('value.@liquid: the Liquid template is 1001 characters; Segment allows at most 1000');
    expect(resolve({ '@liquid': 'x'.repeat(1000) }, {})).to.equal('x'.repeat(1000));
    expect(compileError({ '@liquid': '{% if %}' })).to.match(/^value\.@liquid: the Liquid template cannot be used: /);
  });

  it('nests inside @if, @merge and @arrayPath', () => {
    const greet = { '@liquid': '{{ name | upcase }}' };
    expect(resolve({ '@if': { exists: { '@path': '$.name' }, then: greet, else: 'anon' } }, { name: 'bo' })).to.equal('BO');
    expect(resolve({ '@merge': { direction: 'left', objects: [{ n: greet }, { n: 'late', m: 1 }] } }, { name: 'cy' })).to.deep.equal({ n: 'CY', m: 1 });
    expect(resolve({ '@arrayPath': ['$.items', { n: greet }] }, { items: [{ name: 'a' }, { name: 'b' }] })).to.deep.equal([{ n: 'A' }, { n: 'B' }]);
  });

  it('stays quick whatever the event holds: 1 MB of braces through filters', () => {
    const event = { x: '{{'.repeat(500_000) };
    let out: unknown;
    const ms = timed(() => (out = resolve({ '@liquid': '{{ x | upcase | replace: "{", "}" | size }}' }, event)));
    expect(out).to.equal('1000000');
    expect(ms, 'ms to render').to.be.below(1000);
  });
});

describe('@template over hostile input', () => {
  // mapping-kit's own expressions, the reference for which placeholders a template has.
  const REFERENCE = { 3: /\{\{\{([^}]+)\}\}\}/g, 2: /\{\{([^}]+)\}\}/g } as const;

  it('finds exactly the placeholders mapping-kit’s expressions find, on random brace-heavy strings', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const bits = ['{', '}', 'a', ' ', '.', '{{', '}}'];
    for (let n = 0; n < 5000; n++) {
      const text = Array.from({ length: Math.floor(next() * 16) }, () => bits[Math.floor(next() * bits.length)]).join('');
      for (const braces of [2, 3] as const) {
        const expected = [...text.matchAll(REFERENCE[braces])].map((m) => [m.index, m.index + m[0].length, m[1]]);
        const found = findPlaceholders(text, braces).map((p) => [p.start, p.end, p.inner]);
        expect(found, `${braces} braces in ${JSON.stringify(text)}`).to.deep.equal(expected);
      }
    }
  });

  it('compiles and renders 1 MB of "{" in well under a second (it took minutes)', () => {
    const braces = '{'.repeat(1_000_000);
    expect(timed(() => findPlaceholders(braces, 3))).to.be.below(1000);
    expect(timed(() => findPlaceholders(braces + '}', 2))).to.be.below(1000);
    const nested = '{{{'.repeat(100_000) + 'a' + '}}}'.repeat(100_000);
    expect(timed(() => findPlaceholders(nested, 3))).to.be.below(1000);
  });

  it('renders an event carrying 30 KB of "{" (and of placeholders) in a {{{…}}} value quickly', () => {
    const template = compileValue({ '@template': 'x={{{properties.x}}}!' }, 'value');
    const braces = { type: 't', properties: { x: '{'.repeat(30_000) } };
    let out: unknown;
    expect(timed(() => (out = template(braces))), 'ms').to.be.below(1000);
    expect(out).to.equal(`x=${'{'.repeat(30_000)}!`);
    const placeholders = { type: 't', properties: { x: '{{type}}'.repeat(4_000) + '{'.repeat(30_000) } };
    expect(timed(() => (out = template(placeholders))), 'ms').to.be.below(1000);
    expect(out).to.equal(`x=${'t'.repeat(4_000)}${'{'.repeat(30_000)}!`);
    // As in mapping-kit, a {{…}} after the run takes the whole run as its path (which names nothing).
    const after = compileValue({ '@template': 'x={{{properties.x}}}{{type}}' }, 'value');
    expect(timed(() => (out = after(braces))), 'ms').to.be.below(1000);
    expect(out).to.equal('x=');
  });

  it('refuses a template string over 10,000 characters when compiling', () => {
    expect(compileError({ '@template': 'a'.repeat(10_001) })).to.equal('value.@template: the template is 10001 characters; at most 10000 are allowed');
    expect(resolve({ '@template': 'a'.repeat(10_000) }, {})).to.equal('a'.repeat(10_000));
  });
});

describe('nesting depth', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 'leaf';
    for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
    return value;
  };

  it('takes 64 levels of objects and arrays, and refuses the 65th with the place named', () => {
    expect(() => compileMapping({ data: nest(63) })).not.to.throw();
    expect(() => compileMapping({ data: nest(64) })).to.throw(MappingError, /^mapping\.data(\.a|\[0\])+: nested more than 64 objects and arrays deep/);
  });

  it('refuses 10,000 levels with a message, not a stack overflow', () => {
    expect(() => compileMapping({ data: nest(10_000) })).to.throw(MappingError, /nested more than 64/);
    let directives: unknown = { '@path': '$.a' };
    for (let i = 0; i < 10_000; i++) directives = { '@if': { exists: directives, then: 1 } };
    expect(() => compileMapping({ x: directives })).to.throw(MappingError, /^mapping\.x\.@if\.exists\.@if\.exists/);
  });
});
