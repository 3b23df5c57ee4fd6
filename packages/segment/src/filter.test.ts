import { describe, expect, it } from 'vitest';
import type { Condition, Filter, GeoPoint, JsonValue, Payload, PointId, RangeBounds } from '@shoal/common';
import { createSegment } from './load.js';
import type { Segment } from './segment.js';
import { filterOf, indexParams, int, pick, point, rng, schemaOf, space } from './test-support.js';

// ---------------------------------------------------------------------------------------------
// An independent, deliberately naive evaluator of Qdrant's filter semantics.

type Obj = { [k: string]: unknown };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function valuesAt(payload: Obj, key: string): unknown[] {
  let current: unknown[] = [payload];
  for (const part of key.split('.')) {
    const m = /^([^[\]]+)((?:\[\d*\])*)$/.exec(part);
    if (m === null) throw new Error(`bad test key ${key}`);
    const name = m[1] as string;
    let next: unknown[] = [];
    for (const v of current) if (isObj(v) && Object.hasOwn(v, name)) next.push(v[name]);
    for (const bracket of (m[2] ?? '').match(/\[\d*\]/g) ?? []) {
      const after: unknown[] = [];
      for (const v of next) {
        if (!Array.isArray(v)) continue;
        if (bracket === '[]') after.push(...v);
        else {
          const i = Number(bracket.slice(1, -1));
          if (i < v.length) after.push(v[i]);
        }
      }
      next = after;
    }
    current = next;
  }
  return current;
}

const isInt = (v: unknown): boolean => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
const sameInt = (a: unknown, b: unknown): boolean => isInt(a) && isInt(b) && BigInt(a as number) === BigInt(b as number);
const within = (x: number, r: RangeBounds): boolean =>
  !(r.gt !== null && !(x > r.gt)) && !(r.gte !== null && !(x >= r.gte)) && !(r.lt !== null && !(x < r.lt)) && !(r.lte !== null && !(x <= r.lte));

function toMicros(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v.endsWith('Z') || /[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  if (Number.isNaN(ms) || !/^\d{4}-\d\d-\d\d/.test(v)) return null;
  const frac = /\.(\d+)/.exec(v);
  const micros = frac === null ? 0 : Number((frac[1] as string).padEnd(6, '0').slice(0, 6)) % 1000;
  return ms * 1000 + micros;
}

function geo(v: unknown): GeoPoint | null {
  return isObj(v) && typeof v['lon'] === 'number' && typeof v['lat'] === 'number' ? { lon: v['lon'], lat: v['lat'] } : null;
}

function distanceM(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const x = Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 6371008.8 * 2 * Math.atan2(Math.sqrt(x), Math.sqrt(1 - x));
}

function pointInRing(p: GeoPoint, ring: readonly GeoPoint[]): boolean {
  let inside = false;
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i] as GeoPoint;
    const b = ring[(i + ring.length - 1) % ring.length] as GeoPoint;
    const crosses = (a.lat > p.lat) !== (b.lat > p.lat);
    if (crosses && p.lon < a.lon + ((p.lat - a.lat) / (b.lat - a.lat)) * (b.lon - a.lon)) inside = !inside;
  }
  return inside;
}

/** Does one scalar (an element of a leaf array, or the value itself) satisfy the condition? */
function scalarMatches(c: Condition, v: unknown): boolean {
  switch (c.kind) {
    case 'match':
      return typeof c.value === 'string' || typeof c.value === 'boolean' ? v === c.value : sameInt(v, c.value);
    case 'match_any':
      return (c.values as readonly unknown[]).some((x) => (typeof x === 'string' ? v === x : sameInt(v, x)));
    case 'match_except': {
      if (v === null) return false;
      const keywords = c.values.length === 0 || typeof c.values[0] === 'string';
      if (typeof v === 'string') return !keywords || !(c.values as readonly unknown[]).includes(v);
      if (typeof v === 'number' || typeof v === 'bigint') return keywords || !isInt(v) || !(c.values as readonly unknown[]).some((x) => sameInt(v, x));
      return true;
    }
    case 'match_text':
    case 'match_phrase':
      return typeof v === 'string' && v.indexOf(c.text) >= 0;
    case 'match_text_any':
      return typeof v === 'string' && c.text.split(' ').some((w) => w !== '' && v.indexOf(w) >= 0);
    case 'range':
      return (typeof v === 'number' || typeof v === 'bigint') && within(Number(v), c.range);
    case 'datetime_range': {
      const t = toMicros(v);
      return t !== null && within(t, c.range);
    }
    case 'geo_radius': {
      const p = geo(v);
      return p !== null && distanceM(c.center, p) < c.radius;
    }
    case 'geo_bounding_box': {
      const p = geo(v);
      return p !== null && p.lon >= c.topLeft.lon && p.lon <= c.bottomRight.lon && p.lat <= c.topLeft.lat && p.lat >= c.bottomRight.lat;
    }
    case 'geo_polygon': {
      const p = geo(v);
      return p !== null && pointInRing(p, c.exterior) && !c.interiors.some((h) => pointInRing(p, h));
    }
    default:
      throw new Error(`not a scalar condition: ${c.kind}`);
  }
}

