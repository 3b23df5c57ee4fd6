// Size limits: a body above service.max_request_size_mb gets a 4xx and the node keeps serving
// with its data intact.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, useServer } from './support.js';

const shoal = useServer({ env: { QDRANT__SERVICE__MAX_REQUEST_SIZE_MB: '1' } });

beforeAll(async () => {
  await shoal.client.createCollection('sized', { vectors: { size: 4, distance: 'Euclid' } });
  await shoal.client.upsert('sized', { wait: true, points: Array.from({ length: 20 }, (_, i) => ({ id: i, vector: [i, 0, 0, 0], payload: { i } })) });
});

describe('request size limit', () => {
  it('refuses a body above max_request_size_mb with a 4xx and keeps the data', async () => {
    const big = 'x'.repeat(1_200_000);
    const res = await call(shoal.server.url, 'PUT', '/collections/sized/points?wait=true', { points: [{ id: 100, vector: [1, 1, 1, 1], payload: { big } }] });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const many = Array.from({ length: 30_000 }, (_, i) => ({ id: 1000 + i, vector: [i, i, i, i] }));
    const res2 = await call(shoal.server.url, 'PUT', '/collections/sized/points?wait=true', { points: many });
    expect(res2.status).toBeGreaterThanOrEqual(400);
    expect(res2.status).toBeLessThan(500);
    expect((await shoal.client.count('sized', { exact: true })).count).toBe(20);
    const near = await shoal.client.query('sized', { query: [5.2, 0, 0, 0], limit: 2, with_payload: true });
    expect(near.points.map((p) => p.id)).toEqual([5, 6]);
    expect(near.points[0]?.payload).toEqual({ i: 5 });
  });

  it('accepts a body just under the limit', async () => {
    const res = await call(shoal.server.url, 'PUT', '/collections/sized/points?wait=true', { points: [{ id: 100, vector: [1, 1, 1, 1], payload: { big: 'y'.repeat(900_000) } }] });
    expect(res.status).toBe(200);
    expect((await shoal.client.count('sized', { exact: true })).count).toBe(21);
  });
});
