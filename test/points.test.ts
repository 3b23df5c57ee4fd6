// Points through the official client: upsert in both forms, retrieve, delete, payload operations,
// named vector updates, mixed batches, UUID spellings, scroll paging and selectors, bad input.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '@qdrant/js-client-rest';
import { call, failureStatus, Rand, resultOf, useServer } from './support.js';

const shoal = useServer();

type Rec = Schemas['Record'];

async function one(collection: string, id: number | string): Promise<Rec | undefined> {
  const got = await shoal.client.retrieve(collection, { ids: [id], with_payload: true, with_vector: true });
  return got[0];
}

beforeAll(async () => {
  await shoal.client.createCollection('plain', { vectors: { size: 3, distance: 'Dot' } });
  await shoal.client.createCollection('cosine', { vectors: { size: 2, distance: 'Cosine' } });
  await shoal.client.createCollection('multi', { vectors: { a: { size: 3, distance: 'Dot' }, b: { size: 2, distance: 'Euclid' } } });
});

describe('upsert and retrieve', () => {
  it('upserts a list of points and a batch, and retrieves them by POST and GET', async () => {
    const res = await shoal.client.upsert('plain', {
      wait: true,
      points: [
        { id: 1, vector: [1, 2, 3], payload: { name: 'one', n: 1 } },
        { id: 2, vector: [0.5, 0, -1], payload: { name: 'two', nested: { deep: [1, { x: 'y' }] } } },
      ],
    });
    expect(res.status).toBe('completed');
    await shoal.client.upsert('plain', { wait: true, batch: { ids: [3, 4], vectors: [[3, 3, 3], [4, 4, 4]], payloads: [{ name: 'three' }, { name: 'four' }] } });
    const got = await shoal.client.retrieve('plain', { ids: [4, 2, 99], with_payload: true, with_vector: true });
    expect(got.map((p) => p.id).sort()).toEqual([2, 4]);
    const two = got.find((p) => p.id === 2);
    expect(two?.payload).toEqual({ name: 'two', nested: { deep: [1, { x: 'y' }] } });
    expect(two?.vector).toEqual([0.5, 0, -1]);
    const byGet = resultOf<Rec>(await call(shoal.server.url, 'GET', '/collections/plain/points/3'));
    expect(byGet.id).toBe(3);
    expect(byGet.payload).toEqual({ name: 'three' });
    expect(byGet.vector).toEqual([3, 3, 3]);
  });

  it('acknowledges a write without wait and applies it', async () => {
    const res = await shoal.client.upsert('plain', { wait: false, points: [{ id: 5, vector: [5, 5, 5], payload: { name: 'five' } }] });
    expect(['acknowledged', 'completed']).toContain(res.status);
    let five: Rec | undefined;
    for (let i = 0; i < 100 && five === undefined; i++) five = await one('plain', 5);
    expect(five?.payload).toEqual({ name: 'five' });
    await shoal.client.delete('plain', { wait: true, points: [5] });
  });

  it('replaces a point on a second upsert', async () => {
    await shoal.client.upsert('plain', { wait: true, points: [{ id: 4, vector: [-4, 0, 4], payload: { name: 'new four' } }] });
    const four = await one('plain', 4);
    expect(four?.payload).toEqual({ name: 'new four' });
    expect(four?.vector).toEqual([-4, 0, 4]);
    expect((await shoal.client.count('plain', { exact: true })).count).toBe(4);
  });

  it('stores Cosine vectors normalised', async () => {
    await shoal.client.upsert('cosine', { wait: true, points: [{ id: 1, vector: [3, 4] }] });
    const v = (await one('cosine', 1))?.vector as number[];
    expect(v[0]).toBeCloseTo(0.6, 6);
    expect(v[1]).toBeCloseTo(0.8, 6);
  });

  it('accepts UUIDs in any standard spelling and returns them canonical', async () => {
    const canonical = '550e8400-e29b-41d4-a716-446655440000';
    const spellings = ['550E8400-E29B-41D4-A716-446655440000', '550e8400e29b41d4a716446655440000', '{550e8400-e29b-41d4-a716-446655440000}', 'urn:uuid:550e8400-e29b-41d4-a716-446655440000'];
    await shoal.client.upsert('plain', { wait: true, points: [{ id: spellings[0] as string, vector: [1, 0, 0], payload: { v: 0 } }] });
    for (const [i, spelling] of spellings.entries()) {
      const got = await shoal.client.retrieve('plain', { ids: [spelling], with_payload: true });
      expect(got.map((p) => p.id), spelling).toEqual([canonical]);
      await shoal.client.setPayload('plain', { points: [spelling], payload: { v: i }, wait: true });
    }
    expect((await one('plain', canonical))?.payload).toEqual({ v: spellings.length - 1 });
    const raw = resultOf<Rec>(await call(shoal.server.url, 'GET', `/collections/plain/points/${spellings[1]}`));
    expect(raw.id).toBe(canonical);
    const all = await shoal.client.scroll('plain', { limit: 100 });
    expect(all.points.map((p) => p.id)).toEqual([1, 2, 3, 4, canonical]);
    await shoal.client.delete('plain', { wait: true, points: [spellings[2] as string] });
    expect(await one('plain', canonical)).toBeUndefined();
  });
});

