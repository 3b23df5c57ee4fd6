// Shard transfers and replica removal in the metadata: the compare-and-set rules that keep a
// transfer's two ends and its record consistent whatever order proposals from different nodes
// (operators, the source finishing, a node marking a replica Dead) commit in.
//
// Invariants every accepted entry keeps (the model test checks them after each step):
// - a shard has at most one transfer; its source replica is Active at `sourceGeneration`, its
//   target replica Partial at `startedIndex`; a Partial replica is always a transfer's target;
// - a peer is the target of at most TRANSFERS_IN_PER_PEER_MAX transfers and the source of at most
//   TRANSFERS_OUT_PER_PEER_MAX, and never both a target and a source;
// - a Dead replica becomes Active only through a finished transfer;
// - a shard never loses its last replica, and only a forced peer removal takes its last Active one.
import { REPLICAS_PER_SHARD_MAX, TRANSFERS_IN_PER_PEER_MAX, TRANSFERS_OUT_PER_PEER_MAX } from './limits.js';
import type { ReplicaMeta, ShardMeta, ShardTransfer, TransferMethod } from './replicas.js';
import type { CollectionMeta, MetaRefusal, MetaState } from './state.js';
import type { MetaOperation } from './types.js';

type Op<K extends MetaOperation['kind']> = Extract<MetaOperation, { kind: K }>;

const bad = (reason: string): MetaRefusal => ({ code: 'bad_transfer', reason });

/** Transfers each peer is the source (out) and the target (in) of, over every collection. */
export function transferLoad(state: MetaState): { readonly outgoing: Map<number, number>; readonly incoming: Map<number, number> } {
  const outgoing = new Map<number, number>();
  const incoming = new Map<number, number>();
  for (const meta of state.collections.values()) {
    for (const t of meta.transfers) {
      outgoing.set(t.from, (outgoing.get(t.from) ?? 0) + 1);
      incoming.set(t.to, (incoming.get(t.to) ?? 0) + 1);
    }
  }
  return { outgoing, incoming };
}

/** Methods a transfer may be started or restarted with (resharding has its own operations in Qdrant). */
function checkMethod(method: TransferMethod): MetaRefusal | null {
  return method === 'resharding_stream_records' ? bad('resharding_stream_records is used by resharding only') : null;
}

export function startTransfer(state: MetaState, meta: CollectionMeta, op: Op<'start_transfer'>, index: number): CollectionMeta | MetaRefusal {
  const shard = meta.shards.get(op.shard);
  if (shard === undefined) return { code: 'replica_not_found', shard: op.shard, peer: op.from };
  if (op.from === op.to) return bad('a transfer needs two distinct peers');
  const source = shard.replicas.find((r) => r.peer === op.from);
  if (source === undefined) return { code: 'replica_not_found', shard: op.shard, peer: op.from };
  if (source.state !== 'Active') return bad(`the replica of shard ${op.shard} on peer ${op.from} is ${source.state}; a transfer needs an Active source`);
  const methodRefusal = checkMethod(op.method);
  if (methodRefusal !== null) return methodRefusal;
  const running = meta.transfers.find((t) => t.shard === op.shard);
  if (running !== undefined) return bad(`shard ${op.shard} already has a transfer (peer ${running.from} to peer ${running.to})`);
  const target = shard.replicas.find((r) => r.peer === op.to);
  if (target !== undefined && target.state !== 'Dead') return bad(`peer ${op.to} already holds a ${target.state} replica of shard ${op.shard}`);
  if (target === undefined && shard.replicas.length >= REPLICAS_PER_SHARD_MAX) return bad(`a shard holds at most ${REPLICAS_PER_SHARD_MAX} replicas`);
  const load = transferLoad(state);
  if ((load.outgoing.get(op.from) ?? 0) >= TRANSFERS_OUT_PER_PEER_MAX) return bad(`peer ${op.from} already sends ${TRANSFERS_OUT_PER_PEER_MAX} transfer(s), its limit`);
  if ((load.incoming.get(op.to) ?? 0) >= TRANSFERS_IN_PER_PEER_MAX) return bad(`peer ${op.to} already receives ${TRANSFERS_IN_PER_PEER_MAX} transfer(s), its limit`);
  if ((load.outgoing.get(op.to) ?? 0) > 0) return bad(`peer ${op.to} is the source of another transfer`);
  if ((load.incoming.get(op.from) ?? 0) > 0) return bad(`peer ${op.from} is the target of another transfer`);
  const deltaRefusal = checkDeltaTarget(op.method, target, op);
  if (deltaRefusal !== null) return deltaRefusal;
  const partial = targetReplica(op.to, op.method, target, index);
  const replicas = target === undefined ? [...shard.replicas, partial] : shard.replicas.map((r) => (r === target ? partial : r));
  const transfer: ShardTransfer = {
    shard: op.shard, from: op.from, to: op.to, sync: op.sync, method: op.method, startedIndex: index,
    sourceGeneration: source.generation, createdTarget: target === undefined,
  };
  return withShard({ ...meta, transfers: [...meta.transfers, transfer] }, { ...shard, replicas, fence: index });
}

