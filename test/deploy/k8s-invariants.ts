// The invariants of the Kubernetes manifests (deploy/k8s), checked on what `kubectl kustomize` renders:
// a list of problems, each naming the object and what is wrong, empty when all hold.
import { ACTION_KEYS } from '../../src/core/types';

export type Doc = Record<string, any>;

/** Names that carry credentials: they must come from the Secret, never as literal values. */
export const SECRET_KEYS = ['CUSTOMERIO_SITE_ID', 'CUSTOMERIO_API_KEY', 'WRITE_KEYS', 'DASHBOARD_PASSWORD', 'REDIS_URL', 'REDIS_PASSWORD'];
export const SECRET_NAME = 'cio-relay-secrets';
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** The BullMQ wait list of an action's queue (queuePrefix() in src/queues.ts, then BullMQ's "<prefix>:<queue>:wait"). */
export function waitListKey(queuePrefix: string, action: string): string {
  return `${queuePrefix}:{${action}}:${action}:wait`;
}

const find = (docs: Doc[], kind: string, name?: string) => docs.filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));

/** The environment a container sees from literal env and the ConfigMaps it takes whole (envFrom). */
function containerEnv(docs: Doc[], container: Doc): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = from.configMapRef && find(docs, 'ConfigMap', from.configMapRef.name)[0];
    if (cm) Object.assign(env, cm.data ?? {});
  }
  for (const e of container.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  return env;
}

function preStopSleepSeconds(container: Doc): number {
  const cmd: unknown = container.lifecycle?.preStop?.exec?.command;
  if (Array.isArray(cmd) && cmd[0] === 'sleep') return Number(cmd[1]) || 0;
  return Number(container.lifecycle?.preStop?.sleep?.seconds ?? 0);
}

