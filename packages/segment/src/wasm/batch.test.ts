import { describe, it, expect } from 'vitest';
import { Arena } from './arena.js';
import { createKernels } from './kernels.js';
import { seededRandom } from './test-support.js';
import type { BatchKernel, Kernels, PairKernel, RangeKernel } from './types.js';

const ROWS = 64;
const SENTINEL = -12345.5;
// Dimensions around every loop boundary of the kernels (4, 8, 16 elements; 1 and 2 words).
const DIMS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 128, 129, 768, 1027];

interface Case {
  name: string;
  pair: (k: Kernels) => PairKernel;
  batch: (k: Kernels) => BatchKernel;
  range: (k: Kernels) => RangeKernel;
  /** Bytes of one vector of `dim` elements (words for Hamming), and the alignment rows need. */
  bytes: (dim: number) => number;
  align: number;
  fill: (arena: Arena, ptr: number, bytes: number, random: () => number) => void;
}

const fillF32 = (arena: Arena, ptr: number, bytes: number, random: () => number): void => {
  const v = arena.f32(ptr, bytes / 4);
  for (let j = 0; j < v.length; j++) v[j] = random() * 2 - 1;
};
const fillBytes = (arena: Arena, ptr: number, bytes: number, random: () => number): void => {
  const v = arena.u8(ptr, bytes);
  for (let j = 0; j < v.length; j++) v[j] = Math.floor(random() * 256);
};

const CASES: Case[] = [
  { name: 'dotF32', pair: (k) => k.dotF32, batch: (k) => k.dotF32Batch, range: (k) => k.dotF32Range, bytes: (d) => 4 * d, align: 4, fill: fillF32 },
  { name: 'l2sqF32', pair: (k) => k.l2sqF32, batch: (k) => k.l2sqF32Batch, range: (k) => k.l2sqF32Range, bytes: (d) => 4 * d, align: 4, fill: fillF32 },
  { name: 'l1F32', pair: (k) => k.l1F32, batch: (k) => k.l1F32Batch, range: (k) => k.l1F32Range, bytes: (d) => 4 * d, align: 4, fill: fillF32 },
  { name: 'dotI8', pair: (k) => k.dotI8, batch: (k) => k.dotI8Batch, range: (k) => k.dotI8Range, bytes: (d) => d, align: 1, fill: fillBytes },
  { name: 'hamming', pair: (k) => k.hamming, batch: (k) => k.hammingBatch, range: (k) => k.hammingRange, bytes: (d) => 8 * d, align: 8, fill: fillBytes },
];

interface Layout {
  q: number;
  rows: number;
  stride: number;
  offsets: number;
  out: number;
}

/** ROWS rows with `pad` bytes of other data after each vector, a query, an offset list and an output region framed by sentinels. */
function layout(arena: Arena, c: Case, dim: number, pad: number, random: () => number): Layout {
  const bytes = c.bytes(dim);
  const stride = Math.ceil((bytes + pad) / c.align) * c.align;
  const q = arena.alloc(bytes, 16);
  const rows = arena.alloc(stride * ROWS, 16);
  c.fill(arena, q, bytes, random);
  c.fill(arena, rows, stride * ROWS, random);
  const offsets = arena.alloc(4 * 2 * ROWS);
  const out = arena.alloc(4 * (2 * ROWS + 2)) + 4;
  arena.f32(out - 4, 2 * ROWS + 2).fill(SENTINEL);
  return { q, rows, stride, offsets, out };
}

describe.each(['wasm-simd', 'js'] as const)('%s batch kernels', (implementation) => {
  it.each(CASES)('$name batch scores a random neighbour list exactly as one-by-one calls', (c) => {
    const arena = new Arena({ initialBytes: 4 << 20, bytesMax: 64 << 20 });
    const k = createKernels(arena.memory, { implementation });
    const random = seededRandom(21);
    for (const dim of DIMS) {
      for (const pad of [0, 8, 20]) {
        const mark = arena.mark();
        const g = layout(arena, c, dim, pad, random);
        // A neighbour list: any order, repeats allowed, empty allowed, up to 2 * ROWS entries.
        const count = dim === 1 ? 0 : Math.floor(random() * 2 * ROWS) + 1;
        const ids = arena.u32(g.offsets, count);
        for (let i = 0; i < count; i++) ids[i] = Math.floor(random() * ROWS);
        c.batch(k)(g.q, g.rows, dim, g.offsets, count, g.out, g.stride);
        const out = arena.f32(g.out - 4, count + 2);
        for (let i = 0; i < count; i++) {
          const want = Math.fround(c.pair(k)(g.q, g.rows + (ids[i] as number) * g.stride, dim));
          expect(out[i + 1], `${c.name} dim ${dim} pad ${pad} entry ${i}`).toBe(want);
        }
        expect(out[0], 'the word before the output is untouched').toBe(SENTINEL);
        expect(out[count + 1], 'the word after the output is untouched').toBe(SENTINEL);
        arena.release(mark);
      }
    }
  });

  it.each(CASES)('$name range scores consecutive rows exactly as one-by-one calls', (c) => {
    const arena = new Arena({ initialBytes: 4 << 20, bytesMax: 64 << 20 });
    const k = createKernels(arena.memory, { implementation });
    const random = seededRandom(22);
    for (const dim of DIMS) {
      const mark = arena.mark();
      const g = layout(arena, c, dim, 12, random);
      const first = Math.floor(random() * ROWS);
      const count = Math.floor(random() * (ROWS - first + 1));
      c.range(k)(g.q, g.rows, dim, first, count, g.out, g.stride);
      const out = arena.f32(g.out - 4, count + 2);
      for (let i = 0; i < count; i++) {
        const want = Math.fround(c.pair(k)(g.q, g.rows + (first + i) * g.stride, dim));
        expect(out[i + 1], `${c.name} dim ${dim} row ${first + i}`).toBe(want);
      }
      expect(out[0]).toBe(SENTINEL);
      expect(out[count + 1]).toBe(SENTINEL);
      arena.release(mark);
    }
  });
});

describe('both implementations', () => {
  it.each(CASES)('$name batch agrees between wasm-simd and js within f32 rounding', (c) => {
    const arena = new Arena({ initialBytes: 4 << 20, bytesMax: 64 << 20 });
    const wasm = createKernels(arena.memory, { implementation: 'wasm-simd' });
    const js = createKernels(arena.memory, { implementation: 'js' });
    const random = seededRandom(23);
    const dim = 257;
    const g = layout(arena, c, dim, 4, random);
    const ids = arena.u32(g.offsets, ROWS);
    for (let i = 0; i < ROWS; i++) ids[i] = ROWS - 1 - i;
    const outJs = arena.alloc(4 * ROWS);
    wasm[`${c.name}Batch` as 'dotF32Batch'](g.q, g.rows, dim, g.offsets, ROWS, g.out, g.stride);
    js[`${c.name}Batch` as 'dotF32Batch'](g.q, g.rows, dim, g.offsets, ROWS, outJs, g.stride);
    const a = arena.f32(g.out, ROWS), b = arena.f32(outJs, ROWS);
    // f32 lanes vs double accumulation: within (dim + 4) * 2^-24 of the magnitude, which for
    // these |terms| <= 4 bounds the difference by (dim + 4) * 2^-24 * 4 * dim.
    const tolerance = (dim + 4) * 2 ** -24 * 4 * dim;
    for (let i = 0; i < ROWS; i++) expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThanOrEqual(tolerance);
  });
});
