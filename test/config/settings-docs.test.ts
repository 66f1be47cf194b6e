// The settings table (src/config/settings.ts) is the one source of the settings: the configuration reads every
// variable through it, and README.md's configuration table and .env.example are what it writes
// (`npm run docs:settings`), so none of the three can say something the others do not.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, type ServiceConfig } from '../../src/config';
import { SETTINGS, type Setting } from '../../src/config/settings';
import { envExample, readmeTable } from '../../tools/settings-docs';
import { listTs } from '../layout/import-graph';

const root = path.resolve(__dirname, '..', '..');
const entries = Object.entries(SETTINGS) as Array<[string, Setting]>;

function field(config: ServiceConfig, s: Setting): unknown {
  const group = s.group === 'service' ? config : (config[s.group] as unknown as Record<string, unknown>);
  return (group as unknown as Record<string, unknown>)[s.field!];
}

describe('settings table', () => {
  it('README.md’s configuration table is the one `npm run docs:settings` writes', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme, 'README.md is stale: run npm run docs:settings').to.include(readmeTable());
  });

  it('.env.example is the one `npm run docs:settings` writes', () => {
    expect(readFileSync(path.join(root, '.env.example'), 'utf8'), '.env.example is stale: run npm run docs:settings').to.equal(envExample());
  });

  it('gives every field its default when the environment leaves it out', () => {
    const config = loadConfig({});
    for (const [name, s] of entries.filter(([, e]) => e.field !== null)) {
      expect(field(config, s), name).to.deep.equal(s.default);
    }
  });

  it('reads every number and switch through its entry: a value it refuses is refused naming the variable', () => {
    const checked = entries.filter(([, s]) => typeof s.default === 'number' || typeof s.default === 'boolean' || s.field === 'metricsPort');
    expect(checked.length).to.be.greaterThan(25);
    for (const [variable] of checked) {
      let message = 'accepted';
      try {
        loadConfig({ [variable]: 'twelve' });
      } catch (err) {
        expect(err, variable).to.be.instanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message.startsWith(variable), `${variable}: ${message}`).to.equal(true);
    }
  });

  it('names every environment variable the service reads (src/), so none is undocumented', () => {
    const read = new Set<string>();
    for (const file of listTs(path.join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})\b/g)) read.add(m[1]);
    }
    expect(read.size).to.be.greaterThan(0);
    // The system's own variables are not settings of ours.
    const SYSTEM = new Set(['PATH']);
    expect([...read].filter((v) => !(v in SETTINGS) && !SYSTEM.has(v))).to.deep.equal([]);
  });
});
