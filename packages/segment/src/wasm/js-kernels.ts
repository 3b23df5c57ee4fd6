// The JS fallback: the same kernels over typed-array views of the same memory, used where the
// engine has no WebAssembly SIMD (or when forced, in tests and benchmarks). Same inputs, same
// outputs up to float rounding: sums run in doubles here and in f32 lanes in wasm, and every
// f32 result is rounded to f32 as the wasm one is. Out-of-bounds reads throw a RangeError where
// wasm traps, rather than reading undefined as NaN.
//
// Each kernel is a standalone function over one view type so that V8 keeps each loop
// monomorphic; four accumulators because V8 does not vectorise and one running sum would
// make every add wait for the previous one.
import { assert } from '@shoal/common';
import type { BatchKernel, Kernels, PairKernel, RangeKernel } from './types.js';

interface Views {
  f32: Float32Array;
  i8: Int8Array;
  u32: Uint32Array;
}

type F32Loop = (f32: Float32Array, a: number, b: number, dim: number) => number;

function dotLoop(f32: Float32Array, a: number, b: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const body = dim - (dim & 3);
  let j = 0;
  for (; j < body; j += 4) {
    s0 += (f32[a + j] as number) * (f32[b + j] as number);
    s1 += (f32[a + j + 1] as number) * (f32[b + j + 1] as number);
    s2 += (f32[a + j + 2] as number) * (f32[b + j + 2] as number);
    s3 += (f32[a + j + 3] as number) * (f32[b + j + 3] as number);
  }
  for (; j < dim; j++) s0 += (f32[a + j] as number) * (f32[b + j] as number);
  return Math.fround(s0 + s1 + s2 + s3);
}

function l2sqLoop(f32: Float32Array, a: number, b: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const body = dim - (dim & 3);
  let j = 0;
  for (; j < body; j += 4) {
    const d0 = (f32[a + j] as number) - (f32[b + j] as number);
    const d1 = (f32[a + j + 1] as number) - (f32[b + j + 1] as number);
    const d2 = (f32[a + j + 2] as number) - (f32[b + j + 2] as number);
    const d3 = (f32[a + j + 3] as number) - (f32[b + j + 3] as number);
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; j < dim; j++) {
    const d = (f32[a + j] as number) - (f32[b + j] as number);
    s0 += d * d;
  }
  return Math.fround(s0 + s1 + s2 + s3);
}

function l1Loop(f32: Float32Array, a: number, b: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const body = dim - (dim & 3);
  let j = 0;
  for (; j < body; j += 4) {
    s0 += Math.abs((f32[a + j] as number) - (f32[b + j] as number));
    s1 += Math.abs((f32[a + j + 1] as number) - (f32[b + j + 1] as number));
    s2 += Math.abs((f32[a + j + 2] as number) - (f32[b + j + 2] as number));
    s3 += Math.abs((f32[a + j + 3] as number) - (f32[b + j + 3] as number));
  }
  for (; j < dim; j++) s0 += Math.abs((f32[a + j] as number) - (f32[b + j] as number));
  return Math.fround(s0 + s1 + s2 + s3);
}

function dotI8Loop(i8: Int8Array, a: number, b: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const body = dim - (dim & 3);
  let j = 0;
  for (; j < body; j += 4) {
    s0 += (i8[a + j] as number) * (i8[b + j] as number);
    s1 += (i8[a + j + 1] as number) * (i8[b + j + 1] as number);
    s2 += (i8[a + j + 2] as number) * (i8[b + j + 2] as number);
    s3 += (i8[a + j + 3] as number) * (i8[b + j + 3] as number);
  }
  for (; j < dim; j++) s0 += (i8[a + j] as number) * (i8[b + j] as number);
  return s0 + s1 + s2 + s3;
}

/** Bits set in a 32-bit value (SWAR popcount). */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** a, b index u32 words; `words` counts 64-bit words, so 2 * words u32 words are read. */
function hammingLoop(u32: Uint32Array, a: number, b: number, words: number): number {
  let s = 0;
  const n = words * 2;
  for (let j = 0; j < n; j++) s += popcount32(((u32[a + j] as number) ^ (u32[b + j] as number)) >>> 0);
  return s;
}


