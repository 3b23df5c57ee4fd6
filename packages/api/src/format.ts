// Internal results into Qdrant's response JSON (the `result` part of the envelope).
import { DEFAULT_VECTOR_NAME, type FacetHit, type NamedVectors, type PayloadIndexParams, type PointId, type VectorParams } from '@shoal/common';
import type { CollectionClusterInfo, CollectionInfo, PointRecord, ScoredPointRecord, ScrollResult } from '@shoal/cluster';
import type { CollectionConfig } from '@shoal/meta';

type Json = unknown;
type JsonMap = { [key: string]: Json };

/** A vector as a plain number array; values are float32 widened to double, as Qdrant writes them. */
function vectorJson(v: Float32Array): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] as number;
  return out;
}

/**
 * A point's vectors: collections created with one unnamed vector answer `vector: [..]`, named
 * ones `vector: {name: [..]}`; not requested is null.
 */
export function vectorsJson(vectors: NamedVectors | null, unnamed: boolean): Json {
  if (vectors === null) return null;
  if (unnamed) {
    const v = vectors.get(DEFAULT_VECTOR_NAME);
    return v === undefined ? {} : vectorJson(v);
  }
  const out: JsonMap = {};
  for (const [name, v] of vectors) out[name] = vectorJson(v);
  return out;
}

/** Record; `shard_key` only for a point of a custom-sharded collection (the key of the shard that answered it). */
export function recordJson(r: PointRecord, unnamed: boolean): JsonMap {
  const json: JsonMap = { id: r.id, payload: r.payload, vector: vectorsJson(r.vectors, unnamed) };
  if (r.shardKey !== undefined) json['shard_key'] = r.shardKey;
  if (r.orderValue !== undefined) json['order_value'] = r.orderValue;
  return json;
}

/** ScoredPoint; `version` is required by the spec; this node does not track point versions yet. */
export function scoredPointJson(p: ScoredPointRecord, unnamed: boolean): JsonMap {
  const json: JsonMap = { id: p.id, version: 0, score: p.score, payload: p.payload, vector: vectorsJson(p.vectors, unnamed) };
  if (p.shardKey !== undefined) json['shard_key'] = p.shardKey;
  return json;
}

export function scrollJson(r: ScrollResult, unnamed: boolean): { points: JsonMap[]; next_page_offset: PointId | null } {
  return { points: r.points.map((p) => recordJson(p, unnamed)), next_page_offset: r.nextPageOffset };
}

export function queryJson(points: readonly ScoredPointRecord[], unnamed: boolean): { points: JsonMap[] } {
  return { points: points.map((p) => scoredPointJson(p, unnamed)) };
}

export function countJson(count: number): { count: number } {
  return { count };
}

export function facetJson(hits: readonly FacetHit[]): { hits: { value: FacetHit['value']; count: number }[] } {
  return { hits: hits.map((h) => ({ value: h.value, count: h.count })) };
}

/** Copies an object without its null/undefined fields (Qdrant skips unset optionals). */
function compact(obj: { readonly [key: string]: unknown }): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function vectorParamsJson(p: VectorParams, overrides: CollectionConfig['vectorOverrides'] extends ReadonlyMap<string, infer V> ? V | undefined : never): JsonMap {
  return compact({
    size: p.size,
    distance: p.distance,
    hnsw_config: overrides?.hnsw_config ?? null,
    quantization_config: overrides?.quantization_config ?? null,
    on_disk: p.onDisk,
    datatype: p.datatype,
    multivector_config: overrides?.multivector_config ?? null,
  });
}

function vectorsConfigJson(config: CollectionConfig): JsonMap {
  if (config.unnamedVectors) {
    const p = config.vectors.get(DEFAULT_VECTOR_NAME);
    if (p !== undefined) return vectorParamsJson(p, config.vectorOverrides.get(DEFAULT_VECTOR_NAME));
  }
  const out: JsonMap = {};
  for (const [name, p] of config.vectors) out[name] = vectorParamsJson(p, config.vectorOverrides.get(name));
  return out;
}

export function collectionConfigJson(config: CollectionConfig): JsonMap {
  const params = compact({
    vectors: vectorsConfigJson(config),
    shard_number: config.shardNumber,
    sharding_method: config.shardingMethod === 'auto' ? null : config.shardingMethod,
    replication_factor: config.replicationFactor,
    write_consistency_factor: config.writeConsistencyFactor,
    on_disk_payload: config.onDiskPayload,
  });
  return compact({
    params,
    hnsw_config: compact({ ...config.hnsw }),
    optimizer_config: { ...config.optimizers },
    wal_config: { ...config.wal },
    quantization_config: config.quantization,
    strict_mode_config: config.strictMode ?? { enabled: false },
    metadata: config.metadata,
  });
}

function indexParamsJson(p: PayloadIndexParams): JsonMap | null {
  const extra = compact({ lookup: p.lookup, range: p.range, is_principal: p.isPrincipal, is_tenant: p.isTenant, on_disk: p.onDisk });
  return Object.keys(extra).length === 0 ? null : { type: p.type, ...extra };
}

export function collectionInfoJson(info: CollectionInfo): JsonMap {
  const payloadSchema: JsonMap = {};
  for (const [field, f] of info.payloadSchema) {
    payloadSchema[field] = compact({ data_type: f.dataType, params: indexParamsJson(f.params), points: f.points });
  }
  return {
    status: info.status,
    optimizer_status: 'ok' in info.optimizerStatus ? 'ok' : { error: info.optimizerStatus.error },
    indexed_vectors_count: info.indexedVectorsCount,
    points_count: info.pointsCount,
    segments_count: info.segmentsCount,
    config: collectionConfigJson(info.config),
    payload_schema: payloadSchema,
  };
}

export function collectionsListJson(names: readonly string[]): { collections: { name: string }[] } {
  return { collections: names.map((name) => ({ name })) };
}

export function aliasesJson(list: readonly { alias: string; collection: string }[]): { aliases: { alias_name: string; collection_name: string }[] } {
  return { aliases: list.map((a) => ({ alias_name: a.alias, collection_name: a.collection })) };
}

/** CollectionClusterInfo: replicas here and on other peers, running transfers (comment on the source only), no resharding. */
export function collectionClusterInfoJson(info: CollectionClusterInfo): JsonMap {
  return {
    peer_id: info.peerId,
    shard_count: info.shardCount,
    local_shards: info.localShards.map((s) => compact({ shard_id: s.shardId, shard_key: s.shardKey, points_count: s.pointsCount, state: s.state })),
    remote_shards: info.remoteShards.map((s) => compact({ shard_id: s.shardId, shard_key: s.shardKey, peer_id: s.peerId, state: s.state })),
    shard_transfers: info.transfers.map((t) => ({
      shard_id: t.shardId, to_shard_id: t.toShardId, from: t.from, to: t.to, sync: t.sync, method: t.method, comment: t.comment,
    })),
    resharding_operations: [],
  };
}

/** GET /collections/{c}/shards: ShardKeysResponse (null keys for auto sharding). */
export function shardKeysJson(keys: readonly (string | number)[] | null): JsonMap {
  return { shard_keys: keys === null ? null : keys.map((key) => ({ key })) };
}