describe('payload operations', () => {
  beforeAll(async () => {
    await shoal.client.upsert('plain', { wait: true, points: [{ id: 10, vector: [1, 1, 1], payload: { a: 1, b: 'keep', meta: { x: 1, y: 'old' } } }] });
  });

  it('sets payload, merging, also under a nested key', async () => {
    await shoal.client.setPayload('plain', { points: [10], payload: { a: 2, c: [1, 2] }, wait: true });
    expect((await one('plain', 10))?.payload).toEqual({ a: 2, b: 'keep', c: [1, 2], meta: { x: 1, y: 'old' } });
    await shoal.client.setPayload('plain', { points: [10], key: 'meta', payload: { y: 'new', z: true }, wait: true });
    expect((await one('plain', 10))?.payload).toEqual({ a: 2, b: 'keep', c: [1, 2], meta: { x: 1, y: 'new', z: true } });
    await shoal.client.setPayload('plain', { points: [10], key: 'meta.deeper', payload: { q: 5 }, wait: true });
    expect((await one('plain', 10))?.payload?.['meta']).toEqual({ x: 1, y: 'new', z: true, deeper: { q: 5 } });
  });

  it('sets payload on the points a filter selects', async () => {
    await shoal.client.setPayload('plain', { filter: { must: [{ key: 'name', match: { any: ['one', 'two'] } }] }, payload: { picked: true }, wait: true });
    const picked = await shoal.client.count('plain', { filter: { must: [{ key: 'picked', match: { value: true } }] }, exact: true });
    expect(picked.count).toBe(2);
  });

  it('deletes payload keys, including a nested one', async () => {
    await shoal.client.deletePayload('plain', { points: [10], keys: ['a', 'meta.x'], wait: true });
    expect((await one('plain', 10))?.payload).toEqual({ b: 'keep', c: [1, 2], meta: { y: 'new', z: true, deeper: { q: 5 } } });
  });

  it('overwrites and clears payload', async () => {
    await shoal.client.overwritePayload('plain', { points: [10], payload: { only: 'this' }, wait: true });
    expect((await one('plain', 10))?.payload).toEqual({ only: 'this' });
    await shoal.client.clearPayload('plain', { points: [10], wait: true });
    const cleared = await one('plain', 10);
    expect(cleared).toBeDefined();
    expect(cleared?.payload ?? {}).toEqual({});
    expect(cleared?.vector).toEqual([1, 1, 1]);
  });
});

describe('named vectors', () => {
  it('updates and deletes one named vector, keeping the others', async () => {
    await shoal.client.upsert('multi', { wait: true, points: [{ id: 1, vector: { a: [1, 2, 3], b: [1, 1] } }, { id: 2, vector: { a: [0, 0, 1] } }] });
    await shoal.client.updateVectors('multi', { wait: true, points: [{ id: 1, vector: { b: [5, 6] } }, { id: 2, vector: { b: [7, 8] } }] });
    expect((await one('multi', 1))?.vector).toEqual({ a: [1, 2, 3], b: [5, 6] });
    expect((await one('multi', 2))?.vector).toEqual({ a: [0, 0, 1], b: [7, 8] });
    await shoal.client.deleteVectors('multi', { wait: true, points: [1], vector: ['a'] });
    expect((await one('multi', 1))?.vector).toEqual({ b: [5, 6] });
    const withA = await shoal.client.count('multi', { filter: { must: [{ has_vector: 'a' }] }, exact: true });
    expect(withA.count).toBe(1);
    const only = await shoal.client.retrieve('multi', { ids: [2], with_vector: ['b'] });
    expect(only[0]?.vector).toEqual({ b: [7, 8] });
  });

  it('rejects an unknown vector name and a wrong size with 400', async () => {
    const raw = await call(shoal.server.url, 'PUT', '/collections/multi/points', { points: [{ id: 3, vector: { zzz: [1, 2] } }] });
    expect(raw.text).toContain('Not existing vector name error: zzz');
    expect(await failureStatus(shoal.client.upsert('multi', { wait: true, points: [{ id: 3, vector: { zzz: [1, 2] } }] }))).toBe(400);
    expect(await failureStatus(shoal.client.upsert('multi', { wait: true, points: [{ id: 3, vector: { a: [1, 2] } }] }))).toBe(400);
    expect(await failureStatus(shoal.client.updateVectors('multi', { wait: true, points: [{ id: 1, vector: { zzz: [1] } }] }))).toBe(400);
    expect(await failureStatus(shoal.client.query('multi', { query: [1, 2, 3], using: 'zzz' }))).toBe(400);
    expect(await failureStatus(shoal.client.query('multi', { query: [1, 2], using: 'a' }))).toBe(400);
    expect(await one('multi', 3)).toBeUndefined();
  });
});

