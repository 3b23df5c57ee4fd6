import { describe, expect, it } from 'vitest';
import { parseDatetimeMicros } from './datetime.js';
import { parseFilter } from './filter.js';
import { failure } from './test-support.js';

const LIMITS = { jsonDepthMax: 8, listMax: 100 };
const parse = (value: unknown) => parseFilter(value, 'filter', LIMITS, 0);

describe('parseFilter', () => {
  it('reads match conditions of every kind', () => {
    const f = parse({ must: [
      { key: 'city', match: { value: 'Paris' } },
      { key: 'n', match: { value: 18446744073709551615n } },
      { key: 'tags', match: { any: ['a', 'b'] } },
      { key: 'x', match: { except: [1, 2] } },
      { key: 'd', match: { text: 'hello' } },
      { key: 'd', match: { text_any: 'a b' } },
      { key: 'd', match: { phrase: 'a b' } },
    ] });
    expect(f.must.map((c) => c.kind)).toEqual(['match', 'match', 'match_any', 'match_except', 'match_text', 'match_text_any', 'match_phrase']);
    expect(f.must[1]).toEqual({ kind: 'match', key: 'n', value: 2n ** 64n - 1n });
  });

  it('reads numeric and datetime ranges', () => {
    const f = parse({ should: [
      { key: 'price', range: { gte: 1.5, lt: 10 } },
      { key: 'at', range: { gt: '2024-01-02T03:04:05.5Z', lte: '2024-01-03 00:00:00' } },
    ] });
    expect(f.should[0]).toEqual({ kind: 'range', key: 'price', range: { gt: null, gte: 1.5, lt: 10, lte: null } });
    expect(f.should[1]).toEqual({
      kind: 'datetime_range', key: 'at',
      range: { gt: Date.UTC(2024, 0, 2, 3, 4, 5) * 1000 + 500_000, gte: null, lt: null, lte: Date.UTC(2024, 0, 3) * 1000 },
    });
  });

  it('reads geo, values_count, is_empty, is_null, has_id, has_vector, nested and min_should', () => {
    const f = parse({
      must: { key: 'loc', geo_radius: { center: { lon: 13.4, lat: 52.5 }, radius: 1000 } },
      must_not: [
        { key: 'loc', geo_bounding_box: { top_left: { lon: 0, lat: 10 }, bottom_right: { lon: 10, lat: 0 } } },
        { key: 'loc', geo_polygon: { exterior: { points: [{ lon: 0, lat: 0 }, { lon: 1, lat: 0 }, { lon: 1, lat: 1 }, { lon: 0, lat: 0 }] } } },
        { key: 'tags', values_count: { gt: 2 } },
        { is_empty: { key: 'a' } },
        { is_null: { key: 'b' } },
        { has_id: [1, '550E8400-E29B-41D4-A716-446655440000'] },
        { has_vector: 'image' },
        { nested: { key: 'items', filter: { must: [{ key: 'qty', range: { gt: 1 } }] } } },
        { must: [{ key: 'c', match: { value: true } }] },
      ],
      min_should: { conditions: [{ key: 'a', match: { value: 1 } }], min_count: 1 },
    });
    expect(f.must[0]?.kind).toBe('geo_radius');
    expect(f.mustNot.map((c) => c.kind)).toEqual(['geo_bounding_box', 'geo_polygon', 'values_count', 'is_empty', 'is_null', 'has_id', 'has_vector', 'nested', 'filter']);
    expect(f.mustNot[5]).toEqual({ kind: 'has_id', ids: [1, '550e8400-e29b-41d4-a716-446655440000'] });
    expect(f.minShould?.minCount).toBe(1);
  });

  it('rejects bad input naming the field', () => {
    expect(failure(() => parse({ must: [{ key: 'a', match: { value: 1.5 } }] })).message).toBe(
      'Format error in JSON body: filter.must[0].match.value: invalid type: floating point `1.5`, expected a string, an integer or a boolean',
    );
    expect(failure(() => parse({ must: [{ has_id: [-1] }] })).message).toMatch(/filter.must\[0\].has_id\[0\]: value -1 is not a valid point ID/);
    expect(failure(() => parse({ must: [{ key: 'a' }] })).kind).toBe('validation');
    expect(failure(() => parse({ musts: [] })).message).toMatch(/unknown field `musts`/);
    expect(failure(() => parse({ must: [{ key: 'at', range: { gt: 'yesterday' } }] })).message).toMatch(/invalid datetime/);
    expect(failure(() => parse({ must: [{ key: 'l', geo_radius: { center: { lon: 200, lat: 0 }, radius: 1 } }] })).kind).toBe('bad_request');
    expect(failure(() => parse({ min_should: { conditions: [], min_count: 0 } })).kind).toBe('validation');
  });

  it('rejects filters nested deeper than the limit', () => {
    let deep: unknown = { key: 'a', match: { value: 1 } };
    for (let i = 0; i < 20; i++) deep = { must: [deep] };
    expect(failure(() => parse(deep)).message).toMatch(/nested deeper than 8/);
  });
});

describe('parseDatetimeMicros', () => {
  it('reads RFC 3339 with offsets, fractions, and date-only forms', () => {
    expect(parseDatetimeMicros('2024-01-01T00:00:00+02:00', 'x')).toBe(Date.UTC(2023, 11, 31, 22) * 1000);
    expect(parseDatetimeMicros('2024-01-01T00:00:00.000001Z', 'x')).toBe(Date.UTC(2024, 0, 1) * 1000 + 1);
    expect(parseDatetimeMicros('2024-02-29', 'x')).toBe(Date.UTC(2024, 1, 29) * 1000);
    expect(() => parseDatetimeMicros('2023-02-29', 'x')).toThrow(/no such day/);
  });
});