/**
 * wal_delta sends only the writes its target missed: the target must hold a replica of the shard
 * that held every other write, i.e. a Dead one (or, for a restart, the target of a wal_delta
 * transfer) that no unfinished copy left half-filled.
 */
function checkDeltaTarget(method: TransferMethod, target: ReplicaMeta | undefined, op: { readonly shard: number; readonly to: number }): MetaRefusal | null {
  if (method !== 'wal_delta') return null;
  if (target === undefined) return bad(`wal_delta needs a replica of shard ${op.shard} on peer ${op.to} to send the writes it missed; it has none (use stream_records or snapshot)`);
  if (target.unfilled === true) return bad(`the replica of shard ${op.shard} on peer ${op.to} holds part of an unfinished transfer; wal_delta cannot complete it (use stream_records or snapshot)`);
  if (target.state !== 'Dead') return bad(`wal_delta recovers a Dead replica; the replica of shard ${op.shard} on peer ${op.to} is ${target.state} (use stream_records or snapshot)`);
  return null;
}

/**
 * The target of a transfer started or restarted at `index`: Partial, on empty storage of its own
 * (keyed by the transfer's id, and `unfilled` until the transfer finishes), except for wal_delta,
 * which sends only what the target missed and so keeps its data.
 */
function targetReplica(peer: number, method: TransferMethod, existing: ReplicaMeta | undefined, index: number): ReplicaMeta {
  if (method !== 'wal_delta') return { peer, state: 'Partial', generation: index, storage: index, unfilled: true };
  const keep = existing?.storage;
  return keep === undefined ? { peer, state: 'Partial', generation: index } : { peer, state: 'Partial', generation: index, storage: keep };
}

export function finishTransfer(meta: CollectionMeta, op: Op<'finish_transfer'>, index: number): CollectionMeta | MetaRefusal {
  const transfer = meta.transfers.find((t) => t.shard === op.shard && t.from === op.from && t.to === op.to && t.startedIndex === op.transferId);
  const shard = meta.shards.get(op.shard);
  if (transfer === undefined || shard === undefined) return { code: 'transfer_not_found', shard: op.shard, to: op.to };
  const target = shard.replicas.find((r) => r.peer === op.to);
  const source = shard.replicas.find((r) => r.peer === op.from);
  // Kept true by every other entry (any change of either end aborts the transfer); checked again
  // so that a finish can never activate a replica the transfer did not fill.
  if (target?.state !== 'Partial' || target.generation !== transfer.startedIndex) return bad(`the target replica of the transfer changed since it started`);
  if (source?.state !== 'Active' || source.generation !== transfer.sourceGeneration) return bad(`the source replica of the transfer changed since it started`);
  const { unfilled: _filled, ...filled } = target;
  const active: ReplicaMeta = { ...filled, state: 'Active', generation: index };
  let replicas: ReplicaMeta[];
  if (transfer.sync) replicas = shard.replicas.map((r) => (r === target ? active : r));
  else {
    // A move takes the source's place in the placement order.
    replicas = shard.replicas.filter((r) => r !== target).map((r) => (r === source ? active : r));
  }
  return withShard({ ...meta, transfers: meta.transfers.filter((t) => t !== transfer) }, { ...shard, replicas, fence: index });
}

export function abortTransfer(meta: CollectionMeta, op: Op<'abort_transfer'>, index: number): CollectionMeta | MetaRefusal {
  const transfer = meta.transfers.find(
    (t) => t.shard === op.shard && t.to === op.to && (op.from === undefined || t.from === op.from) && (op.transferId === undefined || t.startedIndex === op.transferId),
  );
  if (transfer === undefined) return { code: 'transfer_not_found', shard: op.shard, to: op.to };
  return withoutTransfer(meta, transfer, index);
}

/**
 * Ends `transfer` without finishing it: a target the start created is removed, one that was Dead
 * is Dead again (so recovery does not undo an operator's abort of a move or exceed the
 * replication factor, and a recovery can start over).
 */
export function withoutTransfer(meta: CollectionMeta, transfer: ShardTransfer, index: number): CollectionMeta {
  const transfers = meta.transfers.filter((t) => t !== transfer);
  const shard = meta.shards.get(transfer.shard);
  if (shard === undefined) return { ...meta, transfers };
  // A delta cut short leaves its target with part of the source's suffix redone, out of the
  // source's order: only a copy recovers it now.
  const unfinished = (r: ReplicaMeta): ReplicaMeta => (transfer.method === 'wal_delta' ? { ...r, unfilled: true } : r);
  const replicas = transfer.createdTarget
    ? shard.replicas.filter((r) => r.peer !== transfer.to)
    : shard.replicas.map((r) => (r.peer === transfer.to ? unfinished(r.state !== 'Dead' ? { ...r, state: 'Dead' as const, generation: index } : r) : r));
  return withShard({ ...meta, transfers }, { ...shard, replicas });
}

