// The metadata state machine. `apply` is pure: it never mutates its input and depends on nothing
// but (state, operation), so every node that applies the same log holds the same state. A
// standalone node feeds it from a local durable log; a cluster will feed it from Raft.
import { assert, type PayloadIndexParams } from '@shoal/common';
import type { AliasAction, CollectionConfig, CollectionPatch, MetaOperation, Placement } from './types.js';
import { REPLICAS_PER_SHARD_MAX, RING_VNODES_MAX, SHARDS_PER_COLLECTION_MAX } from './limits.js';
import {
  abortBrokenTransfers,
  abortTransfer,
  finishTransfer,
  removePeer,
  removeReplica,
  restartTransfer,
  startTransfer,
} from './transfers.js';
import {
  formatShardKey,
  sameShardKey,
  type ReplicaChange,
  type ReplicaMeta,
  type ReplicaState,
  type RoutingScheme,
  type ShardKey,
  type ShardMeta,
  type ShardTransfer,
} from './replicas.js';

/**
 * The peer of the replicas of collections stored before placement was recorded (a standalone
 * node's collections): the node that reads them treats it as itself.
 */
export const LEGACY_LOCAL_PEER = 0;

export interface CollectionMeta {
  readonly name: string;
  readonly config: CollectionConfig;
  /** Payload index definitions by field path. */
  readonly payloadIndexes: ReadonlyMap<string, PayloadIndexParams>;
  /** Increases by one at every change of this collection's metadata. */
  readonly version: number;
  /**
   * Log index of the entry that created this incarnation of the collection. Storage is keyed by
   * it, so a collection deleted and created again under the same name never sees old data.
   */
  readonly createdIndex: number;
  readonly routing: RoutingScheme;
  /** Shards by id, each with its replicas. */
  readonly shards: ReadonlyMap<number, ShardMeta>;
  /** The id the next new shard gets (ids are never reused within an incarnation). */
  readonly nextShardId: number;
  readonly transfers: readonly ShardTransfer[];
}

export interface MetaState {
  readonly collections: ReadonlyMap<string, CollectionMeta>;
  /** alias -> collection name */
  readonly aliases: ReadonlyMap<string, string>;
  /** Index of the last applied log entry. */
  readonly appliedIndex: number;
}

export const EMPTY_META_STATE: MetaState = { collections: new Map(), aliases: new Map(), appliedIndex: 0 };

/**
 * Why an operation was refused. Refusals are deterministic outcomes, not errors: the entry stays
 * in the log and every replica refuses it the same way.
 */
export type MetaRefusal =
  | { readonly code: 'collection_exists'; readonly name: string }
  | { readonly code: 'collection_not_found'; readonly name: string }
  | { readonly code: 'alias_exists'; readonly name: string }
  | { readonly code: 'alias_not_found'; readonly name: string }
  | { readonly code: 'name_is_collection'; readonly name: string }
  | { readonly code: 'bad_placement'; readonly reason: string }
  | { readonly code: 'not_custom_sharding'; readonly name: string }
  | { readonly code: 'shard_key_exists'; readonly key: ShardKey }
  | { readonly code: 'shard_key_not_found'; readonly key: ShardKey }
  | { readonly code: 'transfer_exists'; readonly shard: number; readonly to: number }
  | { readonly code: 'transfer_not_found'; readonly shard: number; readonly to: number }
  | { readonly code: 'replica_not_found'; readonly shard: number; readonly peer: number }
  /** A transfer that cannot start, finish or restart as asked (the reason says why). */
  | { readonly code: 'bad_transfer'; readonly reason: string }
  /** A replica that cannot be removed (the only one, the last Active one). */
  | { readonly code: 'bad_replica_change'; readonly reason: string }
  | { readonly code: 'peer_has_replicas'; readonly peer: number; readonly replicas: number };

export type ApplyOutcome = { readonly ok: true } | { readonly ok: false; readonly refusal: MetaRefusal };

export interface Applied {
  readonly state: MetaState;
  readonly outcome: ApplyOutcome;
}

const OK: ApplyOutcome = { ok: true };
const refuse = (state: MetaState, refusal: MetaRefusal): Applied => ({ state, outcome: { ok: false, refusal } });

