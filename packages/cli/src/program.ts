// The `shoal` command line: commander builds it, runCli runs it and turns every outcome into an
// exit code (0 done, 1 failed, 2 wrong usage) with the node's own error message.
import { Command, CommanderError, Option } from 'commander';
import { ApiError } from './client.js';
import { CommandError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { PlanError } from './plan.js';
import { ResponseShapeError } from './shape.js';
import { registerCluster } from './commands/cluster.js';
import { registerCollections } from './commands/collections.js';
import type { CliDeps } from './commands/common.js';
import { registerPlacement } from './commands/placement.js';
import { registerShardKeys } from './commands/shard-keys.js';
import { registerShards } from './commands/shards.js';
import { registerTransfers } from './commands/transfers.js';

export type { CliDeps } from './commands/common.js';

const DEFAULT_URL = 'http://127.0.0.1:6333';

function urlArg(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url must be a URL like ${DEFAULT_URL}, got '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, got '${text}'`);
  return text;
}

export function buildProgram(deps: CliDeps): Command {
  const program = new Command('shoal')
    .description('Administer a Shoal (or Qdrant) cluster over its REST API')
    .configureOutput({ writeOut: (s) => deps.io.out(s.replace(/\n$/, '')), writeErr: (s) => deps.io.err(s.replace(/\n$/, '')) })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addOption(new Option('--url <url>', 'REST URL of any node ($SHOAL_URL)').default(deps.env['SHOAL_URL'] ?? DEFAULT_URL).argParser(urlArg))
    .addOption(new Option('--api-key <key>', 'sent as the api-key header').default(deps.env['QDRANT_API_KEY'], '$QDRANT_API_KEY'))
    .addOption(new Option('-o, --output <format>', 'table, or json: the raw result').choices(['table', 'json']).default('table'));
  registerCluster(program, deps);
  registerCollections(program, deps);
  registerShards(program, deps);
  registerTransfers(program, deps);
  registerShardKeys(program, deps);
  registerPlacement(program, deps);
  return program;
}

/** Runs one command line (without the executable and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  try {
    await buildProgram(deps).parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return exitCodeOf(error, deps);
  }
}

function exitCodeOf(error: unknown, deps: CliDeps): number {
  if (error instanceof CommanderError) {
    // commander printed its message (or the help) already.
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    deps.io.err(`shoal: ${error.message}`);
    return EXIT_USAGE;
  }
  if (error instanceof ApiError || error instanceof CommandError || error instanceof PlanError || error instanceof ResponseShapeError) {
    deps.io.err(`shoal: ${error.message}`);
    return EXIT_FAILED;
  }
  throw error;
}