/** Throws where wasm would trap: a read or write past the end of memory. */
function inBounds(end: number, length: number): void {
  if (end > length) throw new RangeError('kernel access out of bounds of the memory');
}

/** Index of `ptr` in a view of `1 << shift`-byte elements, asserting its alignment. */
function at(ptr: number, shift: number): number {
  assert(ptr >= 0 && ptr % (1 << shift) === 0, `kernel pointer ${ptr} is not aligned to ${1 << shift} bytes`);
  return ptr >>> shift;
}

/** Checks a batch's offset list and its output region (one u32 / f32 per row). */
function checkList(u32: Uint32Array, offsets: number, count: number, out: number): void {
  inBounds(at(offsets, 2) + count, u32.length);
  inBounds(at(out, 2) + count, u32.length);
}

function makeViews(buffer: ArrayBufferLike): Views {
  return { f32: new Float32Array(buffer), i8: new Int8Array(buffer), u32: new Uint32Array(buffer) };
}

/** The JS fallback over `memory`; views are re-made whenever the memory has grown. */
export function createJsKernels(memory: WebAssembly.Memory): Kernels {
  let buffer = memory.buffer;
  let v: Views = makeViews(buffer);
  const views = (): Views => {
    if (memory.buffer !== buffer) {
      buffer = memory.buffer;
      v = makeViews(buffer);
    }
    return v;
  };
  const f32Pair = (loop: F32Loop): PairKernel => (a, b, dim) => {
    const { f32 } = views();
    const ai = at(a, 2), bi = at(b, 2);
    inBounds(Math.max(ai, bi) + dim, f32.length);
    return loop(f32, ai, bi, dim);
  };
  return {
    implementation: 'js',
    memory,
    dotF32: f32Pair(dotLoop),
    l2sqF32: f32Pair(l2sqLoop),
    l1F32: f32Pair(l1Loop),
    dotI8: (a, b, dim) => {
      const { i8 } = views();
      inBounds(Math.max(a, b) + dim, i8.length);
      return dotI8Loop(i8, a, b, dim);
    },
    hamming: (a, b, words) => {
      const { u32 } = views();
      const ai = at(a, 3) * 2, bi = at(b, 3) * 2;
      inBounds(Math.max(ai, bi) + 2 * words, u32.length);
      return hammingLoop(u32, ai, bi, words);
    },
    ...createJsBatches(views),
    ...createJsRanges(views),
  };
}

type BatchName = 'dotF32Batch' | 'l2sqF32Batch' | 'l1F32Batch' | 'dotI8Batch' | 'hammingBatch';
type RangeName = 'dotF32Range' | 'l2sqF32Range' | 'l1F32Range' | 'dotI8Range' | 'hammingRange';

