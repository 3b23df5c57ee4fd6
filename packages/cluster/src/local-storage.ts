// How a node opens its storage: the metadata log on a WAL, and each local shard on its own WAL,
// image and sealed segments. The server and the tests open storage the same way.
import type { FileSystem } from '@shoal/common';
import type { CollectionConfig, CollectionMeta, HnswConfig, QuantizationConfig } from '@shoal/meta';
import { HNSW_EF_MAX, HNSW_M_MAX, HNSW_M_MIN, type DenseQuantization } from '@shoal/segment';
import { LocalShard, cpuCount, resolveMaxSegmentSizeKb, type OptimizerConfig, type ShardLogEvent, type VectorIndexConfig } from '@shoal/shard';
import { Wal } from '@shoal/wal';
import { MetadataStore, type MetaLog, type MetaSourceOpener } from './metadata-store.js';
import type { Replica } from './replica-set.js';

/** Metadata log records kept below the last snapshot, for inspection after incidents. */
const META_LOG_TAIL_RECORDS = 64;

/** Qdrant's indexing_threshold when the config leaves it null, KB. */
const INDEXING_THRESHOLD_KB_DEFAULT = 10_000;

export async function openWalMetaLog(fs: FileSystem, dir: string): Promise<MetaLog> {
  const wal = await Wal.open(fs, dir, {});
  return {
    append: (record) => wal.append(record),
    replay: (from, visit) => wal.replay(from, visit),
    truncateBefore: async (index) => {
      await wal.truncateBefore(index, META_LOG_TAIL_RECORDS);
    },
    close: () => wal.close(),
  };
}

/** A standalone node's metadata: a WAL-backed log with snapshots under `<storagePath>/meta`. */
export function localMetaSource(fs: FileSystem, storagePath: string): MetaSourceOpener {
  return async (listener) => MetadataStore.open(fs, `${storagePath}/meta`, await openWalMetaLog(fs, `${storagePath}/meta/log`), listener);
}

export type ShardLog = (meta: CollectionMeta, shardId: number, event: ShardLogEvent) => void;

/** Opens local shards, sized by the collection's wal config and indexed by its hnsw / optimizers / quantization config. */
export function localShardOpener(fs: FileSystem, log: ShardLog) {
  return async (dir: string, meta: CollectionMeta, shardId: number): Promise<Replica> =>
    LocalShard.open({
      fs,
      dir,
      schema: { vectors: meta.config.vectors },
      walOptions: {
        segmentBytes: meta.config.wal.wal_capacity_mb * 1024 * 1024,
        // Stored before this option existed: Qdrant's default.
        retainClosedFiles: meta.config.wal.wal_retain_closed ?? 1,
      },
      flushPolicy: { intervalMs: meta.config.optimizers.flush_interval_sec * 1000 },
      optimizer: shardOptimizerConfig(meta.config),
      log: (event) => log(meta, shardId, event),
    });
}

/** A collection PATCH reached the node: a local shard takes the new indexing settings at once. */
export function reconfigureLocalShard(replica: unknown, config: CollectionConfig): void {
  if (replica instanceof LocalShard) replica.reconfigure(shardOptimizerConfig(config));
}

/** Qdrant's collection config as the shard's optimizer and planner use it (nulls resolved). */
export function shardOptimizerConfig(config: CollectionConfig): OptimizerConfig {
  const o = config.optimizers;
  const vectors = new Map<string, VectorIndexConfig>();
  for (const name of config.vectors.keys()) {
    const override = config.vectorOverrides.get(name);
    const hnsw: HnswConfig = { ...config.hnsw, ...definedOnly(override?.hnsw_config ?? {}) };
    vectors.set(name, {
      // The graph code takes m of 0 (no graph) or 2..256 and ef_construct of 1..65,536.
      m: hnsw.m === 0 ? 0 : Math.min(HNSW_M_MAX, Math.max(HNSW_M_MIN, hnsw.m)),
      efConstruct: Math.min(HNSW_EF_MAX, Math.max(1, hnsw.ef_construct)),
      fullScanThresholdKb: hnsw.full_scan_threshold,
      quantization: denseQuantization(override?.quantization_config ?? config.quantization),
      // null: m, as Qdrant; the graph code takes 0 (no subset graphs) or 2..256.
      payloadM: hnsw.payload_m === null || hnsw.payload_m === 0 ? hnsw.payload_m : Math.min(HNSW_M_MAX, Math.max(HNSW_M_MIN, hnsw.payload_m)),
    });
  }
  return {
    indexingThresholdKb: o.indexing_threshold ?? INDEXING_THRESHOLD_KB_DEFAULT,
    maxSegmentSizeKb: resolveMaxSegmentSizeKb(o.max_segment_size),
    deletedThreshold: o.deleted_threshold,
    vacuumMinVectorNumber: o.vacuum_min_vector_number,
    // Qdrant: 0 means "pick by the number of CPUs".
    defaultSegmentNumber: o.default_segment_number === 0 ? cpuCount() : o.default_segment_number,
    // Qdrant: null means "chosen dynamically"; while serving requests that is one thread here.
    maxOptimizationThreads: o.max_optimization_threads ?? 1,
    vectors,
  };
}

function definedOnly<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined && value !== null)) as Partial<T>;
}

/**
 * Qdrant's quantization_config (as the API validated it) as the dense index takes it: scalar
 * int8, binary (one_bit / two_bits) or product (x4 .. x64). always_ram / memory change nothing
 * here: codes always live in memory.
 */
export function denseQuantization(config: QuantizationConfig | null): DenseQuantization | null {
  if (config === null) return null;
  const scalar = config['scalar'] as { quantile?: number | null; always_ram?: boolean | null } | undefined;
  if (scalar !== undefined && scalar !== null) return { kind: 'int8', quantile: scalar.quantile ?? 1, alwaysRam: scalar.always_ram ?? false };
  const binary = config['binary'] as { encoding?: string | null; always_ram?: boolean | null } | undefined;
  if (binary !== undefined && binary !== null) {
    return { kind: 'binary', alwaysRam: binary.always_ram ?? false, encoding: binary.encoding === 'two_bits' ? 'two_bits' : 'one_bit' };
  }
  const product = config['product'] as { compression?: string; always_ram?: boolean | null } | undefined;
  if (product !== undefined && product !== null) {
    const compression = Number(String(product.compression).slice(1)) as 4 | 8 | 16 | 32 | 64;
    return { kind: 'product', compression, alwaysRam: product.always_ram ?? false };
  }
  return null;
}

/**
 * Qdrant's collection status over this node's shards: red if an optimizer failed, yellow while
 * one works or has work due, grey when work is due but optimization is disabled, green otherwise;
 * segments and vectors in HNSW graphs summed.
 */
export function localOptimizerSummary(replicas: Iterable<Replica>): {
  status: 'green' | 'yellow' | 'grey' | 'red';
  error: string | null;
  indexedVectors: number;
  segments: number;
} {
  const rank = { green: 0, grey: 1, yellow: 2, red: 3 } as const;
  let status: 'green' | 'yellow' | 'grey' | 'red' = 'green';
  let error: string | null = null;
  let indexedVectors = 0;
  let segments = 0;
  for (const replica of replicas) {
    const stats = replica.stats();
    indexedVectors += stats.indexedVectors ?? 0;
    segments += stats.segments ?? 1;
    const shard = stats.optimizer ?? { status: 'green', error: null };
    if (rank[shard.status] > rank[status]) status = shard.status;
    error ??= shard.error;
  }
  return { status, error, indexedVectors, segments };
}
