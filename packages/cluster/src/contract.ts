// What the REST (and later gRPC) layer asks of the node. Every collection argument may be a
// collection name or an alias. Errors are ShoalError with a kind (not_found for an unknown
// collection, bad_request for input the collection's config rejects, …).
import type {
  FacetHit,
  Filter,
  OrderBy,
  PayloadIndexParams,
  PayloadSchemaType,
  PointId,
  PointOperation,
  Record_,
  ScoredPoint,
  WithPayload,
  WithVector,
} from '@shoal/common';
import type { AliasAction, CollectionConfig, CollectionPatch, ReplicaState, ShardKey, TransferMethod } from '@shoal/meta';
import type { ShardArchive } from '@shoal/shard';
import type { ReadConsistency, WriteOrdering } from './replica-set.js';

export type { ReadConsistency, WriteOrdering } from './replica-set.js';

/**
 * The shard keys a request names (`shard_key`): one or several keys, or a target key with a
 * fallback used when the target does not exist. Absent: all shards.
 */
export type ShardKeySelector =
  | { readonly kind: 'keys'; readonly keys: readonly ShardKey[] }
  | { readonly kind: 'fallback'; readonly target: ShardKey; readonly fallback: ShardKey };

export interface RequestOptions {
  /** Aborts waiting (not work already made durable). */
  readonly signal?: AbortSignal;
  /** Absolute deadline, ms on the monotonic clock (performance.now()). */
  readonly deadlineMs?: number;
  /** Reads: how many replicas of each shard answer (`consistency`); default one. */
  readonly consistency?: ReadConsistency;
  /** Reads: the shard keys to read from (custom sharding); default all. */
  readonly shardKey?: ShardKeySelector | null;
  /**
   * Metadata reads (`linearizable=true`, a Shoal extension): confirm with the Raft leader's commit
   * (ReadIndex) and act on it before answering from this node's state. Ignored by a standalone node.
   */
  readonly linearizable?: boolean;
}

/** One point operation of a write request and the shard keys it names. */
export interface PointWrite {
  readonly op: PointOperation;
  readonly shardKey: ShardKeySelector | null;
}

export interface WriteOptions extends RequestOptions {
  /** true: answer after the write is applied; false: after it is durable in the WAL. */
  readonly wait: boolean;
  readonly ordering: WriteOrdering;
}

export interface UpdateResult {
  readonly operationId: number;
  readonly status: 'acknowledged' | 'completed';
}

export interface PayloadFieldInfo {
  readonly dataType: PayloadSchemaType;
  readonly params: PayloadIndexParams;
  readonly points: number;
}

export interface CollectionInfo {
  /** 'green' | 'yellow' | 'grey' | 'red' */
  readonly status: 'green' | 'yellow' | 'grey' | 'red';
  readonly optimizerStatus: { readonly ok: true } | { readonly error: string };
  readonly pointsCount: number;
  readonly indexedVectorsCount: number;
  readonly segmentsCount: number;
  readonly config: CollectionConfig;
  readonly payloadSchema: ReadonlyMap<string, PayloadFieldInfo>;
}

export interface SearchRequest {
  readonly vectorName: string;
  /** A vector, or the id of a stored point whose vector (by vectorName) is the query. */
  readonly query: { readonly kind: 'vector'; readonly vector: Float32Array } | { readonly kind: 'point'; readonly id: PointId };
  readonly filter: Filter | null;
  readonly limit: number;
  readonly offset: number;
  readonly scoreThreshold: number | null;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
  /** params.exact: score every candidate on the f32 vectors (quantization is ignored). */
  readonly exact: boolean;
  readonly hnswEf: number | null;
  /** params.indexed_only: skip segments that need a graph but do not have one yet. */
  readonly indexedOnly?: boolean;
  /** params.quantization; null: the index's defaults. Unset fields (null) are the index's choice. */
  readonly quantization?: { readonly ignore: boolean; readonly rescore: boolean | null; readonly oversampling: number | null } | null;
}

export interface ScrollRequest {
  readonly filter: Filter | null;
  readonly offset: PointId | null;
  readonly limit: number;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
  readonly orderBy: OrderBy | null;
}

/**
 * A point as a read returns it. In a custom-sharded collection `shardKey` is the key of the shard
 * that answered it; when the same id is held under several keys the answer has one copy (see
 * the merge rules in collection.ts and merge.ts) with that copy's key. Absent under auto sharding.
 */
export interface PointRecord extends Record_ {
  readonly shardKey?: ShardKey;
}

/** A scored point as a search returns it, with `shardKey` as in PointRecord. */
export interface ScoredPointRecord extends ScoredPoint {
  readonly shardKey?: ShardKey;
}

export interface ScrollResult {
  readonly points: readonly PointRecord[];
  /** Always null when ordered by a payload key (Qdrant's rule). */
  readonly nextPageOffset: PointId | null;
}

export interface LocalShardInfo {
  readonly shardId: number;
  readonly shardKey: ShardKey | null;
  readonly pointsCount: number;
  readonly state: ReplicaState;
}

export interface RemoteShardInfo {
  readonly shardId: number;
  readonly shardKey: ShardKey | null;
  readonly peerId: number;
  readonly state: ReplicaState;
}

