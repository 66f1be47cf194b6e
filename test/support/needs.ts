// Tests that need a program the machine may lack (a redis-server of their own, promtool): without it a
// developer's run skips them and says why; on CI (CI=true) the run fails instead, so that a missing program
// can never turn a suite into a silent pass. .ci/run installs every program named here.
import { existsSync } from 'node:fs';
import { REDIS_SERVER_BIN } from './chaos';

/** Whether this run is CI's: CI=true (or 1), as CI systems set it. */
export function onCi(): boolean {
  return /^(true|1)$/i.test(process.env.CI ?? '');
}

/** Why a private redis-server cannot be started here, or undefined. */
export function redisServerMissing(): string | undefined {
  return existsSync(REDIS_SERVER_BIN) ? undefined : `no redis-server at ${REDIS_SERVER_BIN} (apt-get install redis-server, or set REDIS_SERVER_BIN)`;
}

/**
 * Call in a before() hook with what is missing (undefined: nothing, carry on). Skips the suite, saying why;
 * on CI throws, failing the run.
 */
export function needs(ctx: Mocha.Context, missing: string | undefined): void {
  if (missing === undefined) return;
  if (onCi()) throw new Error(`${missing}: CI=true, so this fails rather than skips (.ci/run should have installed it)`);
  // eslint-disable-next-line no-console
  console.log(`      skipped: ${missing}`);
  ctx.skip();
}
