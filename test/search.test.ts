// Filters, count, scroll, query, facet, order_by and payload indexes, each answer compared with
// an independent brute-force computation over the same seeded points.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '@qdrant/js-client-rest';
import { call, failureStatus, Rand, useServer } from './support.js';
import {
  CITIES, SPACES, filterIds, haversineMeters, makePoints, rank, rankingMismatches, valuesAt,
  type Filter, type GeoPoint, type Json, type TestPoint,
} from './brute.js';

const NAME = 'search_suite';
const POINT_COUNT = 300;
const points: TestPoint[] = makePoints(20240601, POINT_COUNT);
const shoal = useServer();

/** A radius around `center` with no point within 0.5% of the boundary (earth radii differ). */
function clearRadius(center: GeoPoint): number {
  for (let radius = 700_000; ; radius += 13_000) {
    const close = points.some((p) => {
      const loc = p.payload['loc'] as { lon: number; lat: number } | undefined;
      return loc !== undefined && Math.abs(haversineMeters(loc, center) - radius) / radius < 0.005;
    });
    if (!close) return radius;
  }
}

const CENTER = { lon: 10, lat: 48 };
const FILTERS: [string, Filter][] = [
  ['match keyword', { must: [{ key: 'city', match: { value: 'Paris' } }] }],
  ['match integer', { must: [{ key: 'count', match: { value: 7 } }] }],
  ['match bool', { must: [{ key: 'flag', match: { value: true } }] }],
  ['match any keywords', { must: [{ key: 'city', match: { any: ['Rome', 'Oslo'] } }] }],
  ['match any integers', { must: [{ key: 'count', match: { any: [1, 2, 3, 4, 5] } }] }],
  ['match except', { must: [{ key: 'color', match: { except: ['red', 'blue'] } }] }],
  ['match text', { must: [{ key: 'text', match: { text: 'tiger' } }] }],
  ['range integer', { must: [{ key: 'count', range: { gte: 10, lt: 20 } }] }],
  ['range float', { must: [{ key: 'price', range: { gt: 25.5, lte: 60 } }] }],
  ['range datetime', { must: [{ key: 'ts', range: { gte: '2024-03-01T00:00:00Z', lt: '2024-06-15T12:00:00+02:00' } }] }],
  ['geo radius', { must: [{ key: 'loc', geo_radius: { center: CENTER, radius: clearRadius(CENTER) } }] }],
  ['geo bounding box', { must: [{ key: 'loc', geo_bounding_box: { top_left: { lon: 0, lat: 55 }, bottom_right: { lon: 15, lat: 42 } } }] }],
  ['geo polygon', { must: [{ key: 'loc', geo_polygon: { exterior: { points: [{ lon: -5, lat: 40 }, { lon: 20, lat: 40 }, { lon: 10, lat: 58 }, { lon: -5, lat: 40 }] } } }] }],
  ['values_count', { must: [{ key: 'tags', values_count: { gte: 3 } }] }],
  ['is_empty', { must: [{ is_empty: { key: 'maybe' } }] }],
  ['is_null', { must: [{ is_null: { key: 'maybe' } }] }],
  ['has_id', { must: [{ has_id: [1, 4, 10, 31, 298, 100000] }] }],
  ['has_vector', { must_not: [{ has_vector: 'man' }] }],
  ['nested', { must: [{ nested: { key: 'items', filter: { must: [{ key: 'k', match: { value: 'x' } }, { key: 'v', range: { gte: 10 } }] } } }] }],
  ['a.b path', { must: [{ key: 'meta.a.b', range: { lte: 3 } }] }],
  ['a[].b path', { must: [{ key: 'items[].v', range: { gte: 18 } }] }],
  ['should', { should: [{ key: 'city', match: { value: 'Rome' } }, { key: 'count', range: { lt: 5 } }] }],
  ['must_not', { must_not: [{ key: 'color', match: { value: 'red' } }, { key: 'flag', match: { value: false } }] }],
  ['min_should', { min_should: { conditions: [{ key: 'color', match: { value: 'red' } }, { key: 'flag', match: { value: true } }, { key: 'meta.a.b', range: { gte: 5 } }], min_count: 2 } }],
  ['filter inside filter', { must: [{ key: 'meta.c', match: { value: 'green' } }, { should: [{ key: 'city', match: { value: 'Berlin' } }, { key: 'tags', match: { value: 't2' } }], must_not: [{ key: 'count', range: { gt: 40 } }] }] }],
  ['nothing matches', { must: [{ key: 'city', match: { value: 'Atlantis' } }] }],
];

