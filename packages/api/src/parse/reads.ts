// Read requests: retrieve, scroll, count, query (+batch), legacy search (+batch), facet.
import { type Filter, type Limits, type OrderBy, type PointId, type WithPayload, type WithVector } from '@shoal/common';
import type { ScrollRequest, SearchRequest } from '@shoal/cluster';
import { parseDatetimeMicros } from './datetime.js';
import { parseFilter, parseId, parseIdList } from './filter.js';
import { filterLimits } from './points.js';
import {
  asArray, asEnum, asNumber, asObject, asString, formatError, isObject, join, opt, optBool, optNumber, optUint, req,
  unsupported, validationFailure, type JsonObj,
} from './read.js';

export const DEFAULT_LIMIT = 10;

/** bool | [keys] | {include: [keys]} | {exclude: [keys]}; absent gives `dflt`. */
export function parseWithPayload(o: JsonObj, path: string, dflt: boolean, limits: Limits): WithPayload {
  const value = opt(o, 'with_payload');
  const p = join(path, 'with_payload');
  if (value === undefined) return dflt ? { kind: 'all' } : { kind: 'none' };
  if (typeof value === 'boolean') return value ? { kind: 'all' } : { kind: 'none' };
  if (Array.isArray(value)) return { kind: 'include', keys: stringList(value, p, limits) };
  if (isObject(value)) {
    if (opt(value, 'include') !== undefined) return { kind: 'include', keys: stringList(opt(value, 'include'), join(p, 'include'), limits) };
    if (opt(value, 'exclude') !== undefined) return { kind: 'exclude', keys: stringList(opt(value, 'exclude'), join(p, 'exclude'), limits) };
  }
  throw formatError(p, 'data did not match any variant of untagged enum WithPayloadInterface');
}

/** bool | [vector names]; absent is false. */
export function parseWithVector(o: JsonObj, path: string, limits: Limits): WithVector {
  const value = opt(o, 'with_vector');
  const p = join(path, 'with_vector');
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) return stringList(value, p, limits);
  throw formatError(p, 'data did not match any variant of untagged enum WithVector');
}

function stringList(value: unknown, path: string, limits: Limits): string[] {
  return asArray(value, path, limits.batchOperationsMax).map((s, i) => asString(s, join(path, i)));
}

function optFilter(o: JsonObj, path: string, limits: Limits): Filter | null {
  const value = opt(o, 'filter');
  return value === undefined ? null : parseFilter(value, join(path, 'filter'), filterLimits(limits), 0);
}


function limitOf(o: JsonObj, path: string, limits: Limits, dflt: number | null): number {
  const limit = optUint(o, 'limit', path, 1, limits.resultPointsMax);
  if (limit !== null) return limit;
  if (dflt === null) throw formatError(path, 'missing field `limit`');
  return dflt;
}

export interface RetrieveRequest {
  readonly ids: readonly PointId[];
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
}

/** POST /points: `{ids, with_payload (default true), with_vector (default false)}`. */
export function parseRetrieve(body: unknown, limits: Limits): RetrieveRequest {
  const o = asObject(body, '');
  return {
    ids: parseIdList(req(o, 'ids', ''), 'ids', limits.batchPointsMax),
    withPayload: parseWithPayload(o, '', true, limits),
    withVector: parseWithVector(o, '', limits),
  };
}

/** POST /points/scroll. */
export function parseScroll(body: unknown, limits: Limits): ScrollRequest {
  const o = body === undefined || body === null ? {} : asObject(body, '');
  const offsetRaw = opt(o, 'offset');
  const orderBy = parseOrderBy(opt(o, 'order_by'), 'order_by');
  if (orderBy !== null && offsetRaw !== undefined) {
    throw formatError('offset', 'cannot use an `offset` when using `order_by`; page with `order_by.start_from` and a filter instead');
  }
  return {
    filter: optFilter(o, '', limits),
    offset: offsetRaw === undefined ? null : parseId(offsetRaw, 'offset'),
    limit: limitOf(o, '', limits, DEFAULT_LIMIT),
    withPayload: parseWithPayload(o, '', true, limits),
    withVector: parseWithVector(o, '', limits),
    orderBy,
  };
}