export interface ShardTransferInfo {
  readonly shardId: number;
  /** The target shard, when it differs from the source (resharding only): always null here. */
  readonly toShardId: number | null;
  readonly from: number;
  readonly to: number;
  readonly sync: boolean;
  readonly method: TransferMethod;
  /** Progress, as the source peer reports it; null on other peers (as in Qdrant). */
  readonly comment: string | null;
}

/** How a collection's shards are placed, as this node sees it (GET /collections/{c}/cluster). */
export interface CollectionClusterInfo {
  readonly peerId: number;
  readonly shardCount: number;
  readonly localShards: readonly LocalShardInfo[];
  readonly remoteShards: readonly RemoteShardInfo[];
  readonly transfers: readonly ShardTransferInfo[];
}

/** POST /collections/{c}/cluster: one of Qdrant's ClusterOperations. */
export type ClusterOperation =
  | { readonly kind: 'move_shard' | 'replicate_shard'; readonly shardId: number; readonly from: number; readonly to: number; readonly method: TransferMethod | null }
  | { readonly kind: 'abort_transfer'; readonly shardId: number; readonly from: number; readonly to: number }
  | { readonly kind: 'restart_transfer'; readonly shardId: number; readonly from: number; readonly to: number; readonly method: TransferMethod }
  | { readonly kind: 'drop_replica'; readonly shardId: number; readonly peer: number }
  | { readonly kind: 'create_sharding_key'; readonly request: CreateShardKeyRequest }
  | { readonly kind: 'drop_sharding_key'; readonly key: ShardKey };

/** PUT /collections/{c}/shards. */
export interface CreateShardKeyRequest {
  readonly key: ShardKey;
  /** Shards for this key; default: the collection's shard_number. */
  readonly shardsNumber: number | null;
  /** Replicas of each; default: the collection's replication_factor. */
  readonly replicationFactor: number | null;
  /** Peers to place the shards on; default: all peers. */
  readonly placement: readonly number[] | null;
  /** State the new replicas start in; default: Active once created on their peers. */
  readonly initialState: ReplicaState | null;
}

export interface CollectionsService {
  /**
   * With `options.linearizable`, waits until this node has acted on the leader's commit index as
   * confirmed by a quorum now (ReadIndex); 503 when that cannot complete before the deadline.
   * Otherwise (and on a standalone node) returns at once. Absent: metadata reads are local only.
   */
  confirmMetadata?(options: RequestOptions): Promise<void>;
  listCollections(): string[];
  /** Catches up with the cluster's metadata before answering false. */
  collectionExists(name: string, options?: RequestOptions): Promise<boolean>;
  /** 409-style conflict (Qdrant answers 400 "already exists") is the service's to decide. */
  createCollection(name: string, config: CollectionConfig, options: RequestOptions): Promise<void>;
  updateCollection(name: string, patch: CollectionPatch, options: RequestOptions): Promise<void>;
  /** false when it did not exist */
  deleteCollection(name: string, options: RequestOptions): Promise<boolean>;
  collectionInfo(name: string, options?: RequestOptions): Promise<CollectionInfo>;
  collectionClusterInfo(name: string, options?: RequestOptions): Promise<CollectionClusterInfo>;
  /**
   * This node's replica of a shard as a shard archive (GET /collections/{c}/shards/{id}/snapshot),
   * captured now; 404 when the shard does not exist or is not here. Absent: not served.
   */
  shardArchive?(name: string, shardId: number, options?: RequestOptions): Promise<ShardArchive>;
  /**
   * The config alone (cheap): what request parsing needs to know about vector spaces. A name this
   * node does not know makes it catch up with the cluster's metadata (ReadIndex) before the 404.
   */
  collectionConfig(name: string, options?: RequestOptions): Promise<CollectionConfig>;

  createShardKey(collection: string, request: CreateShardKeyRequest, options: RequestOptions): Promise<void>;
  /** false when the key did not exist */
  deleteShardKey(collection: string, key: ShardKey, options: RequestOptions): Promise<void>;
  listShardKeys(collection: string, options: RequestOptions): Promise<ShardKey[] | null>;
  /** Moves, copies or drops shard replicas, aborts or restarts transfers, creates or drops shard keys. */
  updateCollectionCluster(collection: string, operation: ClusterOperation, options: RequestOptions): Promise<void>;

  updateAliases(actions: readonly AliasAction[], options: RequestOptions): Promise<void>;
  /** All aliases, or those of one collection. */
  listAliases(collection: string | null): { alias: string; collection: string }[];

  createFieldIndex(collection: string, field: string, params: PayloadIndexParams, options: WriteOptions): Promise<UpdateResult>;
  deleteFieldIndex(collection: string, field: string, options: WriteOptions): Promise<UpdateResult>;

  /** Point writes. Several operations in one call are applied in order (for /points/batch). */
  updatePoints(collection: string, writes: readonly PointWrite[], options: WriteOptions): Promise<UpdateResult>;

  retrieve(collection: string, ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, options: RequestOptions): Promise<PointRecord[]>;
  search(collection: string, request: SearchRequest, options: RequestOptions): Promise<ScoredPointRecord[]>;
  scroll(collection: string, request: ScrollRequest, options: RequestOptions): Promise<ScrollResult>;
  count(collection: string, filter: Filter | null, exact: boolean, options: RequestOptions): Promise<number>;
  facet(collection: string, key: string, filter: Filter | null, limit: number, exact: boolean, options: RequestOptions): Promise<FacetHit[]>;
}
