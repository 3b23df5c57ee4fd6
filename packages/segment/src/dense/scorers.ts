// VectorScorers over a dense index's memory, for the graph code in ../hnsw (the JS search and
// build loops, used where the engine has no WebAssembly SIMD, and for the level-0 repair after a
// build). Queries are always views into the same memory (a row, or the searcher's query
// buffer), so a query is passed to the kernels as its byte offset without copying.
import { AssertionError } from '@shoal/common';
import type { Kernels, PairKernel, BatchKernel } from '../wasm/types.js';
import type { VectorScorer } from '../hnsw/scorer.js';
import type { DenseLayout } from './layout.js';
import { binaryKey } from './binary.js';
import { productKey } from './product.js';
import { estimateKey, l1I8 } from './quantize.js';
import type { Int8Range } from './quantize.js';

/** Where a scorer may put an id list and the scores of one batch (a searcher's scratch). */
export interface BatchScratch {
  readonly idsPtr: number;
  readonly scoresPtr: number;
}

/** Scores on the f32 rows: dot, negated squared L2 or negated L1, as the exact scan's keys. */
export class F32Scorer implements VectorScorer {
  readonly rows: number;
  readonly dim: number;
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;
  private readonly rowsPtr: number;
  private readonly stride: number;
  private readonly sign: number;
  private readonly pair: PairKernel;
  private readonly batch: BatchKernel;

  constructor(kernels: Kernels, layout: DenseLayout, private readonly scratch: BatchScratch) {
    this.rows = layout.count;
    this.dim = layout.dim;
    this.f32 = new Float32Array(kernels.memory.buffer);
    this.u32 = new Uint32Array(kernels.memory.buffer);
    this.rowsPtr = layout.rowsPtr;
    this.stride = layout.rowStride;
    this.sign = layout.metric === 0 ? 1 : -1;
    this.pair = layout.metric === 0 ? kernels.dotF32 : layout.metric === 1 ? kernels.l2sqF32 : kernels.l1F32;
    this.batch = layout.metric === 0 ? kernels.dotF32Batch : layout.metric === 1 ? kernels.l2sqF32Batch : kernels.l1F32Batch;
  }

  score(query: Float32Array, id: number): number {
    return this.sign * this.pair(query.byteOffset, this.rowsPtr + id * this.stride, this.dim);
  }

  scoreBatch(query: Float32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const { idsPtr, scoresPtr } = this.scratch;
    this.u32.set(ids.subarray(0, count), idsPtr >>> 2);
    this.batch(query.byteOffset, this.rowsPtr, this.dim, idsPtr, count, scoresPtr, this.stride);
    const f32 = this.f32;
    const from = scoresPtr >>> 2;
    const sign = this.sign;
    for (let i = 0; i < count; i++) out[i] = sign * (f32[from + i] as number);
  }

  scorePair(a: number, b: number): number {
    return this.sign * this.pair(this.rowsPtr + a * this.stride, this.rowsPtr + b * this.stride, this.dim);
  }

  row(id: number): Float32Array {
    const at = (this.rowsPtr + id * this.stride) >>> 2;
    return this.f32.subarray(at, at + this.dim);
  }
}

/**
 * Estimated keys from int8 codes (see quantize.ts) against the searcher's coded query, which the
 * caller writes (with its correction) before searching; the query argument is ignored. Search
 * only: construction always scores f32 rows.
 */
export class Int8Scorer implements CodeScorer {
  readonly rows: number;
  readonly dim: number;
  /** The coded query's byte offset and correction term, set per search. */
  queryPtr = 0;
  queryCorr = 0;
  private readonly f32: Float32Array;
  private readonly i8: Int8Array;
  private readonly u32: Uint32Array;
  private readonly codesPtr: number;
  private readonly corrIndex: number;
  private readonly strideWords: number;
  private readonly stride: number;
  private readonly metric: number;
  private readonly range: Int8Range;

  constructor(private readonly kernels: Kernels, layout: DenseLayout, private readonly scratch: BatchScratch) {
    this.rows = layout.count;
    this.dim = layout.dim;
    this.f32 = new Float32Array(kernels.memory.buffer);
    this.i8 = new Int8Array(kernels.memory.buffer);
    this.u32 = new Uint32Array(kernels.memory.buffer);
    this.codesPtr = layout.recordsPtr + layout.payloadOffset;
    this.corrIndex = (layout.recordsPtr + layout.corrOffset) >>> 2;
    this.strideWords = layout.recordBytes >>> 2;
    this.stride = layout.recordBytes;
    this.metric = layout.metric;
    this.range = { mid: layout.qMid, scale: layout.qScale };
  }

  setQuery(queryPtr: number, _qa: number, qb: number): void {
    this.queryPtr = queryPtr;
    this.queryCorr = qb;
  }

  /** The raw integer kernel result for one code. */
  private raw(id: number): number {
    const code = this.codesPtr + id * this.stride;
    return this.metric === 2 ? l1I8(this.i8, this.queryPtr, code, this.dim) : this.kernels.dotI8(this.queryPtr, code, this.dim);
  }

