import { expect } from 'chai';
import { compileMapping, compileValue, MappingError } from '../../src/core/subscriptions/mapping';
import { thrown } from '../support/config-file';
import { TRACK_MAPPING } from '../support/track-subscription';

/** Resolves one mapping value against an event. */
function resolve(value: unknown, event: unknown): unknown {
  return compileValue(value, 'value')(event);
}

const compileError = (mapping: unknown): string => thrown(() => compileMapping(mapping), MappingError);

// The example event of Segment's createUpdatePerson action, the one its own tests use.
const IDENTIFY = {
  type: 'identify',
  userId: 'abc123',
  anonymousId: 'unknown_123',
  messageId: '00000000-0000-4000-8000-000000000001',
  timestamp: '2024-03-15T12:34:56.789Z',
  traits: {
    full_name: 'Test User',
    email: 'test@example.com',
    created_at: '2024-03-15T12:34:56.789Z',
    objectId: 'g12345',
    person: { over18: true, identification: 'valid', birthdate: '1990-01-01T00:00:00.000Z' },
  },
  properties: {},
};

const ifExists = (path: string, otherwise: string) => ({
  '@if': { exists: { '@path': path }, then: { '@path': path }, else: { '@path': otherwise } },
});

const CREATE_UPDATE_PERSON = {
  id: ifExists('$.userId', '$.traits.email'),
  anonymous_id: { '@path': '$.anonymousId' },
  email: { '@template': '{{traits.email}}' },
  created_at: ifExists('$.traits.created_at', '$.traits.createdAt'),
  group_id: { '@path': '$.traits.objectId' },
  custom_attributes: { '@path': '$.traits' },
  relationship_attributes: { '@path': '$.traits.relationshipAttributes' },
  timestamp: { '@path': '$.timestamp' },
  convert_timestamp: true,
  object_type_id: ifExists('$.traits.object_type_id', '$.traits.objectTypeId'),
  enable_batching: true,
  batch_size: 50,
};

const TRACK_EVENT = { ...TRACK_MAPPING, enable_batching: true, batch_size: 50 };

const CREATE_UPDATE_DEVICE = {
  person_id: { '@path': '$.userId' },
  device_id: { '@path': '$.context.device.token' },
  app_version: { '@path': '$.context.app.version' },
  platform: { '@path': '$.context.device.type' },
  last_used: { '@path': '$.timestamp' },
  attributes: { '@path': '$.properties' },
  convert_timestamp: true,
  enable_batching: true,
  batch_size: 50,
};

describe('compileMapping: the default mappings of the reference', () => {
  it('createUpdatePerson defaults resolve the reference example event field by field', () => {
    const mapped = compileMapping(CREATE_UPDATE_PERSON)(IDENTIFY);
    expect(mapped).to.deep.equal({
      id: 'abc123',
      anonymous_id: 'unknown_123',
      email: 'test@example.com',
      created_at: '2024-03-15T12:34:56.789Z',
      group_id: 'g12345',
      custom_attributes: IDENTIFY.traits,
      timestamp: '2024-03-15T12:34:56.789Z',
      convert_timestamp: true,
      enable_batching: true,
      batch_size: 50,
    });
    // Unmapped optional fields are left out, not set to undefined.
    expect(mapped).to.not.have.any.keys('relationship_attributes', 'object_type_id');
  });

  it('createUpdatePerson id falls back to traits.email when userId is missing or null', () => {
    const map = compileMapping(CREATE_UPDATE_PERSON);
    const { userId: _ignored, ...anonymous } = IDENTIFY;
    expect(map(anonymous).id).to.equal('test@example.com');
    expect(map({ ...IDENTIFY, userId: null }).id).to.equal('test@example.com');
  });

  it("createUpdatePerson id keeps an empty userId, since '' exists", () => {
    expect(compileMapping(CREATE_UPDATE_PERSON)({ ...IDENTIFY, userId: '' }).id).to.equal('');
  });

  it("createUpdatePerson email is '' (kept, not dropped) when traits.email is missing", () => {
    const mapped = compileMapping(CREATE_UPDATE_PERSON)({ type: 'identify', userId: 'u1', traits: { plan: 'pro' } });
    expect(mapped).to.have.property('email', '');
    expect(mapped.id).to.equal('u1');
  });

  it('createUpdatePerson created_at and object_type_id fall back to the camelCase traits', () => {
    const mapped = compileMapping(CREATE_UPDATE_PERSON)({
      userId: 'u1',
      traits: { createdAt: '2020-01-01', objectTypeId: '2', relationshipAttributes: { role: 'admin' } },
    });
    expect(mapped.created_at).to.equal('2020-01-01');
    expect(mapped.object_type_id).to.equal('2');
    expect(mapped.relationship_attributes).to.deep.equal({ role: 'admin' });
  });

  it('trackEvent defaults map event, messageId and properties, and drop what the event lacks', () => {
    const mapped = compileMapping(TRACK_EVENT)({
      type: 'track',
      event: 'Order Completed',
      anonymousId: 'a1',
      messageId: 'm1',
      properties: { total: 42 },
    });
    expect(mapped).to.deep.equal({
      anonymous_id: 'a1',
      name: 'Order Completed',
      event_id: 'm1',
      data: { total: 42 },
      convert_timestamp: true,
      enable_batching: true,
      batch_size: 50,
    });
  });

  it('createUpdateDevice defaults read nested context paths', () => {
    const mapped = compileMapping(CREATE_UPDATE_DEVICE)({
      event: 'Application Opened',
      userId: 'u1',
      timestamp: '2024-01-01T00:00:00Z',
      context: { device: { token: 'tok-1', type: 'ios' }, app: { version: '2.19' } },
    });
    expect(mapped).to.include({ person_id: 'u1', device_id: 'tok-1', platform: 'ios', app_version: '2.19' });
    expect(mapped).to.not.have.property('attributes');
  });
});