function asFilter(filter: Filter): Schemas['Filter'] {
  return filter as Schemas['Filter'];
}

async function scrollAll(filter: Filter | undefined, pageSize: number): Promise<(number | string)[]> {
  const ids: (number | string)[] = [];
  let offset: Schemas['ExtendedPointId'] | null | undefined = undefined;
  for (let page = 0; page < 1000; page++) {
    const res: Schemas['ScrollResult'] = await shoal.client.scroll(NAME, { filter: filter && asFilter(filter), limit: pageSize, offset, with_payload: false });
    ids.push(...res.points.map((p) => p.id));
    const next = res.next_page_offset;
    if (next === null || next === undefined) return ids;
    if (typeof next !== 'number' && typeof next !== 'string') throw new Error(`unexpected offset ${JSON.stringify(next)}`);
    offset = next;
  }
  throw new Error('scroll did not end');
}

async function checkFilters(): Promise<void> {
  const rand = new Rand(7);
  for (const [label, filter] of FILTERS) {
    const expected = filterIds(points, filter);
    const count = await shoal.client.count(NAME, { filter: asFilter(filter), exact: true });
    expect(count.count, `count: ${label}`).toBe(expected.length);
    expect(await scrollAll(filter, 37), `scroll: ${label}`).toEqual(expected);
    const name = rand.pick(Object.keys(SPACES));
    const query = rand.vector((SPACES[name] as { size: number }).size);
    const res = await shoal.client.query(NAME, { query, using: name, filter: asFilter(filter), limit: 10, with_payload: false });
    expect(rankingMismatches(res.points, rank(points, name, query, filter), 10), `query: ${label}`).toEqual([]);
  }
  expect(FILTERS.filter(([, f]) => filterIds(points, f).length > 0).length).toBeGreaterThan(FILTERS.length - 2);
}

beforeAll(async () => {
  const vectors = Object.fromEntries(Object.entries(SPACES).map(([n, s]) => [n, { size: s.size, distance: s.distance }]));
  await shoal.client.createCollection(NAME, { vectors });
  for (let i = 0; i < points.length; i += 100) {
    const batch = points.slice(i, i + 100).map((p) => ({ id: p.id, vector: p.vectors, payload: p.payload }));
    await shoal.client.upsert(NAME, { wait: true, points: batch as Schemas['PointStruct'][] });
  }
});

describe('filters, count and scroll against brute force', () => {
  it('answers every filter as the brute force does (no payload index)', async () => {
    await checkFilters();
  });

  it('refuses order_by and facet without a payload index (400)', async () => {
    expect(await failureStatus(shoal.client.scroll(NAME, { order_by: { key: 'rank' } }))).toBe(400);
    expect(await failureStatus(shoal.client.facet(NAME, { key: 'city', exact: true }))).toBe(400);
    const orderBy = await call(shoal.server.url, 'POST', `/collections/${NAME}/points/scroll`, { order_by: 'rank' });
    // Qdrant 1.19 reports both as "Wrong input" (OperationError -> BadInput).
    expect(orderBy.text).toContain('Wrong input: No range index for `order_by` key: `rank`. Please create one to use `order_by`.');
    const facet = await call(shoal.server.url, 'POST', `/collections/${NAME}/facet`, { key: 'city' });
    expect(facet.text).toContain('Wrong input: No appropriate index for faceting: `city`. Please create one to facet on this field.');
  });
});

/** Points carrying at least one value of the index's type at `key`. */
function indexedCount(key: string, accepts: (v: Json) => boolean): number {
  return points.filter((p) => valuesAt(p.payload, key).some(accepts)).length;
}

