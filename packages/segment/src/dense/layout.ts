// Where everything of one dense index sits in its WebAssembly.Memory. Offsets are bytes from the
// start of the memory; the data regions are immutable once built, so any thread holding the
// memory and these numbers can search it.
//
//   0 ..        reserved (pointer 0 means "none"), then the control block (scratch slot states)
//   records     count x recordBytes, one per id:
//                 graph:  u32 link count | m0 x u32 level-0 links | payload
//                 payload: f32 row (no quantization), or f32 correction | code (codes.ts:
//                 int8, binary words 8-byte aligned, product bytes)
//   rows        count x dim f32, only when quantized (rescoring, construction); otherwise the
//               rows are the records' payloads (rowsPtr/rowStride point into the records)
//   qdata       quantization data of the whole index (product codebooks, binary thresholds)
//   levels      count x u8, top level of each node (graph only)
//   upperStart  count x u32, word index of a node's first upper block in `upper` (graph only)
//   upper       upperWords x u32: per node with level >= 1, one block of 1 + m words per level
//   extraStart  count + 1 x u32, only with extra links: node i's extra level-0 links are
//               extra[extraStart[i] .. extraStart[i + 1])
//   extra       extraWords x u32: the links of the subset graphs (payload_m), read by filtered
//               searches only, so unfiltered searches touch the same bytes as without them
//   keys        keysBytes of UTF-8 JSON: the keys of the linked subsets
//   dataEnd     everything above is per-thread scratch: slots of scratchBytes (memory.ts)
//
// A node's level-0 links sit right before its vector (or code), so expanding a node and scoring
// it read neighbouring cache lines.
import { assert } from '@shoal/common';
import type { DenseIndexParams, DenseMetric } from './contract.js';
import { CODE_NONE, codeGeometry } from './codes.js';
import { EXACT_CHUNK_ROWS, REGION_ALIGN, SEARCHERS_MAX } from './limits.js';

/** Metric codes shared with the WebAssembly search (hnsw.wat). */
export const METRIC_CODES: Readonly<Record<DenseMetric, number>> = { dot: 0, l2: 1, l1: 2 };

/** The numbers that locate one index's regions; crosses threads inside a DenseIndexHandle. */
export type DenseLayout = {
  readonly count: number;
  readonly dim: number;
  /** METRIC_CODES of params.metric. */
  readonly metric: number;
  readonly m: number;
  /** Level-0 link slots per node (2m); 0 without a graph. */
  readonly m0: number;
  /** 1 when the index has a graph. */
  readonly graph: number;
  /** 1 when the records carry int8 codes (and f32 rows sit in their own region). */
  readonly quantized: number;
  readonly controlPtr: number;
  readonly recordsPtr: number;
  readonly recordBytes: number;
  /** Offset in a record of its f32 correction term (int8 only). */
  readonly corrOffset: number;
  /** Offset in a record of its payload: the f32 row, or the int8 code. */
  readonly payloadOffset: number;
  readonly rowsPtr: number;
  readonly rowStride: number;
  readonly levelsPtr: number;
  readonly upperStartPtr: number;
  readonly upperPtr: number;
  readonly upperWords: number;
  /** Extra level-0 links (payload_m): starts per node (count + 1) and the pool; extraWords 0 = none. */
  readonly extraStartPtr: number;
  readonly extraPtr: number;
  readonly extraWords: number;
  /** UTF-8 JSON array of the linked subsets' keys (0 bytes: none). */
  readonly keysPtr: number;
  readonly keysBytes: number;
  /** Entry point of the graph (NO_NODE when empty or no graph). */
  readonly entry: number;
  readonly maxLevel: number;
  /** int8: a value v is coded as round((v - qMid) / qScale), clamped to +-127. */
  readonly qMid: number;
  readonly qScale: number;
  /** Code kind (codes.ts CODE_*), bytes per code, and elements the code kernels walk per code. */
  readonly codeKind: number;
  readonly codeBytes: number;
  readonly codeUnits: number;
  /** Index-wide quantization data (product codebooks, binary thresholds); 0 bytes: none. */
  readonly qdataPtr: number;
  readonly qdataBytes: number;
  /** Bytes of a searcher's prepared query (a code or a lookup table). */
  readonly queryCodeBytes: number;
  /** First and one-past-last byte of the data regions (what serialize() writes). */
  readonly dataStart: number;
  readonly dataEnd: number;
  /** Bytes of one searcher's scratch region. */
  readonly scratchBytes: number;
};

/** Where the parts of one searcher's scratch region sit, relative to its start. */
export type ScratchLayout = {
  readonly ctx: number;
  readonly query: number;
  readonly queryCode: number;
  readonly allowed: number;
  readonly deleted: number;
  readonly ids: number;
  readonly scores: number;
  readonly visited: number;
  readonly candidates: number;
  readonly results: number;
  readonly outIds: number;
  readonly outKeys: number;
  readonly bytes: number;
};

/** Bytes of the search context block at the start of a scratch region (read by hnsw.wat). */
export const CTX_BYTES = 256;

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Bytes of a bitset over `count` ids, padded to 16 bytes. */
export function bitsetBytes(count: number): number {
  return align(Math.ceil(count / 8), 16);
}

