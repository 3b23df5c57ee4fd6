// One named vector space: rows in WebAssembly memory, scored there by the distance kernels of
// ./wasm (SIMD128 where the engine has it, the JS fallback otherwise, chosen at start-up), and a
// presence bitset on the JS heap, because a point may lack a named vector. Cosine rows are stored
// unit length, so Cosine and Dot both score with the dot kernel.
//
// set() is the one place a vector enters a segment (upserts, vector updates, WAL replay): it
// converts the values to the space's datatype (./datatype.ts) there, so every later read, scan,
// image and index sees the converted values. Rows stay f32 whatever the datatype.
//
// Each vector space owns one Arena (one WebAssembly.Memory), created at the first insert:
//
//   [reserved | query (dim f32) | offsets (SCAN_CHUNK u32) | scores (SCAN_CHUNK f32) | rows ...]
//
// The rows region is the last allocation and nothing is allocated after it, so growing it is one
// more allocation right behind it (the memory grows in place; an ordinary memory's old buffer is
// detached, so views are re-made after growth). Capacity doubles.
//
// wasm32 addresses are 32-bit: one memory holds at most 4 GiB, so one vector space of one segment
// holds at most (4 GiB - scratch) / (4 * dim) rows. Writes past that fail with
// ShoalError('unsupported') before anything is changed.
//
// Exact search here and the HNSW graph must score with the same kernels (same f32 rounding), so
// that a sealed, indexed segment and this scan agree on scores and ties.
import { ShoalError, assert } from '@shoal/common';
import type { VectorParams } from '@shoal/common';
import { storedForm } from './datatype.js';
import type { TopK } from './topk.js';
import { Arena, WASM32_BYTES_MAX } from './wasm/arena.js';
import { createKernels } from './wasm/kernels.js';
import type { BatchKernel, KernelImplementation, Kernels, RangeKernel } from './wasm/types.js';

const INITIAL_ROWS = 64;
/** Candidates scored per kernel call: one JS->wasm crossing per chunk, scratch of 8 KiB. */
export const SCAN_CHUNK = 1024;
const F32 = Float32Array.BYTES_PER_ELEMENT;

export interface VectorStoreOptions {
  /** Force the kernels (tests, benchmarks). Default: chosen by feature detection at start-up. */
  readonly kernels?: KernelImplementation;
  /** Cap on this space's memory, bytes; default and most: 4 GiB (wasm32). Lower only in tests. */
  readonly bytesMax?: number;
}

/** Where the kernels read and write, fixed once the arena exists. */
interface Layout {
  readonly arena: Arena;
  readonly kernels: Kernels;
  readonly queryPtr: number;
  readonly offsetsPtr: number;
  readonly scoresPtr: number;
  readonly rowsPtr: number;
  /** Most rows that fit below the memory's cap. */
  readonly rowsMax: number;
}

export class VectorStore {
  private layout: Layout | null = null;
  /** Rows the rows region holds (capacity). */
  private rows = 0;
  private present = new Uint32Array(0);
  private count = 0;
  private view: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Readers of rows as they are now (an image being encoded), told before a row they read changes. */
  private readers: { readonly below: number; readonly finish: () => void }[] = [];
  private readonly batch: (k: Kernels) => BatchKernel;
  private readonly range: (k: Kernels) => RangeKernel;
  /** +1 where the kernel gives a similarity, -1 where it gives a distance (keys: larger is better). */
  private readonly sign: number;

  constructor(
    readonly params: VectorParams,
    private readonly options: VectorStoreOptions = {},
  ) {
    assert(Number.isInteger(params.size) && params.size > 0, 'vector size must be a positive integer');
    const distance = params.distance;
    this.sign = distance === 'Euclid' || distance === 'Manhattan' ? -1 : 1;
    this.batch = distance === 'Euclid' ? (k) => k.l2sqF32Batch : distance === 'Manhattan' ? (k) => k.l1F32Batch : (k) => k.dotF32Batch;
    this.range = distance === 'Euclid' ? (k) => k.l2sqF32Range : distance === 'Manhattan' ? (k) => k.l1F32Range : (k) => k.dotF32Range;
  }

