// One named vector's index inside a sealed segment: rows, int8 codes and HNSW graph in one
// shared WebAssembly.Memory (contract.ts).
export type {
  DenseIndex, DenseIndexHandle, DenseIndexParams, DenseMemoryReport, DenseMetric, DenseQuantization,
  DenseSearchOptions, DenseSearchResult, DenseSubset,
} from './contract.js';
export type { DenseQuantizationSearch } from './contract.js';
export { buildDenseIndex, loadDenseIndex, openDenseIndex } from './dense-index.js';
export type { DenseBuildOptions, DenseEngineOptions } from './dense-index.js';
