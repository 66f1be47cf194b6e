// Loads the reference's captured behaviour from ../shared/vectors (beside the checkout). The files are
// read where they are, never copied into this repository.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const VECTORS_DIR = process.env.CIO_VECTORS_DIR ?? resolve(__dirname, '..', '..', '..', 'shared', 'vectors');

export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(resolve(VECTORS_DIR, file), 'utf8')) as T;
}

/** The frozen clock of every vector: 2024-03-15T12:34:56.789Z. */
export const VECTOR_NOW = Date.parse('2024-03-15T12:34:56.789Z');
