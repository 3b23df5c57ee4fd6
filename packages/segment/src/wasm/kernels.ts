// Choosing the kernels' implementation at start-up and building them over a memory.
import { assert } from '@shoal/common';
import { createJsKernels } from './js-kernels.js';
import { defaultKernelImplementation, instantiateWasmKernels, wasmSimdSupported } from './load.js';
import type { KernelImplementation, Kernels } from './types.js';

export interface KernelOptions {
  /**
   * Force an implementation (tests and benchmarks). Default: 'wasm-simd' where the engine
   * validates a SIMD128 module, else 'js'.
   */
  readonly implementation?: KernelImplementation;
  /** A compiled kernels module, e.g. one posted from the main thread to a worker. */
  readonly module?: WebAssembly.Module;
}

/** Distance kernels reading and writing `memory` (ordinary or shared). */
export function createKernels(memory: WebAssembly.Memory, options: KernelOptions = {}): Kernels {
  const implementation = options.implementation ?? defaultKernelImplementation();
  if (implementation === 'js') return createJsKernels(memory);
  assert(wasmSimdSupported(), 'this engine has no WebAssembly SIMD128: use the js kernels');
  return instantiateWasmKernels(memory, options.module);
}