// The drivers are written out once per kernel rather than one generic driver taking the loop
// as an argument: V8 shares type feedback between closures of the same source, and a shared
// driver calling several loops runs markedly slower.
function createJsBatches(views: () => Views): Record<BatchName, BatchKernel> {
  return {
    dotF32Batch: (q, rows, dim, offsets, count, out, stride) => {
      const { f32, u32 } = views();
      checkList(u32, offsets, count, out);
      const qi = at(q, 2), ri = at(rows, 2), si = at(stride, 2), oi = offsets >>> 2, wi = out >>> 2;
      inBounds(qi + dim, f32.length);
      for (let i = 0; i < count; i++) {
        const row = ri + (u32[oi + i] as number) * si;
        inBounds(row + dim, f32.length);
        f32[wi + i] = dotLoop(f32, qi, row, dim);
      }
    },
    l2sqF32Batch: (q, rows, dim, offsets, count, out, stride) => {
      const { f32, u32 } = views();
      checkList(u32, offsets, count, out);
      const qi = at(q, 2), ri = at(rows, 2), si = at(stride, 2), oi = offsets >>> 2, wi = out >>> 2;
      inBounds(qi + dim, f32.length);
      for (let i = 0; i < count; i++) {
        const row = ri + (u32[oi + i] as number) * si;
        inBounds(row + dim, f32.length);
        f32[wi + i] = l2sqLoop(f32, qi, row, dim);
      }
    },
    l1F32Batch: (q, rows, dim, offsets, count, out, stride) => {
      const { f32, u32 } = views();
      checkList(u32, offsets, count, out);
      const qi = at(q, 2), ri = at(rows, 2), si = at(stride, 2), oi = offsets >>> 2, wi = out >>> 2;
      inBounds(qi + dim, f32.length);
      for (let i = 0; i < count; i++) {
        const row = ri + (u32[oi + i] as number) * si;
        inBounds(row + dim, f32.length);
        f32[wi + i] = l1Loop(f32, qi, row, dim);
      }
    },
    dotI8Batch: (q, rows, dim, offsets, count, out, stride) => {
      const { f32, u32, i8 } = views();
      checkList(u32, offsets, count, out);
      const oi = offsets >>> 2, wi = out >>> 2;
      inBounds(q + dim, i8.length);
      for (let i = 0; i < count; i++) {
        const row = rows + (u32[oi + i] as number) * stride;
        inBounds(row + dim, i8.length);
        f32[wi + i] = dotI8Loop(i8, q, row, dim);
      }
    },
    hammingBatch: (q, rows, words, offsets, count, out, stride) => {
      const { f32, u32 } = views();
      checkList(u32, offsets, count, out);
      const qi = at(q, 3) * 2, ri = at(rows, 3) * 2, si = at(stride, 3) * 2, oi = offsets >>> 2, wi = out >>> 2;
      inBounds(qi + 2 * words, u32.length);
      for (let i = 0; i < count; i++) {
        const row = ri + (u32[oi + i] as number) * si;
        inBounds(row + 2 * words, u32.length);
        f32[wi + i] = hammingLoop(u32, qi, row, words);
      }
    },
  };
}

function createJsRanges(views: () => Views): Record<RangeName, RangeKernel> {
  return {
    dotF32Range: (q, rows, dim, first, count, out, stride) => {
      const { f32 } = views();
      const qi = at(q, 2), si = at(stride, 2), wi = at(out, 2), ri = at(rows, 2) + first * si;
      inBounds(Math.max(qi + dim, wi + count, ri + (count - 1) * si + dim), f32.length);
      for (let i = 0; i < count; i++) f32[wi + i] = dotLoop(f32, qi, ri + i * si, dim);
    },
    l2sqF32Range: (q, rows, dim, first, count, out, stride) => {
      const { f32 } = views();
      const qi = at(q, 2), si = at(stride, 2), wi = at(out, 2), ri = at(rows, 2) + first * si;
      inBounds(Math.max(qi + dim, wi + count, ri + (count - 1) * si + dim), f32.length);
      for (let i = 0; i < count; i++) f32[wi + i] = l2sqLoop(f32, qi, ri + i * si, dim);
    },
    l1F32Range: (q, rows, dim, first, count, out, stride) => {
      const { f32 } = views();
      const qi = at(q, 2), si = at(stride, 2), wi = at(out, 2), ri = at(rows, 2) + first * si;
      inBounds(Math.max(qi + dim, wi + count, ri + (count - 1) * si + dim), f32.length);
      for (let i = 0; i < count; i++) f32[wi + i] = l1Loop(f32, qi, ri + i * si, dim);
    },
    dotI8Range: (q, rows, dim, first, count, out, stride) => {
      const { f32, i8 } = views();
      const wi = at(out, 2), r0 = rows + first * stride;
      inBounds(Math.max(q + dim, r0 + (count - 1) * stride + dim), i8.length);
      inBounds(wi + count, f32.length);
      for (let i = 0; i < count; i++) f32[wi + i] = dotI8Loop(i8, q, r0 + i * stride, dim);
    },
    hammingRange: (q, rows, words, first, count, out, stride) => {
      const { f32, u32 } = views();
      const qi = at(q, 3) * 2, si = at(stride, 3) * 2, wi = at(out, 2), ri = at(rows, 3) * 2 + first * si;
      inBounds(Math.max(qi + 2 * words, ri + (count - 1) * si + 2 * words), u32.length);
      inBounds(wi + count, f32.length);
      for (let i = 0; i < count; i++) f32[wi + i] = hammingLoop(u32, qi, ri + i * si, words);
    },
  };
}
