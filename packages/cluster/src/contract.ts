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
import type { AliasAction, CollectionConfig, CollectionPatch } from '@shoal/meta';

export interface RequestOptions {
  /** Aborts waiting (not work already made durable). */
  readonly signal?: AbortSignal;
  /** Absolute deadline, ms on the monotonic clock (performance.now()). */
  readonly deadlineMs?: number;
}

export type WriteOrdering = 'weak' | 'medium' | 'strong';

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
  /** params.exact; every search is exact until the HNSW index lands */
  readonly exact: boolean;
  readonly hnswEf: number | null;
}

export interface ScrollRequest {
  readonly filter: Filter | null;
  readonly offset: PointId | null;
  readonly limit: number;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
  readonly orderBy: OrderBy | null;
}

export interface ScrollResult {
  readonly points: readonly Record_[];
  /** Always null when ordered by a payload key (Qdrant's rule). */
  readonly nextPageOffset: PointId | null;
}

export interface LocalShardInfo {
  readonly shardId: number;
  readonly pointsCount: number;
  readonly state: 'Active' | 'Dead' | 'Partial' | 'Initializing' | 'Listener' | 'Recovery';
}

/** How a collection's shards are placed, as this node sees it. */
export interface CollectionClusterInfo {
  readonly peerId: number;
  readonly shardCount: number;
  readonly localShards: readonly LocalShardInfo[];
}

export interface CollectionsService {
  listCollections(): string[];
  collectionExists(name: string): boolean;
  /** 409-style conflict (Qdrant answers 400 "already exists") is the service's to decide. */
  createCollection(name: string, config: CollectionConfig, options: RequestOptions): Promise<void>;
  updateCollection(name: string, patch: CollectionPatch, options: RequestOptions): Promise<void>;
  /** false when it did not exist */
  deleteCollection(name: string, options: RequestOptions): Promise<boolean>;
  collectionInfo(name: string): CollectionInfo;
  collectionClusterInfo(name: string): CollectionClusterInfo;
  /** The config alone (cheap): what request parsing needs to know about vector spaces. */
  collectionConfig(name: string): CollectionConfig;

  updateAliases(actions: readonly AliasAction[], options: RequestOptions): Promise<void>;
  /** All aliases, or those of one collection. */
  listAliases(collection: string | null): { alias: string; collection: string }[];

  createFieldIndex(collection: string, field: string, params: PayloadIndexParams, options: WriteOptions): Promise<UpdateResult>;
  deleteFieldIndex(collection: string, field: string, options: WriteOptions): Promise<UpdateResult>;

  /** Point writes. Several operations in one call are applied in order (for /points/batch). */
  updatePoints(collection: string, ops: readonly PointOperation[], options: WriteOptions): Promise<UpdateResult>;

  retrieve(collection: string, ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, options: RequestOptions): Promise<Record_[]>;
  search(collection: string, request: SearchRequest, options: RequestOptions): Promise<ScoredPoint[]>;
  scroll(collection: string, request: ScrollRequest, options: RequestOptions): Promise<ScrollResult>;
  count(collection: string, filter: Filter | null, exact: boolean, options: RequestOptions): Promise<number>;
  facet(collection: string, key: string, filter: Filter | null, limit: number, exact: boolean, options: RequestOptions): Promise<FacetHit[]>;
}
