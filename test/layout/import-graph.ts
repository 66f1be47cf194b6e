// The import graph of src/, read from the import lines of its files (no compiler needed), and the rules
// ARCHITECTURE.md states for it: which folder may import which, what the pure core may import, no cycles.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Each folder of src/ (a top-level file counts as its own folder) and the folders it may import. */
export const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  util: [],
  config: ['core', 'util'],
  log: ['util'],
  customerio: ['core', 'config', 'log', 'util'],
  redis: ['core', 'config', 'log', 'util'],
  counts: ['core', 'config', 'log', 'redis', 'util'],
  jobs: ['core', 'config', 'log', 'redis', 'counts', 'util'],
  producer: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'util'],
  worker: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'customerio', 'util'],
  http: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'producer', 'util'],
  cli: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'producer', 'customerio', 'util'],
  service: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'producer', 'worker', 'http', 'customerio', 'util'],
  demo: ['core', 'config', 'log', 'redis', 'counts', 'jobs', 'producer', 'worker', 'http', 'customerio', 'service', 'cli', 'util'],
  main: ['config', 'log', 'service', 'util'],
};

/** Packages the pure core may use: none of them does I/O. Node's built-ins are all refused. */
export const CORE_PACKAGES = ['@segment/destination-subscriptions', '@segment/fql-ts', 'liquidjs', 'luxon'];

/** The one cycle allowed: the mapping compiler and its directives register with each other. */
export const CYCLE_ALLOWED_UNDER = 'src/core/subscriptions/mapping/';

export interface ImportGraph {
  /** File → the files of src/ it imports (paths relative to the root, with /). */
  edges: Map<string, Set<string>>;
  /** File → the packages and built-ins it imports. */
  packages: Map<string, Set<string>>;
  unresolved: string[];
}

const IMPORT_LINE = /^\s*(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/gm;

export function readImportGraph(root: string): ImportGraph {
  const files = listTs(path.join(root, 'src')).map((f) => path.relative(root, f).split(path.sep).join('/'));
  const known = new Set(files);
  const graph: ImportGraph = { edges: new Map(), packages: new Map(), unresolved: [] };
  for (const file of files) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const edges = new Set<string>();
    const packages = new Set<string>();
    for (const m of text.matchAll(IMPORT_LINE)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const target = [`${base}.ts`, `${base}/index.ts`].find((c) => known.has(c));
      if (target) edges.add(target);
      else graph.unresolved.push(`${file}: ${spec}`);
    }
    graph.edges.set(file, edges);
    graph.packages.set(file, packages);
  }
  return graph;
}

/** src/http/app.ts → http; src/service.ts → service. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1] : parts[1].replace(/\.ts$/, '');
}

/** Imports across folders that MAY_IMPORT does not allow, and folders it does not know. */
export function folderViolations(graph: ImportGraph): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph.edges) {
    const from = folderOf(file);
    const allowed = MAY_IMPORT[from];
    if (!allowed) {
      problems.push(`${file}: its folder "${from}" is not in MAY_IMPORT (say what it may import)`);
      continue;
    }
    for (const target of targets) {
      const to = folderOf(target);
      if (to !== from && !allowed.includes(to)) problems.push(`${file} imports ${target}: ${from} may not import ${to}`);
    }
  }
  return problems;
}

/** Packages or built-ins a core module imports that are not known to be free of I/O. */
export function coreViolations(graph: ImportGraph): string[] {
  const problems: string[] = [];
  for (const [file, packages] of graph.packages) {
    if (folderOf(file) !== 'core') continue;
    for (const spec of packages) {
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!CORE_PACKAGES.includes(name)) problems.push(`${file} imports ${spec}: the pure core may not (allowed: ${CORE_PACKAGES.join(', ')})`);
    }
  }
  return problems;
}

/** Every cycle of imports (as the files of one strongly connected component), except the allowed one. */
export function cycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = component.length === 1 && graph.edges.get(v)?.has(v);
      if (component.length > 1 || selfLoop) found.push(component.sort());
    }
  };
  for (const file of graph.edges.keys()) if (!index.has(file)) visit(file);
  return found.filter((c) => !c.every((f) => f.startsWith(CYCLE_ALLOWED_UNDER)));
}

/** Every .ts file below `dir`. */
export function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return listTs(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}
