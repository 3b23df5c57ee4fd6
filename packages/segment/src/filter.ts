// Filter evaluation: a Filter is compiled once per request into a predicate over (payload,
// offset). Semantics follow Qdrant's condition checker:
// - a key path yields zero or more values; a leaf array is looked into (any element may match);
// - a missing field fails every field condition except is_empty (true) and values_count (count 0);
// - match_except fails on a missing field or null, and holds for values of another type;
// - text / phrase without a full-text index are case-sensitive substring tests; text_any holds
//   when any whitespace-separated word of the query is a substring;
// - nested evaluates the inner filter on each object element of `key[]`; one element must satisfy
//   all of it. has_id / has_vector inside nested never hold (Qdrant does not support them there).
import { pointKey } from '@shoal/common';
import type { Condition, Filter, JsonObject, JsonValue, MatchValue, PointKey, RangeBounds } from '@shoal/common';
import { parseDatetimeMicros } from './datetime.js';
import { asGeoPoint, haversineMeters, inBoundingBox, inPolygon } from './geo.js';
import { getValues, parseJsonPath, pathElements } from './path.js';
import type { JsonPath } from './path.js';

/** offset is -1 for an element of a nested array (no id, no vectors). */
export type Predicate = (payload: JsonObject, offset: number) => boolean;

/** What conditions about the point itself (not its payload) need from the segment. */
export interface PointFacts {
  idKeyAt(offset: number): PointKey;
  hasVector(name: string, offset: number): boolean;
}

export function compileFilter(filter: Filter, facts: PointFacts): Predicate {
  const must = filter.must.map((c) => compileCondition(c, facts));
  const should = filter.should.map((c) => compileCondition(c, facts));
  const mustNot = filter.mustNot.map((c) => compileCondition(c, facts));
  const minShould = filter.minShould;
  const minConditions = minShould === null ? [] : minShould.conditions.map((c) => compileCondition(c, facts));
  const minCount = minShould === null ? 0 : minShould.minCount;
  return (payload, offset) => {
    for (const p of must) if (!p(payload, offset)) return false;
    for (const p of mustNot) if (p(payload, offset)) return false;
    if (should.length > 0 && !should.some((p) => p(payload, offset))) return false;
    if (minShould !== null) {
      let hits = 0;
      for (const p of minConditions) if (p(payload, offset) && ++hits >= minCount) break;
      if (hits < minCount) return false;
    }
    return true;
  };
}

export function keyPath(key: string): JsonPath {
  return parseJsonPath(key);
}

function compileCondition(condition: Condition, facts: PointFacts): Predicate {
  switch (condition.kind) {
    case 'filter':
      return compileFilter(condition.filter, facts);
    case 'has_id': {
      const keys = new Set<PointKey>(condition.ids.map(pointKey));
      return (_p, offset) => offset >= 0 && keys.has(facts.idKeyAt(offset));
    }
    case 'has_vector': {
      const name = condition.vector;
      return (_p, offset) => offset >= 0 && facts.hasVector(name, offset);
    }
    case 'nested': {
      const path = pathElements(keyPath(condition.key));
      const inner = compileFilter(condition.filter, facts);
      return (payload) => {
        for (const element of getValues(payload, path)) {
          if (isObject(element) && inner(element, -1)) return true;
        }
        return false;
      };
    }
    case 'is_empty': {
      const path = keyPath(condition.key);
      return (payload) => getValues(payload, path).every((v) => v === null || (Array.isArray(v) && v.length === 0));
    }
    case 'is_null': {
      const path = keyPath(condition.key);
      return (payload) => getValues(payload, path).some((v) => v === null);
    }
    case 'values_count': {
      const path = keyPath(condition.key);
      const range = condition.range;
      return (payload) => {
        const values = getValues(payload, path);
        if (values.length === 0) return inRange(0, range);
        return values.some((v) => inRange(v === null ? 0 : Array.isArray(v) ? v.length : 1, range));
      };
    }
    default:
      return compileValueCondition(condition, keyPath(condition.key));
  }
}

