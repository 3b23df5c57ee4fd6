// Qdrant's collection defaults, as GET /collections/{name} reports them when a create request
// leaves a part out. The REST layer fills requests from these; tests and the simulator build
// configs with `collectionConfig`.
import type { Distance, VectorParams } from '@shoal/common';
import type { CollectionConfig, HnswConfig, OptimizersConfig, WalConfig } from './types.js';

export const DEFAULT_HNSW: HnswConfig = {
  m: 16, ef_construct: 100, full_scan_threshold: 10_000, max_indexing_threads: 0, on_disk: false, payload_m: null,
};

export const DEFAULT_OPTIMIZERS: OptimizersConfig = {
  deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null,
  memmap_threshold: null, indexing_threshold: 10_000, flush_interval_sec: 5, max_optimization_threads: null,
};

export const DEFAULT_WAL: WalConfig = { wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 };

/** A collection with one unnamed vector of `size` and `distance` and every other part defaulted. */
export function collectionConfig(size: number, distance: Distance = 'Cosine', overrides: Partial<CollectionConfig> = {}): CollectionConfig {
  const vector: VectorParams = { size, distance, onDisk: null, datatype: null };
  return {
    vectors: new Map([['', vector]]),
    unnamedVectors: true,
    vectorOverrides: new Map(),
    shardNumber: 1,
    replicationFactor: 1,
    writeConsistencyFactor: 1,
    shardingMethod: 'auto',
    onDiskPayload: true,
    hnsw: DEFAULT_HNSW,
    optimizers: DEFAULT_OPTIMIZERS,
    wal: DEFAULT_WAL,
    quantization: null,
    strictMode: null,
    metadata: null,
    ...overrides,
  };
}
