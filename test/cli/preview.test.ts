// `cio-relay preview --event FILE`, the mapping tester: the item it prints for an event is the item the
// worker sends. Shown over every reference vector against the worker's own steps (the API's normalize,
// then transform), and for a sample against what the Customer.io stand-in receives through a real
// pipeline; and how it reports an event that makes no item, without sending anything or opening Redis.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ACTIONS, defaultMapping } from '../../src/core/actions';
import { compileSubscriptions, matchEvent, transform } from '../../src/core/subscriptions';
import { previewEvent, type EventPreview } from '../../src/cli/preview-event';
import { envelopeProblem, normalize } from '../../src/producer/prepare';
import type { SegmentEvent } from '../../src/core/types';
import { runCli, transcript } from '../support/cli';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { UNREACHABLE_REDIS_URL } from '../support/redis';
import { loadVectors, VECTOR_NOW } from '../support/vectors';

interface PresetCase {
  event: Record<string, any>;
}
interface Probe {
  name: string;
  action?: keyof typeof ACTIONS;
  mapping: Record<string, unknown> | null;
  event?: Record<string, any>;
  events?: Array<Record<string, any>>;
}

const NOW_ISO = new Date(VECTOR_NOW).toISOString();
const presetEvents = loadVectors<PresetCase[]>('preset-events.json').map((c) => c.event);