interface Point {
  id: PointId;
  payload: Obj;
  vectors: Set<string>;
}

function holds(c: Condition, p: Point | null, payload: Obj): boolean {
  switch (c.kind) {
    case 'filter':
      return evaluate(c.filter, p, payload);
    case 'has_id':
      return p !== null && c.ids.some((id) => id === p.id || (typeof id !== 'string' && sameInt(id, p.id)));
    case 'has_vector':
      return p !== null && p.vectors.has(c.vector);
    case 'nested':
      return valuesAt(payload, `${c.key}[]`).some((el) => isObj(el) && evaluate(c.filter, null, el));
    case 'is_empty':
      return valuesAt(payload, c.key).every((v) => v === null || (Array.isArray(v) && v.length === 0));
    case 'is_null':
      return valuesAt(payload, c.key).some((v) => v === null);
    case 'values_count': {
      const vs = valuesAt(payload, c.key);
      if (vs.length === 0) return within(0, c.range);
      return vs.some((v) => within(v === null ? 0 : Array.isArray(v) ? v.length : 1, c.range));
    }
    default:
      return valuesAt(payload, c.key).some((v) => (Array.isArray(v) ? v.some((e) => scalarMatches(c, e)) : scalarMatches(c, v)));
  }
}

function evaluate(f: Filter, p: Point | null, payload: Obj): boolean {
  const ok = (c: Condition): boolean => holds(c, p, payload);
  if (!f.must.every(ok)) return false;
  if (f.mustNot.some(ok)) return false;
  if (f.should.length > 0 && !f.should.some(ok)) return false;
  if (f.minShould !== null && f.minShould.conditions.filter(ok).length < f.minShould.minCount) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Random data and conditions.

const COLORS = ['red', 'green', 'blue', 'black', 'white'];
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'Alpha', 'omega'];

function randomPayload(r: () => number): Payload {
  const p: Payload = {};
  // Each field is absent one time in five.
  const add = (key: string, make: () => JsonValue): void => {
    if (r() < 0.8) p[key] = make();
  };
  add('color', () => pick(r, [() => pick(r, COLORS), () => [pick(r, COLORS), pick(r, COLORS)], () => null, () => 7, () => []])());
  add('n', () => pick(r, [() => int(r, -5, 5), () => [int(r, -5, 5), int(r, -5, 5)], () => int(r, -50, 50) / 10, () => 18446744073709551615n, () => 'three', () => null])());
  add('f', () => (r() < 0.9 ? Math.round((r() * 20 - 10) * 100) / 100 : [r() * 5, r() * 5]));
  add('flag', () => pick(r, [true, false, [true], 'true']));
  add('when', () =>
    pick(r, [
      () => new Date(Date.UTC(2024, int(r, 0, 11), int(r, 1, 28), int(r, 0, 23))).toISOString(),
      () => `2024-0${int(r, 1, 9)}-1${int(r, 0, 9)}T10:00:00+02:00`,
      () => `2024-05-0${int(r, 1, 9)}`,
      () => 'not a date',
    ])(),
  );
  add('loc', () => {
    const one = (): JsonValue => ({ lon: r() * 20 - 10, lat: r() * 20 - 10 });
    return r() < 0.8 ? one() : [one(), one()];
  });
  add('tags', () => pick(r, [() => [], () => [null], () => [pick(r, WORDS)], () => null, () => [pick(r, WORDS), null]])());
  add('text', () => `${pick(r, WORDS)} ${pick(r, WORDS)} ${pick(r, WORDS)}`);
  add('items', () =>
    Array.from({ length: int(r, 0, 3) }, () => ({ name: pick(r, COLORS), qty: int(r, 0, 5) }) as JsonValue),
  );
  add('meta', () => ({ kind: pick(r, ['a', 'b', 'c']), level: int(r, 0, 3), deep: { x: int(r, 0, 2) } }));
  return p;
}

