// The contract of one segment, as the shard layer uses it. The implementation lives beside this
// file; the shard depends only on what is declared here.
import type {
  Filter,
  FacetHit,
  JsonValue,
  OrderBy,
  PayloadIndexParams,
  PayloadSchemaType,
  PointId,
  PointOperation,
  Record_,
  ScoredPoint,
  VectorParams,
  WithPayload,
  WithVector,
} from '@shoal/common';

/** What a segment stores: its vector spaces by name ('' is the unnamed default vector). */
export interface SegmentSchema {
  readonly vectors: ReadonlyMap<string, VectorParams>;
}

/** Result of applying one operation. Applying is deterministic: replaying gives the same result. */
export type ApplyResult =
  | { readonly ok: true }
  /**
   * The operation named points by id that do not exist. As in Qdrant, the points that do exist
   * were updated; the caller reports the first missing id (404).
   */
  | { readonly ok: false; readonly missing: readonly PointId[] };

export interface SearchParams {
  readonly vectorName: string;
  /** Raw query vector (not yet normalised); length equals the space's size. */
  readonly vector: Float32Array;
  readonly filter: Filter | null;
  /** How many results after `offset`. */
  readonly limit: number;
  readonly offset: number;
  /** Results worse than this are dropped (>= for similarity, <= for distances). */
  readonly scoreThreshold: number | null;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
  /** Points never returned (the query point of a search by id). */
  readonly excludeIds: readonly PointId[];
  /** Qdrant's params.exact: score every candidate instead of walking a graph. Default false. */
  readonly exact?: boolean;
  /** Qdrant's params.hnsw_ef (candidate list of a graph walk); default: the index's ef_construct. */
  readonly hnswEf?: number | null;
  /**
   * hnsw_config.full_scan_threshold of this vector, KB (1 KB = one 256-d float32 vector): a sealed
   * segment (or a filter's matches) smaller than this is scanned exactly. Default 10,000.
   */
  readonly fullScanThresholdKb?: number;
  /**
   * Qdrant's params.indexed_only: a shard skips its segments that are big enough to need a graph
   * but do not have one yet. A single segment ignores it.
   */
  readonly indexedOnly?: boolean;
  /**
   * Qdrant's params.quantization for graph walks; null: the index's defaults (use the codes,
   * rescore, the code kind's oversampling). Unset fields (null) are the index's choice too.
   */
  readonly quantization?: { readonly ignore: boolean; readonly rescore: boolean | null; readonly oversampling: number | null } | null;
}

export interface ScrollParams {
  readonly filter: Filter | null;
  /** First id to return (inclusive), in id order; null starts at the beginning. */
  readonly offset: PointId | null;
  readonly limit: number;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
}

export interface ScrollPage {
  readonly points: readonly Record_[];
  /** The id to pass as `offset` for the next page, or null at the end. */
  readonly nextOffset: PointId | null;
}

export interface OrderedScrollParams {
  readonly filter: Filter | null;
  readonly orderBy: OrderBy;
  readonly limit: number;
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
}

export interface OrderedRecord extends Record_ {
  /** The value of the order_by key this record was ordered by. */
  readonly orderValue: number;
}

export interface FacetParams {
  readonly key: string;
  readonly filter: Filter | null;
  readonly limit: number;
}

export interface PayloadIndexInfo {
  readonly params: PayloadIndexParams;
  /** Points that have at least one indexed value for this field. */
  readonly points: number;
}

export interface SegmentStats {
  readonly points: number;
  /** Points that have each named vector. */
  readonly vectors: ReadonlyMap<string, number>;
  readonly payloadBytesApprox: number;
  readonly vectorBytes: number;
  /**
   * vectorBytes by vector name: the memory each named vector's storage holds (rows as f32 per
   * value whatever the datatype, capacity, graph and codes when indexed).
   */
  readonly vectorBytesByName?: ReadonlyMap<string, number>;
  /** A shard's stats: segments held (appendable, frozen and sealed). */
  readonly segments?: number;
  /** Live vectors held in HNSW graphs (Qdrant's indexed_vectors_count). */
  readonly indexedVectors?: number;
  /** A shard's optimizer: Qdrant's collection status and optimizer_status. */
  readonly optimizer?: { readonly status: 'green' | 'yellow' | 'grey' | 'red'; readonly error: string | null };
}

export interface SegmentContract {
  readonly schema: SegmentSchema;

  /** Apply one validated operation (vector sizes and names already checked by the caller). */
  apply(op: PointOperation): ApplyResult;

  /**
   * Make the segment read-only except for deletes (kept as tombstones: rows, payloads and offsets
   * stay, nothing is compacted) and payload-index changes; the optimizer then seals a copy.
   */
  freeze(): void;

  has(id: PointId): boolean;
  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[];
  /** Exact nearest neighbours by the space's distance, best first, with Qdrant's scores. */
  search(params: SearchParams): ScoredPoint[];
  scroll(params: ScrollParams): ScrollPage;
  /** Requires a payload index on orderBy.key that supports ranges (integer / float / datetime). */
  scrollOrdered(params: OrderedScrollParams): OrderedRecord[];
  count(filter: Filter | null): number;
  /** Requires a keyword / integer / bool index on key. Counts points per value, largest first. */
  facet(params: FacetParams): FacetHit[];

  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo>;
  stats(): SegmentStats;

  /**
   * The whole segment as bytes (vectors binary, payloads as lossless JSON), for persistence.
   * Buffers owned by the caller: nothing in them is shared with the live segment, so they stay
   * the image as of this call while later updates apply.
   */
  serialize(): Uint8Array[];
  /**
   * The segment as of this call, encoded later: what serialize() would return now, without
   * holding the thread for the whole encoding. Taking it copies the vector rows; its encode()
   * awaits `pause` between steps of about a MiB of work, and later updates do not change it.
   */
  captureImage(): SegmentImageCapture;
}

export interface SegmentImageCapture {
  encode(pause: () => Promise<void>): Promise<SegmentImageBytes>;
}

export interface SegmentImageBytes {
  /** What serialize() returns. */
  readonly chunks: Uint8Array[];
  /** CRC-32C of the chunks back to back, so that an enclosing file's checksum need not read them again. */
  readonly crc: number;
}

export type { JsonValue, PayloadSchemaType };
