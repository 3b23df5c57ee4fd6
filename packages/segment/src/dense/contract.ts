// The contract of one named vector's index inside a sealed segment. A sealed segment keeps, per
// named vector, a DenseIndex holding that space's rows (float32, unit length for Cosine), their
// quantized codes and the HNSW graph in one WebAssembly.Memory. The segment layer maps point
// offsets to the index's ids (0..count-1) and turns the index's keys into Qdrant scores.
//
// Keys are "larger is better": the dot product for Dot and Cosine, the negated squared L2
// distance for Euclid, the negated L1 distance for Manhattan, computed by the same kernels as
// the appendable segment's exact scan, so both agree on scores and ties.

export type DenseMetric = 'dot' | 'l2' | 'l1';

/** Quantized copy used for traversal (and for exact scans when not ignored). */
export type DenseQuantization =
  /** int8 per dimension range, calibrated on the `quantile` of values (Qdrant's scalar int8). */
  | { readonly kind: 'int8'; readonly quantile: number; readonly alwaysRam: boolean }
  /**
   * One bit per dimension (its sign; 'one_bit', the default) or two ('two_bits': below, inside
   * or above a band around zero), scored by Hamming distance.
   */
  | { readonly kind: 'binary'; readonly alwaysRam: boolean; readonly encoding?: 'one_bit' | 'two_bits' }
  /** Product quantization: dimensions split into sub-vectors coded by k-means centroids. */
  | { readonly kind: 'product'; readonly compression: 4 | 8 | 16 | 32 | 64; readonly alwaysRam: boolean };

/**
 * How a search uses the codes (Qdrant's QuantizationSearchParams): `ignore` walks the f32 rows;
 * otherwise the best ceil(k * oversampling) estimates are rescored on the f32 rows (unless
 * `rescore` is false: then the best k estimates are returned with their estimated keys).
 */
export interface DenseQuantizationSearch {
  readonly ignore: boolean;
  readonly rescore: boolean | null;
  readonly oversampling: number | null;
}

export interface DenseIndexParams {
  readonly dim: number;
  readonly metric: DenseMetric;
  /** HNSW links per node on upper levels (level 0 keeps 2m). Qdrant's hnsw_config.m; 0 = no graph. */
  readonly m: number;
  readonly efConstruct: number;
  readonly quantization: DenseQuantization | null;
  /** Seeds the level generator: the same rows, order and seed give the same graph bytes. */
  readonly seed: number;
  /**
   * Links per node of the graph built over each subset given to the build (Qdrant's payload_m);
   * absent or 0: no subset graphs. Their level-0 links are added to the index as extra links,
   * which filtered searches follow. With m = 0 they are the only links (multitenancy).
   */
  readonly payloadM?: number;
}

/**
 * A set of ids (one indexed payload value's points) that gets a graph of its own at build time,
 * so that a search restricted to it finds a connected graph. `key` names it for the caller.
 */
export interface DenseSubset {
  readonly key: string;
  /** Index ids, ascending, no repeats. */
  readonly ids: Uint32Array;
}

export interface DenseSearchOptions {
  /** Results wanted. */
  readonly k: number;
  /** Candidate list size (Qdrant's hnsw_ef); raised to k when smaller. */
  readonly ef: number;
  /** Score every allowed row instead of walking the graph. */
  readonly exact: boolean;
  /** Bitset over ids (bit i of byte i>>3): only these may be returned; null = all. */
  readonly allowed: Uint8Array | null;
  /** Bitset over ids: never returned (deleted points); null = none. */
  readonly deleted: Uint8Array | null;
  /**
   * Qdrant's search params `quantization`; null = defaults (use the codes, rescore). rescore
   * null: rescore; oversampling null: the code kind's default (limits.ts OVERSAMPLING_DEFAULT).
   */
  readonly quantization: DenseQuantizationSearch | null;
  /**
   * How a graph search with `allowed` walks: 'all' (the default) scores and expands rejected
   * nodes too, so any filter finds its neighbours at the cost of visiting about ef / selectivity
   * nodes; 'allowed' scores and expands only allowed nodes once the first one is found (Qdrant's
   * filtered search), which needs the allowed nodes to be linked among themselves: many of them,
   * or a subset graph (payloadM) covering the filter.
   */
  readonly traversal?: 'all' | 'allowed';
}

export interface DenseSearchResult {
  /** Index ids, best first. */
  readonly ids: Uint32Array;
  /** Keys (larger is better), aligned with ids; float32 results of the kernels. */
  readonly keys: Float32Array;
  /** Distance evaluations made (quantized and full precision): a noise-free measure of work. */
  readonly evaluations: number;
}

export interface DenseMemoryReport {
  readonly vectorBytes: number;
  /** Codes, their correction terms and the index-wide quantization data (codebooks). */
  readonly quantizedBytes: number;
  readonly graphBytes: number;
  /** Whole WebAssembly.Memory size, including scratch and slack. */
  readonly memoryBytes: number;
}

/**
 * What crosses between threads: the shared memory plus the numbers that locate regions in it.
 * Structured-cloneable; posting it to another thread shares the memory without copying.
 */
export interface DenseIndexHandle {
  readonly memory: WebAssembly.Memory;
  readonly layout: { readonly [key: string]: number };
  readonly params: DenseIndexParams;
}

export interface DenseIndex {
  readonly params: DenseIndexParams;
  /** Rows held; ids are 0..count-1. */
  readonly count: number;
  /** Whether a graph exists (false: every search is an exact scan, except one over a linked subset). */
  readonly indexed: boolean;
  /** Keys of the subsets linked at build time (payloadM), in build order. */
  readonly subsetKeys: readonly string[];
  search(query: Float32Array, options: DenseSearchOptions): DenseSearchResult;
  /** A copy of row `id` as stored (unit length for Cosine). */
  row(id: number): Float32Array;
  memory(): DenseMemoryReport;
  /** For posting to another thread; the receiver calls openDenseIndex(handle). */
  handle(): DenseIndexHandle;
  /** Bytes for a file: loading them back gives the same index without rebuilding. */
  serialize(): Uint8Array[];
}
