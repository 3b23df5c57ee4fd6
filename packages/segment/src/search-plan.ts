// Per segment and query, whether to walk the HNSW graph or score candidates exactly. Kept in
// one small function so that its choices are tested on their own and can be refined (payload
// index cardinality histograms, payload_m) without touching the search code.

/** Qdrant's kilobyte in vector sizes: 1 KB = one 256-dimensional float32 vector. */
export const VECTOR_KB_BYTES = 1024;

export type SearchPath = 'exact' | 'graph';

export interface SearchPathInput {
  /** The request asked for exact search (params.exact). */
  readonly exact: boolean;
  /** The segment has an HNSW graph for this vector. */
  readonly indexed: boolean;
  /** Live points holding this vector in the segment. */
  readonly vectors: number;
  readonly dim: number;
  /** hnsw_config.full_scan_threshold of this vector, KB. */
  readonly fullScanThresholdKb: number;
  /** Upper estimate of the points passing the filter (from payload indexes), or null without a filter. */
  readonly filterCardinality: number | null;
}

/** Vectors that fit under `kb` kilobytes at `dim` float32 values each (Qdrant's conversion). */
export function vectorsInKb(kb: number, dim: number): number {
  return Math.floor((kb * VECTOR_KB_BYTES) / (dim * Float32Array.BYTES_PER_ELEMENT));
}

/** Size of `count` vectors of `dim` float32 values, KB (whatever the stored datatype). */
export function vectorKb(count: number, dim: number): number {
  return (count * dim * Float32Array.BYTES_PER_ELEMENT) / VECTOR_KB_BYTES;
}

/**
 * Exact when asked, when there is no graph, when the whole segment is below the full-scan
 * threshold, or when the filter leaves fewer points than that (a graph walk would then visit
 * mostly rejected nodes); the graph otherwise.
 */
export function chooseSearchPath(input: SearchPathInput): SearchPath {
  if (input.exact || !input.indexed) return 'exact';
  const fullScanPoints = vectorsInKb(input.fullScanThresholdKb, input.dim);
  if (input.vectors < fullScanPoints) return 'exact';
  if (input.filterCardinality !== null && input.filterCardinality < fullScanPoints) return 'exact';
  return 'graph';
}
