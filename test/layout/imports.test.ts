// Imports run one way (ARCHITECTURE.md): each folder of src/ imports only the folders below it, the pure
// core imports no I/O, and there is no cycle but the mapping compiler's own registry.

import path from 'node:path';
import { expect } from 'chai';
import { coreViolations, cycles, folderViolations, readImportGraph, type ImportGraph } from './import-graph';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the import graph of src/', () => {
  let graph: ImportGraph;
  before(() => {
    graph = readImportGraph(ROOT);
  });

  it('resolves every relative import to a file of src/', () => {
    expect(graph.edges.size).to.be.above(50);
    expect(graph.unresolved).to.deep.equal([]);
  });

  it('has no import across folders that ARCHITECTURE.md does not allow', () => {
    expect(folderViolations(graph)).to.deep.equal([]);
  });

  it('keeps the pure core (src/core) free of I/O modules', () => {
    expect(coreViolations(graph)).to.deep.equal([]);
  });

  it('has no cycle outside the mapping compiler and its directives', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).to.deep.equal([]);
  });

  describe('the checks themselves', () => {
    const fake = (edges: Record<string, string[]>, packages: Record<string, string[]> = {}): ImportGraph => ({
      edges: new Map(Object.entries(edges).map(([f, t]) => [f, new Set(t)])),
      packages: new Map(Object.entries(packages).map(([f, p]) => [f, new Set(p)])),
      unresolved: [],
    });

    it('finds a cycle, and a core module importing I/O or an edge', () => {
      const g = fake(
        { 'src/jobs/a.ts': ['src/producer/b.ts'], 'src/producer/b.ts': ['src/jobs/a.ts'], 'src/core/c.ts': ['src/redis/d.ts'], 'src/redis/d.ts': [] },
        { 'src/core/c.ts': ['node:fs', 'liquidjs'], 'src/core/e.ts': ['ioredis'] },
      );
      expect(cycles(g)).to.deep.equal([['src/jobs/a.ts', 'src/producer/b.ts']]);
      expect(folderViolations(g)).to.include('src/core/c.ts imports src/redis/d.ts: core may not import redis');
      expect(folderViolations(g)).to.include('src/jobs/a.ts imports src/producer/b.ts: jobs may not import producer');
      expect(coreViolations(g)).to.have.length(2);
    });

    it('lets the mapping compiler and its directives import each other', () => {
      const g = fake({
        'src/core/subscriptions/mapping/compile.ts': ['src/core/subscriptions/mapping/directives/registry.ts'],
        'src/core/subscriptions/mapping/directives/registry.ts': ['src/core/subscriptions/mapping/compile.ts'],
      });
      expect(cycles(g)).to.deep.equal([]);
    });
  });
});
