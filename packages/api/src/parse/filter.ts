// Qdrant's filter language into the internal Filter. Depth is bounded (Limits.jsonDepthMax) so
// a deeply nested filter is rejected before recursion can exhaust the stack.
import { parsePointId, type Condition, type Filter, type GeoPoint, type MatchValue, type MatchValues, type PointId, type RangeBounds } from '@shoal/common';
import { parseDatetimeMicros } from './datetime.js';
import {
  asArray, asBool, asNumber, asObject, asString, asUint, formatError, isObject, join, opt, req,
  typeError, validationFailure, type JsonObj,
} from './read.js';

export interface FilterLimits {
  readonly jsonDepthMax: number;
  /** most conditions in one list and most ids/values in one condition */
  readonly listMax: number;
}

export const EMPTY_FILTER: Filter = { must: [], should: [], mustNot: [], minShould: null };

export function parseOptFilter(obj: JsonObj, key: string, path: string, limits: FilterLimits): Filter | null {
  const value = opt(obj, key);
  return value === undefined ? null : parseFilter(value, join(path, key), limits, 0);
}

export function parseFilter(value: unknown, path: string, limits: FilterLimits, depth: number): Filter {
  if (depth > limits.jsonDepthMax) throw formatError(path, `filter nested deeper than ${limits.jsonDepthMax} levels`);
  const obj = asObject(value, path);
  for (const key of Object.keys(obj)) {
    if (key !== 'must' && key !== 'should' && key !== 'must_not' && key !== 'min_should') {
      throw formatError(path, `unknown field \`${key}\`, expected one of \`should\`, \`min_should\`, \`must\`, \`must_not\``);
    }
  }
  return {
    must: conditionList(obj, 'must', path, limits, depth),
    should: conditionList(obj, 'should', path, limits, depth),
    mustNot: conditionList(obj, 'must_not', path, limits, depth),
    minShould: parseMinShould(obj, path, limits, depth),
  };
}

function conditionList(obj: JsonObj, key: string, path: string, limits: FilterLimits, depth: number): Condition[] {
  const value = opt(obj, key);
  const p = join(path, key);
  if (value === undefined) return [];
  // Qdrant accepts a single condition where a list is expected.
  if (!Array.isArray(value)) return [parseCondition(value, p, limits, depth + 1)];
  return asArray(value, p, limits.listMax).map((c, i) => parseCondition(c, join(p, i), limits, depth + 1));
}

function parseMinShould(obj: JsonObj, path: string, limits: FilterLimits, depth: number): Filter['minShould'] {
  const value = opt(obj, 'min_should');
  if (value === undefined) return null;
  const p = join(path, 'min_should');
  const ms = asObject(value, p);
  const list = asArray(req(ms, 'conditions', p), join(p, 'conditions'), limits.listMax);
  const conditions = list.map((c, i) => parseCondition(c, join(join(p, 'conditions'), i), limits, depth + 1));
  const minCount = asUint(req(ms, 'min_count', p), join(p, 'min_count'));
  if (minCount < 1) throw validationFailure(join(p, 'min_count'), `value ${minCount} invalid, must be 1 or larger`);
  return { conditions, minCount };
}

export function parseCondition(value: unknown, path: string, limits: FilterLimits, depth: number): Condition {
  if (depth > limits.jsonDepthMax) throw formatError(path, `filter nested deeper than ${limits.jsonDepthMax} levels`);
  const obj = asObject(value, path);
  if ('key' in obj) return parseFieldCondition(obj, path, limits);
  if ('has_id' in obj) return { kind: 'has_id', ids: parseIdList(req(obj, 'has_id', path), join(path, 'has_id'), limits.listMax) };
  if ('has_vector' in obj) return { kind: 'has_vector', vector: asString(req(obj, 'has_vector', path), join(path, 'has_vector')) };
  if ('is_empty' in obj) return { kind: 'is_empty', key: payloadFieldKey(obj, 'is_empty', path) };
  if ('is_null' in obj) return { kind: 'is_null', key: payloadFieldKey(obj, 'is_null', path) };
  if ('nested' in obj) {
    const p = join(path, 'nested');
    const nested = asObject(req(obj, 'nested', path), p);
    const key = asString(req(nested, 'key', p), join(p, 'key'));
    return { kind: 'nested', key, filter: parseFilter(req(nested, 'filter', p), join(p, 'filter'), limits, depth + 1) };
  }
  if ('must' in obj || 'should' in obj || 'must_not' in obj || 'min_should' in obj || Object.keys(obj).length === 0) {
    return { kind: 'filter', filter: parseFilter(obj, path, limits, depth + 1) };
  }
  if ('slice' in obj) throw formatError(path, 'the slice condition is not supported by this node yet');
  throw formatError(path, 'data did not match any variant of untagged enum Condition');
}