describe('payload indexes', () => {
  const kinds: [string, string, (v: Json) => boolean][] = [
    ['city', 'keyword', (v) => typeof v === 'string'],
    ['count', 'integer', (v) => typeof v === 'number' && Number.isInteger(v)],
    ['price', 'float', (v) => typeof v === 'number'],
    ['flag', 'bool', (v) => typeof v === 'boolean'],
    ['ts', 'datetime', (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v))],
    ['rank', 'integer', (v) => typeof v === 'number'],
  ];

  it('builds keyword, integer, float, bool and datetime indexes over existing data, with true point counts', async () => {
    for (const [key, type] of kinds) {
      await shoal.client.createPayloadIndex(NAME, { field_name: key, field_schema: type as Schemas['PayloadSchemaType'], wait: true });
    }
    const info = await shoal.client.getCollection(NAME);
    const schema = info.payload_schema;
    expect(Object.keys(schema).sort()).toEqual(kinds.map(([k]) => k).sort());
    for (const [key, type, accepts] of kinds) {
      expect(schema[key]?.data_type, key).toBe(type);
      expect(schema[key]?.points, `points indexed for ${key}`).toBe(indexedCount(key, accepts));
    }
  });

  it('answers every filter the same with the indexes in place', async () => {
    await checkFilters();
  });

  it('keeps the index counts up to date after writes', async () => {
    const extra = { id: 100_000, vector: { cos: [1, 0, 0, 0, 0, 0] }, payload: { city: 'Paris', rank: -1 } };
    await shoal.client.upsert(NAME, { wait: true, points: [extra] });
    let info = await shoal.client.getCollection(NAME);
    expect(info.payload_schema['city']?.points).toBe(indexedCount('city', (v) => typeof v === 'string') + 1);
    const byCity = await shoal.client.count(NAME, { filter: { must: [{ key: 'city', match: { value: 'Paris' } }] }, exact: true });
    expect(byCity.count).toBe(filterIds(points, { must: [{ key: 'city', match: { value: 'Paris' } }] }).length + 1);
    await shoal.client.delete(NAME, { wait: true, points: [100_000] });
    info = await shoal.client.getCollection(NAME);
    expect(info.payload_schema['city']?.points).toBe(indexedCount('city', (v) => typeof v === 'string'));
  });
});

