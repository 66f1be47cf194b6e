// `npm run compare:framework`: our mapping directives (all thirteen) and payload validation next to
// Segment's own framework, @segment/actions-core, on generated inputs. Every difference is printed; the exit code is 1
// when there is one. The framework is installed into .cache/ on first use (it is not a dependency of
// the project), so this needs the npm registry once.
//
//   npx tsx tools/compare-with-actions-core.ts [--seed N] [--mappings N] [--payloads N] [--version X]

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ACTIONS } from '../src/core/actions/registry';
import { validatePayload } from '../src/core/actions/fields';
import { seededRandom } from '../bench/shared';
import { compileSubscriptions } from '../src/core/subscriptions';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const VERSION = args.get('version') ?? '3.170.0';
const SEED = Number(args.get('seed') ?? 1);
const MAPPINGS = Number(args.get('mappings') ?? 2000);
const PAYLOADS = Number(args.get('payloads') ?? 1500);
const VECTORS = path.resolve(__dirname, '../vectors');

interface Framework {
  transform(mapping: unknown, data: unknown): Record<string, unknown>;
  fieldsToJsonSchema(fields: unknown): unknown;
  validateSchema(obj: unknown, schema: unknown, options: { schemaKey: string }): boolean;
  removeEmptyValues(obj: unknown, schema: unknown, isRoot: boolean): Record<string, unknown>;
}

function loadFramework(): Framework {
  const dir = path.resolve(__dirname, '../.cache/actions-core', VERSION);
  const pkg = path.join(dir, 'node_modules/@segment/actions-core/dist/cjs');
  if (!existsSync(pkg)) {
    console.log(`installing @segment/actions-core@${VERSION} into ${dir} …`);
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--silent', `@segment/actions-core@${VERSION}`, 'liquidjs'], { stdio: 'inherit' });
  }
  const core = require(path.join(pkg, 'index.js'));
  const { removeEmptyValues } = require(path.join(pkg, 'remove-empty-values.js'));
  return { transform: core.transform, fieldsToJsonSchema: core.fieldsToJsonSchema, validateSchema: core.validateSchema, removeEmptyValues };
}

/** What either side gives, as comparable text: its JSON, or the error it threw. */
function outcome(run: () => unknown): string {
  try {
    return `ok ${JSON.stringify(run())}`;
  } catch (err) {
    return `error ${(err as Error).message}`;
  }
}

/**
 * Mapping errors are worded our own way (they name the subscription and the place in the mapping), so
 * for mappings only the fact of an error is compared. Payload validation keeps Segment's texts: exact.
 */
function sameOutcome(ours: string, theirs: string, messages: 'exact' | 'ignored'): boolean {
  return ours === theirs || (messages === 'ignored' && ours.startsWith('error ') && theirs.startsWith('error '));
}