/** Apply the log entry at `index`. Entries must be applied in order, each exactly once. */
export function apply(state: MetaState, index: number, op: MetaOperation): Applied {
  assert(index === state.appliedIndex + 1, `meta: entry ${index} applied after ${state.appliedIndex}`);
  const next = applyOperation(state, index, op);
  return { state: { ...next.state, appliedIndex: index }, outcome: next.outcome };
}

function applyOperation(state: MetaState, index: number, op: MetaOperation): Applied {
  switch (op.kind) {
    case 'create_collection':
      return createCollection(state, index, op);
    case 'update_collection':
      return updateCollection(state, op.name, op.patch);
    case 'delete_collection':
      return deleteCollection(state, op.name);
    case 'change_aliases':
      return changeAliases(state, op.actions);
    case 'create_field_index':
      return changeIndexes(state, op.collection, (indexes) => {
        indexes.set(op.field, op.params);
        return null;
      });
    case 'delete_field_index':
      return changeIndexes(state, op.collection, (indexes) => {
        // Idempotent, as in Qdrant: deleting an index that is not there succeeds.
        indexes.delete(op.field);
        return null;
      });
    case 'set_replica_states':
      return changeCollection(state, op.collection, op.incarnation, (meta) =>
        abortBrokenTransfers({ ...meta, shards: applyReplicaChanges(meta, op.changes, index) }, index),
      );
    case 'create_shard_key':
      return changeCollection(state, op.collection, op.incarnation, (meta) => createShardKey(meta, op.key, op.placement, op.initialState, index));
    case 'delete_shard_key':
      return changeCollection(state, op.collection, op.incarnation, (meta) => deleteShardKey(meta, op.key));
    case 'start_transfer':
      return changeCollection(state, op.collection, op.incarnation, (meta) => startTransfer(state, meta, op, index));
    case 'finish_transfer':
      return changeCollection(state, op.collection, op.incarnation, (meta) => finishTransfer(meta, op, index));
    case 'abort_transfer':
      return changeCollection(state, op.collection, op.incarnation, (meta) => abortTransfer(meta, op, index));
    case 'restart_transfer':
      return changeCollection(state, op.collection, op.incarnation, (meta) => restartTransfer(meta, op, index));
    case 'remove_replica':
      return changeCollection(state, op.collection, op.incarnation, (meta) => removeReplica(meta, op, index));
    case 'remove_peer': {
      const collections = removePeer(state, op, index);
      if ('code' in collections) return refuse(state, collections as MetaRefusal);
      return { state: { ...state, collections }, outcome: OK };
    }
  }
}

function createCollection(state: MetaState, index: number, op: Extract<MetaOperation, { kind: 'create_collection' }>): Applied {
  const { name, config } = op;
  if (state.collections.has(name)) return refuse(state, { code: 'collection_exists', name });
  if (state.aliases.has(name)) return refuse(state, { code: 'alias_exists', name });
  const routing = op.routing ?? MODULO;
  const placement = op.placement ?? legacyPlacement(config);
  const refusal = checkRouting(routing) ?? checkPlacement(placement, 0);
  if (refusal !== null) return refuse(state, refusal);
  if (config.shardingMethod === 'auto' && placement.length !== config.shardNumber) {
    return refuse(state, { code: 'bad_placement', reason: `${placement.length} placed shards for shard_number ${config.shardNumber}` });
  }
  if (config.shardingMethod === 'custom' && placement.length !== 0) {
    return refuse(state, { code: 'bad_placement', reason: 'a collection with custom sharding gets its shards with its shard keys' });
  }
  const initial = op.placement === undefined ? 'Active' : (op.initialState ?? 'Initializing');
  const shards = new Map<number, ShardMeta>();
  placement.forEach((peers, id) => shards.set(id, newShard(id, null, peers, initial, index)));
  const meta: CollectionMeta = {
    name, config, payloadIndexes: new Map(), version: 1, createdIndex: index, routing, shards, nextShardId: placement.length, transfers: [],
  };
  const collections = new Map(state.collections);
  collections.set(name, meta);
  return { state: { ...state, collections }, outcome: OK };
}

