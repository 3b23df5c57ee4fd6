export { createKernels } from './kernels.js';
export type { KernelOptions } from './kernels.js';
export { defaultKernelImplementation, kernelsModule, wasmSimdSupported } from './load.js';
export {
  Arena,
  ARENA_ALIGN_DEFAULT,
  ARENA_ALIGN_MAX,
  ARENA_RESERVED_BYTES,
  WASM32_BYTES_MAX,
  WASM32_PAGES_MAX,
  WASM_PAGE_BYTES,
} from './arena.js';
export type { ArenaOptions } from './arena.js';
export { PAIR_KERNELS } from './types.js';
export type { BatchKernel, KernelImplementation, Kernels, PairKernel, PairKernelName, RangeKernel } from './types.js';
