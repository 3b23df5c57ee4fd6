// shoal shards list | move | replicate | drop
import type { Command } from 'commander';
import { show, table, type Context } from '../context.js';
import { comparePeerIds, peerIdArg, shardIdArg, type PeerId } from '../ids.js';
import { TRANSFER_WAIT_S_DEFAULT } from '../limits.js';
import { parseCollectionCluster, type TransferInfo } from '../model.js';
import { clusterOperationPath, stepBody } from '../operations.js';
import type { Step } from '../plan.js';
import { shardKeyText } from '../shape.js';
import { runStep, type TransferStep } from '../transfer.js';
import { collectionPath } from '../client.js';
import { prettyJson } from '../json-text.js';
import { action, transferOptions, type CliDeps, type TransferOptions } from './common.js';

export function registerShards(program: Command, deps: CliDeps): void {
  const shards = program.command('shards').description('shard replicas and moving them between peers');
  shards.command('list').description('every replica of every shard: peer, state, points').argument('<collection>').action(action(deps, list));
  for (const kind of ['move', 'replicate'] as const) {
    const command = shards
      .command(kind)
      .description(kind === 'move' ? 'move a shard replica to another peer and wait for the transfer' : 'copy a shard replica to another peer and wait for the transfer')
      .argument('<collection>')
      .argument('<shard>', 'shard id', shardIdArg)
      .requiredOption('--from <peer>', 'peer holding the source replica', peerIdArg)
      .requiredOption('--to <peer>', 'peer receiving the replica', peerIdArg);
    transferOptions(command, true).action(action(deps, (ctx, args, options: TransferOptions & { from: PeerId; to: PeerId }) => transfer(ctx, kind, args, options)));
  }
  shards
    .command('drop')
    .description('remove one replica of a shard from a peer')
    .argument('<collection>')
    .argument('<shard>', 'shard id', shardIdArg)
    .requiredOption('--peer <peer>', 'peer whose replica is removed', peerIdArg)
    .option('--dry-run', 'print the request, change nothing')
    .action(action(deps, drop));
}

async function list(ctx: Context, [name]: readonly unknown[]): Promise<void> {
  const collection = name as string;
  const raw = await ctx.client.get(collectionPath(collection, '/cluster'));
  const info = parseCollectionCluster(collection, raw);
  show(ctx, raw, () => {
    const rows = info.shards.flatMap((s) =>
      [...s.replicas]
        .sort((a, b) => comparePeerIds(a.peer, b.peer))
        .map((r) => [s.shardId, shardKeyText(s.shardKey) || null, r.peer, r.state, r.points, r.peer === info.peerId ? '*' : '']),
    );
    const replicas = table(['shard', 'key', 'peer', 'state', 'points', 'this'], rows);
    const note = `(points are known only for replicas on the answering peer ${info.peerId}, marked *)`;
    return info.transfers.length === 0 ? `${replicas}\n${note}` : `${replicas}\n${note}\n\n${transfersTable(info.transfers)}`;
  });
}

export function transfersTable(transfers: readonly TransferInfo[]): string {
  return table(
    ['collection', 'shard', 'from', 'to', 'method', 'kind', 'progress'],
    transfers.map((t) => [t.collection, t.shardId, t.from, t.to, t.method, t.sync ? 'replicate' : 'move', t.comment]),
  );
}

/** With --dry-run: the request that would be sent, and nothing sent. */
export function printDryRun(ctx: Context, step: Step, method: TransferOptions['method']): void {
  const request = { method: 'POST', path: clusterOperationPath(step.collection), body: stepBody(step, method ?? null) };
  ctx.io.out(ctx.json ? prettyJson(request) : `would send: ${request.method} ${request.path}\n${prettyJson(request.body)}`);
}

async function transfer(ctx: Context, kind: 'move' | 'replicate', [name, shard]: readonly unknown[], options: TransferOptions & { from: PeerId; to: PeerId }): Promise<void> {
  const step: TransferStep = { kind, collection: name as string, shardId: shard as number, from: options.from, to: options.to };
  if (options.dryRun === true) {
    printDryRun(ctx, step, options.method);
    return;
  }
  await runStep(ctx, step, { method: options.method ?? null, timeoutMs: (options.timeout ?? TRANSFER_WAIT_S_DEFAULT) * 1000, wait: options.wait });
  const what = `${kind === 'move' ? 'moved' : 'replicated'} ${step.collection} shard ${step.shardId} from peer ${step.from} to peer ${step.to}`;
  show(ctx, true, () => (options.wait ? what : `${kind} of ${step.collection} shard ${step.shardId} started; follow it with: shoal transfers list ${step.collection}`));
}

async function drop(ctx: Context, [name, shard]: readonly unknown[], options: { peer: PeerId; dryRun?: boolean }): Promise<void> {
  const step: Step = { kind: 'drop', collection: name as string, shardId: shard as number, peer: options.peer };
  if (options.dryRun === true) {
    printDryRun(ctx, step, undefined);
    return;
  }
  await runStep(ctx, step, { method: null, timeoutMs: 0, wait: false });
  show(ctx, true, () => `dropped the replica of ${step.collection} shard ${step.shardId} on peer ${step.peer}`);
}
