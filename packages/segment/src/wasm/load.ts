// Loading the compiled kernels (dist/wasm/*.wasm, built from kernels.wat by
// scripts/build-wasm.mjs before tsc) and choosing between them and the JS fallback.
import { readFileSync } from 'node:fs';
import { AssertionError, assert } from '@shoal/common';
import type { BatchKernel, KernelImplementation, Kernels, PairKernel, RangeKernel } from './types.js';

// The smallest module using a SIMD128 instruction: (func (result v128) (i32x4.splat (i32.const 0))).
// WebAssembly.validate on it tells whether this engine runs SIMD128 without compiling the kernels.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x11, 0x0b, // code: i32.const 0, i32x4.splat, end
]);

/** Whether this engine validates a SIMD128 module. Decided once per process. */
export function wasmSimdSupported(): boolean {
  if (simdSupported === undefined) simdSupported = WebAssembly.validate(SIMD_PROBE);
  return simdSupported;
}
let simdSupported: boolean | undefined;

/** The implementation chosen at start-up: WebAssembly SIMD where the engine has it, else JS. */
export function defaultKernelImplementation(): KernelImplementation {
  return wasmSimdSupported() ? 'wasm-simd' : 'js';
}

// Both src/wasm/ (tests) and dist/wasm/ (built code) sit two levels below the package.
const modules = new Map<boolean, WebAssembly.Module>();

/**
 * The compiled kernels module for a shared or an ordinary memory (a shared memory import must
 * declare a maximum, an ordinary one must not, so they are two binaries). Compiled once per
 * process; a WebAssembly.Module can be posted to worker threads, which instantiate it on the
 * same shared memory.
 */
export function kernelsModule(shared: boolean): WebAssembly.Module {
  const cached = modules.get(shared);
  if (cached !== undefined) return cached;
  const url = new URL(`../../dist/wasm/${shared ? 'kernels-shared' : 'kernels'}.wasm`, import.meta.url);
  let bytes: Buffer;
  try {
    bytes = readFileSync(url);
  } catch (cause) {
    throw new AssertionError(`${url.pathname} is missing: run npm run build (it compiles kernels.wat)`, { cause });
  }
  const module = new WebAssembly.Module(bytes);
  modules.set(shared, module);
  return module;
}

export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** One instance of the module over `memory` (synchronous: the module is small). */
export function instantiateKernelsModule(memory: WebAssembly.Memory, module?: WebAssembly.Module): WebAssembly.Exports {
  return new WebAssembly.Instance(module ?? kernelsModule(isSharedMemory(memory)), { env: { memory } }).exports;
}

/** Instantiates the SIMD kernels over `memory`. */
export function instantiateWasmKernels(memory: WebAssembly.Memory, module?: WebAssembly.Module): Kernels {
  return kernelsOf(memory, instantiateKernelsModule(memory, module));
}

/** The kernels of an instance (see instantiateKernelsModule). */
export function kernelsOf(memory: WebAssembly.Memory, exports: WebAssembly.Exports): Kernels {
  const pair = (name: string): PairKernel => exported(exports, name, 3) as PairKernel;
  const batch = (name: string): BatchKernel => exported(exports, name, 7) as BatchKernel;
  const range = (name: string): RangeKernel => exported(exports, name, 7) as RangeKernel;
  // The exported functions themselves, not wrappers: one JS->wasm crossing per call.
  return {
    implementation: 'wasm-simd',
    memory,
    dotF32: pair('dot_f32'),
    l2sqF32: pair('l2sq_f32'),
    l1F32: pair('l1_f32'),
    dotI8: pair('dot_i8'),
    hamming: pair('hamming'),
    dotF32Batch: batch('dot_f32_batch'),
    l2sqF32Batch: batch('l2sq_f32_batch'),
    l1F32Batch: batch('l1_f32_batch'),
    dotI8Batch: batch('dot_i8_batch'),
    hammingBatch: batch('hamming_batch'),
    dotF32Range: range('dot_f32_range'),
    l2sqF32Range: range('l2sq_f32_range'),
    l1F32Range: range('l1_f32_range'),
    dotI8Range: range('dot_i8_range'),
    hammingRange: range('hamming_range'),
  };
}

export function exported(exports: WebAssembly.Exports, name: string, arity: number): unknown {
  const value = exports[name];
  assert(typeof value === 'function' && value.length === arity, `kernels.wasm lacks ${name}/${arity}`);
  return value;
}
