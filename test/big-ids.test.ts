// Ids and integer payload values above 2^53 through raw HTTP: plain JSON.parse would round
// 2^53+1 to 2^53 and make distinct points collide. Bodies are written and read as text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStorage, startServer, type ServerProcess } from './harness.js';
import { call } from './support.js';

const IDS = ['9007199254740993', '9007199254740994', '18446744073709551615'];
// Payload integers above 2^53, one per point, each distinct from its neighbours after rounding.
const VALUES = ['9007199254740995', '12345678901234567891', '18446744073709551614'];

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
  const created = await call(server.url, 'PUT', '/collections/big', { vectors: { size: 2, distance: 'Dot' } });
  expect(created.status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  if (server) removeStorage(server.storage);
});

/** The ids as they appear in a response text, in order of appearance. */
function idsIn(text: string): string[] {
  return [...text.matchAll(/"id":\s*(\d+)/g)].map((m) => m[1] as string);
}

describe('integers above 2^53', () => {
  it('stores 2^53+1, 2^53+2 and 2^64-1 as three distinct points with exact payload integers', async () => {
    const points = IDS.map((id, i) => `{"id": ${id}, "vector": [${i + 1}, 1], "payload": {"big": ${VALUES[i]}, "list": [${VALUES[i]}, 1]}}`);
    const upsert = await call(server.url, 'PUT', '/collections/big/points?wait=true', `{"points": [${points.join(',')}]}`);
    expect(upsert.status, upsert.text).toBe(200);

    const count = await call(server.url, 'POST', '/collections/big/points/count', { exact: true });
    expect((count.json as { result: { count: number } }).result.count).toBe(3);

    const retrieved = await call(server.url, 'POST', '/collections/big/points', `{"ids": [${IDS.join(',')}], "with_payload": true}`);
    expect(retrieved.status).toBe(200);
    expect(idsIn(retrieved.text).sort()).toEqual([...IDS].sort());
    for (const v of VALUES) expect(retrieved.text).toContain(v);

    const scrolled = await call(server.url, 'POST', '/collections/big/points/scroll', '{"limit": 10, "with_payload": true}');
    expect(idsIn(scrolled.text)).toEqual(IDS);
    IDS.forEach((id, i) => {
      const item = new RegExp(`"id":\\s*${id}\\b[^}]*"big":\\s*${VALUES[i]}\\b`);
      expect(scrolled.text, `point ${id} keeps payload ${VALUES[i]}`).toMatch(item);
    });
  });

  it('finds each big id by GET, scroll offset, filter and delete', async () => {
    for (const id of IDS) {
      const got = await call(server.url, 'GET', `/collections/big/points/${id}`);
      expect(got.status).toBe(200);
      expect(idsIn(got.text)).toEqual([id]);
    }
    const from = await call(server.url, 'POST', '/collections/big/points/scroll', `{"offset": ${IDS[1]}, "limit": 10}`);
    expect(idsIn(from.text)).toEqual(IDS.slice(1));
    const filtered = await call(server.url, 'POST', '/collections/big/points/scroll', `{"filter": {"must": [{"has_id": [${IDS[2]}]}]}}`);
    expect(idsIn(filtered.text)).toEqual([IDS[2]]);
    const byValue = await call(server.url, 'POST', '/collections/big/points/count', `{"filter": {"must": [{"key": "big", "match": {"value": ${VALUES[0]}}}]}, "exact": true}`);
    expect((byValue.json as { result: { count: number } }).result.count).toBe(1);
    const deleted = await call(server.url, 'POST', '/collections/big/points/delete?wait=true', `{"points": [${IDS[0]}]}`);
    expect(deleted.status).toBe(200);
    const rest = await call(server.url, 'POST', '/collections/big/points/scroll', '{"limit": 10}');
    expect(idsIn(rest.text)).toEqual(IDS.slice(1));
  });

  it('rejects ids beyond 2^64-1 with 400', async () => {
    const res = await call(server.url, 'PUT', '/collections/big/points?wait=true', '{"points": [{"id": 18446744073709551616, "vector": [1, 1]}]}');
    expect(res.status).toBe(400);
  });
});
