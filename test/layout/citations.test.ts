// A comment that cites a document cites one in the repository: a reader cannot open a file that is not here.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { listTs } from './import-graph';

const ROOT = path.resolve(__dirname, '..', '..');

describe('citations', () => {
  it('every .md file named in src/, test/, bench/ and tools/ is in the repository', () => {
    const missing: string[] = [];
    for (const file of ['src', 'test', 'bench', 'tools'].flatMap((dir) => listTs(path.join(ROOT, dir)))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/[A-Za-z0-9_./-]+\.md\b/g)) {
        const cited = m[0].replace(/^\.?\//, '');
        if (!existsSync(path.join(ROOT, cited))) missing.push(`${path.relative(ROOT, file)}: ${m[0]}`);
      }
    }
    expect(missing, 'cite a file of the repository, or say the fact itself').to.deep.equal([]);
  });
});
