// README.md's configuration table and .env.example, written from the settings table (src/config/settings.ts)
// so neither can drift from what the service reads. `npm run docs:settings` rewrites both
// (tools/docs-settings.ts); test/config/settings-docs.test.ts fails when either is not current.

import { GROUPS, SETTINGS, type Group, type Setting } from '../src/config/settings';

const ENTRIES = Object.entries(SETTINGS) as Array<[string, Setting]>;

const GROUP_TITLES: Record<Group, string> = {
  customerio: 'Customer.io',
  redis: 'Redis and queues',
  http: 'The HTTP API',
  jobs: 'Jobs: retries, retention, group commit',
  worker: 'Delivery: the workers',
  service: 'The service: subscriptions, shutdown, logs',
};

export const README_BEGIN = '<!-- settings table: written by `npm run docs:settings` from src/config/settings.ts -->';
export const README_END = '<!-- end of the settings table -->';

/** A default as it is written in the environment ('' when there is none). */
function envText(value: unknown): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(',') : String(value);
}

function defaultDoc(setting: Setting): string {
  if (setting.defaultDoc !== undefined) return setting.defaultDoc;
  const text = envText(setting.default);
  return text === '' ? '—' : `\`${text}\``;
}

/** The table between README_BEGIN and README_END, markers included. */
export function readmeTable(): string {
  const rows = GROUPS.flatMap((group) => ENTRIES.filter(([, s]) => s.group === group))
    .map(([name, s]) => `| \`${name}\` | ${defaultDoc(s)} | ${s.doc} |`);
  return [README_BEGIN, '| variable | default | meaning |', '|---|---|---|', ...rows, README_END].join('\n');
}

/** README.md with its settings table replaced by the current one. */
export function withReadmeTable(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the markers ${README_BEGIN} … ${README_END} are missing`);
  return readme.slice(0, begin) + readmeTable() + readme.slice(end + README_END.length);
}

function section(title: string): string {
  const head = `# --- ${title} `;
  return head + '-'.repeat(Math.max(3, 100 - head.length));
}

function lines(name: string, s: Setting, set: boolean): string[] {
  const note = s.note ? [`# ${s.note}`] : [];
  return [...note, set ? `${name}=${s.example}` : `# ${name}=${envText(s.default)}`];
}

/** The whole of .env.example. */
export function envExample(): string {
  const out = [
    '# cio-relay settings. For docker compose: `cp .env.example .env`, then edit .env (compose needs the file:',
    '# every setting in it reaches the API and the workers). Outside Docker, export them in your shell instead.',
    "# The commented values are the defaults; README.md's configuration table says what each one does.",
    '# Written by `npm run docs:settings` from src/config/settings.ts: edit that table, not this file.',
    '',
    section('Required by docker compose'),
    ...ENTRIES.filter(([, s]) => s.example !== undefined).flatMap(([name, s]) => lines(name, s, true)),
  ];
  for (const group of GROUPS) {
    const rest = ENTRIES.filter(([, s]) => s.group === group && s.example === undefined);
    if (rest.length === 0) continue;
    out.push('', section(GROUP_TITLES[group]), ...rest.flatMap(([name, s]) => lines(name, s, false)));
  }
  return `${out.join('\n')}\n`;
}