describe('facet', () => {
  function expectedFacet(key: string, filter?: Filter): Map<Json, number> {
    const counts = new Map<Json, number>();
    for (const p of points) {
      if (filter !== undefined && filterIds([p], filter).length === 0) continue;
      for (const v of new Set(valuesAt(p.payload, key))) {
        if (v === null || typeof v === 'object') continue;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
    return counts;
  }

  it('counts every value of keyword, integer and bool fields exactly', async () => {
    const cases: [string, Filter | undefined][] = [['city', undefined], ['count', undefined], ['flag', undefined], ['city', { must: [{ key: 'color', match: { value: 'red' } }] }]];
    for (const [key, filter] of cases) {
      const want = expectedFacet(key, filter);
      const res = await shoal.client.facet(NAME, { key, exact: true, limit: 100, filter: filter && asFilter(filter) });
      const got = new Map<Json, number>(res.hits.map((h) => [h.value as Json, h.count]));
      expect(got, `facet ${key}`).toEqual(want);
      // Qdrant's order: count descending, then value ascending.
      const order = [...want.entries()].sort(([va, ca], [vb, cb]) => cb - ca || (va! < vb! ? -1 : va! > vb! ? 1 : 0));
      expect(res.hits.map((h) => [h.value, h.count]), `facet ${key} order`).toEqual(order);
    }
  });

  it('returns the largest counts first when limited', async () => {
    const want = expectedFacet('city');
    const res = await shoal.client.facet(NAME, { key: 'city', exact: true, limit: 3 });
    expect(res.hits).toHaveLength(3);
    const smallest = Math.min(...res.hits.map((h) => h.count));
    for (const hit of res.hits) expect(hit.count).toBe(want.get(hit.value as Json));
    const returned = new Set(res.hits.map((h) => h.value));
    for (const [value, count] of want) if (!returned.has(value as string)) expect(count).toBeLessThanOrEqual(smallest);
    expect(CITIES.length).toBeGreaterThan(3);
  });
});

describe('order_by', () => {
  const byRank = [...points].sort((a, b) => (a.payload['rank'] as number) - (b.payload['rank'] as number));

  it('scrolls by an indexed field ascending and descending, with start_from and a filter', async () => {
    const asc = await shoal.client.scroll(NAME, { order_by: { key: 'rank', direction: 'asc' }, limit: 25 });
    expect(asc.points.map((p) => p.id)).toEqual(byRank.slice(0, 25).map((p) => p.id));
    expect(asc.next_page_offset ?? null).toBeNull();
    const desc = await shoal.client.scroll(NAME, { order_by: { key: 'rank', direction: 'desc' }, limit: 25 });
    expect(desc.points.map((p) => p.id)).toEqual([...byRank].reverse().slice(0, 25).map((p) => p.id));
    const pivot = byRank[100]?.payload['rank'] as number;
    const from = await shoal.client.scroll(NAME, { order_by: { key: 'rank', start_from: pivot }, limit: 10 });
    expect(from.points.map((p) => p.id)).toEqual(byRank.slice(100, 110).map((p) => p.id));
    const filter: Filter = { must: [{ key: 'color', match: { value: 'green' } }] };
    const filtered = await shoal.client.scroll(NAME, { order_by: 'rank', filter: asFilter(filter), limit: 15 });
    const green = new Set(filterIds(points, filter));
    expect(filtered.points.map((p) => p.id)).toEqual(byRank.filter((p) => green.has(p.id)).slice(0, 15).map((p) => p.id));
  });
});

describe('query', () => {
  it('ranks by every distance with limit, offset, score_threshold and exact', async () => {
    const rand = new Rand(99);
    for (const [name, space] of Object.entries(SPACES)) {
      const query = rand.vector(space.size);
      const full = rank(points, name, query);
      const plain = await shoal.client.query(NAME, { query, using: name, limit: 10 });
      expect(rankingMismatches(plain.points, full, 10), `${name} top 10`).toEqual([]);
      const paged = await shoal.client.query(NAME, { query, using: name, limit: 5, offset: 7, params: { exact: true } });
      expect(rankingMismatches(paged.points, full, 5, 7), `${name} offset`).toEqual([]);
      const a = full[11]?.score as number, b = full[12]?.score as number;
      const threshold = (a + b) / 2;
      const cut = await shoal.client.query(NAME, { query, using: name, limit: 50, score_threshold: threshold });
      expect(rankingMismatches(cut.points, full.slice(0, 12), 50), `${name} score_threshold`).toEqual([]);
    }
  });

  it('returns payload and vectors on request', async () => {
    const target = points[5] as TestPoint;
    const res = await shoal.client.query(NAME, { query: target.vectors['dot'] as number[], using: 'dot', filter: { must: [{ has_id: [target.id] }] }, with_payload: ['city', 'rank'], with_vector: ['euc'] });
    expect(res.points).toHaveLength(1);
    const hit = res.points[0];
    const wantPayload: { [k: string]: Json } = {};
    for (const key of ['city', 'rank']) if (target.payload[key] !== undefined) wantPayload[key] = target.payload[key] as Json;
    expect(hit?.payload).toEqual(wantPayload);
    const vector = hit?.vector as { [name: string]: number[] };
    expect(Object.keys(vector)).toEqual(['euc']);
    (vector['euc'] ?? []).forEach((x, i) => expect(x).toBeCloseTo((target.vectors['euc'] as number[])[i] as number, 5));
  });

  it('finds the nearest to a stored point, excluding that point', async () => {
    for (const name of ['cos', 'euc']) {
      const target = points.find((p) => p.id === 151) as TestPoint;
      const res = await shoal.client.query(NAME, { query: target.id, using: name, limit: 8 });
      expect(res.points.some((p) => p.id === target.id)).toBe(false);
      expect(rankingMismatches(res.points, rank(points, name, target.vectors[name] as number[], undefined, target.id), 8), name).toEqual([]);
    }
  });

  it('answers a batch of queries, each as alone', async () => {
    const rand = new Rand(5);
    const searches = Object.entries(SPACES).map(([name, s], i) => ({ query: rand.vector(s.size), using: name, limit: 4 + i, filter: asFilter(FILTERS[i]?.[1] ?? {}) }));
    const res = await shoal.client.queryBatch(NAME, { searches });
    expect(res).toHaveLength(searches.length);
    searches.forEach((s, i) => {
      const want = rank(points, s.using, s.query, FILTERS[i]?.[1]);
      expect(rankingMismatches(res[i]?.points ?? [], want, s.limit), s.using).toEqual([]);
    });
  });

  it('serves a large limit', async () => {
    const query = new Rand(3).vector(6);
    const res = await call(shoal.server.url, 'POST', `/collections/${NAME}/points/query`, { query, using: 'cos', limit: 100000 });
    expect(res.status).toBe(200);
    const got = (res.json as { result: { points: { id: number; score: number }[] } }).result.points;
    expect(rankingMismatches(got, rank(points, 'cos', query), 100000)).toEqual([]);
  });
});

describe('deleting an index', () => {
  it('drops it from payload_schema and facet needs it again', async () => {
    await shoal.client.deletePayloadIndex(NAME, 'city', { wait: true });
    const info = await shoal.client.getCollection(NAME);
    expect(info.payload_schema['city']).toBeUndefined();
    expect(info.payload_schema['count']?.data_type).toBe('integer');
    expect(await failureStatus(shoal.client.facet(NAME, { key: 'city', exact: true }))).toBe(400);
    const count = await shoal.client.count(NAME, { filter: { must: [{ key: 'city', match: { value: 'Paris' } }] }, exact: true });
    expect(count.count).toBe(filterIds(points, { must: [{ key: 'city', match: { value: 'Paris' } }] }).length);
  });
});
