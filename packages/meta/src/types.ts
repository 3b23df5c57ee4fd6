// Collection metadata as the metadata state machine holds it. Sub-configs keep Qdrant's
// snake_case field names, so they are reported exactly as they were given (with defaults filled).
import type { PayloadIndexParams, VectorParams } from '@shoal/common';
import type { ReplicaChange, ReplicaState, RoutingScheme, ShardKey, TransferMethod } from './replicas.js';

export interface HnswConfig {
  readonly m: number;
  readonly ef_construct: number;
  /** kilobytes of vectors below which search is exact */
  readonly full_scan_threshold: number;
  readonly max_indexing_threads: number;
  readonly on_disk: boolean | null;
  readonly payload_m: number | null;
}

export interface OptimizersConfig {
  readonly deleted_threshold: number;
  readonly vacuum_min_vector_number: number;
  readonly default_segment_number: number;
  readonly max_segment_size: number | null;
  readonly memmap_threshold: number | null;
  readonly indexing_threshold: number | null;
  readonly flush_interval_sec: number;
  readonly max_optimization_threads: number | null;
}

export interface WalConfig {
  readonly wal_capacity_mb: number;
  readonly wal_segments_ahead: number;
  /** closed WAL files kept below the last persisted image (Qdrant default 1) */
  readonly wal_retain_closed: number;
}

/** Qdrant's QuantizationConfig JSON ({scalar: …} | {product: …} | {binary: …}), validated. */
export type QuantizationConfig = { readonly [key: string]: unknown };

export interface CollectionConfig {
  /** Vector spaces by name; '' is the unnamed vector. */
  readonly vectors: ReadonlyMap<string, VectorParams>;
  /** true when created as `vectors: {size, distance}` (one unnamed vector). */
  readonly unnamedVectors: boolean;
  /** Per named vector: its own hnsw_config / quantization_config overrides, as given. */
  readonly vectorOverrides: ReadonlyMap<string, { readonly hnsw_config: Partial<HnswConfig> | null; readonly quantization_config: QuantizationConfig | null; readonly multivector_config: { readonly [key: string]: unknown } | null }>;
  readonly shardNumber: number;
  readonly replicationFactor: number;
  readonly writeConsistencyFactor: number;
  readonly shardingMethod: 'auto' | 'custom';
  readonly onDiskPayload: boolean;
  readonly hnsw: HnswConfig;
  readonly optimizers: OptimizersConfig;
  readonly wal: WalConfig;
  readonly quantization: QuantizationConfig | null;
  /** Qdrant's StrictModeConfig JSON as given, or null. */
  readonly strictMode: { readonly [key: string]: unknown } | null;
  /** Free-form collection metadata (Qdrant 1.16+ `metadata`). */
  readonly metadata: { readonly [key: string]: unknown } | null;
}

/** A PATCH of a collection: only the present parts change. */
export interface CollectionPatch {
  readonly vectors: ReadonlyMap<string, { readonly onDisk: boolean | null; readonly hnsw_config: Partial<HnswConfig> | null; readonly quantization_config: QuantizationConfig | null }> | null;
  readonly params: { readonly replicationFactor: number | null; readonly writeConsistencyFactor: number | null; readonly onDiskPayload: boolean | null } | null;
  readonly hnsw: Partial<HnswConfig> | null;
  readonly optimizers: Partial<OptimizersConfig> | null;
  /** `'disabled'` removes quantization. */
  readonly quantization: QuantizationConfig | 'disabled' | null;
  readonly strictMode: { readonly [key: string]: unknown } | null;
  readonly metadata: { readonly [key: string]: unknown } | null;
}

export type AliasAction =
  | { readonly kind: 'create'; readonly alias: string; readonly collection: string }
  | { readonly kind: 'delete'; readonly alias: string }
  | { readonly kind: 'rename'; readonly oldAlias: string; readonly newAlias: string };

/**
 * Replicas of each new shard, as peer ids in placement order (the first leads `strong` writes).
 * The proposer computes it (balancedPlacement); apply only checks it.
 */
export type Placement = readonly (readonly number[])[];