describe('batch of mixed operations', () => {
  it('applies every operation in order', async () => {
    const res = await shoal.client.batchUpdate('multi', {
      wait: true,
      operations: [
        { upsert: { points: [{ id: 20, vector: { a: [1, 0, 0], b: [0, 0] }, payload: { k: 1 } }, { id: 21, vector: { a: [0, 1, 0] }, payload: { k: 2 } }] } },
        { set_payload: { points: [20], payload: { extra: 'yes' } } },
        { delete_payload: { points: [20], keys: ['k'] } },
        { overwrite_payload: { points: [21], payload: { fresh: true } } },
        { update_vectors: { points: [{ id: 21, vector: { b: [2, 2] } }] } },
        { delete_vectors: { points: [20], vector: ['b'] } },
        { upsert: { points: [{ id: 22, vector: { a: [1, 1, 1] }, payload: { gone: true } }] } },
        { clear_payload: { points: [22] } },
        { delete: { points: [22] } },
      ],
    });
    expect(res).toHaveLength(9);
    for (const r of res) expect(r.status).toBe('completed');
    expect(await one('multi', 20)).toMatchObject({ payload: { extra: 'yes' }, vector: { a: [1, 0, 0] } });
    expect(await one('multi', 21)).toMatchObject({ payload: { fresh: true }, vector: { a: [0, 1, 0], b: [2, 2] } });
    expect(await one('multi', 22)).toBeUndefined();
  });
});

describe('delete', () => {
  it('deletes by ids and by filter', async () => {
    await shoal.client.createCollection('del', { vectors: { size: 2, distance: 'Dot' } });
    await shoal.client.upsert('del', { wait: true, points: Array.from({ length: 30 }, (_, i) => ({ id: i, vector: [i, 1], payload: { even: i % 2 === 0, i } })) });
    await shoal.client.delete('del', { wait: true, points: [0, 1, 2, 999] });
    expect((await shoal.client.count('del', { exact: true })).count).toBe(27);
    await shoal.client.delete('del', { wait: true, filter: { must: [{ key: 'even', match: { value: true } }] } });
    const left = await shoal.client.scroll('del', { limit: 100, with_payload: false });
    expect(left.points.map((p) => p.id)).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i > 2 && i % 2 === 1));
    expect(await failureStatus(shoal.client.api().getPoint({ collection_name: 'del', id: 2 }))).toBe(404);
  });
});

describe('scroll', () => {
  const ids = Array.from({ length: 53 }, (_, i) => i * 7 + 100);

  beforeAll(async () => {
    await shoal.client.createCollection('scroll', { vectors: { v: { size: 2, distance: 'Dot' }, w: { size: 3, distance: 'Cosine' } } });
    const rand = new Rand(11);
    const shuffled = rand.sample(ids, ids.length);
    await shoal.client.upsert('scroll', {
      wait: true,
      points: shuffled.map((id) => ({ id, vector: { v: [id, 1], w: [1, 0, 0] }, payload: { id, half: id % 2, secret: 's', info: { a: 1, b: 2 } } })),
    });
  });

  it('pages through every point in id order with next_page_offset', async () => {
    const seen: number[] = [];
    let offset: number | undefined = undefined;
    for (let page = 0; page < 20; page++) {
      const res = await shoal.client.scroll('scroll', { limit: 10, offset, with_payload: false });
      seen.push(...res.points.map((p) => p.id as number));
      if (res.next_page_offset === null || res.next_page_offset === undefined) break;
      offset = res.next_page_offset as number;
    }
    expect(seen).toEqual(ids);
  });

  it('starts a page at the given offset even when no point has that id', async () => {
    const res = await shoal.client.scroll('scroll', { limit: 3, offset: 101, with_payload: false });
    expect(res.points.map((p) => p.id)).toEqual([107, 114, 121]);
    expect(res.next_page_offset).toBe(128);
    const last = await shoal.client.scroll('scroll', { limit: 3, offset: ids[ids.length - 1] as number, with_payload: false });
    expect(last.points.map((p) => p.id)).toEqual([ids[ids.length - 1]]);
    expect(last.next_page_offset ?? null).toBeNull();
  });

  it('selects payload by include list, include object and exclude', async () => {
    const inc = await shoal.client.scroll('scroll', { limit: 1, with_payload: ['half', 'info.a'] });
    expect(inc.points[0]?.payload).toEqual({ half: 0, info: { a: 1 } });
    const incObj = await shoal.client.scroll('scroll', { limit: 1, with_payload: { include: ['id'] } });
    expect(incObj.points[0]?.payload).toEqual({ id: 100 });
    const exc = await shoal.client.scroll('scroll', { limit: 1, with_payload: { exclude: ['secret', 'info'] } });
    expect(exc.points[0]?.payload).toEqual({ id: 100, half: 0 });
    const none = await shoal.client.scroll('scroll', { limit: 1, with_payload: false });
    expect(none.points[0]?.payload ?? null).toBeNull();
  });

  it('selects vectors by name', async () => {
    const one = await shoal.client.scroll('scroll', { limit: 1, with_vector: ['w'], with_payload: false });
    expect(one.points[0]?.vector).toEqual({ w: [1, 0, 0] });
    const all = await shoal.client.scroll('scroll', { limit: 1, with_vector: true, with_payload: false });
    expect(all.points[0]?.vector).toEqual({ v: [100, 1], w: [1, 0, 0] });
    const none = await shoal.client.scroll('scroll', { limit: 1 });
    expect(none.points[0]?.vector ?? null).toBeNull();
  });

  it('counts exactly, with and without a filter', async () => {
    expect((await shoal.client.count('scroll', { exact: true })).count).toBe(ids.length);
    const odd = await shoal.client.count('scroll', { exact: true, filter: { must: [{ key: 'half', match: { value: 1 } }] } });
    expect(odd.count).toBe(ids.filter((id) => id % 2 === 1).length);
  });
});