function checkDeployment(docs: Doc[], name: string, problems: string[]): void {
  const dep = find(docs, 'Deployment', name)[0];
  if (!dep) {
    problems.push(`no Deployment ${name}`);
    return;
  }
  const pod = dep.spec?.template?.spec ?? {};
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  for (const c of pod.containers ?? []) {
    const where = `${name}/${c.name}`;
    const env = containerEnv(docs, c);
    // probes on /health, on the port the process listens on
    const listens = Number(name.endsWith('worker') ? (env.METRICS_PORT ?? env.PORT) : env.PORT);
    const ports = new Map<string | number, number>((c.ports ?? []).flatMap((p: Doc) => [[p.name, p.containerPort], [p.containerPort, p.containerPort]]));
    if (!listens) problems.push(`${where}: sets no ${name.endsWith('worker') ? 'METRICS_PORT or PORT' : 'PORT'}`);
    const ready = c.readinessProbe?.httpGet;
    if (ready?.path !== '/health') problems.push(`${where}: readinessProbe is not GET /health`);
    else if (ports.get(ready.port) !== listens) problems.push(`${where}: readinessProbe port ${ready.port} is not the port the process listens on (${listens})`);
    if (!c.livenessProbe) problems.push(`${where}: no livenessProbe`);
    // a graceful stop is never cut short
    const shutdownMs = Number(env.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    const neededMs = shutdownMs + preStopSleepSeconds(c) * 1000;
    if (grace * 1000 <= neededMs) problems.push(`${where}: terminationGracePeriodSeconds ${grace} is not above SHUTDOWN_TIMEOUT_MS ${shutdownMs} ms + preStop ${preStopSleepSeconds(c)} s`);
    // resource requests
    for (const r of ['cpu', 'memory']) if (!c.resources?.requests?.[r]) problems.push(`${where}: no ${r} request`);
    // credentials referenced, never inlined
    for (const e of c.env ?? []) {
      if (SECRET_KEYS.includes(e.name) && !e.valueFrom?.secretKeyRef) problems.push(`${where}: ${e.name} is not taken from a Secret`);
    }
    if (!(c.envFrom ?? []).some((f: Doc) => f.secretRef?.name === SECRET_NAME)) problems.push(`${where}: does not take its credentials from Secret ${SECRET_NAME}`);
    // CIO_CONFIG is a file mounted from a ConfigMap
    const mounted = (c.volumeMounts ?? []).some((m: Doc) => env.CIO_CONFIG?.startsWith(`${m.mountPath}/`) && pod.volumes?.some((v: Doc) => v.name === m.name && v.configMap));
    if (!mounted) problems.push(`${where}: CIO_CONFIG (${env.CIO_CONFIG}) is not a file mounted from a ConfigMap`);
    if (!c.image || !/:[\w.-]+$|@sha256:/.test(c.image)) problems.push(`${where}: image ${c.image} has no tag`);
  }
}

function checkNoInlinedSecrets(docs: Doc[], problems: string[]): void {
  for (const s of find(docs, 'Secret')) problems.push(`Secret ${s.metadata?.name} is rendered with its values; create it outside the manifests`);
  for (const cm of find(docs, 'ConfigMap')) {
    for (const [key, value] of Object.entries<string>(cm.data ?? {})) {
      if (SECRET_KEYS.includes(key)) problems.push(`ConfigMap ${cm.metadata.name} holds ${key}`);
      if (key.endsWith('.json')) {
        const settings = JSON.parse(value).settings ?? {};
        for (const k of ['siteId', 'apiKey']) if (settings[k]) problems.push(`ConfigMap ${cm.metadata.name} ${key} holds settings.${k}`);
      }
    }
  }
}

function checkPdb(docs: Doc[], problems: string[]): void {
  const worker = find(docs, 'Deployment', 'cio-relay-worker')[0];
  const labels = worker?.spec?.template?.metadata?.labels ?? {};
  const pdb = find(docs, 'PodDisruptionBudget').find((p) =>
    Object.entries<string>(p.spec?.selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && Object.keys(p.spec?.selector?.matchLabels ?? {}).length > 0,
  );
  if (!pdb) problems.push('no PodDisruptionBudget selects the worker pods');
}

/** KEDA: one redis trigger per action queue, on that queue's wait list under the configured prefix. */
function checkScaledObject(docs: Doc[], problems: string[]): void {
  const so = find(docs, 'ScaledObject')[0];
  if (!so) {
    problems.push('no ScaledObject');
    return;
  }
  if (so.spec?.scaleTargetRef?.name !== 'cio-relay-worker') problems.push(`ScaledObject scales ${so.spec?.scaleTargetRef?.name}, not cio-relay-worker`);
  const worker = find(docs, 'Deployment', 'cio-relay-worker')[0];
  const env = worker ? containerEnv(docs, worker.spec.template.spec.containers[0]) : {};
  const prefix = env.QUEUE_PREFIX ?? 'cio';
  const redis = (so.spec?.triggers ?? []).filter((t: Doc) => t.type === 'redis');
  const lists = redis.map((t: Doc) => t.metadata?.listName).sort();
  const expected = ACTION_KEYS.map((a) => waitListKey(prefix, a)).sort();
  const missing = expected.filter((k) => !lists.includes(k));
  const extra = lists.filter((k: string) => !expected.includes(k));
  if (missing.length) problems.push(`ScaledObject has no trigger on ${missing.join(', ')}`);
  if (extra.length) problems.push(`ScaledObject watches lists no queue uses: ${extra.join(', ')}`);
  if (lists.length !== new Set(lists).size) problems.push('ScaledObject watches a list twice');
  for (const t of redis) {
    if (t.metadata?.addressFromEnv && !env[t.metadata.addressFromEnv]) problems.push(`trigger ${t.metadata.listName}: ${t.metadata.addressFromEnv} is not in the worker's environment`);
    if (!t.metadata?.addressFromEnv && !t.metadata?.address) problems.push(`trigger ${t.metadata?.listName}: no Redis address`);
    if (!(Number(t.metadata?.listLength) > 0)) problems.push(`trigger ${t.metadata?.listName}: listLength is not a positive number`);
    const auth = t.authenticationRef?.name && find(docs, 'TriggerAuthentication', t.authenticationRef.name)[0];
    if (!auth) problems.push(`trigger ${t.metadata?.listName}: its TriggerAuthentication is not rendered`);
    else if (!(auth.spec?.secretTargetRef ?? []).every((r: Doc) => r.name === SECRET_NAME)) problems.push(`TriggerAuthentication ${auth.metadata.name} reads another Secret than ${SECRET_NAME}`);
  }
}

function checkCpuHpa(docs: Doc[], problems: string[]): void {
  const hpa = find(docs, 'HorizontalPodAutoscaler')[0];
  if (!hpa) problems.push('no HorizontalPodAutoscaler');
  else if (hpa.spec?.scaleTargetRef?.name !== 'cio-relay-worker') problems.push(`HorizontalPodAutoscaler scales ${hpa.spec?.scaleTargetRef?.name}`);
  else if (!(hpa.spec?.metrics ?? []).some((m: Doc) => m.resource?.name === 'cpu')) problems.push('HorizontalPodAutoscaler does not scale on CPU');
  if (find(docs, 'ScaledObject').length) problems.push('the CPU fallback also renders a KEDA ScaledObject');
}

export function manifestProblems(docs: Doc[], scaler: 'keda' | 'cpu-hpa'): string[] {
  const problems: string[] = [];
  checkDeployment(docs, 'cio-relay-api', problems);
  checkDeployment(docs, 'cio-relay-worker', problems);
  checkNoInlinedSecrets(docs, problems);
  checkPdb(docs, problems);
  const service = find(docs, 'Service', 'cio-relay-api')[0];
  const apiLabels = find(docs, 'Deployment', 'cio-relay-api')[0]?.spec?.template?.metadata?.labels ?? {};
  if (!service) problems.push('no Service for the API');
  else if (!Object.entries<string>(service.spec?.selector ?? {}).every(([k, v]) => apiLabels[k] === v)) problems.push('the API Service does not select the API pods');
  if (find(docs, 'Deployment', 'cio-relay-worker')[0]?.spec?.replicas !== undefined) problems.push('the worker Deployment sets replicas, which the autoscaler owns');
  if (scaler === 'keda') checkScaledObject(docs, problems);
  else checkCpuHpa(docs, problems);
  return problems;
}
