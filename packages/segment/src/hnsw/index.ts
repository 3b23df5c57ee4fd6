// HNSW graph over internal ids, in flat typed arrays: the JS path of ../dense (DenseIndex).
export { HnswGraph, randomLevel } from './graph.js';
export type { HnswParams, HnswResult, HnswSearchOptions } from './graph.js';
export { serializeGraph, loadGraph } from './codec.js';
export type { LoadOptions } from './codec.js';
export { createJsScorer } from './scorer.js';
export type { GraphMetric, VectorScorer } from './scorer.js';
export type { IdBitset, IdFilter } from './search.js';
export { HNSW_EF_MAX, HNSW_LEVEL_MAX, HNSW_M_MAX, HNSW_M_MIN } from './limits.js';