function randomRange(r: () => number, lo: number, hi: number): RangeBounds {
  const a = lo + r() * (hi - lo);
  const b = a + r() * (hi - lo) * 0.6;
  const bounds: { gt: number | null; gte: number | null; lt: number | null; lte: number | null } = { gt: null, gte: null, lt: null, lte: null };
  if (r() < 0.8) bounds[r() < 0.5 ? 'gt' : 'gte'] = Math.round(a);
  if (r() < 0.8) bounds[r() < 0.5 ? 'lt' : 'lte'] = Math.round(b);
  return bounds;
}

function randomCondition(r: () => number, depth: number): Condition {
  const kinds = [
    'match', 'match_int', 'match_bool', 'match_any', 'match_any_int', 'match_except', 'match_except_int', 'text', 'text_any',
    'phrase', 'range', 'range_f', 'datetime', 'radius', 'bbox', 'polygon', 'values_count', 'is_empty', 'is_null', 'has_id',
    'has_vector', 'nested', 'nested_path', 'indexed_path', 'filter',
  ];
  const kind = pick(r, depth > 1 ? kinds.filter((k) => k !== 'filter' && k !== 'nested') : kinds);
  switch (kind) {
    case 'match': return { kind: 'match', key: 'color', value: pick(r, COLORS) };
    case 'match_int': return { kind: 'match', key: 'n', value: r() < 0.9 ? int(r, -5, 5) : 18446744073709551615n };
    case 'match_bool': return { kind: 'match', key: 'flag', value: r() < 0.5 };
    case 'match_any': return { kind: 'match_any', key: 'color', values: [pick(r, COLORS), pick(r, COLORS)] };
    case 'match_any_int': return { kind: 'match_any', key: 'n', values: [int(r, -5, 5), int(r, -5, 5)] };
    case 'match_except': return { kind: 'match_except', key: pick(r, ['color', 'n']), values: [pick(r, COLORS), pick(r, COLORS)] };
    case 'match_except_int': return { kind: 'match_except', key: pick(r, ['color', 'n']), values: [int(r, -5, 5)] };
    case 'text': return { kind: 'match_text', key: 'text', text: pick(r, ['lph', 'alpha beta', 'Alpha', 'ta g']) };
    case 'text_any': return { kind: 'match_text_any', key: 'text', text: pick(r, ['omega zeta', 'Alp', 'xyz']) };
    case 'phrase': return { kind: 'match_phrase', key: 'text', text: `${pick(r, WORDS)} ${pick(r, WORDS)}` };
    case 'range': return { kind: 'range', key: 'n', range: randomRange(r, -5, 5) };
    case 'range_f': return { kind: 'range', key: 'f', range: randomRange(r, -10, 10) };
    case 'datetime': {
      const from = Date.UTC(2024, int(r, 0, 11), 1) * 1000;
      return { kind: 'datetime_range', key: 'when', range: { gt: null, gte: from, lt: from + 90 * 86400e6, lte: null } };
    }
    case 'radius': return { kind: 'geo_radius', key: 'loc', center: { lon: r() * 10 - 5, lat: r() * 10 - 5 }, radius: 200_000 + r() * 600_000 };
    case 'bbox': {
      const lon = r() * 10 - 10;
      const lat = r() * 10;
      return { kind: 'geo_bounding_box', key: 'loc', topLeft: { lon, lat }, bottomRight: { lon: lon + 8, lat: lat - 8 } };
    }
    case 'polygon': {
      const square = (c: number, h: number): GeoPoint[] => [
        { lon: c - h, lat: c - h }, { lon: c + h, lat: c - h }, { lon: c + h, lat: c + h }, { lon: c - h, lat: c + h },
      ];
      return { kind: 'geo_polygon', key: 'loc', exterior: square(0, 6), interiors: r() < 0.5 ? [square(0, 2)] : [] };
    }
    case 'values_count': return { kind: 'values_count', key: pick(r, ['color', 'tags', 'items', 'n']), range: randomRange(r, 0, 3) };
    case 'is_empty': return { kind: 'is_empty', key: pick(r, ['color', 'tags', 'missing', 'items[].name']) };
    case 'is_null': return { kind: 'is_null', key: pick(r, ['color', 'tags', 'n', 'missing']) };
    case 'has_id': return { kind: 'has_id', ids: Array.from({ length: 20 }, () => int(r, 0, 300)) };
    case 'has_vector': return { kind: 'has_vector', vector: pick(r, ['', 'extra']) };
    case 'nested':
      return {
        kind: 'nested',
        key: 'items',
        filter: filterOf({ must: [{ kind: 'match', key: 'name', value: pick(r, COLORS) }, { kind: 'range', key: 'qty', range: randomRange(r, 0, 5) }] }),
      };
    case 'nested_path': return { kind: 'match', key: pick(r, ['items[].name', 'items[0].name']), value: pick(r, COLORS) };
    case 'indexed_path': return pick(r, [
      { kind: 'match', key: 'meta.kind', value: pick(r, ['a', 'b']) } as Condition,
      { kind: 'range', key: 'meta.level', range: randomRange(r, 0, 3) } as Condition,
      { kind: 'match', key: 'meta.deep.x', value: int(r, 0, 2) } as Condition,
    ]);
    default: return { kind: 'filter', filter: randomFilter(r, depth + 1) };
  }
}

