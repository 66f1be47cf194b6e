// The Kubernetes manifests, rendered offline by `kubectl kustomize` (no cluster needed) and held to their
// invariants (k8s-invariants.ts): probes, a grace period longer than a graceful stop, credentials only by
// reference, resource requests, and KEDA's triggers on the very lists BullMQ keeps the waiting jobs in.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { ACTION_KEYS } from '../../src/core/types';
import type { JobData } from '../../src/jobs/queues';
import { openTestQueues } from '../support/redis';
import { manifestProblems, waitListKey, type Doc } from './k8s-invariants';

const root = resolve(__dirname, '..', '..');
const k8sDir = join(root, 'deploy', 'k8s');
// deploy/k8s uses kustomize v5 (components, replacements): kubectl 1.27 or later.
const kubectlVersion = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const kustomizeMajor = Number(/Kustomize Version: v(\d+)/.exec(kubectlVersion.stdout ?? '')?.[1] ?? 0);
const hasKubectl = kubectlVersion.status === 0 && kustomizeMajor >= 5;

function render(dir: string): Doc[] {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((d) => d.toJS() as Doc).filter(Boolean);
}

const clone = (docs: Doc[]): Doc[] => structuredClone(docs);
const deployment = (docs: Doc[], name: string) => docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name)!;
const container = (docs: Doc[], name: string) => deployment(docs, name).spec.template.spec.containers[0];

