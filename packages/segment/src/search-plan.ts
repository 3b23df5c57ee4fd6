// Per segment and query, whether to walk the HNSW graph or score the candidates exactly, and how
// a filtered walk treats the points the filter rejects. One small pure function, tested on its
// own; the segment gives it the filter's estimated cardinality (cardinality.ts) and, when the
// estimate straddles the threshold, the exact count.
import type { Cardinality } from './cardinality.js';

/** Qdrant's kilobyte in vector sizes: 1 KB = one 256-dimensional float32 vector. */
export const VECTOR_KB_BYTES = 1024;

export type SearchPath = 'exact' | 'graph';

/**
 * How a filtered graph walk goes: 'all' scores and expands rejected points too (only results are
 * filtered), so it finds the filter's neighbours wherever they are, at the cost of visiting about
 * ef / selectivity points; 'allowed' moves only through the filter's points (and their subset
 * links) once it has found one, which needs those points linked among themselves.
 */
export type Traversal = 'all' | 'allowed';

/** Why the planner chose what it chose (shown by explainSearch and the benchmark). */
export type SearchReason =
  | 'requested' // params.exact
  | 'no-graph' // the space has no graph (and no subset graph covers the filter)
  | 'small-segment' // live vectors below full_scan_threshold
  | 'few-match' // the filter leaves fewer points than full_scan_threshold
  | 'unfiltered'
  | 'many-match' // the filter leaves at least full_scan_threshold points
  | 'subset-graph'; // ... and a subset graph (payload_m) covers it

export interface SearchChoice {
  readonly path: SearchPath;
  readonly traversal: Traversal;
  readonly reason: SearchReason;
}

export interface SearchPathInput {
  /** The request asked for exact search (params.exact). */
  readonly exact: boolean;
  /** The segment has an HNSW graph for this vector. */
  readonly indexed: boolean;
  /**
   * A subset graph (payload_m links) covers the filter: its points are one linked payload value's
   * points, or most of them.
   */
  readonly linked: boolean;
  /** Live points holding this vector in the segment. */
  readonly vectors: number;
  readonly dim: number;
  /** hnsw_config.full_scan_threshold of this vector, KB. */
  readonly fullScanThresholdKb: number;
  /** The filter's cardinality (estimated, or counted: min = max), or null without a filter. */
  readonly filterCardinality: Cardinality | null;
}

/** Vectors that fit under `kb` kilobytes at `dim` float32 values each (Qdrant's conversion). */
export function vectorsInKb(kb: number, dim: number): number {
  return Math.floor((kb * VECTOR_KB_BYTES) / (dim * Float32Array.BYTES_PER_ELEMENT));
}

/** Size of `count` vectors of `dim` float32 values, KB (whatever the stored datatype). */
export function vectorKb(count: number, dim: number): number {
  return (count * dim * Float32Array.BYTES_PER_ELEMENT) / VECTOR_KB_BYTES;
}

const choice = (path: SearchPath, reason: SearchReason, traversal: Traversal = 'all'): SearchChoice => ({ path, traversal, reason });

/**
 * Exact when asked, without a graph, when the whole segment is below the full-scan threshold, or
 * when the filter surely leaves fewer points than that (a walk would then visit mostly rejected
 * points); the graph when it surely leaves at least that many, through the filter's points only
 * when a subset graph links them, else through every point. 'count' when the estimate straddles
 * the threshold: the caller counts the matches and asks again with the exact number.
 */
export function chooseSearchPath(input: SearchPathInput): SearchChoice | 'count' {
  if (input.exact) return choice('exact', 'requested');
  const filter = input.filterCardinality;
  // Subset links alone (m = 0 with payload_m) serve only the filters they cover.
  const walkable = input.indexed || (input.linked && filter !== null);
  if (!walkable) return choice('exact', 'no-graph');
  const fullScanPoints = vectorsInKb(input.fullScanThresholdKb, input.dim);
  if (input.vectors < fullScanPoints) return choice('exact', 'small-segment');
  if (filter === null) return choice('graph', 'unfiltered');
  if (filter.max < fullScanPoints) return choice('exact', 'few-match');
  if (filter.min < fullScanPoints) return 'count';
  return input.linked ? choice('graph', 'subset-graph', 'allowed') : choice('graph', 'many-match');
}