function randomFilter(r: () => number, depth = 0): Filter {
  const list = (max: number): Condition[] => Array.from({ length: int(r, 0, max) }, () => randomCondition(r, depth));
  const minConditions = r() < 0.3 ? list(3) : null;
  return filterOf({
    must: list(2),
    should: list(2),
    mustNot: r() < 0.5 ? list(1) : [],
    minShould: minConditions === null ? null : { conditions: minConditions, minCount: int(r, 0, 2) },
  });
}

// ---------------------------------------------------------------------------------------------

function buildSegment(seed: number, count: number): { segment: Segment; points: Point[] } {
  const r = rng(seed);
  const segment = createSegment(schemaOf({ '': space(2, 'Dot'), extra: space(2, 'Euclid') }));
  const points: Point[] = [];
  for (let i = 0; i < count; i++) {
    const id = i * 3 % 301;
    const payload = randomPayload(r);
    const p = point(id, r() < 0.9 ? [r(), r()] : null, payload);
    if (r() < 0.4) p.vectors.set('extra', Float32Array.from([r(), r()]));
    segment.apply({ kind: 'upsert', points: [p] });
    points.push({ id, payload: payload as Obj, vectors: new Set(p.vectors.keys()) });
  }
  return { segment, points };
}

function expectedIds(points: readonly Point[], filter: Filter): PointId[] {
  return points.filter((p) => evaluate(filter, p, p.payload)).map((p) => p.id).sort((a, b) => Number(a) - Number(b));
}

function actualIds(segment: Segment, filter: Filter): PointId[] {
  return segment.scroll({ filter, offset: null, limit: 1000, withPayload: { kind: 'none' }, withVector: false }).points.map((p) => p.id);
}