describe('@path', () => {
  const event = {
    a: { b: [{ c: 'deep' }], 'x.y': 'dotted', 'with space': 1 },
    zero: 0,
    empty: '',
    nothing: null,
    word: 'hello',
    list: ['p', 'q'],
    integrations: { 'Actions Amplitude': { session_id: 's1' } },
  };

  it('strips a leading $. and walks dot and bracket segments', () => {
    expect(resolve({ '@path': '$.a.b[0].c' }, event)).to.equal('deep');
    expect(resolve({ '@path': 'a.b.0.c' }, event)).to.equal('deep');
    expect(resolve({ '@path': '$.integrations.Actions Amplitude.session_id' }, event)).to.equal('s1');
  });

  it("reads a quoted bracket segment as one property name (a['b'], a[\"x.y\"])", () => {
    expect(resolve({ '@path': "$.a['b'][0]['c']" }, event)).to.equal('deep');
    expect(resolve({ '@path': '$.a["x.y"]' }, event)).to.equal('dotted');
    expect(resolve({ '@path': "$.integrations['Actions Amplitude'].session_id" }, event)).to.equal('s1');
  });

  it("returns the whole event for '$.' and ''", () => {
    expect(resolve({ '@path': '$.' }, event)).to.equal(event);
    expect(resolve({ '@path': '' }, event)).to.equal(event);
  });

  it('gives undefined for a missing segment, so the field is dropped', () => {
    expect(compileMapping({ x: { '@path': '$.a.missing.deeper' }, y: 1 })(event)).to.deep.equal({ y: 1 });
  });

  it('keeps null, 0 and empty-string values', () => {
    expect(compileMapping({ n: { '@path': '$.nothing' }, z: { '@path': '$.zero' }, e: { '@path': '$.empty' } })(event)).to.deep.equal({
      n: null,
      z: 0,
      e: '',
    });
  });

  it("returns a falsy value met half way, as mapping-kit's get does", () => {
    expect(resolve({ '@path': '$.nothing.deeper' }, event)).to.equal(null);
    expect(resolve({ '@path': '$.zero.deeper' }, event)).to.equal(0);
  });

  it('reads string indices and lengths, but nothing from prototypes', () => {
    expect(resolve({ '@path': '$.word.length' }, event)).to.equal(5);
    expect(resolve({ '@path': '$.word[1]' }, event)).to.equal('e');
    expect(resolve({ '@path': '$.list.length' }, event)).to.equal(2);
    expect(resolve({ '@path': '$.word.toUpperCase' }, event)).to.equal(undefined);
    expect(resolve({ '@path': '$.list.map' }, event)).to.equal(undefined);
  });

  it('never returns Object.prototype through __proto__, constructor or prototype', () => {
    for (const path of ['$.__proto__', '$.constructor', '$.constructor.prototype', '$.a.__proto__.toString', '$.toString', '$.a.hasOwnProperty']) {
      expect(resolve({ '@path': path }, event), path).to.equal(undefined);
    }
  });

  it('is not fooled by a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.pollutedForTest = 'bad';
    try {
      expect(resolve({ '@path': '$.properties.pollutedForTest' }, { properties: {} })).to.equal(undefined);
      expect(resolve({ '@template': '{{pollutedForTest}}' }, {})).to.equal('');
    } finally {
      delete proto.pollutedForTest;
    }
  });

  it('reads an own __proto__ key of a parsed event as plain data', () => {
    const parsed = JSON.parse('{"properties": {"__proto__": {"polluted": true}}}');
    expect(resolve({ '@path': '$.properties.__proto__.polluted' }, parsed)).to.equal(true);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('takes its path from a nested directive', () => {
    expect(resolve({ '@path': { '@path': '$.which' } }, { which: 'target', target: 'found' })).to.equal('found');
  });

  it("returns the event's own sub-object (callers copy before mutating)", () => {
    const mapped = compileMapping({ data: { '@path': '$.a' } })(event);
    expect(mapped.data).to.equal(event.a);
  });
});

describe('@if', () => {
  const pick = (condition: unknown, key: 'exists' | 'blank' = 'exists') => ({
    '@if': { [key]: condition, then: 'then', else: 'else' },
  });

  it("with exists treats '', 0 and false as present", () => {
    for (const value of ['', 0, false]) {
      expect(resolve(pick({ '@path': '$.v' }), { v: value }), JSON.stringify(value)).to.equal('then');
    }
  });

  it('with exists treats null and a missing value as absent', () => {
    expect(resolve(pick({ '@path': '$.v' }), { v: null })).to.equal('else');
    expect(resolve(pick({ '@path': '$.v' }), {})).to.equal('else');
  });

  it("with blank also treats '' as absent (and, like mapping-kit's loose test, 0, false and [])", () => {
    for (const value of ['', null, 0, false, [], undefined]) {
      expect(resolve(pick({ '@path': '$.v' }, 'blank'), { v: value }), JSON.stringify(value)).to.equal('else');
    }
    for (const value of ['x', ' ', 1, true, [0], {}]) {
      expect(resolve(pick({ '@path': '$.v' }, 'blank'), { v: value }), JSON.stringify(value)).to.equal('then');
    }
  });

  it('resolves else only when the mapping gives a truthy else', () => {
    const mapping = { a: { '@if': { exists: { '@path': '$.missing' }, then: 1, else: 0 } }, b: 2 };
    expect(compileMapping(mapping)({})).to.deep.equal({ b: 2 });
  });

  it('gives undefined when the condition holds and there is no then', () => {
    expect(resolve({ '@if': { exists: { '@path': '$.v' }, else: 'else' } }, { v: 1 })).to.equal(undefined);
  });

  it('resolves a then of null to null', () => {
    expect(resolve({ '@if': { exists: { '@path': '$.v' }, then: null } }, { v: 1 })).to.equal(null);
  });

  it('treats a literal condition as the value to test', () => {
    expect(resolve({ '@if': { exists: 'always', then: 'yes' } }, {})).to.equal('yes');
  });
});

describe('@template', () => {
  it('interpolates {{a.b}} and {{{a.b}}} the same way, without HTML escaping', () => {
    const event = { who: { name: '<b>World</b>' } };
    expect(resolve({ '@template': 'Hi {{who.name}} / {{{who.name}}}!' }, event)).to.equal('Hi <b>World</b> / <b>World</b>!');
  });

  it("replaces a missing value with '' and always gives a string", () => {
    expect(resolve({ '@template': '{{traits.email}}' }, {})).to.equal('');
    expect(resolve({ '@template': '{{n}}-{{b}}-{{nil}}' }, { n: 1, b: true, nil: null })).to.equal('1-true-');
    expect(resolve({ '@template': '{{o}}' }, { o: { a: 1 } })).to.equal('[object Object]');
    expect(resolve({ '@template': 'plain text' }, {})).to.equal('plain text');
  });

  it('trims spaces inside the braces and does not strip $. from the path', () => {
    expect(resolve({ '@template': '{{ traits.email }}' }, { traits: { email: 'e@x.co' } })).to.equal('e@x.co');
    expect(resolve({ '@template': '{{$.traits.email}}' }, { traits: { email: 'e@x.co' } })).to.equal('');
  });

  it('leaves stray braces as text', () => {
    expect(resolve({ '@template': '{{foo}}}' }, { foo: 'hello' })).to.equal('hello}');
    expect(resolve({ '@template': '{ {{foo}} }' }, { foo: 'x' })).to.equal('{ x }');
  });

  it('replaces {{{…}}} first and then {{…}} in the result, as mapping-kit does', () => {
    // A value from the first pass that holds a {{…}} is replaced by the second pass.
    expect(resolve({ '@template': '{{{a}}}' }, { a: '{{b}}', b: 'secret' })).to.equal('secret');
    expect(resolve({ '@template': '{{{a}}} and {{c}}' }, { a: '{{ b }}', b: 1, c: 'x' })).to.equal('1 and x');
    // A {{…}} value is not looked at again: each pass is one replace over the text.
    expect(resolve({ '@template': '{{a}}' }, { a: '{{b}}', b: 'secret' })).to.equal('{{b}}');
    // Arrays read as Array.prototype.toString does, in both passes.
    expect(resolve({ '@template': '{{{l}}}|{{l}}' }, { l: ['x', 'y'] })).to.equal('x,y|x,y');
  });

  it('takes its template from a nested directive', () => {
    expect(resolve({ '@template': { '@path': '$.t' } }, { t: 'Hi {{n}}', n: 'Al' })).to.equal('Hi Al');
  });
});

describe('@literal', () => {
  it('resolves directives nested in its value, as mapping-kit does', () => {
    expect(resolve({ '@literal': { a: { '@path': '$.a' }, b: { '@path': '$.b' } } }, { a: 'A' })).to.deep.equal({ a: 'A' });
    expect(resolve({ '@literal': false }, {})).to.equal(false);
  });
});

describe('@arrayPath', () => {
  const products = [
    { productId: '123', price: 0.5 },
    { productId: '456', price: 0.99 },
  ];
  const shape = { product_id: { '@path': '$.productId' }, monies: { '@path': '$.price' } };

  it('returns the array at the path when no item shape is given', () => {
    expect(resolve({ '@arrayPath': ['$.products'] }, { products })).to.equal(products);
  });

  it('reshapes each item, with paths relative to the item', () => {
    expect(resolve({ '@arrayPath': ['$.products', shape] }, { products })).to.deep.equal([
      { product_id: '123', monies: 0.5 },
      { product_id: '456', monies: 0.99 },
    ]);
  });

  it('treats a single object as a one-item array when a shape is given', () => {
    expect(resolve({ '@arrayPath': ['$.properties', shape] }, { properties: products[0] })).to.deep.equal([
      { product_id: '123', monies: 0.5 },
    ]);
  });

  it('drops the field when the path is missing, and ignores an empty shape', () => {
    expect(compileMapping({ neat: { '@arrayPath': ['$.nope', shape] } })({ products })).to.deep.equal({});
    expect(resolve({ '@arrayPath': ['$.p', {}] }, { p: products[0] })).to.equal(products[0]);
  });

  it('accepts a directive for the path', () => {
    const mapping = { '@arrayPath': [{ '@if': { exists: { '@path': '$.products' }, then: { '@path': '$.products' }, else: [] } }, shape] };
    expect(resolve(mapping, { products })).to.have.length(2);
    expect(resolve(mapping, {})).to.deep.equal([]);
  });
});

describe('@case', () => {
  it('lower- or upper-cases a string', () => {
    expect(resolve({ '@case': { operator: 'lower', value: { '@path': '$.s' } } }, { s: 'MiXeD 1' })).to.equal('mixed 1');
    expect(resolve({ '@case': { operator: 'upper', value: { '@path': '$.s' } } }, { s: 'MiXeD 1' })).to.equal('MIXED 1');
  });

  it('passes non-strings through and drops a missing value', () => {
    expect(resolve({ '@case': { operator: 'lower', value: { '@path': '$.n' } } }, { n: 1 })).to.equal(1);
    expect(compileMapping({ c: { '@case': { operator: 'lower', value: { '@path': '$.x' } } } })({})).to.deep.equal({});
  });
});

describe('@replace', () => {
  const replace = (opts: Record<string, unknown>, a: unknown) => resolve({ '@replace': { value: { '@path': '$.a' }, ...opts } }, { a });

  it('replaces every occurrence by default, or only the first with global: false', () => {
    expect(replace({ pattern: '+', replacement: '_' }, 'many+different+things')).to.equal('many_different_things');
    expect(replace({ pattern: '+', replacement: '_', global: false }, 'many+different+things')).to.equal('many_different+things');
  });

  it('matches the pattern as literal text, case-sensitively unless ignorecase', () => {
    expect(replace({ pattern: '.*', replacement: '!' }, 'a.*b')).to.equal('a!b');
    expect(replace({ pattern: 'WW', replacement: 'oo' }, 'cWWl-ww')).to.equal('cool-ww');
    expect(replace({ pattern: 'AaB', replacement: 'x', ignorecase: true }, 'aab-AAB')).to.equal('x-x');
  });

  it('applies pattern2 after pattern, and removes the pattern when no replacement is given', () => {
    expect(replace({ pattern: '-', replacement: ' ', pattern2: 'great', replacement2: 'awesome' }, 'something-great!')).to.equal(
      'something awesome!',
    );
    expect(replace({ pattern: 'many+' }, 'many+different')).to.equal('different');
  });

  it("stringifies numbers and booleans, and gives '' for anything else", () => {
    expect(replace({ pattern: 'true', replacement: 'granted' }, true)).to.equal('granted');
    expect(replace({ pattern: '1', replacement: 'one' }, 1)).to.equal('one');
    expect(replace({ pattern: '_' }, null)).to.equal('');
    expect(replace({ pattern: '_' }, undefined)).to.equal('');
  });
});

describe('@json', () => {
  it('encodes a value to a JSON string', () => {
    expect(resolve({ '@json': { mode: 'encode', value: { '@path': '$.o' } } }, { o: { a: [1, 'b'] } })).to.equal('{"a":[1,"b"]}');
  });

  it('decodes a JSON string and passes other values through', () => {
    expect(resolve({ '@json': { mode: 'decode', value: { '@path': '$.s' } } }, { s: '{"a":1}' })).to.deep.equal({ a: 1 });
    expect(resolve({ '@json': { mode: 'decode', value: { '@path': '$.s' } } }, { s: 123 })).to.equal(123);
  });

  it('leaves a string that is not JSON as it is, as mapping-kit does', () => {
    const map = compileMapping({ data: { '@json': { mode: 'decode', value: { '@path': '$.s' } } } });
    expect(map({ s: '{oops' })).to.deep.equal({ data: '{oops' });
    expect(map({ s: 'user-1' })).to.deep.equal({ data: 'user-1' });
  });
});

describe('@flatten', () => {
  it('flattens nested objects and arrays with the separator', () => {
    const value = { a: { b: { c: 1 }, d: 2 }, list: [{ x: 1 }, { y: 2 }] };
    expect(resolve({ '@flatten': { value: { '@path': '$.v' }, separator: '/' } }, { v: value })).to.deep.equal({
      'a/b/c': 1,
      'a/d': 2,
      'list/0/x': 1,
      'list/1/y': 2,
    });
  });

  it('keeps arrays whole with omitArrays', () => {
    expect(resolve({ '@flatten': { value: { '@path': '$.v' }, separator: '.', omitArrays: true } }, { v: { a: { b: [1, 2] } } })).to.deep.equal({
      'a.b': [1, 2],
    });
  });

  it('gives an empty object for a missing value', () => {
    expect(compileMapping({ neat: { '@flatten': { value: { '@path': '$.nope' }, separator: ',' } } })({})).to.deep.equal({ neat: {} });
  });
});

describe('@merge', () => {
  const objects = [{ cool: true, hey: 'there' }, { '@path': '$.foo' }];

  it('lets later objects win with direction right, earlier ones with direction left', () => {
    const event = { foo: { bar: 'baz', hey: 'you' } };
    expect(resolve({ '@merge': { direction: 'right', objects } }, event)).to.deep.equal({ cool: true, hey: 'you', bar: 'baz' });
    expect(resolve({ '@merge': { direction: 'left', objects } }, event)).to.deep.equal({ cool: true, hey: 'there', bar: 'baz' });
  });

  it('skips objects that resolve to nothing', () => {
    expect(resolve({ '@merge': { direction: 'right', objects: [{ '@path': '$.hello' }, { '@path': '$.foo' }] } }, { foo: { a: 1 } })).to.deep.equal({ a: 1 });
  });

  it('removes a key that a later object maps to nothing, as Object.assign + removeUndefined do', () => {
    const mapping = { '@merge': { direction: 'right', objects: [{ '@path': '$.properties' }, { secret: { '@path': '$.nope' } }] } };
    expect(resolve(mapping, { properties: { secret: 's', keep: 1 } })).to.deep.equal({ keep: 1 });
  });

  it('copies a __proto__ key as data without touching the prototype', () => {
    const merged = resolve({ '@merge': { direction: 'right', objects: [{ '@path': '$.p' }] } }, JSON.parse('{"p": {"__proto__": {"x": 1}}}'));
    expect(Object.getPrototypeOf(merged)).to.equal(Object.prototype);
    expect(Object.keys(merged as object)).to.deep.equal(['__proto__']);
  });
});

describe('undefined values and fresh objects', () => {
  it('drops keys that resolve to undefined at every level the mapping spells out, and keeps array positions', () => {
    const mapping = { x: { y: { '@path': '$.nope' }, z: 1, deeper: { w: { '@path': '$.nope' } } }, list: [{ '@path': '$.nope' }, 2] };
    const mapped = compileMapping(mapping)({});
    expect(mapped).to.deep.equal({ x: { z: 1, deeper: {} }, list: [undefined, 2] });
  });

  it('builds the objects and arrays of the mapping anew on every call', () => {
    const map = compileMapping({ data: { a: 1, list: [1] }, lit: { '@literal': { b: 2 } } });
    const first = map({});
    (first.data as Record<string, unknown>).a = 'changed';
    ((first.data as Record<string, unknown[]>).list).push(2);
    delete (first.lit as Record<string, unknown>).b;
    expect(map({})).to.deep.equal({ data: { a: 1, list: [1] }, lit: { b: 2 } });
  });

  it('is not affected by later changes to the mapping it was compiled from', () => {
    const mapping: Record<string, any> = { name: { '@path': '$.event' }, fixed: { a: 1 } };
    const map = compileMapping(mapping);
    mapping.name['@path'] = '$.other';
    mapping.fixed.a = 2;
    expect(map({ event: 'E', other: 'O' })).to.deep.equal({ name: 'E', fixed: { a: 1 } });
  });

  it('ignores a _metadata key beside a directive', () => {
    expect(resolve({ '@path': '$.a', _metadata: { type: 'variable' } }, { a: 1 })).to.equal(1);
  });
});

describe('compile-time errors name the place in the mapping', () => {
  it('refuses an unknown directive', () => {
    expect(compileError({ name: { '@foo': '$.x' } })).to.equal("mapping.name: unknown directive '@foo'");
  });

  it('names nested places inside directives and objects', () => {
    expect(compileError({ data: { x: { '@if': { exists: { '@path': '$.a' }, then: { '@foo': 1 } } } } })).to.equal(
      "mapping.data.x.@if.then: unknown directive '@foo'",
    );
    expect(compileError({ list: [1, { '@nope': 1 }] })).to.equal("mapping.list[1]: unknown directive '@nope'");
    expect(compileError({ 'first name': { '@nope': 1 } })).to.equal('mapping["first name"]: unknown directive \'@nope\'');
  });

  it('refuses malformed arguments of @liquid, @transform and @excludeWhenNull', () => {
    expect(compileError({ x: { '@liquid': 5 } })).to.equal('mapping.x.@liquid: expected a Liquid template string, got 5');
    expect(compileError({ x: { '@transform': { mapping: {} } } })).to.equal('mapping.x.@transform.apply: is required');
    expect(compileError({ x: { '@transform': { apply: {} } } })).to.equal('mapping.x.@transform.mapping: is required');
    expect(compileError({ x: { '@transform': { apply: 'a', mapping: {} } } })).to.match(/^mapping\.x\.@transform\.apply: must be an object or a directive/);
    expect(compileError({ x: { '@excludeWhenNull': { '@nope': 1 } } })).to.equal("mapping.x.@excludeWhenNull: unknown directive '@nope'");
  });

  it('refuses two directives in one object, or a directive beside other keys', () => {
    expect(compileError({ x: { '@path': '$.a', '@template': 'b' } })).to.match(/^mapping\.x: only one directive per object/);
    expect(compileError({ x: { '@path': '$.a', other: 1 } })).to.match(/^mapping\.x: directive '@path' cannot sit beside other keys \(other\)/);
  });

  it('refuses a @path or @template that is not a string or a directive', () => {
    expect(compileError({ x: { '@path': 5 } })).to.equal('mapping.x.@path: expected a path string or a directive, got 5');
    expect(compileError({ x: { '@path': {} } })).to.match(/^mapping\.x\.@path: expected a path string/);
    expect(compileError({ x: { '@template': false } })).to.match(/^mapping\.x\.@template: expected a template string/);
    expect(compileError({ x: { '@path': '..' } })).to.match(/^mapping\.x\.@path: path "\.\." names no property/);
  });

  it("refuses an @if without a usable 'exists' or 'blank'", () => {
    expect(compileError({ x: { '@if': { then: 1 } } })).to.equal("mapping.x.@if: needs an 'exists' or a 'blank' condition");
    expect(compileError({ x: { '@if': { exists: false, then: 1 } } })).to.equal("mapping.x.@if: needs an 'exists' or a 'blank' condition");
    expect(compileError({ x: { '@if': 'yes' } })).to.match(/^mapping\.x\.@if: expected an object/);
  });

  it('refuses malformed arguments of the other directives', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ '@case': { operator: 'snake', value: 'a' } }, /^mapping\.x\.@case\.operator: must be "lower" or "upper"/],
      [{ '@case': 'lower' }, /^mapping\.x\.@case: expected an object/],
      [{ '@replace': { pattern: 'waaaaytoolong', value: 'a' } }, /^mapping\.x\.@replace\.pattern: must be at most 10 characters/],
      [{ '@replace': { value: 'a' } }, /^mapping\.x\.@replace\.pattern: is required/],
      [{ '@replace': { pattern: 'a' } }, /^mapping\.x\.@replace: needs a 'value'/],
      [{ '@replace': { pattern: 'a', value: 'b', global: 'yes' } }, /^mapping\.x\.@replace\.global: must be true or false/],
      [{ '@json': { mode: 'oops', value: 'a' } }, /^mapping\.x\.@json\.mode: must be "encode" or "decode"/],
      [{ '@json': { mode: 'encode' } }, /^mapping\.x\.@json: needs a 'value'/],
      [{ '@flatten': { value: { '@path': '$.a' } } }, /^mapping\.x\.@flatten\.separator: must be a non-empty string/],
      [{ '@flatten': { separator: '.' } }, /^mapping\.x\.@flatten: needs a 'value'/],
      [{ '@merge': { direction: 'up', objects: [] } }, /^mapping\.x\.@merge\.direction: must be "left" or "right"/],
      [{ '@merge': { direction: 'left', objects: { a: 1 } } }, /^mapping\.x\.@merge\.objects: must be an array/],
      [{ '@merge': { direction: 'left', objects: [{}, 1] } }, /^mapping\.x\.@merge\.objects\[1\]: must be an object or a directive/],
      [{ '@arrayPath': '$.a' }, /^mapping\.x\.@arrayPath: expected \[path, item shape\]/],
      [{ '@arrayPath': [true] }, /^mapping\.x\.@arrayPath\[0\]: expected a path string or a directive/],
    ];
    for (const [directive, message] of cases) {
      expect(compileError({ x: directive }), JSON.stringify(directive)).to.match(message);
    }
  });

  it('refuses a mapping that is not an object of fields', () => {
    expect(compileError([1])).to.match(/^mapping: must be an object of field mappings/);
    expect(compileError('x')).to.match(/^mapping: must be an object of field mappings/);
    expect(compileError({ '@path': '$.a' })).to.match(/^mapping: must be an object of field mappings/);
  });

  it('uses the name it is given for the place', () => {
    expect(() => compileMapping({ a: { '@x': 1 } }, 'subscriptions[3].mapping')).to.throw(
      MappingError,
      "subscriptions[3].mapping.a: unknown directive '@x'",
    );
  });

  it('refuses an event that is not an object when run', () => {
    expect(() => compileMapping({ a: 1 })(null)).to.throw(MappingError, /the event must be an object/);
  });
});
