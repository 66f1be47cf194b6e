// Loads the reference's captured behaviour from the repository's vectors/ folder (see vectors/README.md).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const VECTORS_DIR = resolve(__dirname, '..', '..', 'vectors');

export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(resolve(VECTORS_DIR, file), 'utf8')) as T;
}

/** The frozen clock of every vector: 2024-03-15T12:34:56.789Z. */
export const VECTOR_NOW = Date.parse('2024-03-15T12:34:56.789Z');
