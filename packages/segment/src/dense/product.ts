// Product quantization (Qdrant's product, compression x4 .. x64): the dimensions are cut into
// sub-vectors of compression / 4 dimensions (the last may be shorter), and each sub-vector of a
// row is coded as the byte index of its nearest centroid among PQ_CENTROIDS, learnt by k-means
// on a seeded sample of rows: one byte per sub-vector replaces `compression` bytes of f32.
//
// Codebook (the index's qdata region), transposed per sub-vector: sub-vector m's block starts at
// float m * PQ_CENTROIDS * subdim and holds, for each of its `len` dimensions j (len = subdim,
// or what is left for the last), PQ_CENTROIDS f32: centroid c's value at j * PQ_CENTROIDS + c
// (0 past the centroids learnt). PQ_CENTROIDS * dim floats in all. Transposed, one SIMD step
// of the lookup-table kernel (pq_table) adds one dimension for four centroids.
//
// Searching, a query fills a lookup table of PQ_CENTROIDS f32 per sub-vector: the partial key of
// its sub-vector against each centroid (dot: q_m.c, l2: -|q_m - c|^2, l1: -|q_m - c|_1), so a
// row's estimated key is the sum of one table entry per code byte (asymmetric distance: the
// query is never quantized), plus the row's correction term. As for int8 (quantize.ts), the part
// of the row's own error that a near neighbour shares is stored with the row, x^ being the
// decoded row and e = x - x^:
//   dot: q.x = q.x^ + q.e ~ q.x^ + x.e               corr = x.e
//   l2:  |q - x|^2 = |q - x^|^2 - 2 (q - x^).e + |e|^2 ~ |q - x^|^2 - |e|^2     corr = |e|^2
//   l1:  corr = 0
import { seededRng } from '@shoal/common';
import type { DenseLayout } from './layout.js';
import { PQ_KMEANS_ITERATIONS, PQ_TRAIN_ROWS_MAX } from './limits.js';

/** Centroids per sub-vector: one byte per code element. */
export const PQ_CENTROIDS = 256;

/** Sub-vectors of `dim` dimensions cut every `subdim`. */
export function subvectorCount(dim: number, subdim: number): number {
  return Math.ceil(dim / subdim);
}

/** Centroids actually learnt: PQ_CENTROIDS, or every row when there are fewer. */
export function centroidCount(count: number): number {
  return Math.min(PQ_CENTROIDS, count);
}

/**
 * Nearest centroids of n points (wasm pq_assign in kernels.wat, or assignJs): point i is `len`
 * f32 at byte points + i * pstride; centroids transposed at ct (dimension j of centroid c at
 * float j * k4 + c); the u8 index of the nearest goes to out + i * ostride. Ties: smaller index.
 */
export type Assign = (points: number, pstride: number, n: number, len: number, ct: number, k4: number, out: number, ostride: number) => void;

/** pq_assign in JS (the path without WebAssembly SIMD); distances summed in doubles. */
export function assignJs(memory: WebAssembly.Memory): Assign {
  return (points, pstride, n, len, ct, k4, out, ostride) => {
    const f32 = new Float32Array(memory.buffer);
    const u8 = new Uint8Array(memory.buffer);
    const cbase = ct >>> 2;
    for (let i = 0; i < n; i++) {
      const x = (points + i * pstride) >>> 2;
      let best = Infinity;
      let bestIndex = 0;
      for (let c = 0; c < k4; c++) {
        let d = 0;
        for (let j = 0; j < len; j++) {
          const e = (f32[x + j] as number) - (f32[cbase + j * k4 + c] as number);
          d += e * e;
        }
        if (d < best) {
          best = d;
          bestIndex = c;
        }
      }
      u8[out + i * ostride] = bestIndex;
    }
  };
}

/** A value no distance reaches: the padding lanes of transposed centroids. */
const FAR = 3.4e38;

/** Build-scratch bytes buildProduct needs: sample points, transposed centroids, assignments. */
export function productScratchBytes(count: number, subdim: number): number {
  const n = Math.min(count, PQ_TRAIN_ROWS_MAX);
  return n * subdim * 4 + subdim * PQ_CENTROIDS * 4 + n + 64;
}

/**
 * Learns every sub-vector's codebook (into the layout's qdata region) from at most
 * PQ_TRAIN_ROWS_MAX rows drawn with `seed`, and codes every row (into the records, whose f32
 * rows must be in place), using productScratchBytes of memory at `scratch`; returns nothing,
 * the corrections are written by productCorrections.
 */
