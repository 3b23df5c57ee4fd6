// shoal cluster status | peers | remove-peer | recover
import type { Command } from 'commander';
import { fields, show, table, type Context } from '../context.js';
import { comparePeerIds, peerIdArg, type PeerId } from '../ids.js';
import { fetchCluster, fetchLayout } from '../layout.js';
import { parseClusterStatus } from '../model.js';
import { expectTrue } from '../transfer.js';
import { action, type CliDeps } from './common.js';

export function registerCluster(program: Command, deps: CliDeps): void {
  const cluster = program.command('cluster').description('consensus and membership');
  cluster.command('status').description('this node\'s view of the cluster: Raft term, commit, leader, role').action(action(deps, status));
  cluster.command('peers').description('members with their p2p URI, the leader, and replicas per peer').action(action(deps, peers));
  cluster
    .command('remove-peer')
    .description('remove a peer from the cluster (refused while it holds replicas, unless --force)')
    .argument('<peer>', 'peer id', peerIdArg)
    .option('--force', 'remove it even if it still holds replicas')
    .action(action(deps, removePeer));
  cluster.command('recover').description('ask this node to recover its Raft state from the other peers').action(action(deps, recover));
}

async function status(ctx: Context): Promise<void> {
  const raw = await ctx.client.get('/cluster');
  const s = parseClusterStatus(raw);
  show(ctx, raw, () => {
    if (!s.enabled) return fields([['status', 'disabled']]);
    return fields([
      ['status', 'enabled'],
      ['peer_id', s.peerId],
      ['peers', s.peers.length],
      ['leader', s.leader],
      ['role', s.role],
      ['voter', s.isVoter],
      ['term', s.term],
      ['commit', s.commit],
      ['pending_operations', s.pendingOperations],
      ['consensus_thread', s.consensus],
      ...s.sendFailures.map((f) => [`send_failures ${f.uri}`, `${f.count}${f.latestError === null ? '' : ` (${f.latestError})`}`] as const),
    ]);
  });
}

async function peers(ctx: Context): Promise<void> {
  if (ctx.json) {
    show(ctx, await ctx.client.get('/cluster'), () => '');
    return;
  }
  const cluster = await fetchCluster(ctx.client);
  const layout = await fetchLayout(ctx.client);
  const replicas = new Map<PeerId, number>();
  for (const shard of layout.shards) for (const r of shard.replicas) replicas.set(r.peer, (replicas.get(r.peer) ?? 0) + 1);
  const rows = [...cluster.peers]
    .sort((a, b) => comparePeerIds(a.id, b.id))
    .map((p) => [p.id, p.uri, p.id === cluster.leader ? 'leader' : '', p.id === cluster.peerId ? '*' : '', replicas.get(p.id) ?? 0]);
  ctx.io.out(table(['peer', 'uri', 'role', 'this', 'replicas'], rows));
}

async function removePeer(ctx: Context, [peer]: readonly unknown[], options: { force?: boolean }): Promise<void> {
  const id = peer as PeerId;
  const result = await ctx.client.delete(`/cluster/peer/${id}`, options.force === true ? { force: true } : undefined);
  expectTrue(result, `remove peer ${id}`);
  show(ctx, result, () => `peer ${id} removed from the cluster; stop its process and delete its storage`);
}

async function recover(ctx: Context): Promise<void> {
  const result = await ctx.client.post('/cluster/recover', undefined);
  expectTrue(result, 'recover');
  show(ctx, result, () => 'recovery of this node\'s Raft state requested');
}
