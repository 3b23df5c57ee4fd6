// The kernel API shared by the WebAssembly SIMD implementation and its JS fallback.
//
// Every pointer is a byte offset into the kernels' WebAssembly.Memory. f32 data and f32 output
// must be 4-byte aligned, binary data 8-byte aligned, offset lists 4-byte aligned (the JS
// fallback reads through typed-array views and asserts it; the wasm code does not check, so
// callers keep to it). Scores are raw: dot product, squared L2, L1, int8 dot, differing bits;
// callers turn them into "larger is better" keys.

export type KernelImplementation = 'wasm-simd' | 'js';

/** kernel(aPtr, bPtr, dim): dim counts f32 / i8 elements, or 64-bit words for Hamming. */
export type PairKernel = (aPtr: number, bPtr: number, dim: number) => number;

/**
 * Scores one query against `count` rows whose indexes are read from the u32 list at offsetsPtr
 * (a neighbour list): out[i] = kernel(queryPtr, rowsPtr + offsets[i] * strideBytes, dim), one f32
 * per row at outPtr. strideBytes lets a row carry other data beside its vector.
 */
export type BatchKernel = (
  queryPtr: number,
  rowsPtr: number,
  dim: number,
  offsetsPtr: number,
  count: number,
  outPtr: number,
  strideBytes: number,
) => void;

/** Scores rows first .. first + count - 1: out[i] = kernel(queryPtr, rowsPtr + (first + i) * strideBytes, dim). */
export type RangeKernel = (
  queryPtr: number,
  rowsPtr: number,
  dim: number,
  first: number,
  count: number,
  outPtr: number,
  strideBytes: number,
) => void;

export interface Kernels {
  readonly implementation: KernelImplementation;
  readonly memory: WebAssembly.Memory;
  /** f32 dot product. */
  readonly dotF32: PairKernel;
  /** f32 squared Euclidean distance (no square root). */
  readonly l2sqF32: PairKernel;
  /** f32 Manhattan distance. */
  readonly l1F32: PairKernel;
  /** Signed int8 dot product, exact (an integer). */
  readonly dotI8: PairKernel;
  /** Differing bits between two binary vectors of `dim` 64-bit words. */
  readonly hamming: PairKernel;
  readonly dotF32Batch: BatchKernel;
  readonly l2sqF32Batch: BatchKernel;
  readonly l1F32Batch: BatchKernel;
  readonly dotI8Batch: BatchKernel;
  readonly hammingBatch: BatchKernel;
  readonly dotF32Range: RangeKernel;
  readonly l2sqF32Range: RangeKernel;
  readonly l1F32Range: RangeKernel;
  readonly dotI8Range: RangeKernel;
  readonly hammingRange: RangeKernel;
}

/** Names of the pair kernels, the batch kernels and the range kernels, as in Kernels. */
export const PAIR_KERNELS = ['dotF32', 'l2sqF32', 'l1F32', 'dotI8', 'hamming'] as const;
export type PairKernelName = (typeof PAIR_KERNELS)[number];

// The slice of the WebAssembly JS API used here. Node has it at run time, but this project
// compiles without the DOM library, where TypeScript declares it; declared here (and so in the
// emitted types.d.ts) instead. A package that adds the DOM library would get duplicate
// declarations and should drop these.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    interface MemoryDescriptor {
      initial: number;
      maximum?: number;
      shared?: boolean;
    }
    interface Memory {
      readonly buffer: ArrayBuffer | SharedArrayBuffer;
      /** Adds `deltaPages` pages; returns the previous size in pages; throws RangeError if it cannot. */
      grow(deltaPages: number): number;
    }
    const Memory: { prototype: Memory; new (descriptor: MemoryDescriptor): Memory };
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Module {}
    const Module: { prototype: Module; new (bytes: ArrayBufferView | ArrayBuffer): Module };
    type Exports = Record<string, unknown>;
    interface Instance {
      readonly exports: Exports;
    }
    const Instance: {
      prototype: Instance;
      new (module: Module, imports?: Record<string, Record<string, unknown>>): Instance;
    };
    function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
  }
}