export function buildProduct(
  memory: WebAssembly.Memory, L: DenseLayout, rows: Float32Array, subdim: number, seed: number, assign: Assign, scratch: number,
): void {
  const k = centroidCount(L.count);
  if (k === 0) return;
  const dim = L.dim;
  const sample = sampleRows(L.count, seed);
  const n = sample.length;
  const k4 = (k + 3) & ~3;
  const pointsPtr = scratch;
  const ctPtr = pointsPtr + n * subdim * 4;
  const outPtr = ctPtr + subdim * PQ_CENTROIDS * 4;
  const rng = seededRng(seed ^ 0x9e37);
  const units = subvectorCount(dim, subdim);
  for (let s = 0; s < units; s++) {
    const offset = s * subdim;
    const len = Math.min(subdim, dim - offset);
    const f32 = new Float32Array(memory.buffer);
    // The sample's sub-vectors, contiguous.
    for (let i = 0; i < n; i++) f32.set(rows.subarray((sample[i] as number) * dim + offset, (sample[i] as number) * dim + offset + len), (pointsPtr >>> 2) + i * len);
    const points = f32.subarray(pointsPtr >>> 2, (pointsPtr >>> 2) + n * len);
    const centroids = kmeans(points, n, len, k, rng, (c) => {
      writeTransposed(f32, ctPtr >>> 2, c, len, k, k4, FAR);
      assign(pointsPtr, len * 4, n, len, ctPtr, k4, outPtr, 1);
      return new Uint8Array(memory.buffer, outPtr, n);
    });
    writeTransposed(f32, (L.qdataPtr >>> 2) + s * PQ_CENTROIDS * subdim, centroids, len, k, PQ_CENTROIDS, 0);
    writeTransposed(f32, ctPtr >>> 2, centroids, len, k, k4, FAR);
    assign(L.rowsPtr + offset * 4, L.rowStride, L.count, len, ctPtr, k4, L.recordsPtr + L.payloadOffset + s, L.recordBytes);
  }
}

/** Centroids (k x len, row-major) transposed into f32[at ..]: len rows of `width`, padded with `pad`. */
function writeTransposed(f32: Float32Array, at: number, centroids: Float32Array, len: number, k: number, width: number, pad: number): void {
  for (let j = 0; j < len; j++) {
    for (let c = 0; c < k; c++) f32[at + j * width + c] = centroids[c * len + j] as number;
    f32.fill(pad, at + j * width + k, at + (j + 1) * width);
  }
}

/** Row ids to train on: all of them, or PQ_TRAIN_ROWS_MAX drawn without repeats. */
function sampleRows(count: number, seed: number): Uint32Array {
  const ids = new Uint32Array(count);
  for (let i = 0; i < count; i++) ids[i] = i;
  if (count <= PQ_TRAIN_ROWS_MAX) return ids;
  const rng = seededRng(seed ^ 0x5a3e);
  // The first PQ_TRAIN_ROWS_MAX places of a Fisher-Yates shuffle.
  for (let i = 0; i < PQ_TRAIN_ROWS_MAX; i++) {
    const j = i + rng.int(count - i);
    const t = ids[i] as number;
    ids[i] = ids[j] as number;
    ids[j] = t;
  }
  return ids.slice(0, PQ_TRAIN_ROWS_MAX).sort();
}

/**
 * Lloyd's k-means of n points of `len` floats into k centroids, started from k distinct points
 * (the first k of a seeded shuffle); a centroid left without points restarts at a random point.
 * `assignAll(centroids)` gives every point's nearest centroid.
 */
function kmeans(
  points: Float32Array, n: number, len: number, k: number, rng: { int(n: number): number },
  assignAll: (centroids: Float32Array) => Uint8Array,
): Float32Array {
  const centroids = new Float32Array(k * len);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
    const p = order[i] as number;
    centroids.set(points.subarray(p * len, (p + 1) * len), i * len);
  }
  if (n <= k) return centroids;
  const assigned = new Uint8Array(n);
  const sums = new Float64Array(k * len);
  const sizes = new Uint32Array(k);
  for (let iteration = 0; iteration < PQ_KMEANS_ITERATIONS; iteration++) {
    const now = assignAll(centroids);
    let moved = 0;
    for (let i = 0; i < n; i++) {
      if (now[i] !== assigned[i] || iteration === 0) moved++;
      assigned[i] = now[i] as number;
    }
    if (moved === 0) break;
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assigned[i] as number;
      sizes[c] = (sizes[c] as number) + 1;
      for (let j = 0; j < len; j++) sums[c * len + j] = (sums[c * len + j] as number) + (points[i * len + j] as number);
    }
    for (let c = 0; c < k; c++) {
      const size = sizes[c] as number;
      if (size === 0) {
        const p = rng.int(n);
        centroids.set(points.subarray(p * len, (p + 1) * len), c * len);
        continue;
      }
      for (let j = 0; j < len; j++) centroids[c * len + j] = (sums[c * len + j] as number) / size;
    }
  }
  return centroids;
}