function parseOrderBy(value: unknown, path: string): OrderBy | null {
  if (value === undefined) return null;
  if (typeof value === 'string') return { key: value, direction: 'asc', startFrom: null };
  const o = asObject(value, path);
  const key = asString(req(o, 'key', path), join(path, 'key'));
  const dir = opt(o, 'direction');
  const direction = dir === undefined ? 'asc' : asEnum(dir, join(path, 'direction'), ['asc', 'desc'] as const);
  const sf = opt(o, 'start_from');
  const sp = join(path, 'start_from');
  const startFrom = sf === undefined ? null : typeof sf === 'string' ? parseDatetimeMicros(sf, sp) : asNumber(sf, sp);
  return { key, direction, startFrom };
}

/** POST /points/count: `{filter, exact (default true)}`. */
export function parseCount(body: unknown, limits: Limits): { filter: Filter | null; exact: boolean } {
  const o = body === undefined || body === null ? {} : asObject(body, '');
  return { filter: optFilter(o, '', limits), exact: optBool(o, 'exact', '') ?? true };
}

export interface FacetRequest {
  readonly key: string;
  readonly filter: Filter | null;
  readonly limit: number;
  readonly exact: boolean;
}

/** POST /facet: `{key, filter, limit (default 10), exact (default false)}`. */
export function parseFacet(body: unknown, limits: Limits): FacetRequest {
  const o = asObject(body, '');
  return {
    key: asString(req(o, 'key', ''), 'key'),
    filter: optFilter(o, '', limits),
    limit: limitOf(o, '', limits, DEFAULT_LIMIT),
    exact: optBool(o, 'exact', '') ?? false,
  };
}

/** Qdrant's SearchParams: exact, hnsw_ef, indexed_only, quantization {ignore, rescore, oversampling}. */
function parseSearchParams(o: JsonObj, path: string): Pick<SearchRequest, 'exact' | 'hnswEf' | 'indexedOnly' | 'quantization'> {
  const raw = opt(o, 'params');
  if (raw === undefined) return { exact: false, hnswEf: null, indexedOnly: false, quantization: null };
  const p = join(path, 'params');
  const params = asObject(raw, p);
  return {
    exact: optBool(params, 'exact', p) ?? false,
    hnswEf: optUint(params, 'hnsw_ef', p, 1),
    indexedOnly: optBool(params, 'indexed_only', p) ?? false,
    quantization: parseQuantizationSearch(opt(params, 'quantization'), join(p, 'quantization')),
  };
}

/**
 * {ignore (default false), rescore (unset: rescore), oversampling (>= 1; unset: the index's
 * default)}; null when absent. `exact: true` ignores it (the search scores f32 rows).
 */
function parseQuantizationSearch(value: unknown, path: string): SearchRequest['quantization'] {
  if (value === undefined) return null;
  const q = asObject(value, path);
  return {
    ignore: optBool(q, 'ignore', path) ?? false,
    rescore: optBool(q, 'rescore', path),
    oversampling: optNumber(q, 'oversampling', path, 1),
  };
}

/** Fields every search shares; the query itself is read by the caller. */
export function searchCommon(o: JsonObj, path: string, limits: Limits, limitDefault: number | null): Omit<SearchRequest, 'vectorName' | 'query'> {
  const limit = limitOf(o, path, limits, limitDefault);
  const offset = optUint(o, 'offset', path, 0, limits.resultPointsMax) ?? 0;
  if (limit + offset > limits.resultPointsMax) {
    throw validationFailure(join(path, 'limit'), `limit + offset must be at most ${limits.resultPointsMax}`);
  }
  return {
    filter: optFilter(o, path, limits),
    limit,
    offset,
    scoreThreshold: optNumber(o, 'score_threshold', path),
    withPayload: parseWithPayload(o, path, false, limits),
    withVector: parseWithVector(o, path, limits),
    ...parseSearchParams(o, path),
  };
}
