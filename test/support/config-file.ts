// Configurations for tests of loading: a CIO_CONFIG file written from an object, and what loadConfig (or any
// check) refuses, with the message.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';

let dir: string | undefined;
let n = 0;

/** An environment whose CIO_CONFIG is a new file holding `content` (as JSON, or as given when a string). */
export function withConfigFile(content: unknown): Record<string, string> {
  dir ??= mkdtempSync(join(tmpdir(), 'cio-config-'));
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return { CIO_CONFIG: path };
}

/** The message of the error `run` throws, which must be a `type`; the test fails when nothing is thrown. */
export function thrown(run: () => unknown, type: new (...args: never[]) => Error = Error): string {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(type);
    return (err as Error).message;
  }
  throw new Error(`expected a ${type.name}, and nothing was thrown`);
}

/** Why loadConfig refuses `env` (a ConfigError's message). */
export function configRefusal(env: Record<string, string | undefined>): string {
  return thrown(() => loadConfig(env), ConfigError);
}