/** Writes every row's correction term (see the header) from its code and the codebook. */
export function productCorrections(memory: WebAssembly.Memory, L: DenseLayout, subdim: number): void {
  const f32 = new Float32Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const dim = L.dim;
  const units = subvectorCount(dim, subdim);
  const book = L.qdataPtr >>> 2;
  for (let id = 0; id < L.count; id++) {
    const row = (L.rowsPtr + id * L.rowStride) >>> 2;
    const code = L.recordsPtr + id * L.recordBytes + L.payloadOffset;
    let cross = 0;
    let err2 = 0;
    for (let s = 0; s < units; s++) {
      const offset = s * subdim;
      const len = Math.min(subdim, dim - offset);
      const c = book + s * PQ_CENTROIDS * subdim + (u8[code + s] as number);
      for (let j = 0; j < len; j++) {
        const v = f32[row + offset + j] as number;
        const e = v - (f32[c + j * PQ_CENTROIDS] as number);
        cross += v * e;
        err2 += e * e;
      }
    }
    f32[(L.recordsPtr + id * L.recordBytes + L.corrOffset) >>> 2] = L.metric === 0 ? cross : L.metric === 1 ? err2 : 0;
  }
}

/** pq_table of kernels.wat: (query, book, dim, subdim, metric, out), byte offsets. */
export type TableKernel = (query: number, book: number, dim: number, subdim: number, metric: number, out: number) => void;

/**
 * The query's lookup table at byte `table`: PQ_CENTROIDS f32 per sub-vector, the partial key of
 * the query's sub-vector (the f32 query at byte `query`) against each centroid; by the
 * WebAssembly kernel when given, else in JS (doubles).
 */
export function productTable(memory: WebAssembly.Memory, L: DenseLayout, subdim: number, query: number, table: number, kernel: TableKernel | null): void {
  if (kernel !== null) {
    kernel(query, L.qdataPtr, L.dim, subdim, L.metric, table);
    return;
  }
  const f32 = new Float32Array(memory.buffer);
  const dim = L.dim;
  const units = subvectorCount(dim, subdim);
  const q = query >>> 2;
  for (let s = 0; s < units; s++) {
    const offset = s * subdim;
    const len = Math.min(subdim, dim - offset);
    const block = (L.qdataPtr >>> 2) + s * PQ_CENTROIDS * subdim;
    const out = (table >>> 2) + s * PQ_CENTROIDS;
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      let key = 0;
      for (let j = 0; j < len; j++) {
        const d = (f32[q + offset + j] as number) - (f32[block + j * PQ_CENTROIDS + c] as number);
        key += L.metric === 0 ? (f32[q + offset + j] as number) * (f32[block + j * PQ_CENTROIDS + c] as number) : L.metric === 1 ? -d * d : -Math.abs(d);
      }
      f32[out + c] = key;
    }
  }
}

/**
 * A row's estimated key from its code: the sum of its table entries plus its correction, summed
 * in f32 in hnsw.wat's order (four running sums over sub-vectors 4i .. 4i+3, the rest into the
 * first, then (s0 + s1) + (s2 + s3)), so both paths give the same keys.
 */
export function productKey(table: Float32Array, at: number, code: Uint8Array, codeAt: number, units: number, corr: number): number {
  const f = Math.fround;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const body = units & ~3;
  let s = 0;
  for (; s < body; s += 4) {
    const t = at + s * PQ_CENTROIDS;
    const c = codeAt + s;
    s0 = f(s0 + (table[t + (code[c] as number)] as number));
    s1 = f(s1 + (table[t + PQ_CENTROIDS + (code[c + 1] as number)] as number));
    s2 = f(s2 + (table[t + 2 * PQ_CENTROIDS + (code[c + 2] as number)] as number));
    s3 = f(s3 + (table[t + 3 * PQ_CENTROIDS + (code[c + 3] as number)] as number));
  }
  for (; s < units; s++) s0 = f(s0 + (table[at + s * PQ_CENTROIDS + (code[codeAt + s] as number)] as number));
  return f(f(f(s0 + s1) + f(s2 + s3)) + corr);
}