const MODULO: RoutingScheme = { kind: 'modulo' };

/** What an entry written before placement was stored means: one local Active replica per shard. */
function legacyPlacement(config: CollectionConfig): Placement {
  if (config.shardingMethod === 'custom') return [];
  return Array.from({ length: config.shardNumber }, () => [LEGACY_LOCAL_PEER]);
}

function checkRouting(routing: RoutingScheme): MetaRefusal | null {
  if (routing.kind === 'modulo') return null;
  if (!Number.isSafeInteger(routing.vnodes) || routing.vnodes < 1 || routing.vnodes > RING_VNODES_MAX) {
    return { code: 'bad_placement', reason: `ring vnodes must be an integer in [1, ${RING_VNODES_MAX}]` };
  }
  if (!Number.isSafeInteger(routing.seed) || routing.seed < 0 || routing.seed > 0xffffffff) {
    return { code: 'bad_placement', reason: 'ring seed must be a 32-bit unsigned integer' };
  }
  return null;
}

/** Each shard has 1..REPLICAS_PER_SHARD_MAX replicas on distinct peers (non-negative integers). */
function checkPlacement(placement: Placement, existingShards: number): MetaRefusal | null {
  if (placement.length + existingShards > SHARDS_PER_COLLECTION_MAX) {
    return { code: 'bad_placement', reason: `a collection holds at most ${SHARDS_PER_COLLECTION_MAX} shards` };
  }
  for (const peers of placement) {
    if (peers.length === 0 || peers.length > REPLICAS_PER_SHARD_MAX) {
      return { code: 'bad_placement', reason: `a shard needs 1 to ${REPLICAS_PER_SHARD_MAX} replicas` };
    }
    if (new Set(peers).size !== peers.length) return { code: 'bad_placement', reason: 'replicas of one shard must be on distinct peers' };
    if (!peers.every((p) => Number.isSafeInteger(p) && p >= 0)) return { code: 'bad_placement', reason: 'peer ids must be non-negative integers' };
  }
  return null;
}

function newShard(id: number, key: ShardKey | null, peers: readonly number[], state: ReplicaState, index: number): ShardMeta {
  return { id, key, replicas: peers.map((peer) => ({ peer, state, generation: index })) };
}

/**
 * Runs `change` on the collection if it is still incarnation `incarnation`; a refusal from it
 * leaves the state as it was. Every accepted change bumps the collection's version.
 */
function changeCollection(
  state: MetaState,
  name: string,
  incarnation: number,
  change: (meta: CollectionMeta) => CollectionMeta | MetaRefusal,
): Applied {
  const current = state.collections.get(name);
  if (current === undefined || current.createdIndex !== incarnation) return refuse(state, { code: 'collection_not_found', name });
  const next = change(current);
  if ('code' in next) return refuse(state, next);
  const collections = new Map(state.collections);
  collections.set(name, { ...next, version: current.version + 1 });
  return { state: { ...state, collections }, outcome: OK };
}

/**
 * Applies each change whose replica is still at its expected state and generation. Skipped too:
 * a change that would leave the shard without an Active replica, a Dead replica made Active (it
 * missed writes: only a transfer brings it back), a replica made Partial (only a transfer's
 * target is Partial), and any change of a transfer's target other than Dead.
 */
function applyReplicaChanges(meta: CollectionMeta, changes: readonly ReplicaChange[], index: number): ReadonlyMap<number, ShardMeta> {
  const next = new Map(meta.shards);
  for (const change of changes) {
    const shard = next.get(change.shard);
    if (shard === undefined) continue;
    const at = shard.replicas.findIndex((r) => r.peer === change.peer);
    const replica = shard.replicas[at];
    if (replica === undefined || replica.state !== change.expect.state || replica.generation !== change.expect.generation) continue;
    if (replica.state === change.state) continue;
    if (change.state === 'Partial' || (replica.state === 'Dead' && change.state === 'Active')) continue;
    if (meta.transfers.some((t) => t.shard === shard.id && t.to === replica.peer) && change.state !== 'Dead') continue;
    const leavesNoActive =
      replica.state === 'Active' && change.state !== 'Active' && shard.replicas.every((r) => r === replica || r.state !== 'Active');
    if (leavesNoActive) continue;
    next.set(shard.id, withReplica(shard, at, { ...replica, state: change.state, generation: index }));
  }
  return next;
}

