// A service logger whose output lands in memory exactly as it would be written to stdout, parsed per line.
import { Writable } from 'node:stream';
import type pino from 'pino';
import { createLogger } from '../../src/log/logger';

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export function captureLog(level = 'debug'): { log: pino.Logger; text(): string; lines(): LogLine[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    log: createLogger({ level, destination, name: 'test' }),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine),
  };
}
