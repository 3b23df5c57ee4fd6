// The shape of a dense index's quantized codes, by kind, and the dispatch from a kind to its
// coder: how rows are coded at build time (into the records, with one f32 correction term right
// before each code), how a query is prepared at search time (into the searcher's query-code
// region, plus up to three f32 constants), and which traversal kind the WebAssembly search uses.
//
//   int8     quantize.ts  one byte per dimension; exact integer dot / L1 of codes
//   binary   binary.ts    1 bit per dimension (one_bit) or 2 (two_bits); Hamming distance
//   product  product.ts   one byte per sub-vector (a k-means centroid); per-query lookup tables
import type { DenseIndexParams } from './contract.js';
import { PQ_CENTROIDS } from './product.js';

/** Code kinds (DenseLayout.codeKind). */
export const CODE_NONE = 0;
export const CODE_INT8 = 1;
export const CODE_BINARY = 2;
export const CODE_PRODUCT = 3;

/**
 * Traversal kinds of hnsw.wat: f32 keys by metric code (0..2), then for each code kind its three
 * metrics: int8 3..5, binary 6..8, product 9..11.
 */
export const INT8_KIND_BASE = 3;
export const BINARY_KIND_BASE = 6;
export const PRODUCT_KIND_BASE = 9;

export interface CodeGeometry {
  readonly kind: number;
  /** Bytes of one row's code. */
  readonly bytes: number;
  /** Elements the kernel walks: int8 dimensions, binary 64-bit words, product sub-vectors. */
  readonly units: number;
  /** Alignment of a code in its record (the Hamming kernel reads 64-bit words). */
  readonly align: number;
  /** Dimensions per product sub-vector (the last may be shorter); 0 for other kinds. */
  readonly subdim: number;
  /** Bytes of the index-wide quantization data (product codebooks, binary thresholds). */
  readonly qdataBytes: number;
  /** Bytes of a searcher's prepared query: its code, or a product lookup table. */
  readonly queryCodeBytes: number;
}

/** Dimensions per sub-vector of product quantization: `compression` is f32 bytes per code byte. */
export function productSubdim(compression: number): number {
  return compression / 4;
}

export function codeGeometry(params: DenseIndexParams): CodeGeometry {
  const dim = params.dim;
  const q = params.quantization;
  const none = { kind: CODE_NONE, bytes: 0, units: 0, align: 1, subdim: 0, qdataBytes: 0, queryCodeBytes: dim + 16 };
  if (q === null) return none;
  switch (q.kind) {
    case 'int8':
      return { ...none, kind: CODE_INT8, bytes: dim, units: dim };
    case 'binary': {
      const words = Math.ceil(dim / 64) * (q.encoding === 'two_bits' ? 2 : 1);
      return { ...none, kind: CODE_BINARY, bytes: words * 8, units: words, align: 8, qdataBytes: 16, queryCodeBytes: words * 8 + 16 };
    }
    case 'product': {
      const subdim = productSubdim(q.compression);
      const units = Math.ceil(dim / subdim);
      return {
        ...none, kind: CODE_PRODUCT, bytes: units, units, subdim,
        qdataBytes: PQ_CENTROIDS * dim * 4,
        queryCodeBytes: Math.max(dim + 16, units * PQ_CENTROIDS * 4),
      };
    }
  }
}

/** The hnsw.wat traversal kind on a code kind's estimates, for a metric code. */
export function codeTraversalKind(codeKind: number, metric: number): number {
  switch (codeKind) {
    case CODE_INT8:
      return INT8_KIND_BASE + metric;
    case CODE_BINARY:
      return BINARY_KIND_BASE + metric;
    case CODE_PRODUCT:
      return PRODUCT_KIND_BASE + metric;
    default:
      return metric;
  }
}
