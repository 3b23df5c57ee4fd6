import { describe, it, expect } from 'vitest';
import { Arena } from './arena.js';
import { createKernels } from './kernels.js';
import { defaultKernelImplementation, wasmSimdSupported } from './load.js';
import { refDot, refHamming, refL1, refL2sq, seededRandom } from './test-support.js';
import type { KernelImplementation, Kernels, PairKernel } from './types.js';

const DIM_MAX = 1030;
const F32_EPS = 2 ** -24;

// Tolerance for f32 results: recursive summation of n rounded terms in f32 is off by at most
// about n * 2^-24 * (sum of |terms|), whatever order the lanes add in; + 4 covers the rounding of
// each product / difference and of the final horizontal sum. A dropped or doubled element
// would not fit this bound on the integer data, which is compared exactly instead.
const f32Tolerance = (dim: number, magnitude: number): number => (dim + 4) * F32_EPS * magnitude;

type F32Name = 'dotF32' | 'l2sqF32' | 'l1F32';
const F32_KERNELS: [F32Name, typeof refDot][] = [['dotF32', refDot], ['l2sqF32', refL2sq], ['l1F32', refL1]];

function setup(implementation: KernelImplementation): { arena: Arena; k: Kernels } {
  const arena = new Arena({ initialBytes: 1 << 20, bytesMax: 64 << 20 });
  return { arena, k: createKernels(arena.memory, { implementation }) };
}

describe('kernel selection', () => {
  it('chooses WebAssembly SIMD on this Node and the JS fallback when forced', () => {
    expect(wasmSimdSupported()).toBe(true);
    expect(defaultKernelImplementation()).toBe('wasm-simd');
    const arena = new Arena();
    expect(createKernels(arena.memory).implementation).toBe('wasm-simd');
    expect(createKernels(arena.memory, { implementation: 'js' }).implementation).toBe('js');
  });
});

