import { describe, expect, it } from 'vitest';
import type { Condition, Filter } from '@shoal/common';
import { allOf, anyOf, estimateFilter, exactly } from './cardinality.js';
import type { CardinalitySources } from './cardinality.js';
import { createSegment } from './load.js';
import { NO_BOUNDS, filterOf, indexParams, int, must, pick, point, rng, schemaOf, space } from './test-support.js';

describe('cardinality combinators', () => {
  it('combines exact counts into bounds that hold for any data', () => {
    // 100 points, a = 30, b = 80: their intersection has 10..30, their union 80..100.
    expect(allOf([exactly(30), exactly(80)], 100)).toEqual({ min: 10, exp: 24, max: 30 });
    const union = anyOf([exactly(30), exactly(80)], 100);
    expect(union.min).toBe(80);
    expect(union.max).toBe(100);
    expect(union.exp).toBeCloseTo(86, 6);
    expect(allOf([], 100)).toEqual(exactly(100));
    expect(allOf([exactly(5)], 0)).toEqual(exactly(0));
  });

  it('knows nothing of a condition no index answers, and negates what it knows', () => {
    const sources: CardinalitySources = { total: 1000, count: (c) => (c.kind === 'match' ? 100 : null) };
    const match: Condition = { kind: 'match', key: 'a', value: 'x' };
    const text: Condition = { kind: 'match_text', key: 'b', text: 'y' };
    expect(estimateFilter(filterOf({ must: [text] }), sources)).toEqual({ min: 0, exp: 500, max: 1000 });
    expect(estimateFilter(filterOf({ mustNot: [match] }), sources)).toEqual(exactly(900));
    expect(estimateFilter(filterOf({ must: [match, text] }), sources)).toEqual({ min: 0, exp: 50, max: 100 });
    // min_should 2 of three conditions of 100: at most 150 points hold two of them.
    const two = estimateFilter(filterOf({ minShould: { conditions: [match, match, match], minCount: 2 } }), sources);
    expect(two.min).toBe(0);
    expect(two.max).toBe(150);
    expect(estimateFilter(filterOf({ minShould: { conditions: [match], minCount: 2 } }), sources)).toEqual(exactly(0));
  });
});

// A segment with keyword, integer and float indexes and an unindexed field; random filters over
// them; the estimate (what the planner sees) against the true count.
describe('cardinality of filters against true counts', () => {
  const r = rng(17);
  const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
  for (const [field, type] of [['city', 'keyword'], ['n', 'integer'], ['price', 'float']] as const) {
    segment.apply({ kind: 'create_field_index', field, params: indexParams(type) });
  }
  const CITIES = ['berlin', 'paris', 'rome', 'oslo', 'lima'];
  for (let id = 0; id < 2000; id++) {
    const payload = {
      city: r() < 0.1 ? [pick(r, CITIES), pick(r, CITIES)] : pick(r, CITIES),
      n: int(r, 0, 9),
      price: Math.round(r() * 1000) / 10,
      note: pick(r, ['a', 'b', 'c']),
    };
    segment.apply({ kind: 'upsert', points: [point(id, [r(), r()], payload)] });
  }
  // Deleted points must not count.
  segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: Array.from({ length: 200 }, (_, i) => i * 7) } });

  const condition = (): Condition => {
    switch (int(r, 0, 6)) {
      case 0:
        return { kind: 'match', key: 'city', value: pick(r, CITIES) };
      case 1:
        return { kind: 'match', key: 'n', value: int(r, 0, 9) };
      case 2: {
        const lo = int(r, 0, 90);
        return { kind: 'range', key: 'price', range: { ...NO_BOUNDS, gte: lo, lt: lo + int(r, 1, 50) } };
      }
      case 3:
        return { kind: 'range', key: 'n', range: { ...NO_BOUNDS, lte: int(r, 0, 9) } };
      case 4:
        return { kind: 'match_any', key: 'city', values: [pick(r, CITIES), pick(r, CITIES)] };
      case 5:
        return { kind: 'match', key: 'note', value: pick(r, ['a', 'b']) };
      default:
        return { kind: 'has_id', ids: Array.from({ length: int(r, 0, 30) }, () => int(r, 0, 2500)) };
    }
  };
  const conditions = (lo: number, hi: number): Condition[] => Array.from({ length: int(r, lo, hi) }, condition);
  const randomFilter = (depth: number): Filter => {
    const nested = (): Condition[] => (depth > 0 && r() < 0.3 ? [{ kind: 'filter', filter: randomFilter(depth - 1) }] : []);
    return filterOf({
      must: [...conditions(0, 3), ...nested()],
      should: r() < 0.4 ? conditions(1, 3) : [],
      mustNot: r() < 0.3 ? conditions(1, 2) : [],
      minShould: r() < 0.2 ? { conditions: conditions(1, 3), minCount: int(r, 1, 2) } : null,
    });
  };
  const cardinalityOf = (filter: Filter) => {
    const c = segment.explainSearch({
      vectorName: '', vector: Float32Array.from([1, 0]), filter, limit: 10, offset: 0, scoreThreshold: null,
      withPayload: { kind: 'none' }, withVector: false, excludeIds: [],
    }).cardinality;
    if (c === null) throw new Error('a filter has a cardinality');
    return c;
  };

  it('is exact for must conditions that indexes answer', () => {
    for (let i = 0; i < 100; i++) {
      const filter = must(...Array.from({ length: int(r, 1, 3) }, () => {
        const c = condition();
        return c.kind === 'match' && c.key === 'note' ? { kind: 'match' as const, key: 'city', value: 'oslo' } : c;
      }));
      expect(cardinalityOf(filter)).toEqual(exactly(segment.count(filter)));
    }
  });

  it('keeps the true count within its bounds for must / should / must_not / min_should / nested combinations', () => {
    let checked = 0;
    let exactMatches = 0;
    for (let i = 0; i < 400; i++) {
      const filter = randomFilter(2);
      const truth = segment.count(filter);
      const c = cardinalityOf(filter);
      expect(c.min).toBeLessThanOrEqual(truth);
      expect(c.max).toBeGreaterThanOrEqual(truth);
      expect(c.exp).toBeGreaterThanOrEqual(c.min);
      expect(c.exp).toBeLessThanOrEqual(c.max);
      expect(c.max).toBeLessThanOrEqual(1800);
      checked++;
      if (c.min === c.max) exactMatches++;
    }
    expect(checked).toBe(400);
    // Some filters are fully answered by indexes (the bound is then exact), not all.
    expect(exactMatches).toBeGreaterThan(0);
    expect(exactMatches).toBeLessThan(400);
  });

  it('estimates should of indexed values close to the truth (single-valued union)', () => {
    const filter = filterOf({ should: [{ kind: 'match', key: 'n', value: 1 }, { kind: 'match', key: 'n', value: 2 }] });
    const c = cardinalityOf(filter);
    const truth = segment.count(filter);
    expect(c.max).toBe(truth); // disjoint values of a single-valued field: the sum is the count
    expect(c.min).toBeLessThanOrEqual(truth);
  });
});
