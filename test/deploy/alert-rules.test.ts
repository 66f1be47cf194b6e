// The alert rules (deploy/prometheus/cio-relay.rules.yml) under `promtool test rules`: every alert fires on
// the synthetic series made for it and stays quiet on the others (deploy/prometheus/alert-cases.yml).
// The cases file leaves out the expected annotations; they are filled in here from the rules' own
// templates, so an annotation can be reworded without touching the cases.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { needs } from '../support/needs';

const root = resolve(__dirname, '..', '..');
const promDir = join(root, 'deploy', 'prometheus');
const RULES = 'cio-relay.rules.yml';
const CASES = 'alert-cases.yml';
const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface ExpectedAlert {
  exp_labels?: Record<string, string>;
  exp_annotations?: Record<string, string>;
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: ExpectedAlert[];
}
interface Cases {
  tests: Array<{ name: string; alert_rule_test?: AlertTest[] }>;
}

function alertRules(rulesText: string): AlertRule[] {
  const doc = parse(rulesText) as { groups: Array<{ rules: Array<Partial<AlertRule> & { record?: string }> }> };
  return doc.groups.flatMap((g) => g.rules).filter((r): r is AlertRule => typeof r.alert === 'string');
}

/** An annotation as Prometheus renders it for an alert with these labels; only {{ $labels.x }} is supported. */
function renderAnnotation(template: string, labels: Record<string, string>, where: string): string {
  const out = template.replace(/\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => {
    if (!(name in labels)) throw new Error(`${where}: the annotation uses $labels.${name}, which the expected alert has no label for`);
    return labels[name];
  });
  if (out.includes('{{')) throw new Error(`${where}: the annotation holds a template this test cannot render (only {{ $labels.x }}): ${template}`);
  return out;
}

/** The cases with every expected alert's annotations filled in from its rule. */
function completeCases(cases: Cases, rules: AlertRule[]): Cases {
  const byName = new Map(rules.map((r) => [r.alert, r]));
  for (const group of cases.tests) {
    for (const t of group.alert_rule_test ?? []) {
      const rule = byName.get(t.alertname);
      if (!rule) throw new Error(`case "${group.name}" expects alert ${t.alertname}, which no rule defines`);
      for (const exp of t.exp_alerts ?? []) {
        const labels = { ...(exp.exp_labels ?? {}), alertname: t.alertname };
        const filled: Record<string, string> = {};
        for (const [key, template] of Object.entries(rule.annotations ?? {})) {
          filled[key] = renderAnnotation(template, labels, `${t.alertname} (${group.name}, ${t.eval_time})`);
        }
        exp.exp_annotations = { ...filled, ...(exp.exp_annotations ?? {}) };
      }
    }
  }
  return cases;
}

/** Writes rules and completed cases into a fresh directory and runs promtool there. */
function runPromtool(rulesText: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cio-rules-'));
  try {
    writeFileSync(join(dir, RULES), rulesText);
    const cases = completeCases(parse(readFileSync(join(promDir, CASES), 'utf8')) as Cases, alertRules(rulesText));
    writeFileSync(join(dir, CASES), stringify(cases, { lineWidth: 0 }));
    const run = spawnSync('promtool', ['test', 'rules', CASES], { cwd: dir, encoding: 'utf8' });
    return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('alert rules (promtool test rules)', function () {
  this.timeout(60_000);
  const rulesText = readFileSync(join(promDir, RULES), 'utf8');
  const rules = alertRules(rulesText);
  const cases = parse(readFileSync(join(promDir, CASES), 'utf8')) as Cases;

  before(function () {
    // .ci/run installs Debian's prometheus package (it carries promtool).
    needs(this, hasPromtool ? undefined : 'promtool is not installed (apt-get install prometheus)');
  });

  it('every alert says what it means and what to do first', () => {
    expect(rules.length).to.be.greaterThan(10);
    for (const r of rules) {
      expect(r.labels?.severity, `${r.alert} severity`).to.be.oneOf(['critical', 'warning', 'info']);
      for (const key of ['summary', 'description', 'first_steps']) {
        expect(r.annotations?.[key], `${r.alert} annotation ${key}`).to.be.a('string').with.length.greaterThan(20);
      }
    }
  });

  it('has, for every alert, a case where it fires and one where it stays quiet', () => {
    const tests = cases.tests.flatMap((g) => g.alert_rule_test ?? []);
    for (const r of rules) {
      const mine = tests.filter((t) => t.alertname === r.alert);
      expect(mine.some((t) => (t.exp_alerts ?? []).length > 0), `${r.alert} has no firing case`).to.equal(true);
      expect(mine.some((t) => (t.exp_alerts ?? []).length === 0), `${r.alert} has no quiet case`).to.equal(true);
    }
  });

  it('passes promtool check rules and promtool test rules', () => {
    const check = spawnSync('promtool', ['check', 'rules', join(promDir, RULES)], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).to.equal(0);
    const run = runPromtool(rulesText);
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.include('SUCCESS');
  });

  it('fails when an alert stops firing where it should (the cases can fail)', () => {
    // CioRelayCredentialsRefused made blind: its firing cases must now fail.
    const broken = rulesText.replace(
      'expr: cio_relay:items_retried:increase10m{reason="auth"} > 0',
      'expr: cio_relay:items_retried:increase10m{reason="auth"} > 1e9',
    );
    expect(broken).to.not.equal(rulesText);
    const run = runPromtool(broken);
    expect(run.status).to.not.equal(0);
    expect(run.output).to.include('CioRelayCredentialsRefused');
  });
});
