// The legacy /points/search and /points/search/batch, which the 1.19 spec dropped but clients of
// 1.18 still call, driven by @qdrant/js-client-rest@1.18 and compared with brute force.
import { beforeAll, describe, expect, it } from 'vitest';
import { QdrantClient, type Schemas } from 'qdrant-client-118';
import { failureStatus, Rand, useServer } from './support.js';
import { SPACES, makePoints, rank, rankingMismatches, type Filter } from './brute.js';

const NAME = 'legacy';
const points = makePoints(1118, 150);
const shoal = useServer({ clientClass: QdrantClient });

beforeAll(async () => {
  const vectors = Object.fromEntries(Object.entries(SPACES).map(([n, s]) => [n, { size: s.size, distance: s.distance }]));
  await shoal.client.createCollection(NAME, { vectors });
  const batch = points.map((p) => ({ id: p.id, vector: p.vectors, payload: p.payload }));
  await shoal.client.upsert(NAME, { wait: true, points: batch as Schemas['PointStruct'][] });
});

const FILTER: Filter = { must: [{ key: 'count', range: { lt: 30 } }], must_not: [{ key: 'color', match: { value: 'red' } }] };

describe('legacy search', () => {
  it('searches every named vector, with filter, offset and score_threshold', async () => {
    const rand = new Rand(42);
    for (const [name, space] of Object.entries(SPACES)) {
      const vector = rand.vector(space.size);
      const full = rank(points, name, vector);
      const top = await shoal.client.search(NAME, { vector: { name, vector }, limit: 10 });
      expect(rankingMismatches(top, full, 10), name).toEqual([]);
      const filtered = await shoal.client.search(NAME, { vector: { name, vector }, limit: 7, offset: 3, filter: FILTER as Schemas['Filter'], with_payload: true });
      expect(rankingMismatches(filtered, rank(points, name, vector, FILTER), 7, 3), `${name} filtered`).toEqual([]);
      for (const hit of filtered) expect(hit.payload).toEqual(points.find((p) => p.id === hit.id)?.payload);
      const threshold = ((full[5]?.score as number) + (full[6]?.score as number)) / 2;
      const cut = await shoal.client.search(NAME, { vector: { name, vector }, limit: 100, score_threshold: threshold });
      expect(rankingMismatches(cut, full.slice(0, 6), 100), `${name} threshold`).toEqual([]);
    }
  });

  it('answers a batch, each search as alone', async () => {
    const rand = new Rand(43);
    const searches = Object.entries(SPACES).map(([name, space], i) => ({ vector: { name, vector: rand.vector(space.size) }, limit: 3 + i, filter: i % 2 === 0 ? (FILTER as Schemas['Filter']) : null, with_vector: i === 0 }));
    const res = await shoal.client.searchBatch(NAME, { searches });
    expect(res).toHaveLength(searches.length);
    searches.forEach((s, i) => {
      const want = rank(points, s.vector.name, s.vector.vector, s.filter === null ? undefined : FILTER);
      expect(rankingMismatches(res[i] ?? [], want, s.limit), s.vector.name).toEqual([]);
    });
    const hit = res[0]?.[0];
    const stored = points.find((p) => p.id === hit?.id);
    expect(Object.keys((hit?.vector ?? {}) as object).sort()).toEqual(Object.keys(stored?.vectors ?? { missing: 1 }).sort());
  });

  it('rejects a wrong vector size and an unknown vector name with 400', async () => {
    expect(await failureStatus(shoal.client.search(NAME, { vector: { name: 'cos', vector: [1, 2] }, limit: 3 }))).toBe(400);
    expect(await failureStatus(shoal.client.search(NAME, { vector: { name: 'nope', vector: [1, 2] }, limit: 3 }))).toBe(400);
    expect(await failureStatus(shoal.client.search('missing', { vector: { name: 'cos', vector: [1, 2, 3, 4, 5, 6] }, limit: 3 }))).toBe(404);
  });
});
