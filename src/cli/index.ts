#!/usr/bin/env node
// `cio-relay <command>`: the operator's tool next to the service. It reads the same environment as the
// service (loadConfig), so it sees the same Redis, queue prefix, subscriptions and credentials.
//
// Results go to stdout, progress and problems to stderr. Exit codes are shared by every command
// (args.ts, EXIT): 0 fine, 1 ran and found problems, 2 could not run, 130 interrupted.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type ServiceConfig } from '../config';
import { CannotRunError, EXIT, UsageError, parseArgs, signalExitCode, type CliContext, type Command } from './args';
import { checkCommand } from './check';
import { importCommand } from './import/command';
import { openQueues } from './redis';
import { previewCommand } from './preview';
import { replayCommand } from './replay';
import { statsCommand } from './stats';
import { traceCommand } from './trace';

const COMMANDS: Command<any>[] = [importCommand, replayCommand, checkCommand, statsCommand, traceCommand, previewCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: cio-relay <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'cio-relay <command> --help shows a command\'s options and exit codes.',
    'The environment is the service\'s: REDIS_URL, QUEUE_PREFIX, CIO_CONFIG, CUSTOMERIO_*.',
    '',
    'Exit codes: 0 done, 1 done with problems (bad lines, refused credentials…),',
    '2 could not run (arguments, configuration, Redis unreachable), 130 interrupted.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${usage()}\n`);
    return EXIT.cannotRun;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] && COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(`${topic ? topic.help : usage()}\n`);
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`cio-relay: unknown command ${JSON.stringify(name)}; the commands are ${COMMANDS.map((c) => c.name).join(', ')}\n`);
    return EXIT.cannotRun;
  }

  const context = createContext(process.env);
  try {
    const args = parseArgs(rest, command.options);
    if (args.options.help) {
      process.stdout.write(`${command.help}\n`);
      return EXIT.ok;
    }
    return await command.run(context, args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`cio-relay ${command.name}: ${err.message}\nRun cio-relay ${command.name} --help for its options.\n`);
    } else if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
    } else if (err instanceof CannotRunError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      process.stderr.write(`cio-relay ${command.name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
    return EXIT.cannotRun;
  }
}

function createContext(env: NodeJS.ProcessEnv): CliContext {
  let config: ServiceConfig | undefined;
  let interruptHandler: ((signal: NodeJS.Signals) => void) | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interruptHandler && !signalled) {
      signalled = true;
      interruptHandler(signal);
      return;
    }
    process.exit(signalExitCode(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return {
    env,
    out: (line = '') => void process.stdout.write(`${line}\n`),
    err: (line = '') => void process.stderr.write(`${line}\n`),
    stderr: process.stderr,
    config() {
      config ??= loadConfig(env);
      return config;
    },
    openQueues,
    onInterrupt(handler) {
      interruptHandler = handler;
    },
  };
}

function version(): string {
  // src/cli or dist/cli: package.json is two levels up either way.
  try {
    return (JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Exits once stdout and stderr have taken everything written (pipes may be asynchronous), without
 * waiting for stray timers: ioredis keeps a reconnect timer for a while after a failed connection.
 */
function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

// `cio-relay stats | head`: a reader that went away is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
}

main(process.argv.slice(2)).then(exitWhenFlushed, (err: Error) => {
  process.stderr.write(`cio-relay: ${err.stack ?? String(err)}\n`);
  exitWhenFlushed(EXIT.cannotRun);
});
