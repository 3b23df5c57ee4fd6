// What the optimizer and the search planner of one shard are told by the collection's config,
// resolved (no nulls). The cluster layer maps Qdrant's hnsw_config / optimizers_config /
// quantization_config onto this.
import { availableParallelism } from 'node:os';
import type { DenseQuantization, SegmentSchema } from '@shoal/segment';
import { SEGMENT_KB_MAX, SEGMENT_KB_PER_CPU_DEFAULT } from './limits.js';

export interface VectorIndexConfig {
  /** hnsw_config.m: links per node; 0 builds no graph (every search scans). */
  readonly m: number;
  readonly efConstruct: number;
  /** hnsw_config.full_scan_threshold, KB: smaller segments (or filter results) are scanned. */
  readonly fullScanThresholdKb: number;
  /** Quantized copy walked by searches (null: none). */
  readonly quantization: DenseQuantization | null;
  /**
   * hnsw_config.payload_m: links per node of the subset graph of each indexed keyword / integer
   * value with at least full_scan_threshold points; null or absent: m (Qdrant's default); 0: none.
   */
  readonly payloadM?: number | null;
}

export interface OptimizerConfig {
  /** optimizers_config.indexing_threshold, KB: segments at least this big get graphs; 0 never. */
  readonly indexingThresholdKb: number;
  /** optimizers_config.max_segment_size, KB: no segment is built larger (merges stop here). */
  readonly maxSegmentSizeKb: number;
  /** Fraction of tombstoned points past which a segment is vacuumed. */
  readonly deletedThreshold: number;
  /** Segments with fewer points (live and tombstoned) are never vacuumed. */
  readonly vacuumMinVectorNumber: number;
  /** Sealed segments the merge optimizer aims at (more are merged, smallest first). */
  readonly defaultSegmentNumber: number;
  /**
   * Optimization jobs this shard runs at once; 0 disables optimization (status grey when one is
   * due). Sealing a frozen segment is part of persistence and runs regardless.
   */
  readonly maxOptimizationThreads: number;
  readonly vectors: ReadonlyMap<string, VectorIndexConfig>;
}

/** The number of CPUs, for Qdrant's "0 / null: chosen by the machine" settings. */
export function cpuCount(): number {
  return Math.max(1, availableParallelism());
}

/** Qdrant's max_segment_size default (per-CPU share), capped to what one wasm32 memory holds. */
export function defaultMaxSegmentSizeKb(): number {
  return Math.min(SEGMENT_KB_MAX, SEGMENT_KB_PER_CPU_DEFAULT * cpuCount());
}

/** max_segment_size as configured (null: the default), capped to what one wasm32 memory holds. */
export function resolveMaxSegmentSizeKb(configured: number | null): number {
  return configured === null ? defaultMaxSegmentSizeKb() : Math.min(SEGMENT_KB_MAX, configured);
}

export const DEFAULT_VECTOR_INDEX: VectorIndexConfig = { m: 16, efConstruct: 100, fullScanThresholdKb: 10_000, quantization: null };

/** Qdrant's defaults for every vector of `schema`. */
export function defaultOptimizerConfig(schema: SegmentSchema): OptimizerConfig {
  return {
    indexingThresholdKb: 10_000,
    maxSegmentSizeKb: defaultMaxSegmentSizeKb(),
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1_000,
    defaultSegmentNumber: cpuCount(),
    maxOptimizationThreads: 1,
    vectors: new Map([...schema.vectors.keys()].map((name) => [name, DEFAULT_VECTOR_INDEX])),
  };
}

export function vectorConfig(config: OptimizerConfig, name: string): VectorIndexConfig {
  return config.vectors.get(name) ?? DEFAULT_VECTOR_INDEX;
}
