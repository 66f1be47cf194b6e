// `npm run bench:actions`: the cost of the pure transformation (trigger + mapping + item building) for the
// preset subscriptions over vectors/preset-events.json, next to the cost of one
// JSON.parse(JSON.stringify(event)) of the same events, measured in the same process, in alternating
// rounds. Goal (issue 2): ratio >= 1.0, i.e. the whole transformation costs no more than one JSON round
// trip of the event.
//
//   node dist-bench/bench/actions.js [--rounds 15] [--round-ms 400] [--warmup-ms 3000] [--only transform|json]
//
// `--only` runs one side alone for a clean CPU profile:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist-bench/bench/actions.js --only transform

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compileSubscriptions, matchEvent, transform, type Subscription } from '../src/core/subscriptions';
import { describeMachine, fmtInt, fmtRatio, median, table, vectorsDir } from './shared';

/** The frozen clock of the vectors: 2024-03-15T12:34:56.789Z. */
const NOW = Date.parse('2024-03-15T12:34:56.789Z');

type Workload = (events: readonly unknown[], presets: readonly Subscription[]) => number;

/** Trigger + mapping + item building: what the producer and the worker do with an event, minus I/O. */
const transformAll: Workload = (events, presets) => {
  let sink = 0;
  for (const event of events) {
    const { fired } = matchEvent(presets, event);
    for (const subscription of fired) {
      const built = transform(subscription, event, NOW);
      sink += built.ok ? 1 : 2;
    }
  }
  return sink;
};

/** The yardstick: one JSON round trip of each event. */
const jsonRoundTrip: Workload = (events) => {
  let sink = 0;
  for (const event of events) {
    const copy = JSON.parse(JSON.stringify(event)) as { type?: string };
    sink += copy.type ? 1 : 2;
  }
  return sink;
};

interface Side {
  name: string;
  run: Workload;
  /** Passes over the events per round, calibrated during warm-up. */
  passes: number;
  /** Events per second of wall time, one per round. */
  rates: number[];
  /** Events per second of this process's CPU time, one per round: steadier when other processes compete for the cores. */
  cpuRates: number[];
}

let blackhole = 0; // results go somewhere, so no work can be dropped as dead

/** Wall and CPU milliseconds for `passes` passes. */
function timePasses(side: Side, events: readonly unknown[], presets: readonly Subscription[], passes: number): { wallMs: number; cpuMs: number } {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let p = 0; p < passes; p++) blackhole += side.run(events, presets);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** Runs the side for about `ms`, and sets its passes per round so a round lasts about `roundMs`. */
function warmUp(side: Side, events: readonly unknown[], presets: readonly Subscription[], ms: number, roundMs: number): void {
  let passes = 1;
  let spent = 0;
  let lastRate = 0;
  while (spent < ms) {
    const took = timePasses(side, events, presets, passes).wallMs;
    spent += took;
    lastRate = passes / Math.max(took, 0.001);
    passes = Math.max(1, Math.min(passes * 2, Math.round(lastRate * 100)));
  }
  side.passes = Math.max(1, Math.round(lastRate * roundMs));
}

function measure(sides: Side[], events: readonly unknown[], presets: readonly Subscription[], rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    // Alternate the order, so neither side always runs right after the other's garbage.
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const { wallMs, cpuMs } = timePasses(side, events, presets, side.passes);
      side.rates.push((side.passes * events.length) / (wallMs / 1000));
      side.cpuRates.push((side.passes * events.length) / (Math.max(cpuMs, 0.001) / 1000));
    }
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '15' },
      'round-ms': { type: 'string', default: '400' },
      'warmup-ms': { type: 'string', default: '3000' },
      only: { type: 'string' },
      'no-breakdown': { type: 'boolean', default: false },
    },
  });
  const rounds = positive(values.rounds!, '--rounds');
  const roundMs = positive(values['round-ms']!, '--round-ms');
  const warmupMs = positive(values['warmup-ms']!, '--warmup-ms');
  if (values.only && values.only !== 'transform' && values.only !== 'json') throw new Error('--only must be transform or json');

  const file = path.join(vectorsDir(), 'preset-events.json');
  if (!existsSync(file)) throw new Error(`${file} not found: the reference vectors belong in vectors/ at the repository's root`);
  const cases = JSON.parse(readFileSync(file, 'utf8')) as Array<{ event: Record<string, unknown> }>;
  const events = cases.map((c) => c.event);
  const presets = compileSubscriptions(undefined);

  // What one pass does, so the reader knows the work was real.
  let items = 0;
  let refused = 0;
  for (const event of events) {
    for (const s of matchEvent(presets, event).fired) {
      if (transform(s, event, NOW).ok) items++;
      else refused++;
    }
  }
  const bytes = events.reduce<number>((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);

  console.log(`bench:actions  ${new Date().toISOString()}`);
  console.log(`machine        ${describeMachine()}`);
  console.log(`events         ${events.length} from ${file} (mean ${Math.round(bytes / events.length)} bytes of JSON)`);
  console.log(`per pass       ${items} items built, ${refused} refused by the mapping rules, over ${presets.length} presets`);
  console.log(`method         ${warmupMs} ms warm-up per side, then ${rounds} alternating rounds of ~${roundMs} ms; medians`);
  console.log(`load average   ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the start\n`);

  const sides: Side[] = [
    { name: 'trigger + mapping + item', run: transformAll, passes: 1, rates: [], cpuRates: [] },
    { name: 'JSON.parse(JSON.stringify(event))', run: jsonRoundTrip, passes: 1, rates: [], cpuRates: [] },
  ].filter((s) => !values.only || (values.only === 'transform') === (s.run === transformAll));
  for (const side of sides) warmUp(side, events, presets, warmupMs, roundMs);
  measure(sides, events, presets, rounds);

  const rows = [['', 'events/s (median)', 'min', 'max', 'per CPU-second']];
  for (const s of sides) {
    rows.push([s.name, fmtInt(median(s.rates)), fmtInt(Math.min(...s.rates)), fmtInt(Math.max(...s.rates)), fmtInt(median(s.cpuRates))]);
  }
  console.log(table(rows));
  if (sides.length === 2) {
    const ratio = median(sides[0].rates) / median(sides[1].rates);
    const cpuRatio = median(sides[0].cpuRates) / median(sides[1].cpuRates);
    const perRound = sides[0].rates.map((rate, i) => rate / sides[1].rates[i]);
    console.log(
      `\nratio (transform / JSON round trip): ${fmtRatio(ratio)}  (per-round ${fmtRatio(Math.min(...perRound))}..${fmtRatio(Math.max(...perRound))}; ` +
        `by CPU time ${fmtRatio(cpuRatio)})  goal >= 1.00: ${ratio >= 1 ? 'met' : 'NOT met'}`,
    );
    console.log(`load average   ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end (1/5/15 min; this benchmark adds about 1, more means other processes shared the cores)`);
    if (!values['no-breakdown']) breakdown(events, presets, roundMs);
    if (!values['no-breakdown']) liquidHeavy(events, presets, roundMs);
  }
  if (blackhole === 0) console.log(''); // keeps the sink alive
}