export function scratchLayout(count: number, dim: number, m0: number, queryCodeBytes = dim + 16): ScratchLayout {
  let at = 0;
  const take = (bytes: number): number => {
    const ptr = at;
    at = align(at + bytes, REGION_ALIGN);
    return ptr;
  };
  // Lists of ids to score: a neighbour list (m0) or a chunk of an exact scan.
  const listMax = Math.max(m0 + 16, EXACT_CHUNK_ROWS);
  const ctx = take(CTX_BYTES);
  const query = take(dim * 4);
  const queryCode = take(queryCodeBytes);
  const allowed = take(bitsetBytes(count));
  const deleted = take(bitsetBytes(count));
  const ids = take(listMax * 4);
  const scores = take(listMax * 4);
  const visited = take(count * 2);
  // Heaps and outputs hold at most every row once (+1 for a push before a pop).
  const candidates = take((count + 1) * 8);
  const results = take((count + 1) * 8);
  const outIds = take((count + 1) * 4);
  const outKeys = take((count + 1) * 4);
  return { ctx, query, queryCode, allowed, deleted, ids, scores, visited, candidates, results, outIds, outKeys, bytes: at };
}

export interface LayoutInput {
  readonly params: DenseIndexParams;
  readonly count: number;
  /** Words of the upper-level pool (sum over nodes of level * (1 + m)). */
  readonly upperWords: number;
  readonly entry: number;
  readonly maxLevel: number;
  readonly qMid: number;
  readonly qScale: number;
  /** Words of extra level-0 links (0 or absent: none). */
  readonly extraWords?: number;
  /** Bytes of the subset keys' JSON (0 or absent: none). */
  readonly keysBytes?: number;
}

export function planLayout(input: LayoutInput): DenseLayout {
  const { params, count } = input;
  const dim = params.dim;
  const graph = params.m > 0 ? 1 : 0;
  const code = codeGeometry(params);
  const quantized = code.kind === CODE_NONE ? 0 : 1;
  const m0 = graph === 1 ? 2 * params.m : 0;
  // Extra links without a graph (m = 0, subset links only) still need the link count word (0).
  const linksBytes = graph === 1 || (input.extraWords ?? 0) > 0 ? 4 * (1 + m0) : 0;
  let corrOffset = 0;
  let payloadOffset: number;
  let recordBytes: number;
  if (quantized === 1) {
    payloadOffset = align(linksBytes + 4, code.align);
    corrOffset = payloadOffset - 4;
    recordBytes = align(payloadOffset + code.bytes, 16);
  } else {
    payloadOffset = align(linksBytes, 16);
    recordBytes = align(payloadOffset + dim * 4, 16);
  }
  let at = REGION_ALIGN;
  const take = (bytes: number): number => {
    const ptr = at;
    at = align(at + bytes, REGION_ALIGN);
    return ptr;
  };
  // One state word per scratch slot (memory.ts).
  const controlPtr = take(SEARCHERS_MAX * 4);
  const dataStart = at;
  const recordsPtr = take(count * recordBytes);
  const rowsPtr = quantized === 1 ? take(count * dim * 4) : recordsPtr + payloadOffset;
  const rowStride = quantized === 1 ? dim * 4 : recordBytes;
  const qdataPtr = take(code.qdataBytes);
  const levelsPtr = take(graph === 1 ? count : 0);
  const upperStartPtr = take(graph === 1 ? count * 4 : 0);
  const upperPtr = take(input.upperWords * 4);
  const extraWords = input.extraWords ?? 0;
  const keysBytes = input.keysBytes ?? 0;
  const extraStartPtr = take(extraWords > 0 ? (count + 1) * 4 : 0);
  const extraPtr = take(extraWords * 4);
  const keysPtr = take(keysBytes);
  const dataEnd = at;
  const scratch = scratchLayout(count, dim, m0, code.queryCodeBytes);
  assert(input.upperWords === 0 || graph === 1, 'upper links without a graph');
  return {
    count, dim, metric: METRIC_CODES[params.metric], m: graph === 1 ? params.m : 0, m0, graph, quantized,
    controlPtr, recordsPtr, recordBytes, corrOffset, payloadOffset, rowsPtr, rowStride,
    levelsPtr, upperStartPtr, upperPtr, upperWords: input.upperWords, extraStartPtr, extraPtr, extraWords, keysPtr, keysBytes,
    entry: input.entry, maxLevel: input.maxLevel, qMid: input.qMid, qScale: input.qScale,
    dataStart, dataEnd, scratchBytes: align(scratch.bytes, REGION_ALIGN),
    codeKind: code.kind, codeBytes: code.bytes, codeUnits: code.units, qdataPtr, qdataBytes: code.qdataBytes,
    queryCodeBytes: code.queryCodeBytes,
  };
}

/** Copy with a changed graph entry (the entry is known only once the graph is built). */
export function withEntry(layout: DenseLayout, entry: number, maxLevel: number): DenseLayout {
  return { ...layout, entry, maxLevel };
}
