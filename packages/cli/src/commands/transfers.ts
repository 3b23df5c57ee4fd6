// shoal transfers list | abort
import type { Command } from 'commander';
import { show, type Context } from '../context.js';
import { peerIdArg, shardIdArg, type PeerId } from '../ids.js';
import { fetchCollectionCluster, fetchCollectionNames } from '../layout.js';
import type { TransferInfo } from '../model.js';
import { abortBody, clusterOperationPath } from '../operations.js';
import { expectTrue } from '../transfer.js';
import { collectionPath } from '../client.js';
import { objectAt } from '../shape.js';
import { action, type CliDeps } from './common.js';
import { transfersTable } from './shards.js';

export function registerTransfers(program: Command, deps: CliDeps): void {
  const transfers = program.command('transfers').description('running shard transfers');
  transfers.command('list').description('running transfers of one collection, or of all').argument('[collection]').action(action(deps, list));
  transfers
    .command('abort')
    .description('abort a running shard transfer')
    .argument('<collection>')
    .argument('<shard>', 'shard id', shardIdArg)
    .requiredOption('--from <peer>', 'source peer of the transfer', peerIdArg)
    .requiredOption('--to <peer>', 'target peer of the transfer', peerIdArg)
    .action(action(deps, abort));
}

async function list(ctx: Context, [name]: readonly unknown[]): Promise<void> {
  const names = typeof name === 'string' ? [name] : await fetchCollectionNames(ctx.client);
  const all: TransferInfo[] = [];
  const raw: Record<string, unknown> = {};
  for (const collection of names) {
    if (ctx.json) raw[collection] = objectAt(await ctx.client.get(collectionPath(collection, '/cluster')), 'result')['shard_transfers'];
    else all.push(...(await fetchCollectionCluster(ctx.client, collection)).transfers);
  }
  // JSON: the spec's shard_transfers array for one collection, keyed by collection for all.
  show(ctx, typeof name === 'string' ? raw[name] : raw, () => (all.length === 0 ? 'no shard transfers running' : transfersTable(all)));
}

async function abort(ctx: Context, [name, shard]: readonly unknown[], options: { from: PeerId; to: PeerId }): Promise<void> {
  const collection = name as string;
  const shardId = shard as number;
  const result = await ctx.client.post(clusterOperationPath(collection), abortBody(shardId, options.from, options.to));
  expectTrue(result, `abort the transfer of ${collection} shard ${shardId}`);
  show(ctx, result, () => `aborted the transfer of ${collection} shard ${shardId} from peer ${options.from} to peer ${options.to}`);
}