  get dim(): number {
    return this.params.size;
  }

  /** Points that have this vector. */
  get size(): number {
    return this.count;
  }

  /** Bytes this space holds: its memory's committed size plus the presence bitset. */
  get bytesHeld(): number {
    return (this.layout?.arena.bytesCommitted ?? 0) + this.present.byteLength;
  }

  /** Which kernels score this space; null until the first insert creates its memory. */
  get implementation(): KernelImplementation | null {
    return this.layout?.kernels.implementation ?? null;
  }

  has(offset: number): boolean {
    return offset < this.rows && (((this.present[offset >>> 5] as number) >>> (offset & 31)) & 1) === 1;
  }

  /**
   * Make room for offsets 0..rows-1, so that later set() calls below it cannot fail. Throws
   * ShoalError('unsupported') when they would not fit in one wasm32 memory; nothing changes then.
   */
  reserve(rows: number): void {
    if (rows <= this.rows) return;
    const layout = this.layout ?? this.createLayout();
    if (rows > layout.rowsMax) throw this.overCap(rows, layout);
    let next = Math.max(this.rows, INITIAL_ROWS);
    while (next < rows) next *= 2;
    next = Math.min(next, layout.rowsMax);
    const rowBytes = this.dim * F32;
    const ptr = layout.arena.alloc((next - this.rows) * rowBytes, F32);
    assert(ptr === layout.rowsPtr + this.rows * rowBytes, 'vector rows region is not contiguous');
    if (this.present.length < (next + 31) >>> 5) {
      const present = new Uint32Array((next + 31) >>> 5);
      present.set(this.present);
      this.present = present;
    }
    this.rows = next;
    this.refreshView();
  }

  /**
   * Store a vector at offset, converted to the datatype and normalised for Cosine (storedForm).
   * Never refuses a value: replaying a logged write must not fail (the API checks values).
   */
  set(offset: number, vector: Float32Array): void {
    assert(vector.length === this.dim, `vector length ${vector.length} != ${this.dim}`);
    this.setRaw(offset, storedForm(this.params, vector));
  }

  /** Store an already-normalised row as is (loading an image). */
  setRaw(offset: number, row: Float32Array): void {
    this.beforeWrite(offset);
    this.reserve(offset + 1);
    this.data().set(row, offset * this.dim);
    if (!this.has(offset)) {
      this.present[offset >>> 5] = (this.present[offset >>> 5] as number) | (1 << (offset & 31));
      this.count++;
    }
  }

  remove(offset: number): void {
    if (!this.has(offset)) return;
    this.beforeWrite(offset);
    this.present[offset >>> 5] = (this.present[offset >>> 5] as number) & ~(1 << (offset & 31));
    this.data().fill(0, offset * this.dim, (offset + 1) * this.dim);
    this.count--;
  }

  /** A copy of the stored row. */
  get(offset: number): Float32Array {
    assert(this.has(offset), 'vector not present');
    return this.data().slice(offset * this.dim, (offset + 1) * this.dim);
  }

  /** A view of the stored row, valid until the next write to this space. */
  row(offset: number): Float32Array {
    assert(this.has(offset), 'vector not present');
    return this.data().subarray(offset * this.dim, (offset + 1) * this.dim);
  }

  /** Copies rows first..first+count-1 (each present) into `out` from `at`: one copy for the run. */
  copyRows(first: number, count: number, out: Float32Array, at: number): void {
    assert(count >= 0 && first + count <= this.rows, 'rows out of range');
    out.set(this.data().subarray(first * this.dim, (first + count) * this.dim), at);
  }

  /**
   * Calls `finish` (once) right before the first later write to a row below `below`, while the
   * rows are still as they are now, so that a reader copying them piece by piece can take the
   * rest first. Returns a function to call instead once the reader is done.
   */
  beforeWriteBelow(below: number, finish: () => void): () => void {
    const reader = { below, finish };
    this.readers.push(reader);
    return () => {
      this.readers = this.readers.filter((r) => r !== reader);
    };
  }