export function restartTransfer(meta: CollectionMeta, op: Op<'restart_transfer'>, index: number): CollectionMeta | MetaRefusal {
  const transfer = meta.transfers.find((t) => t.shard === op.shard && t.from === op.from && t.to === op.to && (op.transferId === undefined || t.startedIndex === op.transferId));
  const shard = meta.shards.get(op.shard);
  if (transfer === undefined || shard === undefined) return { code: 'transfer_not_found', shard: op.shard, to: op.to };
  const methodRefusal = checkMethod(op.method);
  if (methodRefusal !== null) return methodRefusal;
  const target = shard.replicas.find((r) => r.peer === op.to);
  const deltaRefusal = checkDeltaTarget(op.method, target, op);
  if (deltaRefusal !== null) return deltaRefusal;
  const restarted: ShardTransfer = { ...transfer, method: op.method, startedIndex: index };
  const replicas = shard.replicas.map((r) => (r === target ? targetReplica(r.peer, op.method, r, index) : r));
  return withShard({ ...meta, transfers: meta.transfers.map((t) => (t === transfer ? restarted : t)) }, { ...shard, replicas, fence: index });
}

export function removeReplica(meta: CollectionMeta, op: Op<'remove_replica'>, index: number): CollectionMeta | MetaRefusal {
  const shard = meta.shards.get(op.shard);
  const replica = shard?.replicas.find((r) => r.peer === op.peer);
  if (shard === undefined || replica === undefined) return { code: 'replica_not_found', shard: op.shard, peer: op.peer };
  if (shard.replicas.length === 1) return { code: 'bad_replica_change', reason: `the replica on peer ${op.peer} is the only replica of shard ${op.shard}` };
  if (replica.state === 'Active' && !shard.replicas.some((r) => r !== replica && r.state === 'Active')) {
    return { code: 'bad_replica_change', reason: `the replica on peer ${op.peer} is the last Active replica of shard ${op.shard}` };
  }
  return dropPeerFromShard(meta, shard.id, op.peer, index);
}

/** Removes `peer`'s replica of the shard, aborting the shard's transfer it is an end of, in one step. */
function dropPeerFromShard(meta: CollectionMeta, shardId: number, peer: number, index: number): CollectionMeta {
  let next = meta;
  const transfer = next.transfers.find((t) => t.shard === shardId && (t.from === peer || t.to === peer));
  if (transfer !== undefined) next = withoutTransfer(next, transfer, index);
  const shard = next.shards.get(shardId);
  if (shard === undefined) return next;
  return withShard(next, { ...shard, replicas: shard.replicas.filter((r) => r.peer !== peer), fence: index });
}

/** Every collection without `peer`'s replicas; a refusal when it holds any and `force` is off, or holds a shard's only replica. */
export function removePeer(state: MetaState, op: Op<'remove_peer'>, index: number): ReadonlyMap<string, CollectionMeta> | MetaRefusal {
  let held = 0;
  const collections = new Map(state.collections);
  for (const [name, meta] of state.collections) {
    let next = meta;
    for (const shard of meta.shards.values()) {
      if (!shard.replicas.some((r) => r.peer === op.peer)) continue;
      held += 1;
      next = dropPeerFromShard(next, shard.id, op.peer, index);
      // Its replica may be the shard's only one, or the source of a transfer whose target goes with it.
      if ((next.shards.get(shard.id)?.replicas.length ?? 0) === 0) {
        return { code: 'bad_replica_change', reason: `peer ${op.peer} holds the only copy of shard ${shard.id} of collection \`${name}\`; move it or delete the collection first` };
      }
    }
    if (next !== meta) collections.set(name, { ...next, version: meta.version + 1 });
  }
  if (held === 0) return state.collections;
  if (!op.force) return { code: 'peer_has_replicas', peer: op.peer, replicas: held };
  return collections;
}

/**
 * After replica state changes: a transfer whose source left Active (or changed generation) or
 * whose target was changed ends as aborted in the same entry, so no transfer outlives an end
 * that another node saw fail.
 */
export function abortBrokenTransfers(meta: CollectionMeta, index: number): CollectionMeta {
  let next = meta;
  for (const t of meta.transfers) {
    const shard = next.shards.get(t.shard);
    const source = shard?.replicas.find((r) => r.peer === t.from);
    const target = shard?.replicas.find((r) => r.peer === t.to);
    const intact = source?.state === 'Active' && source.generation === t.sourceGeneration && target?.state === 'Partial' && target.generation === t.startedIndex;
    if (!intact) next = withoutTransfer(next, t, index);
  }
  return next;
}

function withShard(meta: CollectionMeta, shard: ShardMeta): CollectionMeta {
  const shards = new Map(meta.shards);
  shards.set(shard.id, shard);
  return { ...meta, shards };
}