describe('cli: preview', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'cio-preview-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes `content` to a file of the test's folder and returns its path. */
  function file(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  async function preview(args: string[], vars: Record<string, string> = {}): Promise<EventPreview[]> {
    const result = await runCli(['preview', ...args, '--json'], vars);
    expect(result.code, transcript(result)).to.be.oneOf([0, 1]);
    return JSON.parse(result.stdout) as EventPreview[];
  }

  it('prints, for every preset vector and subscription, the item the worker builds (normalize, then transform), or why none', async () => {
    const path = file('presets.ndjson', presetEvents.map((e) => JSON.stringify(e)).join('\n'));
    const previews = await preview(['--event', path, '--now', NOW_ISO]);
    const presets = compileSubscriptions(undefined);
    expect(previews).to.have.length(presetEvents.length);
    let items = 0;
    presetEvents.forEach((raw, i) => {
      const p = previews[i];
      const problem = envelopeProblem(raw);
      if (problem) return expect(p.refused, `#${i}`).to.equal(`the event ${problem}`);
      // What the worker does with the event the API stored.
      const event = normalize(raw as SegmentEvent, VECTOR_NOW);
      const fired = new Set(matchEvent(presets, event).fired.map((s) => s.name));
      expect(p.subscriptions.map((s) => s.subscription), `#${i}`).to.deep.equal(presets.map((s) => s.name));
      for (const [j, sub] of presets.entries()) {
        const shown = p.subscriptions[j];
        if (!fired.has(sub.name)) {
          expect(shown.none, `#${i} ${sub.name}`).to.be.oneOf(['no_trigger_match', 'integrations']);
          continue;
        }
        const built = transform(sub, event, VECTOR_NOW);
        if (built.ok) {
          expect(shown.item, `#${i} ${sub.name}`).to.deep.equal(built.item);
          items++;
        } else expect(shown, `#${i} ${sub.name}`).to.deep.include({ none: 'invalid', reason: built.error });
      }
    });
    expect(items, 'items compared').to.be.greaterThan(300);
  });

  // The command's own path is shown above; here its one function over every probe, in process.
  it('gives the worker\'s item for every edge-probe vector, under the probe\'s own mapping', () => {
    const probes = loadVectors<Probe[]>('edge-probes.json');
    let compared = 0;
    for (const probe of probes) {
      if (!probe.action || !(probe.action in ACTIONS)) continue; // a probe of the settings, not of an item
      const events = probe.events ?? (probe.event ? [probe.event] : []);
      const mapping = probe.mapping ?? defaultMapping(ACTIONS[probe.action].fields);
      const spec = { name: 'Probe', action: probe.action, trigger: 'type = "track" or type = "identify" or type = "page" or type = "screen" or type = "group" or type = "alias"', mapping };
      let subs;
      try {
        subs = compileSubscriptions([spec]);
      } catch {
        continue; // a probe of a mapping the configuration refuses: nothing to preview
      }
      events.forEach((raw, i) => {
        if (envelopeProblem(raw) || !subs[0].trigger(raw)) return;
        const built = transform(subs[0], normalize(raw as SegmentEvent, VECTOR_NOW), VECTOR_NOW);
        const shown = previewEvent(raw, i, subs, VECTOR_NOW).subscriptions[0];
        if (built.ok) expect(shown.item, `${probe.name} #${i}`).to.deep.equal(built.item);
        else expect(shown, `${probe.name} #${i}`).to.deep.include({ none: 'invalid', reason: built.error });
        compared++;
      });
    }
    expect(compared, 'probe events compared').to.be.greaterThan(25);
  });

  describe('against a real pipeline', () => {
    let p: Pipeline;
    after(async () => p && (await p.close()));

    it('prints exactly the items the Customer.io stand-in receives for a sample of the vectors', async () => {
      // Events with their own messageId and timestamp, so the API's clock plays no part in their items.
      const sample = presetEvents.filter((e) => e.messageId && e.timestamp && !envelopeProblem(e)).filter((_, i) => i % 8 === 0);
      p = await startPipeline();
      await p.producer.publish(sample as SegmentEvent[]);
      await p.settled();
      const received = p.standIn.requests.flatMap((r) => (Array.isArray(r.body?.batch) ? r.body.batch : [r.body]));

      const previews = await preview(['--event', file('sample.json', JSON.stringify(sample))]);
      const shown = previews.flatMap((e) => e.subscriptions.filter((s) => s.item && !s.none).map((s) => s.item));
      const sorted = (items: unknown[]) => [...new Set(items.map((i) => JSON.stringify(i)))].sort();
      expect(shown.length, 'items previewed').to.be.greaterThan(20);
      expect(sorted(shown)).to.deep.equal(sorted(received));
    });
  });

  it('says why an event makes no item: no trigger matched, integrations off, invalid, refused by the API; exit 1 for the last two', async () => {
    const path = file('mixed.ndjson', [
      { type: 'track', event: 'Order Completed', userId: 'u1', messageId: 'm1', timestamp: '2024-03-15T12:00:00Z', properties: { total: 3 } },
      { type: 'identify', userId: 'u2', messageId: 'm2', integrations: { All: false } },
      { type: 'track', event: 'No One', messageId: 'm3' },
      { event: 'no type' },
    ].map((e) => JSON.stringify(e)).join('\n'));
    // An unreachable Redis: preview never opens it.
    const result = await runCli(['preview', '--event', path, '--now', NOW_ISO], { REDIS_URL: UNREACHABLE_REDIS_URL });
    expect(result.code, transcript(result)).to.equal(1);
    const out = result.stdout;
    expect(out).to.include('event 0 (messageId m1):\n  Track Event (trackEvent): {"type":"person","action":"event","name":"Order Completed","id":"m1","attributes":{"total":3},"timestamp":1710504000,"identifiers":{"id":"u1"}}\n');
    expect(out).to.match(/ {2}no trigger matched for 14 subscriptions: Create or Update Person, .*Report Content Event/);
    expect(out).to.include("event 1 (messageId m2):\n  no item: the event's integrations object turns Customer.io off\n");
    expect(out).to.include('event 2 (messageId m3):\n  Track Event (trackEvent): no item, invalid: The item has no person identifier');
    expect(out).to.include('event 3: refused by the API (400): the event is missing "type"');
    expect(out).to.include('4 events: 1 item would be sent; 1 refused by the API. Nothing was sent.');

    const one = await runCli(['preview', '--event', path, '--subscription', 'Create or Update Person']);
    expect(one.code, transcript(one)).to.equal(1);
    expect(one.stdout).to.include('event 0 (messageId m1):\n  Create or Update Person (createUpdatePerson): no item, no_trigger_match: its trigger does not match: type = "identify"\n');
    expect(one.stdout).not.to.include('Track Event');
  });

  it('exits 0 when every event makes its items, and 2 on an unknown subscription or an unreadable file', async () => {
    const ok = file('ok.json', JSON.stringify({ type: 'identify', userId: 'u9', traits: { email: 'u9@example.com' } }));
    const good = await runCli(['preview', '--event', ok, '--subscription', 'Create or Update Person']);
    expect(good.code, transcript(good)).to.equal(0);
    expect(good.stdout).to.match(/Create or Update Person \(createUpdatePerson\): \{"type":"person","action":"identify",.*"identifiers":\{"id":"u9"\}/);

    const typo = await runCli(['preview', '--event', ok, '--subscription', 'Track Evnt']);
    expect(typo.code).to.equal(2);
    expect(typo.stderr).to.include('no subscription named "Track Evnt"; the subscriptions are "Create or Update Person", "Track Event"');
    const missing = await runCli(['preview', '--event', join(dir, 'none.json')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include('none.json (ENOENT); nothing was previewed.');
    const garbled = await runCli(['preview', '--event', file('bad.ndjson', '{"type":"track"}\n{oops\n')]);
    expect(garbled.code).to.equal(2);
    expect(garbled.stderr).to.include('bad.ndjson line 2: not valid JSON');
  });
});