describe('Kubernetes manifests (deploy/k8s)', function () {
  this.timeout(30_000);
  let keda: Doc[];
  let cpu: Doc[];

  before(function () {
    if (!hasKubectl) {
      // .ci/run installs kubectl when it is missing or too old; elsewhere say why nothing was checked.
      const why = kubectlVersion.status === 0 ? `kubectl's kustomize is v${kustomizeMajor}, older than v5` : 'kubectl is not installed';
      if (process.env.CI) throw new Error(`${why} (.ci/run should have installed kubectl 1.32)`);
      this.skip();
    }
    keda = render(k8sDir);
    cpu = render(join(k8sDir, 'cpu-hpa'));
  });

  it('renders the API, the workers, their PodDisruptionBudgets and KEDA scaling, and holds every invariant', () => {
    const kinds = keda.map((d) => `${d.kind}/${d.metadata.name}`);
    expect(kinds).to.include.members([
      'Deployment/cio-relay-api',
      'Service/cio-relay-api',
      'Deployment/cio-relay-worker',
      'PodDisruptionBudget/cio-relay-worker',
      'ScaledObject/cio-relay-worker',
      'TriggerAuthentication/cio-relay-redis',
    ]);
    expect(manifestProblems(keda, 'keda')).to.deep.equal([]);
  });

  it('the cpu-hpa variant scales the workers on CPU instead, and holds every invariant', () => {
    expect(manifestProblems(cpu, 'cpu-hpa')).to.deep.equal([]);
  });

  it('has one trigger per action queue, on the wait lists of the configured prefix', () => {
    const triggers = keda.find((d) => d.kind === 'ScaledObject')!.spec.triggers.filter((t: Doc) => t.type === 'redis');
    expect(triggers).to.have.length(ACTION_KEYS.length);
    expect(triggers.map((t: Doc) => t.metadata.listName)).to.include('cio:{trackEvent}:trackEvent:wait');
  });

  it('moves every trigger with QUEUE_PREFIX when it is changed in the ConfigMap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cio-k8s-'));
    try {
      cpSync(k8sDir, dir, { recursive: true });
      const envFile = join(dir, 'base', 'config.env');
      writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(/^QUEUE_PREFIX=.*$/m, 'QUEUE_PREFIX=acme-prod'));
      const docs = render(dir);
      expect(manifestProblems(docs, 'keda')).to.deep.equal([]);
      const lists = docs.find((d) => d.kind === 'ScaledObject')!.spec.triggers.filter((t: Doc) => t.type === 'redis').map((t: Doc) => t.metadata.listName);
      expect(lists).to.have.members(ACTION_KEYS.map((a) => `acme-prod:{${a}}:${a}:wait`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("follows QUEUE_PREFIX set in the README's overlay: every trigger watches the overlay's prefix", () => {
    // The overlay exactly as the README shows it, beside a copy of deploy/k8s, with another prefix in its
    // configMapGenerator (the generator of the last layer runs after the keda component's own replacement).
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /```yaml\n(\s*# my-overlay\/kustomization\.yaml\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(block, "the README's overlay").to.be.a('string');
    const overlay = block!.replace(/^ {3}/gm, '').replace(/literals: \[([^\]]*)\]/, (_m, l: string) => `literals: [${l.replace(/,? *QUEUE_PREFIX=[^,\]]*/, '')}, QUEUE_PREFIX=acme]`);
    expect(overlay).to.contain('QUEUE_PREFIX=acme');
    const dir = mkdtempSync(join(tmpdir(), 'cio-k8s-overlay-'));
    try {
      cpSync(k8sDir, join(dir, 'deploy', 'k8s'), { recursive: true });
      mkdirSync(join(dir, 'my-overlay'));
      writeFileSync(join(dir, 'my-overlay', 'kustomization.yaml'), overlay);
      const docs = render(join(dir, 'my-overlay'));
      expect(docs.find((d) => d.kind === 'ConfigMap' && d.data?.QUEUE_PREFIX)!.data.QUEUE_PREFIX).to.equal('acme');
      const triggers = docs.find((d) => d.kind === 'ScaledObject')!.spec.triggers.filter((t: Doc) => t.type === 'redis');
      expect(triggers.map((t: Doc) => t.metadata.listName)).to.have.members(ACTION_KEYS.map((a) => `acme:{${a}}:${a}:wait`));
      expect(manifestProblems(docs, 'keda')).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the wait-list key is where BullMQ really keeps a queue’s waiting jobs (a Redis list)', async () => {
    const t = await openTestQueues();
    try {
      await t.queues.trackEvent.add('job', { probe: true } as unknown as JobData);
      const key = waitListKey(t.prefix, 'trackEvent');
      expect(await t.redis.type(key)).to.equal('list');
      expect(await t.redis.llen(key)).to.equal(1);
    } finally {
      await t.close();
    }
  });

  it('reports each broken invariant (the checks can fail)', () => {
    const cases: Array<[string, (docs: Doc[]) => void, RegExp]> = [
      ['grace too short', (d) => (deployment(d, 'cio-relay-worker').spec.template.spec.terminationGracePeriodSeconds = 30), /worker\/worker: terminationGracePeriodSeconds 30/],
      ['grace eaten by the preStop pause', (d) => (deployment(d, 'cio-relay-api').spec.template.spec.terminationGracePeriodSeconds = 33), /api\/api: terminationGracePeriodSeconds 33/],
      ['no readiness probe', (d) => delete container(d, 'cio-relay-api').readinessProbe, /api\/api: readinessProbe is not GET \/health/],
      ['probe on the wrong port', (d) => (container(d, 'cio-relay-worker').readinessProbe.httpGet.port = 3000), /readinessProbe port 3000/],
      ['an inlined API key', (d) => container(d, 'cio-relay-worker').env.push({ name: 'CUSTOMERIO_API_KEY', value: 'k' }), /CUSTOMERIO_API_KEY is not taken from a Secret/],
      ['a rendered Secret', (d) => d.push({ kind: 'Secret', metadata: { name: 'cio-relay-secrets' }, stringData: { CUSTOMERIO_API_KEY: 'k' } }), /Secret cio-relay-secrets is rendered/],
      ['no memory request', (d) => delete container(d, 'cio-relay-worker').resources.requests.memory, /no memory request/],
      ['a queue without trigger', (d) => d.find((x) => x.kind === 'ScaledObject')!.spec.triggers.splice(1, 1), /no trigger on cio:\{trackEvent\}:trackEvent:wait/],
      ['a list name without the hash tag', (d) => (d.find((x) => x.kind === 'ScaledObject')!.spec.triggers[0].metadata.listName = 'cio:createUpdatePerson:wait'), /lists no queue uses: cio:createUpdatePerson:wait/],
      ['a prefix the workers do not use', (d) => (d.find((x) => x.kind === 'ConfigMap' && x.data?.QUEUE_PREFIX)!.data.QUEUE_PREFIX = 'other'), /no trigger on .*other:\{trackEvent\}:trackEvent:wait/],
    ];
    for (const [what, mutate, expected] of cases) {
      const docs = clone(keda);
      mutate(docs);
      expect(manifestProblems(docs, 'keda').join('\n'), what).to.match(expected);
    }
  });
});