function withReplica(shard: ShardMeta, at: number, replica: ReplicaMeta): ShardMeta {
  const replicas = [...shard.replicas];
  replicas[at] = replica;
  return { ...shard, replicas };
}

function createShardKey(meta: CollectionMeta, key: ShardKey, placement: Placement, initial: ReplicaState, index: number): CollectionMeta | MetaRefusal {
  if (meta.config.shardingMethod !== 'custom') return { code: 'not_custom_sharding', name: meta.name };
  if ([...meta.shards.values()].some((s) => sameShardKey(s.key, key))) return { code: 'shard_key_exists', key };
  if (placement.length === 0) return { code: 'bad_placement', reason: `shard key ${formatShardKey(key)} needs at least one shard` };
  const refusal = checkPlacement(placement, meta.shards.size);
  if (refusal !== null) return refusal;
  const shards = new Map(meta.shards);
  placement.forEach((peers, i) => shards.set(meta.nextShardId + i, newShard(meta.nextShardId + i, key, peers, initial, index)));
  return { ...meta, shards, nextShardId: meta.nextShardId + placement.length };
}

function deleteShardKey(meta: CollectionMeta, key: ShardKey): CollectionMeta | MetaRefusal {
  if (meta.config.shardingMethod !== 'custom') return { code: 'not_custom_sharding', name: meta.name };
  const gone = [...meta.shards.values()].filter((s) => sameShardKey(s.key, key)).map((s) => s.id);
  if (gone.length === 0) return { code: 'shard_key_not_found', key };
  const shards = new Map(meta.shards);
  for (const id of gone) shards.delete(id);
  return { ...meta, shards, transfers: meta.transfers.filter((t) => !gone.includes(t.shard)) };
}

function deleteCollection(state: MetaState, name: string): Applied {
  if (!state.collections.has(name)) return refuse(state, { code: 'collection_not_found', name });
  const collections = new Map(state.collections);
  collections.delete(name);
  // Qdrant drops the aliases of a deleted collection with it.
  const aliases = new Map([...state.aliases].filter(([, target]) => target !== name));
  return { state: { ...state, collections, aliases }, outcome: OK };
}

function updateCollection(state: MetaState, name: string, patch: CollectionPatch): Applied {
  const current = state.collections.get(name);
  if (current === undefined) return refuse(state, { code: 'collection_not_found', name });
  const config = patchConfig(current.config, patch);
  const collections = new Map(state.collections);
  collections.set(name, { ...current, config, version: current.version + 1 });
  return { state: { ...state, collections }, outcome: OK };
}

function patchConfig(config: CollectionConfig, patch: CollectionPatch): CollectionConfig {
  let vectors = config.vectors;
  let vectorOverrides = config.vectorOverrides;
  if (patch.vectors !== null) {
    const nextVectors = new Map(vectors);
    const nextOverrides = new Map(vectorOverrides);
    for (const [name, change] of patch.vectors) {
      const params = nextVectors.get(name);
      if (params === undefined) continue; // validated by the proposer; a stale patch changes nothing
      if (change.onDisk !== null) nextVectors.set(name, { ...params, onDisk: change.onDisk });
      const old = nextOverrides.get(name) ?? { hnsw_config: null, quantization_config: null, multivector_config: null };
      nextOverrides.set(name, {
        hnsw_config: change.hnsw_config === null ? old.hnsw_config : { ...old.hnsw_config, ...change.hnsw_config },
        quantization_config: change.quantization_config ?? old.quantization_config,
        multivector_config: old.multivector_config,
      });
    }
    vectors = nextVectors;
    vectorOverrides = nextOverrides;
  }
  const params = patch.params;
  return {
    ...config,
    vectors,
    vectorOverrides,
    replicationFactor: params?.replicationFactor ?? config.replicationFactor,
    writeConsistencyFactor: params?.writeConsistencyFactor ?? config.writeConsistencyFactor,
    onDiskPayload: params?.onDiskPayload ?? config.onDiskPayload,
    hnsw: patch.hnsw === null ? config.hnsw : { ...config.hnsw, ...patch.hnsw },
    optimizers: patch.optimizers === null ? config.optimizers : { ...config.optimizers, ...patch.optimizers },
    quantization:
      patch.quantization === 'disabled' ? null : patch.quantization === null ? config.quantization : patch.quantization,
    strictMode: patch.strictMode === null ? config.strictMode : { ...config.strictMode, ...patch.strictMode },
    metadata: patch.metadata === null ? config.metadata : { ...config.metadata, ...patch.metadata },
  };
}

