import { describe, expect, it } from 'vitest';
import type { Distance, PointId } from '@shoal/common';
import { createSegment } from './load.js';
import { filterOf, int, must, point, rng, schemaOf, space } from './test-support.js';

function naiveScore(distance: Distance, a: Float32Array, b: Float32Array): number {
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (distance === 'Cosine') s += (x / norm(a)) * (y / norm(b));
    else if (distance === 'Dot') s += x * y;
    else if (distance === 'Euclid') s += (x - y) ** 2;
    else s += Math.abs(x - y);
  }
  return distance === 'Euclid' ? Math.sqrt(s) : s;
}

const DISTANCES: Distance[] = ['Cosine', 'Dot', 'Euclid', 'Manhattan'];

describe('exact search against a naive scorer', () => {
  for (const distance of DISTANCES) {
    it(`${distance}: same ids, order and scores, with filters, offset and threshold`, () => {
      const r = rng(DISTANCES.indexOf(distance) + 1);
      const dim = 8;
      const segment = createSegment(schemaOf({ v: space(dim, distance) }));
      const stored = new Map<PointId, { vector: Float32Array; group: number }>();
      for (let id = 0; id < 500; id++) {
        const vector = Float32Array.from({ length: dim }, () => r() * 2 - 1);
        const group = int(r, 0, 4);
        segment.apply({ kind: 'upsert', points: [point(id, [...vector], { group }, 'v')] });
        stored.set(id, { vector, group });
      }
      const higherBetter = distance === 'Cosine' || distance === 'Dot';
      for (let q = 0; q < 30; q++) {
        const query = Float32Array.from({ length: dim }, () => r() * 2 - 1);
        const group = int(r, 0, 4);
        const limit = int(r, 1, 20);
        const offset = int(r, 0, 5);
        const useFilter = q % 2 === 0;
        const scored = [...stored]
          .filter(([, p]) => !useFilter || p.group === group)
          .map(([id, p]) => ({ id, score: naiveScore(distance, p.vector, query) }))
          .sort((a, b) => (higherBetter ? b.score - a.score : a.score - b.score));
        const expected = scored.slice(offset, offset + limit);
        // A threshold halfway between two neighbouring scores, so float rounding cannot flip it.
        const mid = Math.floor(expected.length / 2);
        const a = expected[mid]?.score;
        const b = expected[mid + 1]?.score;
        const threshold = q % 3 === 0 && a !== undefined && b !== undefined ? (a + b) / 2 : null;
        const results = segment.search({
          vectorName: 'v',
          vector: query,
          filter: useFilter ? must({ kind: 'match', key: 'group', value: group }) : null,
          limit,
          offset,
          scoreThreshold: threshold,
          withPayload: { kind: 'none' },
          withVector: false,
          excludeIds: [],
        });
        const wanted = threshold === null ? expected : expected.filter((e) => (higherBetter ? e.score >= threshold : e.score <= threshold));
        expect(results.map((p) => p.id)).toEqual(wanted.map((e) => e.id));
        results.forEach((p, i) => expect(p.score).toBeCloseTo((wanted[i] as { score: number }).score, 4));
      }
    });
  }

  it('breaks ties by point id (not insertion order) and honours excludeIds', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
    for (const id of [5, 3, 9, 1]) segment.apply({ kind: 'upsert', points: [point(id, [1, 1])] });
    const search = (excludeIds: PointId[]): PointId[] =>
      segment
        .search({ vectorName: '', vector: Float32Array.from([1, 0]), filter: null, limit: 10, offset: 0, scoreThreshold: null, withPayload: { kind: 'none' }, withVector: false, excludeIds })
        .map((p) => p.id);
    expect(search([])).toEqual([1, 3, 5, 9]);
    expect(search([3, 1])).toEqual([5, 9]);
  });

  it('normalises Cosine vectors at insert, keeps a zero vector zero, skips points without the vector', () => {
    const segment = createSegment(schemaOf({ a: space(2, 'Cosine'), b: space(2, 'Dot') }));
    segment.apply({ kind: 'upsert', points: [point(1, [3, 4], null, 'a'), point(2, [0, 0], null, 'a'), point(3, [1, 1], null, 'b')] });
    const [stored] = segment.retrieve([1], { kind: 'none' }, ['a']);
    expect([...(stored?.vectors?.get('a') ?? [])]).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    const results = segment.search({ vectorName: 'a', vector: Float32Array.from([6, 8]), filter: null, limit: 10, offset: 0, scoreThreshold: null, withPayload: { kind: 'all' }, withVector: true, excludeIds: [] });
    expect(results.map((p) => [p.id, Number(p.score.toFixed(5))])).toEqual([[1, 1], [2, 0]]);
    expect(results[1]?.vectors?.get('a')).toEqual(Float32Array.from([0, 0]));
    expect(results[0]?.payload).toEqual({});
  });

  it('search with a has_vector / has_id filter and limit 0', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Euclid') }));
    for (let id = 0; id < 10; id++) segment.apply({ kind: 'upsert', points: [point(id, [id, 0])] });
    const base = { vectorName: '', vector: Float32Array.from([0, 0]), offset: 0, scoreThreshold: null, withPayload: { kind: 'none' } as const, withVector: false, excludeIds: [] };
    expect(segment.search({ ...base, filter: filterOf({ must: [{ kind: 'has_id', ids: [7, 2, 99] }] }), limit: 5 }).map((p) => [p.id, p.score])).toEqual([[2, 2], [7, 7]]);
    expect(segment.search({ ...base, filter: null, limit: 0 })).toEqual([]);
  });
});
