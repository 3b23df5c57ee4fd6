// A VectorScorer for the HNSW graph backed by the WebAssembly SIMD kernels: the rows are copied
// once into an Arena (one WebAssembly.Memory), each neighbour list is scored by one batch-kernel
// call, construction pairs by one pair-kernel call. Benchmark-only: it assumes a query array is
// not modified while it is being searched (the copy of the query is reused while the same array
// object comes back), which holds for the harness, not for a server.
import { Arena, createKernels, wasmSimdSupported } from '../../packages/segment/dist/wasm/index.js';
import { createJsScorer } from '../../packages/segment/dist/hnsw/index.js';

/** Longest id list one scoreBatch call may pass (the graph passes at most m0 = 2m). */
const BATCH_MAX = 1024;

/**
 * The best scorer this engine has: WASM SIMD over arena memory where available, else the plain-JS
 * scorer over a private copy (so both keep their own copy of the vectors, as the peers do).
 */
export function createBestScorer(data, dim, metric) {
  if (!wasmSimdSupported()) return { scorer: createJsScorer(data.slice(), dim, metric), kind: 'JS scorer' };
  return { scorer: createWasmScorer(data, dim, metric), kind: 'WASM SIMD scorer' };
}

export function createWasmScorer(data, dim, metric) {
  const bytes = data.byteLength + dim * 4 + 2 * BATCH_MAX * 4 + 4096;
  const arena = new Arena({ initialBytes: bytes, bytesMax: bytes + 65_536 });
  const rowsPtr = arena.alloc(data.byteLength, 64);
  const queryPtr = arena.alloc(dim * 4, 64);
  const idsPtr = arena.alloc(BATCH_MAX * 4, 64);
  const outPtr = arena.alloc(BATCH_MAX * 4, 64);
  arena.f32(rowsPtr, data.length).set(data);
  const kernels = createKernels(arena.memory);
  const layout = { memory: arena.memory, dim, rows: data.length / dim, rowsPtr, queryPtr, idsPtr, outPtr };
  if (metric === 'dot') return new WasmDotScorer(layout, kernels.dotF32, kernels.dotF32Batch);
  if (metric === 'l2') return new WasmL2Scorer(layout, kernels.l2sqF32, kernels.l2sqF32Batch);
  throw new Error(`no wasm scorer for metric ${metric}`);
}

// Two classes with the same shape, one per metric, so each call site in the graph stays
// monomorphic; the memory never grows after construction, so the views stay valid.
class WasmDotScorer {
  constructor(l, pair, batch) {
    this.dim = l.dim;
    this.rows = l.rows;
    this.buffer = l.memory.buffer;
    this.f32 = new Float32Array(l.memory.buffer);
    this.u32 = new Uint32Array(l.memory.buffer);
    this.rowsPtr = l.rowsPtr;
    this.stride = l.dim * 4;
    this.queryPtr = l.queryPtr;
    this.idsIndex = l.idsPtr >>> 2;
    this.idsPtr = l.idsPtr;
    this.outIndex = l.outPtr >>> 2;
    this.outPtr = l.outPtr;
    this.pair = pair;
    this.batch = batch;
    this.lastQuery = null;
  }
  queryAt(query) {
    if (query.buffer === this.buffer) return query.byteOffset; // a stored row: no copy
    if (query !== this.lastQuery) {
      this.f32.set(query, this.queryPtr >>> 2);
      this.lastQuery = query;
    }
    return this.queryPtr;
  }
  score(query, id) {
    return this.pair(this.queryAt(query), this.rowsPtr + id * this.stride, this.dim);
  }
  scoreBatch(query, ids, count, out) {
    if (count > BATCH_MAX) throw new Error(`batch of ${count} above ${BATCH_MAX}`);
    const q = this.queryAt(query);
    const u32 = this.u32;
    const at = this.idsIndex;
    for (let i = 0; i < count; i++) u32[at + i] = ids[i];
    this.batch(q, this.rowsPtr, this.dim, this.idsPtr, count, this.outPtr, this.stride);
    const f32 = this.f32;
    const from = this.outIndex;
    for (let i = 0; i < count; i++) out[i] = f32[from + i];
  }
  scorePair(a, b) {
    return this.pair(this.rowsPtr + a * this.stride, this.rowsPtr + b * this.stride, this.dim);
  }
  row(id) {
    return this.f32.subarray((this.rowsPtr >>> 2) + id * this.dim, (this.rowsPtr >>> 2) + (id + 1) * this.dim);
  }
}

class WasmL2Scorer {
  constructor(l, pair, batch) {
    this.dim = l.dim;
    this.rows = l.rows;
    this.buffer = l.memory.buffer;
    this.f32 = new Float32Array(l.memory.buffer);
    this.u32 = new Uint32Array(l.memory.buffer);
    this.rowsPtr = l.rowsPtr;
    this.stride = l.dim * 4;
    this.queryPtr = l.queryPtr;
    this.idsIndex = l.idsPtr >>> 2;
    this.idsPtr = l.idsPtr;
    this.outIndex = l.outPtr >>> 2;
    this.outPtr = l.outPtr;
    this.pair = pair;
    this.batch = batch;
    this.lastQuery = null;
  }
  queryAt(query) {
    if (query.buffer === this.buffer) return query.byteOffset;
    if (query !== this.lastQuery) {
      this.f32.set(query, this.queryPtr >>> 2);
      this.lastQuery = query;
    }
    return this.queryPtr;
  }
  score(query, id) {
    return -this.pair(this.queryAt(query), this.rowsPtr + id * this.stride, this.dim);
  }
  scoreBatch(query, ids, count, out) {
    if (count > BATCH_MAX) throw new Error(`batch of ${count} above ${BATCH_MAX}`);
    const q = this.queryAt(query);
    const u32 = this.u32;
    const at = this.idsIndex;
    for (let i = 0; i < count; i++) u32[at + i] = ids[i];
    this.batch(q, this.rowsPtr, this.dim, this.idsPtr, count, this.outPtr, this.stride);
    const f32 = this.f32;
    const from = this.outIndex;
    for (let i = 0; i < count; i++) out[i] = -f32[from + i];
  }
  scorePair(a, b) {
    return -this.pair(this.rowsPtr + a * this.stride, this.rowsPtr + b * this.stride, this.dim);
  }
  row(id) {
    return this.f32.subarray((this.rowsPtr >>> 2) + id * this.dim, (this.rowsPtr >>> 2) + (id + 1) * this.dim);
  }
}