function main(): void {
  const framework = loadFramework();
  const rnd = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
  const events = (require(path.join(VECTORS, 'preset-events.json')) as Array<{ event: Record<string, unknown> }>).map((v) => v.event);
  const differences: string[] = [];
  const differ = (what: string, ours: string, theirs: string, messages: 'exact' | 'ignored' = 'ignored') => {
    if (!sameOutcome(ours, theirs, messages)) differences.push(`${what}\n    ours:   ${ours.slice(0, 400)}\n    theirs: ${theirs.slice(0, 400)}`);
  };

  // 1. The 15 default mappings over the preset events.
  const presets = compileSubscriptions(undefined);
  for (const event of events) {
    for (const sub of presets) differ(`preset "${sub.name}" on ${event.messageId}`, outcome(() => sub.mapping(event)), outcome(() => framework.transform(sub.spec.mapping, event)));
  }
  const presetRuns = events.length * presets.length;

  // 2. Random mappings (every directive, nested) over the preset events and a few odd shapes.
  const odd = [
    { type: 'track', userId: '', anonymousId: null, event: 'A.B', properties: { n1: 0, active: [], products: [{ name: 'p1', price: 1 }, { name: null }, 5, null], e: '', z: null }, traits: { email: '', name: 0 } },
    { type: 'identify', userId: 123, traits: { email: "O'Neil@X.com", name: 'Ann', address: { city: 'Paris' } }, properties: { active: 'yes', n1: '7' } },
    { type: 'track', properties: { products: 'not an array', active: { a: 1 } }, traits: null, context: [] },
    { type: 'track', event: 'N', properties: { e: null, n1: { a: null, b: { c: null, d: 1 }, l: [null, { x: null }] }, tpl: '{{traits.email}}', braces: '{'.repeat(300) }, traits: { email: null, name: 'Bo', address: null } },
    { type: 'identify', userId: 'u-{{event}}', traits: { email: '{{{type}}}', name: '}}{{' }, properties: { tpl: '{{ type }} {{{ userId }}}', products: [{ name: 'a{{type}}', price: null }, { name: null }] } },
  ];
  const data = [...events, ...odd, ...odd];
  const paths = ['$.userId', '$.anonymousId', '$.event', '$.name', '$.properties', '$.properties.n1', '$.properties.active', '$.properties.active[0]', '$.properties.products', '$.properties.e', '$.traits', '$.traits.email', '$.traits.address', '$.traits.address.city', '$.context', '$.context.ip', '$.timestamp', '$.type', '$.missing'];
  const templates = [
    '{{traits.email}}', 'Hi {{traits.name}}!', '{{{properties.n1}}}-{{event}}', '{{ userId }}', '{{$.userId}}', '{{properties.active}}', '{{{type}}} {{context.ip}}',
    // Brace-heavy templates, and values that hold placeholders or runs of '{' (the second pass reads them).
    '{{{properties.tpl}}}', '{{{traits.email}}}!{{ event }}', '{{{properties.braces}}}{{type}}}}', '{{{{type}}}}', '{ {{event}} }}', '{{{a}}{{type}}}', '{{}}', '{{{}}}', '{{ {{type}} }}', '{{{userId}}}{{{traits.name}}}{{event}}',
  ];
  // Random strings of braces and names: the placeholder scan must find what mapping-kit's expressions find.
  const braceBits = ['{', '}', '{{', '}}', '{{{', '}}}', ' ', 'type', 'event', 'traits.name', 'x'];
  const randomTemplate = () => Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => pick(braceBits)).join('');
  const liquids = [
    '{{ traits.email | downcase }}', 'Hi {{ traits.name | default: "there" }}!', '{% if properties.n1 %}n1={{ properties.n1 }}{% else %}none{% endif %}',
    '{{ properties.products | size }}', '{{ properties.products[0].name | append: "!" }}', '{% assign e = event | split: "." %}{{ e | first }}',
    '{{ userId | prepend: "u-" | truncate: 8 }}', '{{ properties }}', '{{ properties.active | json }}', '{% unless traits.email %}no email{% endunless %}',
    '{% capture x %}{{ type }}-{{ event }}{% endcapture %}{{ x | upcase }}', '', '{{ name | upcase }}', '{{ timestamp | date: "%Y-%m" }}',
    '{{ properties.n1 | plus: 1 }}', '{% if traits.address.city == "Paris" %}FR{% elsif traits %}other{% endif %}', '{{ properties.tpl }}{{ p.email }}{{ q }}',
  ];
  const value = (depth: number): unknown => {
    const r = rnd();
    const at = () => ({ '@path': pick(paths) });
    if (depth > 2 || r < 0.3) return at();
    if (r < 0.4) return pick(['text', 42, true, null, '']);
    if (r < 0.5) return { '@template': pick(templates) };
    if (r < 0.6) return { '@if': { [pick(['exists', 'blank'])]: at(), then: value(depth + 1), ...(rnd() < 0.7 ? { else: value(depth + 1) } : {}) } };
    if (r < 0.64) return { '@literal': pick([{ a: 1 }, 'x', [1, 2]]) };
    if (r < 0.68) return { '@case': { operator: pick(['lower', 'upper']), value: at() } };
    if (r < 0.73) return { '@replace': { pattern: pick(['a', '.', 'e', '-']), replacement: pick(['X', '', '$&']), value: at(), global: rnd() < 0.5, ignorecase: rnd() < 0.5 } };
    if (r < 0.77) return { '@json': { mode: pick(['encode', 'decode']), value: at() } };
    if (r < 0.81) return { '@flatten': { separator: pick(['.', '_']), value: { '@path': pick(['$.properties', '$.context', '$.traits']) } } };
    if (r < 0.85) return { '@merge': { direction: pick(['left', 'right']), objects: [{ '@path': pick(['$.properties', '$.traits']) }, { '@path': pick(['$.context', '$.traits']) }] } };
    if (r < 0.87) return { '@arrayPath': [pick(['$.properties.active', '$.properties.products', '$.context', '$.missing']), itemShape(depth)] };
    if (r < 0.89) return { '@liquid': pick(liquids) };
    if (r < 0.91) return { '@template': rnd() < 0.5 ? randomTemplate() : pick(templates) };
    if (r < 0.94) return { '@excludeWhenNull': pick([at(), { a: at(), b: null, c: { d: null, e: at() } }, value(depth + 1)]) };
    if (r < 0.97) return transformOf(depth);
    return Object.fromEntries(Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => [`k${i}`, value(depth + 1)]));
  };
  // @arrayPath item shapes, with the newer directives inside them now and then.
  const itemShape = (depth: number): Record<string, unknown> => {
    const shape: Record<string, unknown> = { v: { '@path': '$.' }, n: { '@path': '$.name' } };
    if (rnd() < 0.3) shape.l = { '@liquid': pick(['{{ name | upcase }}', '{{ price | default: 0 }}', '{% if name %}{{ name }}{% endif %}']) };
    if (rnd() < 0.2) shape.x = { '@excludeWhenNull': { '@path': '$.name' } };
    if (rnd() < 0.15) shape.t = transformOf(depth + 1);
    return shape;
  };
  // @transform: a new payload built from the event, and a mapping resolved against it.
  const transformOf = (depth: number): unknown => ({
    '@transform': {
      apply: rnd() < 0.8 ? { p: { '@path': pick(['$.traits', '$.properties', '$.name', '$.context']) }, q: depth > 2 ? { '@path': '$.type' } : value(depth + 1) } : { '@path': pick(['$.traits', '$.properties']) },
      mapping: rnd() < 0.8
        ? { r: { '@path': pick(['$.p', '$.p.email', '$.q', '$.email', '$.n1']) }, s: { '@liquid': pick(['{{ p.email }}-{{ q }}', '{{ q | size }}', '{{ name }}']) }, u: { '@excludeWhenNull': { '@path': '$.p' } } }
        : { '@merge': { direction: pick(['left', 'right']), objects: [{ '@path': '$.p' }, { '@excludeWhenNull': { '@path': '$.q' } }] } },
    },
  });
  // @excludeWhenNull inside @merge: its null-valued keys still override an earlier object's key.
  const mergeWithExclusion = (): unknown => ({
    '@merge': { direction: pick(['left', 'right']), objects: [{ '@path': pick(['$.properties', '$.traits', '$.properties.n1']) }, { '@excludeWhenNull': { '@path': pick(['$.traits', '$.properties.n1', '$.properties']) } }, { '@if': { exists: { '@path': '$.type' }, then: { '@excludeWhenNull': { a: null, e: 1 } } } }] },
  });
  let mappingRuns = 0;
  let bothFailed = 0;
  for (let i = 0; i < MAPPINGS; i++) {
    const mapping = { a: value(0), b: value(0), c: value(0), ...(rnd() < 0.1 ? { m: mergeWithExclusion() } : {}) };
    // Our compiler checks mappings against an action's fields: the random ones go in Track Event's free-form `data`.
    const sub = compileSubscriptions([{ name: 's', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: 'x', data: mapping } }])[0];
    for (let k = 0; k < 8; k++) {
      const event = pick(data);
      mappingRuns++;
      const ours = outcome(() => sub.mapping(event).data);
      const theirs = outcome(() => framework.transform(mapping, event));
      if (ours.startsWith('error ') && theirs.startsWith('error ')) bothFailed++;
      differ(`mapping ${JSON.stringify(mapping)}`, ours, theirs);
    }
  }

  // 3. Liquid templates Segment cannot render: the framework fails every event on them; we refuse them at load.
  const refused = [
    ...['case', 'for', 'include', 'layout', 'render', 'tablerow'].map((tag) => `{% ${tag} x %}{% end${tag} %}`),
    ...['concat', 'map', 'sort', 'uniq', 'reverse', 'where_exp', 'type', 'newline_to_br', 'group_by', 'find'].map((f) => `{{ properties.active | ${f}: "x" }}`),
    '{% assign s = properties.active | sort %}{{ s }}',
    'x'.repeat(1001),
    '{% if %}',
  ];
  let refusalRuns = 0;
  for (const template of refused) {
    const mapping = { l: { '@liquid': template } };
    const ours = outcome(() => compileSubscriptions([{ name: 's', action: 'trackEvent', trigger: 'type = "track"', mapping: { name: 'x', data: mapping } }]));
    for (const event of data.slice(0, 5)) {
      refusalRuns++;
      const theirs = outcome(() => framework.transform(mapping, event));
      if (!ours.startsWith('error') || !theirs.startsWith('error')) differences.push(`liquid ${JSON.stringify(template.slice(0, 60))}\n    ours:   ${ours.slice(0, 200)}\n    theirs: ${theirs.slice(0, 200)}`);
    }
  }

  // 4. Random payloads through each action's field validation.
  const values: unknown[] = [null, '', 'abc', '123', '12.5', ' 5 ', '0x10', '1e3', 'NaN', 'true', 'false', 0, 1, 2, 101, -1, 1.5, true, false, [], ['x'], [1], [null], [true], [{}], [[1]], [''], ['a', 'b'], {}, { a: 1 }, [{ a: 1 }], '2024-01-02T03:04:05Z', '2024-01-02', '2024-13-45', 'Jan 5 2024', '1700000000', '1700000000000', 1700000000, 'delivered', 'opened', 'viewed_content', 'person', 'object'];
  let payloadRuns = 0;
  for (const [key, action] of Object.entries(ACTIONS)) {
    const schema = framework.fieldsToJsonSchema(
      Object.fromEntries(Object.entries(action.fields).map(([name, f]) => [name, { label: f.label, type: f.type, required: f.required, choices: f.choices, minimum: f.minimum, maximum: f.maximum, description: name }])),
    );
    for (let i = 0; i < PAYLOADS; i++) {
      const payload: Record<string, unknown> = {};
      for (const name of Object.keys(action.fields)) if (rnd() < 0.6) payload[name] = pick(values);
      payloadRuns++;
      const ours = validatePayload(action.fields, structuredClone(payload));
      const theirs = outcome(() => {
        const p = framework.removeEmptyValues(structuredClone(payload), schema, true);
        framework.validateSchema(p, schema, { schemaKey: key });
        return sortedKeys(p);
      });
      differ(`${key} payload ${JSON.stringify(payload)}`, ours.ok ? `ok ${JSON.stringify(sortedKeys(ours.payload))}` : `error ${ours.error}`, theirs, 'exact');
    }
  }

  console.log(`@segment/actions-core ${VERSION}, seed ${SEED}: ${presetRuns} preset mappings, ${mappingRuns} random mapping evaluations (${bothFailed} failing on both sides), ${refusalRuns} refused Liquid templates, ${payloadRuns} payload validations`);
  if (differences.length === 0) {
    console.log('no difference');
    return;
  }
  console.log(`${differences.length} difference(s); the first ones:`);
  for (const d of differences.slice(0, 10)) console.log(`- ${d}`);
  process.exitCode = 1;
}

function sortedKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => a.localeCompare(b)));
}

main();