function payloadFieldKey(obj: JsonObj, field: string, path: string): string {
  const p = join(path, field);
  const inner = asObject(req(obj, field, path), p);
  return asString(req(inner, 'key', p), join(p, 'key'));
}

export function parseIdList(value: unknown, path: string, lengthMax: number): PointId[] {
  return asArray(value, path, lengthMax).map((v, i) => parseId(v, join(path, i)));
}

/** A point id, or 400 naming the field and the value. */
export function parseId(value: unknown, path: string): PointId {
  const id = parsePointId(value);
  if (id === null) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value === 'number' || typeof value === 'bigint' ? String(value) : describe2(value);
    throw formatError(path, `value ${shown} is not a valid point ID, valid values are either an unsigned integer or a UUID`);
  }
  return id;
}

function describe2(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'sequence' : typeof value === 'object' ? 'map' : String(value);
}

function parseFieldCondition(obj: JsonObj, path: string, limits: FilterLimits): Condition {
  const key = asString(req(obj, 'key', path), join(path, 'key'));
  const present = ['match', 'range', 'geo_radius', 'geo_bounding_box', 'geo_polygon', 'values_count', 'is_empty', 'is_null']
    .filter((k) => opt(obj, k) !== undefined);
  if (present.length === 0) throw validationFailure(path, 'at least one field condition must be specified');
  if (present.length > 1) throw validationFailure(path, `only one field condition may be given, got ${present.join(', ')}`);
  const which = present[0] as string;
  const value = opt(obj, which);
  const p = join(path, which);
  switch (which) {
    case 'match': return parseMatch(key, value, p, limits);
    case 'range': return parseRange(key, value, p);
    case 'values_count': return { kind: 'values_count', key, range: valuesCountBounds(value, p) };
    case 'geo_radius': return parseGeoRadius(key, value, p);
    case 'geo_bounding_box': return parseGeoBox(key, value, p);
    case 'geo_polygon': return parseGeoPolygon(key, value, p, limits);
    case 'is_empty':
      // {key, is_empty: true}: the field is empty; false means "has values", expressed as must_not.
      return asBool(value, p) ? { kind: 'is_empty', key } : negate({ kind: 'is_empty', key });
    default:
      return asBool(value, p) ? { kind: 'is_null', key } : negate({ kind: 'is_null', key });
  }
}

function negate(condition: Condition): Condition {
  return { kind: 'filter', filter: { must: [], should: [], mustNot: [condition], minShould: null } };
}

function parseMatch(key: string, value: unknown, path: string, limits: FilterLimits): Condition {
  const m = asObject(value, path);
  if (opt(m, 'value') !== undefined) return { kind: 'match', key, value: matchValue(opt(m, 'value'), join(path, 'value')) };
  if (opt(m, 'text') !== undefined) return { kind: 'match_text', key, text: asString(opt(m, 'text'), join(path, 'text')) };
  if (opt(m, 'text_any') !== undefined) return { kind: 'match_text_any', key, text: asString(opt(m, 'text_any'), join(path, 'text_any')) };
  if (opt(m, 'phrase') !== undefined) return { kind: 'match_phrase', key, text: asString(opt(m, 'phrase'), join(path, 'phrase')) };
  if (opt(m, 'any') !== undefined) return { kind: 'match_any', key, values: matchValues(opt(m, 'any'), join(path, 'any'), limits.listMax) };
  if (opt(m, 'except') !== undefined) return { kind: 'match_except', key, values: matchValues(opt(m, 'except'), join(path, 'except'), limits.listMax) };
  if (opt(m, 'prefix') !== undefined) throw formatError(path, 'match prefix is not supported by this node yet');
  throw formatError(path, 'data did not match any variant of untagged enum Match');
}