  private estimate(id: number, raw: number): number {
    const corr = this.f32[this.corrIndex + id * this.strideWords] as number;
    return Math.fround(estimateKey(this.metric, this.range, raw, corr, this.queryCorr));
  }

  score(_query: Float32Array, id: number): number {
    return this.estimate(id, this.raw(id));
  }

  scoreBatch(_query: Float32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    if (this.metric === 2) {
      for (let i = 0; i < count; i++) out[i] = this.score(_query, ids[i] as number);
      return;
    }
    const { idsPtr, scoresPtr } = this.scratch;
    this.u32.set(ids.subarray(0, count), idsPtr >>> 2);
    this.kernels.dotI8Batch(this.queryPtr, this.codesPtr, this.dim, idsPtr, count, scoresPtr, this.stride);
    const from = scoresPtr >>> 2;
    for (let i = 0; i < count; i++) out[i] = this.estimate(ids[i] as number, this.f32[from + i] as number);
  }

  scorePair(): number {
    throw new AssertionError('int8 codes score queries only; construction scores f32 rows');
  }

  row(): Float32Array {
    throw new AssertionError('int8 codes score queries only; construction scores f32 rows');
  }
}

/** A scorer of estimated keys from codes against a prepared query (coder.ts prepareQuery). */
export interface CodeScorer extends VectorScorer {
  /** The prepared query's byte offset (its code, or a lookup table) and its constants. */
  setQuery(queryPtr: number, qa: number, qb: number, qc: number): void;
}

/** Common parts of the binary and product scorers: codes in the records, a correction before each. */
abstract class RecordCodeScorer implements CodeScorer {
  readonly rows: number;
  readonly dim: number;
  protected queryPtr = 0;
  protected qa = 0;
  protected qb = 0;
  protected qc = 0;
  protected readonly f32: Float32Array;
  protected readonly codesPtr: number;
  protected readonly corrIndex: number;
  protected readonly strideWords: number;
  protected readonly stride: number;
  protected readonly units: number;
  protected readonly metric: number;

  constructor(protected readonly kernels: Kernels, layout: DenseLayout, protected readonly scratch: BatchScratch) {
    this.rows = layout.count;
    this.dim = layout.dim;
    this.f32 = new Float32Array(kernels.memory.buffer);
    this.codesPtr = layout.recordsPtr + layout.payloadOffset;
    this.corrIndex = (layout.recordsPtr + layout.corrOffset) >>> 2;
    this.strideWords = layout.recordBytes >>> 2;
    this.stride = layout.recordBytes;
    this.units = layout.codeUnits;
    this.metric = layout.metric;
  }

  setQuery(queryPtr: number, qa: number, qb: number, qc: number): void {
    this.queryPtr = queryPtr;
    this.qa = qa;
    this.qb = qb;
    this.qc = qc;
  }

  protected corr(id: number): number {
    return this.f32[this.corrIndex + id * this.strideWords] as number;
  }

  abstract score(query: Float32Array, id: number): number;

  scoreBatch(query: Float32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    for (let i = 0; i < count; i++) out[i] = this.score(query, ids[i] as number);
  }

  scorePair(): number {
    throw new AssertionError('codes score queries only; construction scores f32 rows');
  }

  row(): Float32Array {
    throw new AssertionError('codes score queries only; construction scores f32 rows');
  }
}

/** Binary codes: Hamming distance turned into an estimated key (binary.ts). */
export class BinaryScorer extends RecordCodeScorer {
  score(_query: Float32Array, id: number): number {
    const h = this.kernels.hamming(this.queryPtr, this.codesPtr + id * this.stride, this.units);
    return binaryKey(this.metric, this.dim, h, this.corr(id), this.qa, this.qb, this.qc);
  }

  override scoreBatch(_query: Float32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const { idsPtr, scoresPtr } = this.scratch;
    new Uint32Array(this.kernels.memory.buffer).set(ids.subarray(0, count), idsPtr >>> 2);
    this.kernels.hammingBatch(this.queryPtr, this.codesPtr, this.units, idsPtr, count, scoresPtr, this.stride);
    const from = scoresPtr >>> 2;
    for (let i = 0; i < count; i++) {
      const id = ids[i] as number;
      out[i] = binaryKey(this.metric, this.dim, this.f32[from + i] as number, this.corr(id), this.qa, this.qb, this.qc);
    }
  }
}

/** Product codes: the sum of the query's table entries the code picks, plus the correction. */
export class ProductScorer extends RecordCodeScorer {
  private readonly u8: Uint8Array;

  constructor(kernels: Kernels, layout: DenseLayout, scratch: BatchScratch) {
    super(kernels, layout, scratch);
    this.u8 = new Uint8Array(kernels.memory.buffer);
  }

  score(_query: Float32Array, id: number): number {
    return productKey(this.f32, this.queryPtr >>> 2, this.u8, this.codesPtr + id * this.stride, this.units, this.corr(id));
  }
}