describe.each(['wasm-simd', 'js'] as const)('%s kernels', (implementation) => {
  it.each(F32_KERNELS)('%s matches the scalar reference for every dimension 1..1030', (name, ref) => {
    const { arena, k } = setup(implementation);
    const random = seededRandom(11);
    // a and b start 4 bytes off a 16-byte boundary for some dims: SIMD loads need not be aligned.
    const base = arena.alloc(8 * (DIM_MAX + 8));
    for (let dim = 1; dim <= DIM_MAX; dim++) {
      const a = base + 4 * (dim % 3), b = a + 4 * (DIM_MAX + 3);
      const av = arena.f32(a, dim), bv = arena.f32(b, dim);
      for (let j = 0; j < dim; j++) {
        av[j] = random() * 2 - 1;
        bv[j] = random() * 2 - 1;
      }
      const [want, magnitude] = ref(av, bv);
      const got = k[name](a, b, dim);
      expect(Math.abs(got - want), `dim ${dim}`).toBeLessThanOrEqual(f32Tolerance(dim, magnitude));
    }
  });

  it.each(F32_KERNELS)('%s is exact on small integers, so every tail element counts once', (name, ref) => {
    const { arena, k } = setup(implementation);
    const random = seededRandom(12);
    const a = arena.alloc(4 * DIM_MAX), b = arena.alloc(4 * DIM_MAX);
    for (let dim = 1; dim <= DIM_MAX; dim++) {
      const av = arena.f32(a, dim), bv = arena.f32(b, dim);
      for (let j = 0; j < dim; j++) {
        av[j] = Math.floor(random() * 17) - 8;
        bv[j] = Math.floor(random() * 17) - 8;
      }
      // Sums stay below 2^24, so every partial sum is exact in f32 and the order cannot matter.
      expect(k[name](a, b, dim), `dim ${dim}`).toBe(ref(av, bv)[0]);
    }
  });

  it('dotI8 is exact for every dimension 1..1030, extremes included', () => {
    const { arena, k } = setup(implementation);
    const random = seededRandom(13);
    const a = arena.alloc(DIM_MAX), b = arena.alloc(DIM_MAX + 1) + 1; // b deliberately odd
    for (let dim = 1; dim <= DIM_MAX; dim++) {
      const av = arena.i8(a, dim), bv = arena.i8(b, dim);
      for (let j = 0; j < dim; j++) {
        av[j] = Math.floor(random() * 256) - 128;
        bv[j] = Math.floor(random() * 256) - 128;
      }
      expect(k.dotI8(a, b, dim), `dim ${dim}`).toBe(refDot(av, bv)[0]);
    }
    arena.i8(a, DIM_MAX).fill(-128);
    arena.i8(b, DIM_MAX).fill(-128);
    expect(k.dotI8(a, b, DIM_MAX)).toBe(DIM_MAX * 16384);
    arena.i8(b, DIM_MAX).fill(127);
    expect(k.dotI8(a, b, DIM_MAX)).toBe(DIM_MAX * -16256);
  });

  it('hamming counts differing bits for 1..130 words (64..8320 bits)', () => {
    const { arena, k } = setup(implementation);
    const random = seededRandom(14);
    const wordsMax = 130;
    const a = arena.alloc(8 * wordsMax, 8), b = arena.alloc(8 * wordsMax, 8);
    for (let words = 1; words <= wordsMax; words++) {
      const av = arena.u32(a, 2 * words), bv = arena.u32(b, 2 * words);
      for (let j = 0; j < 2 * words; j++) {
        av[j] = Math.floor(random() * 2 ** 32);
        bv[j] = Math.floor(random() * 2 ** 32);
      }
      expect(k.hamming(a, b, words), `words ${words}`).toBe(refHamming(av, bv));
    }
    arena.u32(a, 2 * wordsMax).fill(0);
    arena.u32(b, 2 * wordsMax).fill(0xffffffff);
    expect(k.hamming(a, b, wordsMax)).toBe(64 * wordsMax);
    expect(k.hamming(a, a, wordsMax)).toBe(0);
  });

  it('hamming of bit lengths not divisible by 64 counts only real bits when rows are zero-padded', () => {
    const { arena, k } = setup(implementation);
    const random = seededRandom(15);
    for (const bits of [1, 63, 65, 100, 127, 129, 1000]) {
      const words = Math.ceil(bits / 64);
      const a = arena.alloc(8 * words, 8), b = arena.alloc(8 * words, 8);
      const av = arena.u8(a, 8 * words), bv = arena.u8(b, 8 * words);
      let want = 0;
      for (let bit = 0; bit < bits; bit++) {
        const x = random() < 0.5 ? 1 : 0, y = random() < 0.5 ? 1 : 0;
        av[bit >> 3] = (av[bit >> 3] as number) | (x << (bit & 7));
        bv[bit >> 3] = (bv[bit >> 3] as number) | (y << (bit & 7));
        want += x ^ y;
      }
      expect(k.hamming(a, b, words), `${bits} bits`).toBe(want);
    }
  });

  it('reads memory added by growth after the kernels were made', () => {
    const arena = new Arena({ initialBytes: 65_536, bytesMax: 16 << 20 });
    const k = createKernels(arena.memory, { implementation });
    const dim = 100;
    const a = arena.alloc(4 * dim);
    const b = arena.alloc(1 << 20); // forces the memory to grow
    expect(arena.bytesCommitted).toBeGreaterThan(65_536);
    arena.f32(a, dim).fill(2);
    arena.f32(b, dim).fill(3);
    expect(k.dotF32(a, b, dim)).toBe(600);
  });

  it('works over a shared memory', () => {
    const arena = new Arena({ shared: true, bytesMax: 1 << 20 });
    expect(arena.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const k = createKernels(arena.memory, { implementation });
    const a = arena.alloc(4 * 20), b = arena.alloc(4 * 20);
    arena.f32(a, 20).fill(1);
    arena.f32(b, 20).fill(-1.5);
    expect(k.dotF32(a, b, 20)).toBe(-30);
    expect(k.l1F32(a, b, 20)).toBe(50);
  });

  it('refuses to read past the end of the memory', () => {
    const { arena, k } = setup(implementation);
    const end = arena.bytesCommitted;
    const kernels: PairKernel[] = [k.dotF32, k.l2sqF32, k.l1F32, k.dotI8];
    for (const kernel of kernels) expect(() => kernel(0, end - 64, 128)).toThrow();
    expect(() => k.hamming(0, end - 64, 16)).toThrow();
  });
});