function matchValue(value: unknown, path: string): MatchValue {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw typeError(path, value, 'a string, an integer or a boolean');
}

function matchValues(value: unknown, path: string, lengthMax: number): MatchValues {
  const list = asArray(value, path, lengthMax);
  if (list.length === 0) return [] as string[];
  if (list.every((v) => typeof v === 'string')) return list as string[];
  if (list.every((v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))) return list as (number | bigint)[];
  throw formatError(path, 'data did not match any variant of untagged enum AnyVariants (all strings or all integers)');
}

const BOUND_KEYS = ['gt', 'gte', 'lt', 'lte'] as const;

function parseRange(key: string, value: unknown, path: string): Condition {
  const r = asObject(value, path);
  const anyString = BOUND_KEYS.some((k) => typeof opt(r, k) === 'string');
  if (!anyString) {
    const bounds = boundsOf(r, path, (v, p) => asNumber(v, p));
    return { kind: 'range', key, range: bounds };
  }
  const bounds = boundsOf(r, path, (v, p) => parseDatetimeMicros(asString(v, p), p));
  return { kind: 'datetime_range', key, range: bounds };
}

function boundsOf(r: JsonObj, path: string, read: (v: unknown, p: string) => number): RangeBounds {
  const get = (k: (typeof BOUND_KEYS)[number]): number | null => {
    const v = opt(r, k);
    return v === undefined ? null : read(v, join(path, k));
  };
  return { gt: get('gt'), gte: get('gte'), lt: get('lt'), lte: get('lte') };
}

function valuesCountBounds(value: unknown, path: string): RangeBounds {
  return boundsOf(asObject(value, path), path, (v, p) => asUint(v, p));
}

function geoPoint(value: unknown, path: string): GeoPoint {
  const o = asObject(value, path);
  const lon = asNumber(req(o, 'lon', path), join(path, 'lon'));
  const lat = asNumber(req(o, 'lat', path), join(path, 'lat'));
  if (lon < -180 || lon > 180) throw formatError(join(path, 'lon'), `Wrong input: longitude must be between -180 and 180, got ${lon}`);
  if (lat < -90 || lat > 90) throw formatError(join(path, 'lat'), `Wrong input: latitude must be between -90 and 90, got ${lat}`);
  return { lon, lat };
}

function parseGeoRadius(key: string, value: unknown, path: string): Condition {
  const o = asObject(value, path);
  const center = geoPoint(req(o, 'center', path), join(path, 'center'));
  const radius = asNumber(req(o, 'radius', path), join(path, 'radius'));
  return { kind: 'geo_radius', key, center, radius };
}

function parseGeoBox(key: string, value: unknown, path: string): Condition {
  const o = asObject(value, path);
  return {
    kind: 'geo_bounding_box',
    key,
    topLeft: geoPoint(req(o, 'top_left', path), join(path, 'top_left')),
    bottomRight: geoPoint(req(o, 'bottom_right', path), join(path, 'bottom_right')),
  };
}

function lineString(value: unknown, path: string, lengthMax: number): GeoPoint[] {
  const o = asObject(value, path);
  const p = join(path, 'points');
  const points = asArray(req(o, 'points', path), p, lengthMax).map((v, i) => geoPoint(v, join(p, i)));
  if (points.length < 4) throw validationFailure(p, 'polygon invalid, the size must be at least 4');
  const first = points[0] as GeoPoint;
  const last = points[points.length - 1] as GeoPoint;
  if (first.lat !== last.lat || first.lon !== last.lon) throw validationFailure(p, 'polygon invalid, the first and the last points must be the same');
  return points;
}

function parseGeoPolygon(key: string, value: unknown, path: string, limits: FilterLimits): Condition {
  const o = asObject(value, path);
  const exterior = lineString(req(o, 'exterior', path), join(path, 'exterior'), limits.listMax);
  const rawInteriors = opt(o, 'interiors');
  const ip = join(path, 'interiors');
  const interiors = rawInteriors === undefined ? [] : asArray(rawInteriors, ip, limits.listMax).map((v, i) => lineString(v, join(ip, i), limits.listMax));
  return { kind: 'geo_polygon', key, exterior, interiors };
}

export function isFilterLike(value: unknown): boolean {
  return isObject(value);
}