describe('bad input', () => {
  const expectStatus = async (method: string, path: string, body: unknown, status: number): Promise<string> => {
    const res = await call(shoal.server.url, method, path, body);
    expect(res.status, `${method} ${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`).toBe(status);
    return res.text;
  };

  it('answers 400 to an unparsable body', async () => {
    await expectStatus('PUT', '/collections/plain/points', '{"points": [', 400);
    await expectStatus('POST', '/collections/plain/points/scroll', 'not json', 400);
  });

  it('answers 400 to wrong types, wrong vector size and invalid ids', async () => {
    expect(await expectStatus('PUT', '/collections/plain/points', { points: [{ id: 50, vector: [1, 2] }] }, 400)).toContain('Vector dimension error: expected dim: 3, got 2');
    await expectStatus('PUT', '/collections/plain/points', { points: [{ id: 50, vector: ['a', 'b', 'c'] }] }, 400);
    await expectStatus('PUT', '/collections/plain/points', { points: [{ id: -1, vector: [1, 2, 3] }] }, 400);
    await expectStatus('PUT', '/collections/plain/points', { points: [{ id: 1.5, vector: [1, 2, 3] }] }, 400);
    await expectStatus('PUT', '/collections/plain/points', { points: [{ id: 'not-a-uuid', vector: [1, 2, 3] }] }, 400);
    await expectStatus('POST', '/collections/plain/points', { ids: ['nope'] }, 400);
    await expectStatus('POST', '/collections/plain/points/query', { query: [1, 2, 3, 4] }, 400);
    await expectStatus('PUT', '/collections/plain/points', '{"points": [{"id": 50, "vector": [1e400, 1, 1]}]}', 400);
    await expectStatus('PUT', '/collections/plain/points', '{"points": [{"id": 50, "vector": [NaN, 1, 1]}]}', 400);
    await expectStatus('PUT', '/collections/plain/points', { points: [{ id: 50, vector: [1, 2, 3], payload: 'text' }] }, 400);
    expect(await one('plain', 50)).toBeUndefined();
  });

  it('answers 422 to limit 0', async () => {
    expect(await expectStatus('POST', '/collections/plain/points/scroll', { limit: 0 }, 422)).toContain('limit');
    await expectStatus('POST', '/collections/plain/points/query', { query: [1, 2, 3], limit: 0 }, 422);
  });

  it('answers 404 to unknown collections and missing points', async () => {
    const text = await expectStatus('POST', '/collections/nope/points/scroll', {}, 404);
    expect(text).toContain("Collection `nope` doesn't exist!");
    await expectStatus('PUT', '/collections/nope/points', { points: [{ id: 1, vector: [1] }] }, 404);
    expect(await expectStatus('GET', '/collections/plain/points/123456', undefined, 404)).toContain('Point with id 123456 does not exists!');
    await expectStatus('POST', '/collections/plain/points/query', { query: 123456 }, 404);
    expect(await failureStatus(shoal.client.count('nope'))).toBe(404);
  });

  it('keeps serving with the data intact', async () => {
    expect((await one('plain', 1))?.payload).toMatchObject({ name: 'one', n: 1 });
    expect((await shoal.client.count('plain', { exact: true })).count).toBe(5);
  });
});
