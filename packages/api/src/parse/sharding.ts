// Shard keys (custom sharding) and read consistency as requests give them.
import { ShoalError, type Limits } from '@shoal/common';
import type { CreateShardKeyRequest, PointWrite, ReadConsistency, ShardKeySelector } from '@shoal/cluster';
import { isReplicaState, type ShardKey } from '@shoal/meta';
import { asArray, asObject, isObject, join, opt, optUint, req, typeError, validationFailure } from './read.js';
import { parseBatchOperations } from './points.js';
import type { VectorSpaces } from './vectors.js';

/** A keyword, or an unsigned integer below 2^53 (larger ones would not survive JSON in every client). */
export function parseShardKey(value: unknown, path: string): ShardKey {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'bigint') throw validationFailure(path, 'integer shard keys must be below 2^53');
  throw typeError(path, value, 'a string or an unsigned integer (ShardKey)');
}

/** `shard_key`: a key, a list of keys, or `{target, fallback}`. */
export function parseShardKeySelector(value: unknown, path: string, limits: Limits): ShardKeySelector {
  if (Array.isArray(value)) {
    const keys = asArray(value, path, limits.batchOperationsMax).map((k, i) => parseShardKey(k, join(path, i)));
    if (keys.length === 0) throw validationFailure(path, 'must name at least one shard key');
    return { kind: 'keys', keys };
  }
  if (isObject(value)) {
    return { kind: 'fallback', target: parseShardKey(req(value, 'target', path), join(path, 'target')), fallback: parseShardKey(req(value, 'fallback', path), join(path, 'fallback')) };
  }
  return { kind: 'keys', keys: [parseShardKey(value, path)] };
}

/** The `shard_key` of a request body (null when absent or when the body is not an object). */
export function shardKeyOf(body: unknown, limits: Limits, path = ''): ShardKeySelector | null {
  if (!isObject(body)) return null;
  const raw = opt(body, 'shard_key');
  return raw === undefined ? null : parseShardKeySelector(raw, join(path, 'shard_key'), limits);
}

/** The `shard_key` of each entry of `body[field]` (a batch of searches or queries). */
export function shardKeysOfList(body: unknown, field: string, limits: Limits): (ShardKeySelector | null)[] {
  if (!isObject(body) || !Array.isArray(body[field])) return [];
  return (body[field] as unknown[]).map((item, i) => shardKeyOf(item, limits, join(field, i)));
}

/** POST /points/batch: each operation with the shard key it names. */
export function parseBatchWrites(body: unknown, spaces: VectorSpaces, limits: Limits): PointWrite[] {
  const ops = parseBatchOperations(body, spaces, limits);
  const list = asObject(body, '')['operations'] as unknown[];
  return ops.map((op, i) => {
    const entry = list[i] as Record<string, unknown>;
    const kind = Object.keys(entry)[0] as string;
    return { op, shardKey: shardKeyOf(entry[kind], limits, join(join('operations', i), kind)) };
  });
}

/** PUT /collections/{c}/shards: CreateShardingKey. */
export function parseCreateShardKey(body: unknown): CreateShardKeyRequest {
  const o = asObject(body, '');
  const placementRaw = opt(o, 'placement');
  const stateRaw = opt(o, 'initial_state');
  if (stateRaw !== undefined && !isReplicaState(stateRaw)) throw typeError('initial_state', stateRaw, 'a ReplicaState');
  return {
    key: parseShardKey(req(o, 'shard_key', ''), 'shard_key'),
    shardsNumber: optUint(o, 'shards_number', '', 1, 4096),
    replicationFactor: optUint(o, 'replication_factor', '', 1, 64),
    placement: placementRaw === undefined ? null : asArray(placementRaw, 'placement', 4096).map((p, i) => {
      if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) throw typeError(join('placement', i), p, 'a peer id');
      return p;
    }),
    initialState: stateRaw === undefined ? null : stateRaw,
  };
}

/** POST /collections/{c}/shards/delete: DropShardingKey. */
export function parseDropShardKey(body: unknown): ShardKey {
  return parseShardKey(req(asObject(body, ''), 'shard_key', ''), 'shard_key');
}

/** The `consistency` query parameter: a positive integer, `majority`, `quorum` or `all`. */
export function parseReadConsistency(raw: string): ReadConsistency {
  if (raw === 'majority' || raw === 'quorum' || raw === 'all') return { kind: raw };
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n < 1 || !Number.isSafeInteger(n)) throw new ShoalError('validation', 'Validation error in query params: [consistency: value must be 1 or larger]');
    return { kind: 'factor', n };
  }
  throw new ShoalError('bad_request', `Query deserialize error: consistency: unknown variant \`${raw.slice(0, 32)}\`, expected an integer or one of \`majority\`, \`quorum\`, \`all\``);
}

/**
 * The `linearizable` query parameter of metadata reads (a Shoal extension): `true` or `false`;
 * absent or empty is false.
 */
export function parseLinearizable(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ShoalError('bad_request', `Query deserialize error: linearizable: provided string \`${raw.slice(0, 32)}\` was not \`true\` or \`false\``);
}
