// Glue between commander and the commands: the context from the global options, and the
// options several commands share.
import { Command, Option } from 'commander';
import { RestClient, type Fetch } from '../client.js';
import type { Clock, Context, Io } from '../context.js';
import { secondsArg } from '../ids.js';
import { POLL_INTERVAL_MS, TRANSFER_WAIT_S_DEFAULT } from '../limits.js';
import { TRANSFER_METHODS, type TransferMethod } from '../operations.js';

export interface CliDeps {
  readonly fetch: Fetch;
  readonly io: Io;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  /** Pause between transfer polls, ms (tests shorten it). */
  readonly pollMs?: number;
}

interface GlobalOptions {
  readonly url: string;
  readonly apiKey?: string;
  readonly output: 'table' | 'json';
}

/** The context for a command, from the options given anywhere on the command line. */
export function contextOf(command: Command, deps: CliDeps): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const apiKey = options.apiKey === undefined || options.apiKey === '' ? null : options.apiKey;
  return {
    client: new RestClient({ url: options.url, apiKey, fetch: deps.fetch }),
    io: deps.io,
    json: options.output === 'json',
    clock: deps.clock,
    pollMs: deps.pollMs ?? POLL_INTERVAL_MS,
  };
}

/**
 * commander calls an action with (...arguments, options, command); this hands a command its
 * context, its arguments and its options.
 */
export function action<O>(deps: CliDeps, run: (ctx: Context, args: readonly unknown[], options: O) => Promise<void>): (...params: unknown[]) => Promise<void> {
  return async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const options = params[params.length - 2] as O;
    await run(contextOf(command, deps), params.slice(0, -2), options);
  };
}

export interface TransferOptions {
  readonly method?: TransferMethod;
  readonly timeout: number;
  readonly wait: boolean;
  readonly dryRun?: boolean;
}

/** --method, --timeout and --no-wait, for commands that start transfers. */
export function transferOptions(command: Command, withNoWait: boolean): Command {
  command
    .addOption(new Option('--method <method>', 'transfer method (default: the node\'s)').choices(TRANSFER_METHODS))
    .option('--timeout <seconds>', 'longest wait for each transfer to finish', secondsArg, TRANSFER_WAIT_S_DEFAULT)
    .option('--dry-run', 'print what would be done, change nothing');
  if (withNoWait) command.option('--no-wait', 'return once the node accepted the transfer, without following it');
  return command;
}