describe('filters agree with an independent evaluator', () => {
  const { segment, points } = buildSegment(7, 300);

  it('every condition kind on its own', () => {
    const r = rng(11);
    let nonTrivial = 0;
    for (let i = 0; i < 600; i++) {
      const condition = randomCondition(r, 0);
      const filter = filterOf({ must: [condition] });
      const expected = expectedIds(points, filter);
      if (expected.length > 0 && expected.length < points.length) nonTrivial++;
      expect(actualIds(segment, filter), JSON.stringify(condition, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toEqual(expected);
      expect(segment.count(filter)).toBe(expected.length);
    }
    // The generated conditions must actually discriminate, or this test proves little.
    expect(nonTrivial).toBeGreaterThan(400);
  });

  it('random boolean combinations, without and with payload indexes', () => {
    const r = rng(23);
    const filters = Array.from({ length: 300 }, () => randomFilter(r));
    const without = filters.map((f) => actualIds(segment, f));
    filters.forEach((f, i) => expect(without[i]).toEqual(expectedIds(points, f)));
    segment.apply({ kind: 'create_field_index', field: 'color', params: indexParams('keyword') });
    segment.apply({ kind: 'create_field_index', field: 'n', params: indexParams('integer') });
    segment.apply({ kind: 'create_field_index', field: 'f', params: indexParams('float') });
    segment.apply({ kind: 'create_field_index', field: 'flag', params: indexParams('bool') });
    segment.apply({ kind: 'create_field_index', field: 'when', params: indexParams('datetime') });
    segment.apply({ kind: 'create_field_index', field: 'meta.kind', params: indexParams('keyword') });
    segment.apply({ kind: 'create_field_index', field: 'meta.level', params: indexParams('integer') });
    segment.apply({ kind: 'create_field_index', field: 'items[].name', params: indexParams('keyword') });
    filters.forEach((f, i) => expect(actualIds(segment, f)).toEqual(without[i]));
  });
});

describe('documented edge cases', () => {
  const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
  const payloads: Payload[] = [
    { a: null, b: [], c: [null], d: 'x', e: [1, 2, 3] },
    { a: 5, b: [1], c: [1, null], e: 4 },
    {},
  ];
  payloads.forEach((payload, id) => segment.apply({ kind: 'upsert', points: [point(id, [1, 0], payload)] }));
  const ids = (c: Condition): PointId[] => actualIds(segment, filterOf({ must: [c] }));

  it('is_empty holds for missing, null and [] but not [null]', () => {
    expect(ids({ kind: 'is_empty', key: 'a' })).toEqual([0, 2]);
    expect(ids({ kind: 'is_empty', key: 'b' })).toEqual([0, 2]);
    expect(ids({ kind: 'is_empty', key: 'c' })).toEqual([2]);
  });

  it('is_null holds for null only, not for [null] nor a missing key', () => {
    expect(ids({ kind: 'is_null', key: 'a' })).toEqual([0]);
    expect(ids({ kind: 'is_null', key: 'c' })).toEqual([]);
    expect(ids({ kind: 'is_null', key: 'zzz' })).toEqual([]);
  });

  it('match_except does not hold when the field is missing or null', () => {
    expect(ids({ kind: 'match_except', key: 'd', values: ['y'] })).toEqual([0]);
    expect(ids({ kind: 'match_except', key: 'a', values: [1] })).toEqual([1]);
  });

  it('an array value matches when any element does; values_count counts the elements', () => {
    expect(ids({ kind: 'match', key: 'e', value: 2 })).toEqual([0]);
    expect(ids({ kind: 'values_count', key: 'e', range: { gt: null, gte: 2, lt: null, lte: null } })).toEqual([0]);
  });

  it('rejects a malformed key path as a bad request', () => {
    expect(() => ids({ kind: 'match', key: 'a..b', value: 1 })).toThrow(/invalid payload key path/);
  });
});

describe('payload indexes stay exact while points change', () => {
  it('answers like the evaluator after upserts, payload updates and deletes', () => {
    const r = rng(99);
    const segment = createSegment(schemaOf({ '': space(2, 'Dot'), extra: space(2, 'Euclid') }));
    for (const [field, type] of [
      ['color', 'keyword'], ['n', 'integer'], ['f', 'float'], ['flag', 'bool'], ['when', 'datetime'],
      ['meta.kind', 'keyword'], ['meta.level', 'integer'], ['meta.deep.x', 'integer'], ['items[].name', 'keyword'],
    ] as const) {
      segment.apply({ kind: 'create_field_index', field, params: indexParams(type) });
    }
    const model = new Map<number, Point>();
    for (let step = 0; step < 1500; step++) {
      const id = int(r, 0, 400);
      const roll = r();
      if (roll < 0.7) {
        const payload = randomPayload(r);
        const p = point(id, [r(), r()], payload);
        segment.apply({ kind: 'upsert', points: [p] });
        model.set(id, { id, payload: structuredClone(payload) as Obj, vectors: new Set(['']) });
      } else if (roll < 0.85) {
        segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });
        model.delete(id);
      } else if (model.has(id)) {
        const extra = { meta: { kind: pick(r, ['a', 'b']), level: int(r, 0, 3) }, color: pick(r, COLORS) };
        segment.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [id] }, payload: extra, key: null });
        Object.assign((model.get(id) as Point).payload, structuredClone(extra));
      }
      if (step % 100 === 99) {
        const points = [...model.values()];
        for (let i = 0; i < 40; i++) {
          const f = r() < 0.5 ? filterOf({ must: [randomCondition(r, 0), randomCondition(r, 0)] }) : randomFilter(r);
          expect(actualIds(segment, f)).toEqual(expectedIds(points, f));
        }
      }
    }
    const info = segment.payloadIndexes().get('meta.kind');
    expect(info?.points).toBe([...model.values()].filter((p) => isObj(p.payload['meta']) && typeof (p.payload['meta'] as Obj)['kind'] === 'string').length);
  });
});
