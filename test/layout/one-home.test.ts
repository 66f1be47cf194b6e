// One home per fact: the size limits live in src/core/limits.ts, the job states in src/redis/keys.ts, the
// default Redis URL in src/config/settings.ts (the settings table), and withTimeout, the semaphore and the
// log throttle in one module each; no other file writes them again.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { listTs } from './import-graph';

const ROOT = path.resolve(__dirname, '..', '..');

interface Fact {
  name: string;
  home: string;
  /** How the home states it. */
  stated: RegExp;
  /** What writing the fact again looks like. */
  pattern: RegExp;
  /** Where to look, besides src/. */
  alsoIn?: string[];
}

const STATE = `'(?:waiting|active|delayed|completed|failed|prioritized|paused)'`;

const FACTS: Fact[] = [
  { name: 'the 32 KB item limit', home: 'src/core/limits.ts', stated: /MAX_ITEM_BYTES = 32 \* 1024;/, pattern: /\b32\s*\*\s*(?:1024|KB)\b|\b32_?768\b/ },
  { name: 'the 500 KB request limit', home: 'src/core/limits.ts', stated: /MAX_REQUEST_BYTES = 500 \* 1024;/, pattern: /\b500\s*\*\s*(?:1024|KB)\b|\b512_?000\b/ },
  { name: 'the 480 KB batch budget', home: 'src/core/limits.ts', stated: /BATCH_BUDGET_BYTES = 480_000;/, pattern: /\b480_?000\b/ },
  { name: 'the JSON depth limit', home: 'src/core/limits.ts', stated: /MAX_JSON_DEPTH = 64;/, pattern: /(?:JSON|EVENT)_DEPTH\s*=\s*\d/ },
  { name: 'the batch_size bounds', home: 'src/core/limits.ts', stated: /BATCH_ITEMS = \{ default: 50, min: 2, max: 100 \}/, pattern: /default:\s*50,\s*minimum:\s*2|DEFAULT_(?:BATCH_SIZE|MAX_ITEMS)\s*=/ },
  { name: 'a list of job states', home: 'src/redis/keys.ts', stated: /export const JOB_STATES = \{/, pattern: new RegExp(`${STATE}\\s*,\\s*${STATE}`), alsoIn: ['bench'] },
  { name: 'a withTimeout', home: 'src/util/timeout.ts', stated: /export function withTimeout</, pattern: /function withTimeout\b|const withTimeout\b/ },
  { name: 'a semaphore', home: 'src/util/semaphore.ts', stated: /export class Semaphore \{/, pattern: /class \w*(?:Semaphore|Permits|Limiter)\b/ },
  { name: 'a log throttle', home: 'src/log/throttle.ts', stated: /export function throttle\(/, pattern: /(?:Warned|Logged|Log)At\s*[<>]=?|now - last\w*(?:Log|Warn)/ },
  { name: 'the default Redis URL', home: 'src/config/settings.ts', stated: /REDIS_URL: entry\('redis', 'url', 'redis:\/\/127\.0\.0\.1:6379'/, pattern: /['"`]redis:\/\/127\.0\.0\.1:6379['"`]/, alsoIn: ['bench', 'test/support'] },
];

describe('one home per fact', () => {
  for (const fact of FACTS) {
    it(`writes ${fact.name} in ${fact.home} only`, () => {
      expect(readFileSync(path.join(ROOT, fact.home), 'utf8')).to.match(fact.stated, `${fact.home} no longer holds ${fact.name}`);
      const elsewhere = ['src', ...(fact.alsoIn ?? [])]
        .flatMap((dir) => listTs(path.join(ROOT, dir)))
        .map((file) => path.relative(ROOT, file).split(path.sep).join('/'))
        .filter((file) => file !== fact.home)
        .flatMap((file) =>
          readFileSync(path.join(ROOT, file), 'utf8')
            .split('\n')
            .map((line, i) => ({ file, line: i + 1, text: line }))
            .filter(({ text }) => fact.pattern.test(text)),
        )
        .map(({ file, line, text }) => `${file}:${line}: ${text.trim()}`);
      expect(elsewhere, `write ${fact.name} once, in ${fact.home}, and import it`).to.deep.equal([]);
    });
  }
});