  private beforeWrite(offset: number): void {
    if (this.readers.length === 0) return;
    const due = this.readers.filter((r) => offset < r.below);
    if (due.length === 0) return;
    this.readers = this.readers.filter((r) => offset >= r.below);
    for (const reader of due) reader.finish();
  }

  /**
   * Scores `query` (already in stored form: normalised for Cosine, converted) against every candidate offset (ascending,
   * each present) and pushes (key, offset) into `top`, key larger-is-better: the dot product,
   * or the negated squared L2 / L1 distance. Scores are the kernels' f32 results.
   */
  scan(query: Float32Array, candidates: Uint32Array, top: TopK): void {
    const layout = this.layout;
    if (layout === null || candidates.length === 0) return;
    assert(query.length === this.dim, 'query vector length');
    const { kernels, queryPtr, offsetsPtr, scoresPtr, rowsPtr } = layout;
    const buffer = kernels.memory.buffer;
    new Float32Array(buffer, queryPtr, this.dim).set(query);
    const offsets = new Uint32Array(buffer, offsetsPtr, SCAN_CHUNK);
    const scores = new Float32Array(buffer, scoresPtr, SCAN_CHUNK);
    const batch = this.batch(kernels);
    const range = this.range(kernels);
    const stride = this.dim * F32;
    const sign = this.sign;
    for (let start = 0; start < candidates.length; start += SCAN_CHUNK) {
      const count = Math.min(SCAN_CHUNK, candidates.length - start);
      const first = candidates[start] as number;
      // Ascending and unique, so a chunk is a run of rows exactly when its ends are count-1 apart:
      // then the range kernel reads the rows directly, with no offset list to copy.
      if ((candidates[start + count - 1] as number) - first === count - 1) {
        range(queryPtr, rowsPtr, this.dim, first, count, scoresPtr, stride);
      } else {
        offsets.set(candidates.subarray(start, start + count));
        batch(queryPtr, rowsPtr, this.dim, offsetsPtr, count, scoresPtr, stride);
      }
      for (let i = 0; i < count; i++) top.push(sign * (scores[i] as number), candidates[start + i] as number);
    }
  }

  private data(): Float32Array {
    if (this.layout !== null && this.view.buffer !== this.layout.arena.memory.buffer) this.refreshView();
    return this.view;
  }

  private refreshView(): void {
    const layout = this.layout;
    if (layout !== null) this.view = layout.arena.f32(layout.rowsPtr, this.rows * this.dim);
  }

  private createLayout(): Layout {
    const dim = this.dim;
    const bytesMax = this.options.bytesMax ?? WASM32_BYTES_MAX;
    let arena: Arena;
    try {
      arena = new Arena({ initialBytes: (2 * SCAN_CHUNK + (INITIAL_ROWS + 1) * dim) * F32 + 1024, bytesMax });
    } catch (cause) {
      // V8 caps the address space reserved for all wasm memories of a process.
      throw new ShoalError('unavailable', 'cannot reserve WebAssembly memory for a vector space: too many segments in this process', { cause });
    }
    const kernels = createKernels(arena.memory, this.options.kernels === undefined ? {} : { implementation: this.options.kernels });
    const queryPtr = arena.alloc(dim * F32);
    const offsetsPtr = arena.alloc(SCAN_CHUNK * 4);
    const scoresPtr = arena.alloc(SCAN_CHUNK * F32);
    const rowsPtr = arena.alloc(0);
    const rowsMax = Math.floor((arena.bytesMax - rowsPtr) / (dim * F32));
    this.layout = { arena, kernels, queryPtr, offsetsPtr, scoresPtr, rowsPtr, rowsMax };
    return this.layout;
  }

  private overCap(rows: number, layout: Layout): ShoalError {
    return new ShoalError(
      'unsupported',
      `segment full: ${rows} vectors of ${this.dim} dimensions do not fit in one vector space's memory of at most ` +
        `${layout.arena.bytesMax} bytes (wasm32 caps a WebAssembly memory at 4 GiB: at most ${layout.rowsMax} vectors ` +
        'of this size per segment); spread the collection over more shards',
    );
  }
}
