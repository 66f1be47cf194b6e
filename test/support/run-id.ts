// One id per test run, in every queue prefix the tests make (cio-<kind>-<run><random>), so the after-all
// check of root-hooks.ts finds the keys of this run only, even while another run shares the Redis.
import { randomBytes } from 'node:crypto';

process.env.CIO_TEST_RUN ||= randomBytes(3).toString('hex');
export const TEST_RUN = process.env.CIO_TEST_RUN as string;

/** A SCAN pattern for every key under a prefix of this run. */
export const RUN_KEYS = `cio-*-${TEST_RUN}*`;
