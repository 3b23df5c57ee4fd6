// Point writes: upsert (list and batch forms), selectors, payload and vector updates, batches.
import type { Limits, Payload, PointId, PointOperation, PointsSelector, PointStruct, PointVectors } from '@shoal/common';
import { parseFilter, parseIdList, parseId, type FilterLimits } from './filter.js';
import { asArray, asObject, asString, formatError, join, opt, req, unsupported, validationFailure, type JsonObj } from './read.js';
import { parseBatchVectors, parseVectorStruct, spaceOf, type VectorSpaces } from './vectors.js';

export function filterLimits(limits: Limits): FilterLimits {
  return { jsonDepthMax: limits.jsonDepthMax, listMax: limits.batchPointsMax };
}

export function parsePayload(value: unknown, path: string): Payload {
  // Values come from parseJson, so they are JSON already (depth checked there).
  return asObject(value, path) as Payload;
}


/** Body of PUT /points (or the `upsert` of a batch): `{points: [...]}` or `{batch: {...}}`. */
export function parseUpsert(body: unknown, path: string, spaces: VectorSpaces, limits: Limits): PointOperation {
  const o = asObject(body, path);
  if (opt(o, 'update_filter') !== undefined) throw unsupported(join(path, 'update_filter'));
  if (opt(o, 'update_mode') !== undefined) throw unsupported(join(path, 'update_mode'));
  if (opt(o, 'points') !== undefined) {
    const p = join(path, 'points');
    const list = asArray(opt(o, 'points'), p, limits.batchPointsMax);
    return { kind: 'upsert', points: list.map((raw, i) => parsePointStruct(raw, join(p, i), spaces)) };
  }
  if (opt(o, 'batch') !== undefined) return { kind: 'upsert', points: parseBatch(opt(o, 'batch'), join(path, 'batch'), spaces, limits) };
  throw formatError(path, 'data did not match any variant of untagged enum PointInsertOperations (expected `points` or `batch`)');
}

function parsePointStruct(raw: unknown, path: string, spaces: VectorSpaces): PointStruct {
  const o = asObject(raw, path);
  const id = parseId(req(o, 'id', path), join(path, 'id'));
  const vectors = parseVectorStruct(req(o, 'vector', path), join(path, 'vector'), spaces);
  const payloadRaw = opt(o, 'payload');
  return { id, vectors, payload: payloadRaw === undefined ? null : parsePayload(payloadRaw, join(path, 'payload')) };
}

function parseBatch(raw: unknown, path: string, spaces: VectorSpaces, limits: Limits): PointStruct[] {
  const o = asObject(raw, path);
  const ids = parseIdList(req(o, 'ids', path), join(path, 'ids'), limits.batchPointsMax);
  const vectors = parseBatchVectors(req(o, 'vectors', path), join(path, 'vectors'), spaces, ids.length, limits.batchPointsMax);
  const payloadsRaw = opt(o, 'payloads');
  const pp = join(path, 'payloads');
  const payloads = payloadsRaw === undefined ? null : asArray(payloadsRaw, pp, limits.batchPointsMax);
  if (payloads !== null && payloads.length !== ids.length) {
    throw validationFailure(pp, `number of payloads (${payloads.length}) must equal the number of ids (${ids.length})`);
  }
  return ids.map((id, i) => {
    const pr = payloads === null ? undefined : payloads[i];
    return { id, vectors: vectors[i] ?? new Map(), payload: pr === undefined || pr === null ? null : parsePayload(pr, join(pp, i)) };
  });
}

/** `{points: [ids]}` or `{filter}`: the points a write addresses. */
export function parseSelector(o: JsonObj, path: string, limits: Limits): PointsSelector {
  const points = opt(o, 'points');
  if (points !== undefined) return { kind: 'ids', ids: parseIdList(points, join(path, 'points'), limits.batchPointsMax) };
  const filter = opt(o, 'filter');
  if (filter !== undefined) return { kind: 'filter', filter: parseFilter(filter, join(path, 'filter'), filterLimits(limits), 0) };
  throw formatError(path, 'either a list of point ids (`points`) or a `filter` must be provided');
}

/** POST /points/delete and `clear_payload`: a points selector. */
export function parsePointsSelector(body: unknown, path: string, limits: Limits): PointsSelector {
  return parseSelector(asObject(body, path), path, limits);
}

