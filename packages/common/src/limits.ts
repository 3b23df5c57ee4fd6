/**
 * Every limit in one place (STYLE.md §6). Each states its unit and its trade-off. Tests may
 * construct smaller limits so the "full" branches run every time.
 */
export interface Limits {
  /** Largest request body, bytes. Qdrant's service.max_request_size_mb, default 32 MiB. */
  readonly requestBytesMax: number;
  /** Largest vector dimension accepted in a collection config. Qdrant caps dense vectors at 65536. */
  readonly vectorSizeMax: number;
  /** Most points in one upsert / update_vectors request. Bigger batches use more memory per request. */
  readonly batchPointsMax: number;
  /** Most operations in one /points/batch request. */
  readonly batchOperationsMax: number;
  /** Most searches in one batch request. */
  readonly searchBatchMax: number;
  /** Largest limit + offset of a search or scroll; beyond this a request would hold too much in memory. */
  readonly resultPointsMax: number;
  /** Deepest nesting of a payload value or a filter; deeper input is rejected before recursion. */
  readonly jsonDepthMax: number;
  /** Longest collection or alias name, characters (Qdrant: 255). */
  readonly nameLengthMax: number;
  /** Most collections on a node. */
  readonly collectionsMax: number;
  /** Most writes waiting for one shard's WAL group commit before new ones get 503. */
  readonly walQueueMax: number;
  /** Bytes of WAL records gathered into one fsync. Larger groups mean fewer fsyncs, more latency. */
  readonly walGroupBytesMax: number;
}

export const DEFAULT_LIMITS: Limits = {
  requestBytesMax: 32 * 1024 * 1024,
  vectorSizeMax: 65_536,
  batchPointsMax: 100_000,
  batchOperationsMax: 1_000,
  searchBatchMax: 1_000,
  resultPointsMax: 1_000_000,
  jsonDepthMax: 64,
  nameLengthMax: 255,
  collectionsMax: 10_000,
  walQueueMax: 10_000,
  walGroupBytesMax: 16 * 1024 * 1024,
};
