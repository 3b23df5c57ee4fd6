// PATCH of a collection, alias actions, payload index definitions.
import type { Limits, PayloadIndexParams, PayloadSchemaType } from '@shoal/common';
import type { AliasAction, CollectionPatch, QuantizationConfig } from '@shoal/meta';
import { checkName, parseHnswDiff, parseOptimizersDiff, parseQuantization } from './collection.js';
import {
  asArray, asEnum, asObject, asString, formatError, join, opt, optBool, optPlainObject, optUint, req, unsupported,
  type JsonObj,
} from './read.js';

/** PATCH /collections/{name} body. */
export function parseUpdateCollection(body: unknown, limits: Limits): CollectionPatch {
  const o = body === undefined || body === null ? {} : asObject(body, '');
  if (opt(o, 'sparse_vectors') !== undefined) throw unsupported('sparse_vectors');
  const hnswRaw = opt(o, 'hnsw_config');
  const optRaw = opt(o, 'optimizers_config');
  const strict = optPlainObject(o, 'strict_mode_config', '');
  if (strict !== null && strict.enabled === true) throw unsupported('strict_mode_config.enabled (strict mode is not enforced)');
  return {
    vectors: parseVectorsDiff(opt(o, 'vectors'), limits),
    params: parseParamsDiff(opt(o, 'params')),
    hnsw: hnswRaw === undefined ? null : parseHnswDiff(hnswRaw, 'hnsw_config'),
    optimizers: optRaw === undefined ? null : parseOptimizersDiff(optRaw, 'optimizers_config'),
    quantization: parseQuantizationDiff(opt(o, 'quantization_config')),
    strictMode: strict,
    metadata: optPlainObject(o, 'metadata', ''),
  };
}

function parseVectorsDiff(value: unknown, limits: Limits): CollectionPatch['vectors'] {
  if (value === undefined) return null;
  const o = asObject(value, 'vectors');
  const out = new Map<string, { onDisk: boolean | null; hnsw_config: ReturnType<typeof parseHnswDiff> | null; quantization_config: QuantizationConfig | null }>();
  for (const name of Object.keys(o)) {
    const p = join('vectors', name);
    if (name.length > limits.nameLengthMax) throw formatError(p, 'vector name too long');
    const v = asObject(o[name], p);
    const hnswRaw = opt(v, 'hnsw_config');
    const quantRaw = opt(v, 'quantization_config');
    out.set(name, {
      onDisk: optBool(v, 'on_disk', p),
      hnsw_config: hnswRaw === undefined ? null : parseHnswDiff(hnswRaw, join(p, 'hnsw_config')),
      quantization_config: quantRaw === undefined || quantRaw === 'Disabled' ? null : parseQuantization(quantRaw, join(p, 'quantization_config')),
    });
  }
  return out;
}

function parseParamsDiff(value: unknown): CollectionPatch['params'] {
  if (value === undefined) return null;
  const o = asObject(value, 'params');
  if (opt(o, 'read_fan_out_factor') !== undefined) optUint(o, 'read_fan_out_factor', 'params');
  return {
    replicationFactor: optUint(o, 'replication_factor', 'params', 1, 1024),
    writeConsistencyFactor: optUint(o, 'write_consistency_factor', 'params', 1, 1024),
    onDiskPayload: optBool(o, 'on_disk_payload', 'params'),
  };
}

function parseQuantizationDiff(value: unknown): QuantizationConfig | 'disabled' | null {
  if (value === undefined) return null;
  // Qdrant's QuantizationConfigDiff: a config, or the string "Disabled".
  if (value === 'Disabled') return 'disabled';
  return parseQuantization(value, 'quantization_config');
}

/** POST /collections/aliases body. */
export function parseAliasActions(body: unknown, limits: Limits): AliasAction[] {
  const o = asObject(body, '');
  const list = asArray(req(o, 'actions', ''), 'actions', limits.batchOperationsMax);
  return list.map((raw, i) => parseAliasAction(raw, join('actions', i), limits));
}

function parseAliasAction(raw: unknown, path: string, limits: Limits): AliasAction {
  const o = asObject(raw, path);
  const create = opt(o, 'create_alias');
  if (create !== undefined) {
    const p = join(path, 'create_alias');
    const c = asObject(create, p);
    return {
      kind: 'create',
      collection: checkName(asString(req(c, 'collection_name', p), join(p, 'collection_name')), join(p, 'collection_name'), limits),
      alias: checkName(asString(req(c, 'alias_name', p), join(p, 'alias_name')), join(p, 'alias_name'), limits),
    };
  }
  const del = opt(o, 'delete_alias');
  if (del !== undefined) {
    const p = join(path, 'delete_alias');
    const d = asObject(del, p);
    return { kind: 'delete', alias: asString(req(d, 'alias_name', p), join(p, 'alias_name')) };
  }
  const rename = opt(o, 'rename_alias');
  if (rename !== undefined) {
    const p = join(path, 'rename_alias');
    const r = asObject(rename, p);
    return {
      kind: 'rename',
      oldAlias: asString(req(r, 'old_alias_name', p), join(p, 'old_alias_name')),
      newAlias: checkName(asString(req(r, 'new_alias_name', p), join(p, 'new_alias_name')), join(p, 'new_alias_name'), limits),
    };
  }
  throw formatError(path, 'expected one of `create_alias`, `delete_alias`, `rename_alias`');
}

const BASIC_TYPES: readonly PayloadSchemaType[] = ['keyword', 'integer', 'float', 'bool', 'datetime'];
const LATER_TYPES = ['geo', 'text', 'uuid'];

function schemaType(value: unknown, path: string): PayloadSchemaType {
  if (typeof value === 'string' && LATER_TYPES.includes(value)) throw unsupported(`the ${value} payload index`);
  return asEnum(value, path, BASIC_TYPES);
}

/** PUT /collections/{name}/index body: the field and its index parameters. */
export function parseCreateFieldIndex(body: unknown): { field: string; params: PayloadIndexParams } {
  const o = asObject(body, '');
  const field = asString(req(o, 'field_name', ''), 'field_name');
  if (field.length === 0) throw formatError('field_name', 'must not be empty');
  const schema = opt(o, 'field_schema');
  if (schema === undefined) throw formatError('field_schema', 'a field schema is required to create an index');
  return { field, params: parseFieldSchema(schema, 'field_schema') };
}

export function parseFieldSchema(schema: unknown, path: string): PayloadIndexParams {
  if (typeof schema === 'string') {
    return { type: schemaType(schema, path), lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null };
  }
  const o: JsonObj = asObject(schema, path);
  const type = schemaType(req(o, 'type', path), join(path, 'type'));
  const isTenant = optBool(o, 'is_tenant', path);
  const isPrincipal = optBool(o, 'is_principal', path);
  if (isTenant === true) throw unsupported(`${join(path, 'is_tenant')}`);
  if (isPrincipal === true) throw unsupported(`${join(path, 'is_principal')}`);
  if (opt(o, 'memory') !== undefined) throw unsupported(join(path, 'memory'));
  return {
    type,
    lookup: type === 'integer' ? optBool(o, 'lookup', path) : null,
    range: type === 'integer' ? optBool(o, 'range', path) : null,
    isPrincipal,
    isTenant,
    onDisk: optBool(o, 'on_disk', path),
  };
}
