// Every switch over outcomes ends in `unhandled(x)` (core/outcomes.ts), whose parameter is `never`: a switch
// that misses a kind does not compile. This test compiles two small files against the real core/outcomes.ts
// with the project's compiler: one switch that handles every kind (compiles), and the same switch without
// the `held` kind (must not compile, naming the kind left over). A new kind of outcome therefore breaks
// the build at each switch that does not handle it, settle.ts's included.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';

const ROOT = resolve(__dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

const source = (cases: string[]) => `
import { unhandled, type Outcome } from ${JSON.stringify(join(ROOT, 'src', 'core', 'outcomes'))};
export function label(o: Outcome): string {
  switch (o.kind) {
${cases.map((c) => `    case '${c}': return '${c}';`).join('\n')}
    default: return unhandled(o);
  }
}
`;

function compile(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cio-exhaustive-'));
  try {
    const file = join(dir, 'switch.ts');
    writeFileSync(file, text);
    const run = spawnSync(TSC, ['--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2024', '--module', 'nodenext', '--moduleResolution', 'nodenext', file], { encoding: 'utf8', cwd: ROOT });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('switches over outcomes are exhaustive (checked by the compiler)', function () {
  this.timeout(60_000);

  it('a switch that handles every kind of outcome compiles', () => {
    const run = compile(source(['delivered', 'failed', 'retry', 'wait', 'held']));
    expect(run.output).to.equal('');
    expect(run.status).to.equal(0);
  });

  it('the same switch without one kind does not compile, and the error names the kind left over', () => {
    const run = compile(source(['delivered', 'failed', 'retry', 'wait']));
    expect(run.status).to.not.equal(0);
    expect(run.output).to.match(/"held"/);
    expect(run.output).to.match(/never/);
  });
});
