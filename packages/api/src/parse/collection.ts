// Collection-level requests: create, update (PATCH), aliases, payload index definitions.
import type { Distance, Limits, PayloadIndexParams, PayloadSchemaType, VectorDatatype, VectorParams } from '@shoal/common';
import { DEFAULT_HNSW, DEFAULT_OPTIMIZERS, DEFAULT_WAL, type AliasAction, type CollectionConfig, type CollectionPatch, type HnswConfig, type OptimizersConfig, type QuantizationConfig, type WalConfig } from '@shoal/meta';
import {
  asArray, asEnum, asObject, asString, checkRange, formatError, isObject, join, opt, optBool, optNumber,
  optPlainObject, optUint, req, typeError, unsupported, validationFailure, type JsonObj,
} from './read.js';

export { DEFAULT_HNSW, DEFAULT_OPTIMIZERS, DEFAULT_WAL } from '@shoal/meta';

const DISTANCES: readonly Distance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];
const DATATYPES: readonly VectorDatatype[] = ['float32', 'float16', 'uint8'];

/** Collection and alias names: non-empty, bounded, no path separators. */
export function checkName(name: string, path: string, limits: Limits): string {
  if (name.length === 0 || name.length > limits.nameLengthMax) {
    throw validationFailure(path, `length must be between 1 and ${limits.nameLengthMax}`);
  }
  if (/[\\/:*?"<>|\0]/.test(name) || name === '.' || name === '..') {
    throw validationFailure(path, `collection name cannot contain "/", "\\", ":", "*", "?", "\\"", "<", ">", "|" or NUL`);
  }
  return name;
}

export function parseHnswDiff(value: unknown, path: string): Partial<HnswConfig> {
  const o = asObject(value, path);
  if (opt(o, 'memory') !== undefined || opt(o, 'inline_storage') === true) throw unsupported(`${join(path, 'memory')} / inline_storage`);
  const out: { -readonly [K in keyof HnswConfig]?: HnswConfig[K] } = {};
  const m = optUint(o, 'm', path);
  if (m !== null) out.m = m;
  const ef = optUint(o, 'ef_construct', path, 4);
  if (ef !== null) out.ef_construct = ef;
  const fst = optUint(o, 'full_scan_threshold', path, 10);
  if (fst !== null) out.full_scan_threshold = fst;
  const threads = optUint(o, 'max_indexing_threads', path);
  if (threads !== null) out.max_indexing_threads = threads;
  const onDisk = optBool(o, 'on_disk', path);
  if (onDisk !== null) out.on_disk = onDisk;
  const payloadM = optUint(o, 'payload_m', path);
  if (payloadM !== null) out.payload_m = payloadM;
  return out;
}

export function parseOptimizersDiff(value: unknown, path: string): Partial<OptimizersConfig> {
  const o = asObject(value, path);
  const out: { -readonly [K in keyof OptimizersConfig]?: OptimizersConfig[K] } = {};
  const dt = optNumber(o, 'deleted_threshold', path, 0, 1);
  if (dt !== null) out.deleted_threshold = dt;
  const vmin = optUint(o, 'vacuum_min_vector_number', path, 100);
  if (vmin !== null) out.vacuum_min_vector_number = vmin;
  const dsn = optUint(o, 'default_segment_number', path);
  if (dsn !== null) out.default_segment_number = dsn;
  const mss = optUint(o, 'max_segment_size', path, 1);
  if (mss !== null) out.max_segment_size = mss;
  const mt = optUint(o, 'memmap_threshold', path);
  if (mt !== null) out.memmap_threshold = mt;
  const it = optUint(o, 'indexing_threshold', path);
  if (it !== null) out.indexing_threshold = it;
  const fi = optUint(o, 'flush_interval_sec', path);
  if (fi !== null) out.flush_interval_sec = fi;
  const mot = opt(o, 'max_optimization_threads');
  // Qdrant accepts a number or the string "auto" (meaning: no limit).
  if (mot !== undefined && mot !== 'auto') out.max_optimization_threads = optUint(o, 'max_optimization_threads', path);
  return out;
}

export function parseWalDiff(value: unknown, path: string): Partial<WalConfig> {
  const o = asObject(value, path);
  const out: { -readonly [K in keyof WalConfig]?: WalConfig[K] } = {};
  const cap = optUint(o, 'wal_capacity_mb', path, 1);
  if (cap !== null) out.wal_capacity_mb = cap;
  const ahead = optUint(o, 'wal_segments_ahead', path);
  if (ahead !== null) out.wal_segments_ahead = ahead;
  const retain = optUint(o, 'wal_retain_closed', path);
  if (retain !== null) out.wal_retain_closed = retain;
  return out;
}

/**
 * {scalar: {type: int8, quantile?, always_ram?, memory?}} | {product: {compression, always_ram?,
 * memory?}} | {binary: {always_ram?, memory?, encoding?, query_encoding?}}, kept as given. What
 * the dense index cannot build is refused here, at create / PATCH, never later when a segment
 * is sealed: binary `one_and_half_bits`, the asymmetric query encodings `scalar4bits` /
 * `scalar8bits`, and `turbo` quantization.
 */
export function parseQuantization(value: unknown, path: string): QuantizationConfig {
  const o = asObject(value, path);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw formatError(path, 'expected exactly one of `scalar`, `product`, `binary`');
  const kind = keys[0] as string;
  const p = join(path, kind);
  if (kind === 'turbo') throw unsupported(`${p} (turbo quantization; scalar, binary and product are)`);
  if (kind !== 'scalar' && kind !== 'product' && kind !== 'binary') {
    throw formatError(path, `unknown variant \`${kind}\`, expected one of \`scalar\`, \`product\`, \`binary\``);
  }
  const inner = asObject(o[kind], p);
  optBool(inner, 'always_ram', p);
  const memory = opt(inner, 'memory');
  if (memory !== undefined) asEnum(memory, join(p, 'memory'), ['cold', 'cached', 'pinned']);
  if (kind === 'scalar') {
    asEnum(req(inner, 'type', p), join(p, 'type'), ['int8']);
    optNumber(inner, 'quantile', p, 0.5, 1);
  } else if (kind === 'product') {
    asEnum(req(inner, 'compression', p), join(p, 'compression'), ['x4', 'x8', 'x16', 'x32', 'x64']);
  } else {
    const enc = opt(inner, 'encoding');
    const encoding = enc === undefined ? 'one_bit' : asEnum(enc, join(p, 'encoding'), ['one_bit', 'two_bits', 'one_and_half_bits']);
    if (encoding === 'one_and_half_bits') throw unsupported(`${join(p, 'encoding')} \`one_and_half_bits\` (one_bit and two_bits are)`);
    const qe = opt(inner, 'query_encoding');
    const queryEncoding = qe === undefined ? 'default' : asEnum(qe, join(p, 'query_encoding'), ['default', 'binary', 'scalar4bits', 'scalar8bits']);
    if (queryEncoding === 'scalar4bits' || queryEncoding === 'scalar8bits') {
      throw unsupported(`${join(p, 'query_encoding')} \`${queryEncoding}\` (asymmetric queries; default and binary are)`);
    }
  }
  return o;
}

function parseOneVectorParams(value: unknown, path: string, limits: Limits): { params: VectorParams; hnsw: Partial<HnswConfig> | null; quantization: QuantizationConfig | null } {
  const o = asObject(value, path);
  const size = checkRange(optUint(o, 'size', path) ?? missing(path, 'size'), join(path, 'size'), 1, limits.vectorSizeMax);
  const distance = asEnum(req(o, 'distance', path), join(path, 'distance'), DISTANCES);
  const dt = opt(o, 'datatype');
  const datatype = dt === undefined ? null : asEnum(dt, join(path, 'datatype'), DATATYPES);
  if (opt(o, 'multivector_config') !== undefined) throw unsupported(`${join(path, 'multivector_config')} (multivectors)`);
  const hnswRaw = opt(o, 'hnsw_config');
  const quantRaw = opt(o, 'quantization_config');
  return {
    params: { size, distance, onDisk: optBool(o, 'on_disk', path), datatype },
    hnsw: hnswRaw === undefined ? null : parseHnswDiff(hnswRaw, join(path, 'hnsw_config')),
    quantization: quantRaw === undefined ? null : parseQuantization(quantRaw, join(path, 'quantization_config')),
  };
}

function missing(path: string, key: string): never {
  throw formatError(path, `missing field \`${key}\``);
}

type Overrides = CollectionConfig['vectorOverrides'] extends ReadonlyMap<string, infer V> ? V : never;

function parseVectorsConfig(value: unknown, path: string, limits: Limits): Pick<CollectionConfig, 'vectors' | 'unnamedVectors' | 'vectorOverrides'> {
  const o = asObject(value, path);
  const vectors = new Map<string, VectorParams>();
  const vectorOverrides = new Map<string, Overrides>();
  const add = (name: string, raw: unknown, p: string): void => {
    const parsed = parseOneVectorParams(raw, p, limits);
    vectors.set(name, parsed.params);
    if (parsed.hnsw !== null || parsed.quantization !== null) {
      vectorOverrides.set(name, { hnsw_config: parsed.hnsw, quantization_config: parsed.quantization, multivector_config: null });
    }
  };
  // `{size, distance}` is the unnamed vector; otherwise a map of named vector params.
  if ('size' in o || 'distance' in o) {
    add('', o, path);
    return { vectors, unnamedVectors: true, vectorOverrides };
  }
  const names = Object.keys(o);
  if (names.length > limits.batchOperationsMax) throw validationFailure(path, `at most ${limits.batchOperationsMax} named vectors allowed`);
  for (const name of names) {
    if (name.length === 0 || name.length > limits.nameLengthMax) throw validationFailure(join(path, name), `vector name length must be between 1 and ${limits.nameLengthMax}`);
    add(name, o[name], join(path, name));
  }
  return { vectors, unnamedVectors: false, vectorOverrides };
}

/** PUT /collections/{name} body into a complete CollectionConfig with Qdrant's defaults filled. */
export function parseCreateCollection(body: unknown, limits: Limits): CollectionConfig {
  const o = body === undefined || body === null ? {} : asObject(body, '');
  if (opt(o, 'sparse_vectors') !== undefined && Object.keys(asObject(opt(o, 'sparse_vectors'), 'sparse_vectors')).length > 0) {
    throw unsupported('sparse_vectors');
  }
  if (opt(o, 'init_from') !== undefined) throw unsupported('init_from');
  const vectorsRaw = opt(o, 'vectors');
  const vectorPart = vectorsRaw === undefined
    ? { vectors: new Map<string, VectorParams>(), unnamedVectors: false, vectorOverrides: new Map<string, Overrides>() }
    : parseVectorsConfig(vectorsRaw, 'vectors', limits);
  const method = opt(o, 'sharding_method');
  const shardingMethod = method === undefined ? 'auto' : asEnum(method, 'sharding_method', ['auto', 'custom'] as const);
  const hnswRaw = opt(o, 'hnsw_config');
  const optRaw = opt(o, 'optimizers_config');
  const walRaw = opt(o, 'wal_config');
  const quantRaw = opt(o, 'quantization_config');
  return {
    ...vectorPart,
    shardNumber: optUint(o, 'shard_number', '', 1, 1024) ?? 1,
    replicationFactor: optUint(o, 'replication_factor', '', 1, 1024) ?? 1,
    writeConsistencyFactor: optUint(o, 'write_consistency_factor', '', 1, 1024) ?? 1,
    shardingMethod,
    onDiskPayload: optBool(o, 'on_disk_payload', '') ?? true,
    hnsw: { ...DEFAULT_HNSW, ...(hnswRaw === undefined ? {} : parseHnswDiff(hnswRaw, 'hnsw_config')) },
    optimizers: { ...DEFAULT_OPTIMIZERS, ...(optRaw === undefined ? {} : parseOptimizersDiff(optRaw, 'optimizers_config')) },
    wal: { ...DEFAULT_WAL, ...(walRaw === undefined ? {} : parseWalDiff(walRaw, 'wal_config')) },
    quantization: quantRaw === undefined ? null : parseQuantization(quantRaw, 'quantization_config'),
    strictMode: parseStrictMode(o),
    metadata: optPlainObject(o, 'metadata', ''),
  };
}

function parseStrictMode(o: JsonObj): { readonly [key: string]: unknown } | null {
  const sm = optPlainObject(o, 'strict_mode_config', '');
  if (sm === null) return null;
  const path = 'strict_mode_config';
  optBool(sm, 'enabled', path);
  for (const key of ['max_query_limit', 'max_timeout', 'read_rate_limit', 'write_rate_limit', 'max_points_count']) optUint(sm, key, path, 1);
  for (const key of ['search_max_hnsw_ef', 'upsert_max_batchsize', 'search_max_batchsize', 'max_collection_vector_size_bytes',
    'max_collection_payload_size_bytes', 'filter_max_conditions', 'condition_max_size', 'max_payload_index_count']) optUint(sm, key, path);
  if (sm.enabled === true) throw unsupported('strict_mode_config.enabled (strict mode is not enforced)');
  return sm;
}
