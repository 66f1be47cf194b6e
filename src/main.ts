// Entry point: `node dist/main.js all|api|worker` (npm start, npm run api, npm run worker).

import { ConfigError, loadConfig, missingCredentials } from './config';
import { createLogger, redactUrl } from './log/logger';
import { startService, type ServiceMode } from './service';
import { oldNodeWarning } from './log/node-version';

const MODES: ServiceMode[] = ['all', 'api', 'worker'];

async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'all') as ServiceMode;
  if (!MODES.includes(mode)) return fatal(`Unknown mode "${mode}": use all, api or worker.`, 2);
  const logger = createLogger();
  const oldNode = oldNodeWarning();
  if (oldNode) logger.warn({ node: process.versions.node }, oldNode);

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return fatal(`Configuration error: ${err.message}`, 2);
    throw err;
  }
  if (mode !== 'api') {
    const missing = missingCredentials(config);
    if (missing) return fatal(missing, 2);
  }

  let service;
  try {
    service = await startService(config, mode, logger);
  } catch (err) {
    fatal((err as Error).message, 1);
    // Nothing of the service is left running, but a connection closing may still hold the loop open.
    process.exit(1);
  }
  logger.info(
    {
      mode,
      url: service.url,
      redis: config.redis.clusterNodes.length ? `cluster ${config.redis.clusterNodes.join(',')}` : redactUrl(config.redis.url),
      region: config.customerio.region,
      trackUrl: config.customerio.trackUrl,
      subscriptions: config.subscriptions.map((s) => `${s.name} → ${s.action}`),
    },
    `cio-relay ${mode} ready at ${service.url}`,
  );
  if (config.http.writeKeys.length === 0 && mode !== 'worker') {
    logger.warn(`No WRITE_KEYS set: ingestion accepts events without a write key, so it listens on ${config.http.host} only.`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now; jobs in hand come back to the queue when their lock expires`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: no new events or jobs; sending what is in hand, then exiting`);
    const timer = setTimeout(() => {
      logger.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting; unfinished jobs come back to the queue`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    service.close().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function fatal(message: string, code: number): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = code;
}

main().catch((err) => {
  process.stderr.write(`cio-relay failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
