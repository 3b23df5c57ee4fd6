// POST /points/query (+batch) and the legacy /points/search (+batch). Only nearest-neighbour
// queries by vector or by point id are served; the other query kinds answer 400 'unsupported'
// naming the feature, rather than a silently different result.
import { DEFAULT_VECTOR_NAME, type Limits } from '@shoal/common';
import type { ScrollRequest, SearchRequest } from '@shoal/cluster';
import { parseId } from './filter.js';
import { DEFAULT_LIMIT, searchCommon } from './reads.js';
import { asArray, asObject, asString, formatError, isObject, join, opt, unsupported, type JsonObj } from './read.js';
import { parseDenseVector, spaceOf, type VectorSpaces } from './vectors.js';

/**
 * A parsed query: a nearest-neighbour search, or (no `query` given) points in id order, which
 * Qdrant serves like a scroll that skips `skip` points and scores every point 0.
 */
export type ParsedQuery =
  | { readonly kind: 'search'; readonly request: SearchRequest }
  | { readonly kind: 'scroll'; readonly request: ScrollRequest; readonly skip: number };

const OTHER_QUERY_KINDS = ['recommend', 'discover', 'context', 'order_by', 'fusion', 'rrf', 'formula', 'sample', 'relevance_feedback'];

type QueryInput = SearchRequest['query'];

function vectorOrId(value: unknown, path: string, vectorName: string, spaces: VectorSpaces): QueryInput {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') {
    return { kind: 'point', id: parseId(value, path) };
  }
  if (Array.isArray(value)) {
    const params = spaceOf(spaces, vectorName);
    return { kind: 'vector', vector: parseDenseVector(value, path, params.size) };
  }
  if (isObject(value)) {
    if ('indices' in value && 'values' in value) throw unsupported(`${path}: sparse vectors`);
    if ('model' in value && ('text' in value || 'image' in value || 'object' in value)) throw unsupported(`${path}: inference (documents, images, objects)`);
  }
  throw formatError(path, 'data did not match any variant of untagged enum VectorInput');
}

function parseQueryInput(value: unknown, path: string, vectorName: string, spaces: VectorSpaces): QueryInput {
  if (isObject(value)) {
    for (const kind of OTHER_QUERY_KINDS) if (kind in value) throw unsupported(`query \`${kind}\``);
    if ('nearest' in value) {
      if (opt(value, 'mmr') !== undefined) throw unsupported('query `nearest.mmr`');
      return vectorOrId(value.nearest, join(path, 'nearest'), vectorName, spaces);
    }
  }
  return vectorOrId(value, path, vectorName, spaces);
}

/** One QueryRequest. */
export function parseQuery(body: unknown, path: string, spaces: VectorSpaces, limits: Limits): ParsedQuery {
  const o = body === undefined || body === null ? {} : asObject(body, path);
  if (opt(o, 'prefetch') !== undefined) throw unsupported('query `prefetch`');
  if (opt(o, 'lookup_from') !== undefined) throw unsupported('query `lookup_from`');
  const usingRaw = opt(o, 'using');
  const vectorName = usingRaw === undefined ? DEFAULT_VECTOR_NAME : asString(usingRaw, join(path, 'using'));
  const common = searchCommon(o, path, limits, DEFAULT_LIMIT);
  const queryRaw = opt(o, 'query');
  if (queryRaw === undefined) {
    return {
      kind: 'scroll',
      skip: common.offset,
      request: { filter: common.filter, offset: null, limit: common.limit + common.offset, withPayload: common.withPayload, withVector: common.withVector, orderBy: null },
    };
  }
  spaceOf(spaces, vectorName);
  const query = parseQueryInput(queryRaw, join(path, 'query'), vectorName, spaces);
  return { kind: 'search', request: { ...common, vectorName, query } };
}

/** `{searches: [QueryRequest…]}` */
export function parseQueryBatch(body: unknown, spaces: VectorSpaces, limits: Limits): ParsedQuery[] {
  const o = asObject(body, '');
  const list = asArray(o.searches ?? missingSearches(), 'searches', limits.searchBatchMax);
  return list.map((q, i) => parseQuery(q, join('searches', i), spaces, limits));
}

function missingSearches(): never {
  throw formatError('', 'missing field `searches`');
}

/** Legacy SearchRequest: `vector` is an array or `{name, vector}`; `limit` is required. */
export function parseSearch(body: unknown, path: string, spaces: VectorSpaces, limits: Limits): SearchRequest {
  const o: JsonObj = asObject(body, path);
  const raw = opt(o, 'vector');
  const vp = join(path, 'vector');
  if (raw === undefined) throw formatError(path, 'missing field `vector`');
  let vectorName = DEFAULT_VECTOR_NAME;
  let vectorRaw: unknown = raw;
  if (isObject(raw)) {
    if ('indices' in raw) throw unsupported(`${vp}: sparse vectors`);
    vectorName = asString(raw.name, join(vp, 'name'));
    vectorRaw = raw.vector;
    if (isObject(vectorRaw)) throw unsupported(`${vp}: sparse vectors`);
  }
  const params = spaceOf(spaces, vectorName);
  const vector = parseDenseVector(vectorRaw, isObject(raw) ? join(vp, 'vector') : vp, params.size);
  return { ...searchCommon(o, path, limits, null), vectorName, query: { kind: 'vector', vector } };
}

/** `{searches: [SearchRequest…]}` */
export function parseSearchBatch(body: unknown, spaces: VectorSpaces, limits: Limits): SearchRequest[] {
  const o = asObject(body, '');
  const list = asArray(o.searches ?? missingSearches(), 'searches', limits.searchBatchMax);
  return list.map((q, i) => parseSearch(q, join('searches', i), spaces, limits));
}

