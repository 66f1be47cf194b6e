// Which metric names the alert rules and the Grafana dashboard use, read from their PromQL, so a test
// can hold them against what the service really exports.
import { parse } from 'yaml';

/** Metrics that redis_exporter exports (its standard names); the service itself has no view of Redis's memory. */
export const REDIS_EXPORTER_METRICS: readonly string[] = ['redis_up', 'redis_memory_used_bytes', 'redis_memory_max_bytes'];

const NOT_NAMES = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names an expression selects. Label matchers, ranges, strings and grouping clauses are taken
 * out first, so what is left that is neither a function, an aggregation nor a keyword is a metric name.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const rest = stripped.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    if (NOT_NAMES.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

export interface UsedNames {
  /** metric name → where it is used */
  used: Map<string, string[]>;
  /** names the rules record themselves (record: …) */
  recorded: Set<string>;
}

function note(into: Map<string, string[]>, names: string[], where: string): void {
  for (const n of names) into.set(n, [...(into.get(n) ?? []), where]);
}

export function namesInRules(rulesText: string): UsedNames {
  const doc = parse(rulesText) as { groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }> };
  const used = new Map<string, string[]>();
  const recorded = new Set<string>();
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      if (rule.record) recorded.add(rule.record);
      note(used, metricNamesIn(String(rule.expr)), `rule ${rule.alert ?? rule.record}`);
    }
  }
  return { used, recorded };
}

export function namesInDashboard(dashboardText: string): Map<string, string[]> {
  const dash = JSON.parse(dashboardText) as { panels?: any[]; templating?: { list?: any[] } };
  const used = new Map<string, string[]>();
  const panels = (dash.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      if (target.expr) note(used, metricNamesIn(target.expr), `panel "${panel.title}"`);
    }
  }
  for (const variable of dash.templating?.list ?? []) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (variable.type !== 'query' || typeof query !== 'string') continue;
    // label_values(<selector>, <label>): the selector's metric; the label is not a metric
    const m = /^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_]\w*\s*\)\s*$/.exec(query);
    note(used, metricNamesIn(m ? m[1] : query), `variable $${variable.name}`);
  }
  return used;
}

/** Metric names in a Prometheus text exposition, with the _bucket/_sum/_count series of histograms and summaries. */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^# TYPE (\S+) (\w+)/.exec(line);
    if (!m) continue;
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** The names used that are neither exported, recorded by the rules, nor on the redis_exporter allow-list. */
export function unknownNames(used: Map<string, string[]>, exported: Set<string>, recorded: Set<string> = new Set()): string[] {
  return [...used.entries()]
    .filter(([name]) => !exported.has(name) && !recorded.has(name) && !REDIS_EXPORTER_METRICS.includes(name))
    .map(([name, where]) => `${name} (used by ${[...new Set(where)].join(', ')})`);
}