/** All actions apply, in order, or none does (Qdrant's atomic alias switch). */
function changeAliases(state: MetaState, actions: readonly AliasAction[]): Applied {
  const aliases = new Map(state.aliases);
  for (const action of actions) {
    const refusal = applyAliasAction(state, aliases, action);
    if (refusal !== null) return refuse(state, refusal);
  }
  return { state: { ...state, aliases }, outcome: OK };
}

function applyAliasAction(state: MetaState, aliases: Map<string, string>, action: AliasAction): MetaRefusal | null {
  switch (action.kind) {
    case 'create':
      if (!state.collections.has(action.collection)) return { code: 'collection_not_found', name: action.collection };
      if (state.collections.has(action.alias)) return { code: 'name_is_collection', name: action.alias };
      // Qdrant re-points an existing alias on create.
      aliases.set(action.alias, action.collection);
      return null;
    case 'delete':
      if (!aliases.delete(action.alias)) return { code: 'alias_not_found', name: action.alias };
      return null;
    case 'rename': {
      const target = aliases.get(action.oldAlias);
      if (target === undefined) return { code: 'alias_not_found', name: action.oldAlias };
      if (state.collections.has(action.newAlias)) return { code: 'name_is_collection', name: action.newAlias };
      aliases.delete(action.oldAlias);
      aliases.set(action.newAlias, target);
      return null;
    }
  }
}

function changeIndexes(
  state: MetaState,
  collection: string,
  change: (indexes: Map<string, PayloadIndexParams>) => MetaRefusal | null,
): Applied {
  const current = state.collections.get(collection);
  if (current === undefined) return refuse(state, { code: 'collection_not_found', name: collection });
  const payloadIndexes = new Map(current.payloadIndexes);
  const refusal = change(payloadIndexes);
  if (refusal !== null) return refuse(state, refusal);
  const collections = new Map(state.collections);
  collections.set(collection, { ...current, payloadIndexes, version: current.version + 1 });
  return { state: { ...state, collections }, outcome: OK };
}

/** The collection an alias or a collection name refers to. */
export function resolveCollection(state: MetaState, nameOrAlias: string): CollectionMeta | undefined {
  return state.collections.get(nameOrAlias) ?? state.collections.get(state.aliases.get(nameOrAlias) ?? '');
}

/** The shards of a collection that hold a replica on `peer`. */
export function shardsOnPeer(meta: CollectionMeta, peer: number): ShardMeta[] {
  return [...meta.shards.values()].filter((s) => s.replicas.some((r) => r.peer === peer));
}

/** How many replicas each peer holds, over every collection: what balanced placement evens out. */
export function replicaCounts(state: MetaState): Map<number, number> {
  const counts = new Map<number, number>();
  for (const meta of state.collections.values()) {
    for (const shard of meta.shards.values()) {
      for (const r of shard.replicas) counts.set(r.peer, (counts.get(r.peer) ?? 0) + 1);
    }
  }
  return counts;
}

/** The shard keys of a collection, in the order their first shard was created. */
export function shardKeysOf(meta: CollectionMeta): ShardKey[] {
  const keys: ShardKey[] = [];
  for (const shard of [...meta.shards.values()].sort((a, b) => a.id - b.id)) {
    if (shard.key !== null && !keys.some((k) => sameShardKey(k, shard.key))) keys.push(shard.key);
  }
  return keys;
}