/** The same comparison per preset, on the events that fire it: where the ratio is won or lost. */
function breakdown(events: readonly Record<string, unknown>[], presets: readonly Subscription[], roundMs: number): void {
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const event of events) {
    const name = matchEvent(presets, event).fired.map((s) => s.name).join(' + ') || '(none)';
    const list = groups.get(name) ?? [];
    list.push(event);
    groups.set(name, list);
  }
  const rows = [['events that fire', 'n', 'transform ev/s', 'JSON ev/s', 'ratio']];
  const sorted = [...groups].sort((a, b) => b[1].length - a[1].length);
  for (const [name, list] of sorted) {
    const sides: Side[] = [
      { name: 't', run: transformAll, passes: 1, rates: [], cpuRates: [] },
      { name: 'j', run: jsonRoundTrip, passes: 1, rates: [], cpuRates: [] },
    ];
    for (const side of sides) warmUp(side, list, presets, 300, roundMs / 4);
    measure(sides, list, presets, 5);
    const [t, j] = sides.map((s) => median(s.rates));
    rows.push([name, String(list.length), fmtInt(t), fmtInt(j), fmtRatio(t / j)]);
  }
  console.log('\nper preset (5 rounds each, shorter; for locating cost, not for the headline):');
  console.log(table(rows));
}

/** A Track Event subscription whose name and three data fields are Liquid templates, beside the preset, on the track events. */
function liquidHeavy(events: readonly Record<string, unknown>[], presets: readonly Subscription[], roundMs: number): void {
  const preset = presets.find((s) => s.action === 'trackEvent')!;
  const [liquid] = compileSubscriptions([
    {
      name: 'Track Event, Liquid',
      action: 'trackEvent',
      trigger: preset.spec.trigger,
      mapping: {
        ...preset.spec.mapping,
        name: { '@liquid': '{{ event | downcase | replace: " ", "_" }}' },
        data: {
          who: { '@liquid': '{{ userId | default: anonymousId | prepend: "u-" }}' },
          label: { '@liquid': '{% if properties.n1 %}n1={{ properties.n1 | plus: 1 }}{% else %}none{% endif %}' },
          day: { '@liquid': '{{ timestamp | date: "%Y-%m-%d" }}' },
          properties: { '@path': '$.properties' },
        },
      },
    },
  ]);
  const tracks = events.filter((e) => e.type === 'track');
  const sides: Side[] = [
    { name: 'preset', run: (list) => transformAll(list, [preset]), passes: 1, rates: [], cpuRates: [] },
    { name: 'liquid', run: (list) => transformAll(list, [liquid]), passes: 1, rates: [], cpuRates: [] },
    { name: 'json', run: jsonRoundTrip, passes: 1, rates: [], cpuRates: [] },
  ];
  for (const side of sides) warmUp(side, tracks, presets, 500, roundMs / 2);
  measure(sides, tracks, presets, 7);
  const [p, l, j] = sides.map((side) => median(side.rates));
  console.log(`\nLiquid-heavy Track Event (name + 3 data fields in @liquid), on the ${tracks.length} track events (7 rounds):`);
  console.log(table([
    ['', 'events/s', 'µs/event', 'ratio to JSON round trip'],
    ['Track Event preset', fmtInt(p), (1e6 / p).toFixed(1), fmtRatio(p / j)],
    ['Track Event, 4 fields in @liquid', fmtInt(l), (1e6 / l).toFixed(1), fmtRatio(l / j)],
  ]));
}

function positive(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

main();