export type MetaOperation =
  | {
      readonly kind: 'create_collection';
      readonly name: string;
      readonly config: CollectionConfig;
      /** Absent in entries written before routing was stored: such a collection routes by modulo. */
      readonly routing?: RoutingScheme;
      /**
       * One entry per shard (auto sharding: exactly shard_number; custom sharding: none, shards
       * come with shard keys). Absent in entries written before placement was stored: each shard
       * then has one Active replica on LEGACY_LOCAL_PEER.
       */
      readonly placement?: Placement;
      /** State of the new replicas: Active on a standalone node, Initializing in a cluster. */
      readonly initialState?: ReplicaState;
    }
  | { readonly kind: 'update_collection'; readonly name: string; readonly patch: CollectionPatch }
  | { readonly kind: 'delete_collection'; readonly name: string }
  /** Applied atomically: all actions or none. */
  | { readonly kind: 'change_aliases'; readonly actions: readonly AliasAction[] }
  | { readonly kind: 'create_field_index'; readonly collection: string; readonly field: string; readonly params: PayloadIndexParams }
  | { readonly kind: 'delete_field_index'; readonly collection: string; readonly field: string }
  /**
   * Replica state changes, each applied only if its replica is still at the expected state and
   * generation (compare-and-set); the others are skipped. A change that would leave its shard
   * without an Active replica is skipped too. `incarnation` is the collection's createdIndex.
   */
  | { readonly kind: 'set_replica_states'; readonly collection: string; readonly incarnation: number; readonly changes: readonly ReplicaChange[] }
  /** New shards owned by `key` (custom sharding), one per placement entry; ids are assigned by apply. */
  | {
      readonly kind: 'create_shard_key';
      readonly collection: string;
      readonly incarnation: number;
      readonly key: ShardKey;
      readonly placement: Placement;
      readonly initialState: ReplicaState;
    }
  | { readonly kind: 'delete_shard_key'; readonly collection: string; readonly incarnation: number; readonly key: ShardKey }
  /**
   * Starts a transfer of one shard from an Active replica to a peer without one (or with a Dead
   * one): the target replica becomes Partial on empty storage of its own, and the transfer's id
   * is this entry's index. Refused when the shard already has a transfer, when a peer would
   * exceed its transfer limits, or when the target is the source of another transfer.
   */
  | {
      readonly kind: 'start_transfer';
      readonly collection: string;
      readonly incarnation: number;
      readonly shard: number;
      readonly from: number;
      readonly to: number;
      /** true: the source keeps its replica (replication, recovery); false: a move. */
      readonly sync: boolean;
      readonly method: TransferMethod;
    }
  /**
   * The transfer `transferId` completed: its target becomes Active and a move removes the source.
   * Compare-and-set: applied only while the transfer runs with that id, its target is still the
   * Partial replica it made and its source still Active at the generation it started from.
   */
  | {
      readonly kind: 'finish_transfer';
      readonly collection: string;
      readonly incarnation: number;
      readonly shard: number;
      readonly from: number;
      readonly to: number;
      readonly transferId: number;
    }
  /**
   * The transfer failed or was cancelled: its record goes, a target the start created is removed
   * and one that was Dead is Dead again. `from` and `transferId`, when given, must match.
   */
  | {
      readonly kind: 'abort_transfer';
      readonly collection: string;
      readonly incarnation: number;
      readonly shard: number;
      readonly to: number;
      readonly from?: number;
      readonly transferId?: number;
    }
  /** The running transfer (shard, from, to) starts over with `method`: a new id, the target on empty storage again. */
  | {
      readonly kind: 'restart_transfer';
      readonly collection: string;
      readonly incarnation: number;
      readonly shard: number;
      readonly from: number;
      readonly to: number;
      readonly method: TransferMethod;
      /** Only the transfer with this id (its startedIndex): a restart decided on an older view does not hit a newer transfer. */
      readonly transferId?: number;
    }
  /**
   * Removes one replica from a shard's placement (drop_replica, a move's clean-up). Refused for a
   * shard's only replica and for its last Active one; aborts the shard's transfer it is an end of.
   */
  | { readonly kind: 'remove_replica'; readonly collection: string; readonly incarnation: number; readonly shard: number; readonly peer: number }
  /**
   * A peer leaves: without `force` refused while it holds any replica (Dead ones too); with it,
   * every replica it holds is removed and every transfer it is an end of aborted, in this one
   * entry. Refused either way when it holds a shard's only replica.
   */
  | { readonly kind: 'remove_peer'; readonly peer: number; readonly force: boolean };
