// What every process-level chaos test starts and must stop, whatever the test's outcome: service
// processes, Customer.io stand-ins, a queue inspector, a CIO_CONFIG file, and anything else it registers
// (a private redis-server). Call useChaosRun() inside a describe(); it cleans up after each test.

import { CustomerIoStandIn, type StandInOptions } from '../../src/demo/customerio-stand-in';
import { inspectQueues, writeConfigFile, type QueueInspector } from './chaos';
import { stopAllServiceProcesses } from './process';

export interface ChaosRun {
  /** A stand-in, closed after the test. */
  standIn(opts?: StandInOptions): Promise<CustomerIoStandIn>;
  /**
   * The queues under `prefix`, removed from Redis after the test. `keepQueues`: only let go of the
   * connection (a private Redis that goes away as a whole).
   */
  inspect(redisUrl: string, prefix: string, opts?: { keepQueues?: boolean }): Promise<QueueInspector>;
  /** A CIO_CONFIG file with these subscriptions, removed after the test. */
  config(subscriptions: unknown[], settings?: Record<string, unknown>): { path: string };
  /** Runs after the rest is stopped (last registered, first run). */
  onCleanup(fn: () => unknown): void;
}

export function useChaosRun(): ChaosRun {
  let cleanups: Array<() => unknown> = [];

  afterEach(async () => {
    // Processes first, so nothing writes to the queues or calls a stand-in while they go away.
    await stopAllServiceProcesses();
    const pending = cleanups.reverse();
    cleanups = [];
    for (const cleanup of pending) await cleanup();
  });

  return {
    async standIn(opts = {}) {
      const standIn = await CustomerIoStandIn.start(opts);
      cleanups.push(() => standIn.close());
      return standIn;
    },
    async inspect(redisUrl, prefix, opts = {}) {
      const inspector = await inspectQueues(redisUrl, prefix);
      cleanups.push(() => (opts.keepQueues ? inspector.redis.disconnect() : inspector.destroy()));
      return inspector;
    },
    config(subscriptions, settings) {
      const file = writeConfigFile(subscriptions, settings);
      cleanups.push(() => file.remove());
      return file;
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
  };
}