type ValueTest = (value: JsonValue) => boolean;
type ValueCondition = Exclude<
  Condition,
  { kind: 'filter' | 'has_id' | 'has_vector' | 'nested' | 'is_empty' | 'is_null' | 'values_count' }
>;

/** Conditions that test each value at the path (and each element of a leaf array). */
function compileValueCondition(condition: ValueCondition, path: JsonPath): Predicate {
  const test = valueTest(condition);
  return (payload) => {
    for (const value of getValues(payload, path)) {
      if (Array.isArray(value)) {
        for (const element of value) if (test(element)) return true;
      } else if (test(value)) return true;
    }
    return false;
  };
}

function valueTest(condition: ValueCondition): ValueTest {
  switch (condition.kind) {
    case 'match':
      return matchTest(condition.value);
    case 'match_any': {
      const set = valueSet(condition.values);
      return (v) => (typeof v === 'string' || isInteger(v)) && set.has(normalizeScalar(v));
    }
    case 'match_except':
      return exceptTest(condition.values);
    case 'match_text':
    case 'match_phrase': {
      const text = condition.text;
      return (v) => typeof v === 'string' && v.includes(text);
    }
    case 'match_text_any': {
      const words = condition.text.split(/\s+/).filter((w) => w.length > 0);
      return (v) => typeof v === 'string' && words.some((w) => v.includes(w));
    }
    case 'range': {
      const range = condition.range;
      return (v) => (typeof v === 'number' || typeof v === 'bigint') && inRange(Number(v), range);
    }
    case 'datetime_range': {
      const range = condition.range;
      return (v) => {
        const micros = typeof v === 'string' ? parseDatetimeMicros(v) : null;
        return micros !== null && inRange(micros, range);
      };
    }
    case 'geo_radius': {
      const { center, radius } = condition;
      return (v) => {
        const p = asGeoPoint(v);
        return p !== null && haversineMeters(center, p) < radius;
      };
    }
    case 'geo_bounding_box': {
      const { topLeft, bottomRight } = condition;
      return (v) => {
        const p = asGeoPoint(v);
        return p !== null && inBoundingBox(p, topLeft, bottomRight);
      };
    }
    case 'geo_polygon': {
      const { exterior, interiors } = condition;
      return (v) => {
        const p = asGeoPoint(v);
        return p !== null && inPolygon(p, exterior, interiors);
      };
    }
  }
}

function matchTest(expected: MatchValue): ValueTest {
  if (typeof expected === 'string' || typeof expected === 'boolean') return (v) => v === expected;
  const key = normalizeScalar(expected);
  return (v) => isInteger(v) && normalizeScalar(v) === key;
}

function exceptTest(values: readonly (string | number | bigint)[]): ValueTest {
  const set = valueSet(values);
  const keywords = values.length === 0 || typeof values[0] === 'string';
  return (v) => {
    if (v === null) return false;
    if (typeof v === 'string') return !keywords || !set.has(normalizeScalar(v));
    if (typeof v === 'number' || typeof v === 'bigint') {
      return keywords || !isInteger(v) || !set.has(normalizeScalar(v));
    }
    return true;
  };
}

function valueSet(values: readonly (string | number | bigint)[]): Set<string | number> {
  return new Set(values.map((v) => normalizeScalar(v)));
}

/** Strings stay strings (tagged so they cannot equal an integer key); integers become numbers or 'n…'. */
export function normalizeScalar(v: string | number | bigint): string | number {
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : `n${v}`;
  return v;
}

function isInteger(v: JsonValue): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

function isObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function inRange(x: number, r: RangeBounds): boolean {
  return (
    (r.gt === null || x > r.gt) &&
    (r.gte === null || x >= r.gte) &&
    (r.lt === null || x < r.lt) &&
    (r.lte === null || x <= r.lte)
  );
}