export function parseSetPayload(body: unknown, path: string, limits: Limits, overwrite: boolean): PointOperation {
  const o = asObject(body, path);
  const payload = parsePayload(req(o, 'payload', path), join(path, 'payload'));
  const selector = parseSelector(o, path, limits);
  const keyRaw = opt(o, 'key');
  const key = keyRaw === undefined ? null : asString(keyRaw, join(path, 'key'));
  if (overwrite) {
    if (key !== null) throw unsupported(`${join(path, 'key')} with overwrite_payload`);
    return { kind: 'overwrite_payload', selector, payload };
  }
  return { kind: 'set_payload', selector, payload, key };
}

export function parseDeletePayload(body: unknown, path: string, limits: Limits): PointOperation {
  const o = asObject(body, path);
  const kp = join(path, 'keys');
  const keys = asArray(req(o, 'keys', path), kp, limits.batchPointsMax).map((k, i) => asString(k, join(kp, i)));
  return { kind: 'delete_payload', selector: parseSelector(o, path, limits), keys };
}

export function parseUpdateVectors(body: unknown, path: string, spaces: VectorSpaces, limits: Limits): PointOperation {
  const o = asObject(body, path);
  if (opt(o, 'update_filter') !== undefined) throw unsupported(join(path, 'update_filter'));
  const p = join(path, 'points');
  const list = asArray(req(o, 'points', path), p, limits.batchPointsMax);
  if (list.length === 0) throw validationFailure(p, 'must contain at least 1 item');
  const points: PointVectors[] = list.map((raw, i) => {
    const pp = join(p, i);
    const po = asObject(raw, pp);
    return { id: parseId(req(po, 'id', pp), join(pp, 'id')), vectors: parseVectorStruct(req(po, 'vector', pp), join(pp, 'vector'), spaces) };
  });
  return { kind: 'update_vectors', points };
}

export function parseDeleteVectors(body: unknown, path: string, spaces: VectorSpaces, limits: Limits): PointOperation {
  const o = asObject(body, path);
  const vp = join(path, 'vector');
  const names = asArray(req(o, 'vector', path), vp, limits.batchOperationsMax).map((n, i) => asString(n, join(vp, i)));
  if (names.length === 0) throw validationFailure(vp, 'must contain at least 1 item');
  if (new Set(names).size !== names.length) throw validationFailure(vp, 'items must be unique');
  for (const name of names) spaceOf(spaces, name);
  return { kind: 'delete_vectors', selector: parseSelector(o, path, limits), vectorNames: names };
}

/** POST /points/batch: `{operations: [{upsert: …} | {delete: …} | …]}` */
export function parseBatchOperations(body: unknown, spaces: VectorSpaces, limits: Limits): PointOperation[] {
  const o = asObject(body, '');
  const list = asArray(req(o, 'operations', ''), 'operations', limits.batchOperationsMax);
  return list.map((raw, i) => parseBatchOperation(raw, join('operations', i), spaces, limits));
}

function parseBatchOperation(raw: unknown, path: string, spaces: VectorSpaces, limits: Limits): PointOperation {
  const o = asObject(raw, path);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw formatError(path, 'data did not match any variant of untagged enum UpdateOperation');
  const kind = keys[0] as string;
  const p = join(path, kind);
  const inner = o[kind];
  switch (kind) {
    case 'upsert': return parseUpsert(inner, p, spaces, limits);
    case 'delete': return { kind: 'delete_points', selector: parsePointsSelector(inner, p, limits) };
    case 'set_payload': return parseSetPayload(inner, p, limits, false);
    case 'overwrite_payload': return parseSetPayload(inner, p, limits, true);
    case 'delete_payload': return parseDeletePayload(inner, p, limits);
    case 'clear_payload': return { kind: 'clear_payload', selector: parsePointsSelector(inner, p, limits) };
    case 'update_vectors': return parseUpdateVectors(inner, p, spaces, limits);
    case 'delete_vectors': return parseDeleteVectors(inner, p, spaces, limits);
    default: throw formatError(path, `unknown variant \`${kind}\`, expected one of \`upsert\`, \`delete\`, \`set_payload\`, \`overwrite_payload\`, \`delete_payload\`, \`clear_payload\`, \`update_vectors\`, \`delete_vectors\``);
  }
}

/** The id in GET /points/{id}: an unsigned integer or a UUID. */
export function parsePathPointId(text: string): PointId {
  if (/^\d+$/.test(text)) return parseId(text.length > 15 ? BigInt(text) : Number(text), 'id');
  return parseId(text, 'id');
}
