// shard_key in returned points (Qdrant's Record.shard_key / ScoredPoint.shard_key) on three real
// nodes: every point-returning read of a custom-sharded collection reports the key of the shard
// that answered it, through any node; an id held under two keys is answered once, with the key
// named first in the request (or first in the collection's key order when none is named); an
// auto-sharded collection reports no key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexpectedErrors } from '../test/harness.js';
import { matchSpecPath, validateResponse } from '../test/openapi.js';
import { type ClusterNode, clusterNodes, pickP2pPort, request, startCluster, stopAll } from './nodes.js';

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);

type Point = { id: number; shard_key?: string | number; score?: number };

async function ok<T>(node: ClusterNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await request(node, method, path, body, 30_000);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 500)}`).toBe(200);
  // The legacy /points/search(/batch) left the 1.19 spec; every other answer is checked against it.
  if (matchSpecPath(method, path) !== null) validateResponse(method, path, 200, r.body);
  return (r.body as { result: T }).result;
}

/** id -> shard_key (undefined when absent) of a list of returned points. */
const keysOf = (points: readonly Point[]): Record<number, string | number | undefined> =>
  Object.fromEntries(points.map((p) => [p.id, p.shard_key]));

const EU = { 1: 'eu', 2: 'eu', 3: 'eu' };
const SEVEN = { 10: 7, 11: 7 };

beforeAll(async () => {
  await startCluster(nodes, p2pPort);
  await ok(nodes[0]!, 'PUT', '/collections/tenants', { vectors: { size: 2, distance: 'Dot' }, sharding_method: 'custom', shard_number: 2, replication_factor: 2 });
  for (const key of ['eu', 7]) await ok(nodes[1]!, 'PUT', '/collections/tenants/shards', { shard_key: key });
  const point = (id: number, x: number) => ({ id, vector: [x, 1], payload: { id } });
  await ok(nodes[0]!, 'PUT', '/collections/tenants/points?wait=true', { points: [point(1, 0.1), point(2, 0.2), point(3, 0.3), point(5, 0.5)], shard_key: 'eu' });
  await ok(nodes[1]!, 'PUT', '/collections/tenants/points?wait=true', { points: [point(10, 1.0), point(11, 1.1), point(5, 0.5)], shard_key: 7 });
  await ok(nodes[2]!, 'PUT', '/collections/plain', { vectors: { size: 2, distance: 'Dot' }, shard_number: 3, replication_factor: 2 });
  await ok(nodes[2]!, 'PUT', '/collections/plain/points?wait=true', { points: [point(1, 0.1), point(2, 0.2), point(3, 0.3)] });
}, 90_000);

afterAll(async () => {
  const errors = nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? ''));
  await stopAll(nodes);
  expect(errors).toEqual([]);
});

describe('shard_key in returned points', () => {
  it('retrieve, scroll, search, query and their batches report the key of the shard that answered, through every node', async () => {
    const c = '/collections/tenants';
    for (const node of nodes) {
      // No key named: every key, in the collection's order; id 5 once, under the first key ('eu').
      const all = { ...EU, 5: 'eu', ...SEVEN };
      expect(keysOf(await ok<Point[]>(node, 'POST', `${c}/points`, { ids: [1, 5, 10, 11, 2, 3] }))).toEqual(all);
      expect(keysOf((await ok<{ points: Point[] }>(node, 'POST', `${c}/points/scroll`, { limit: 100 })).points)).toEqual(all);
      expect(keysOf((await ok<{ points: Point[] }>(node, 'POST', `${c}/points/scroll`, { limit: 2 })).points)).toEqual({ 1: 'eu', 2: 'eu' });
      expect(keysOf(await ok<Point[]>(node, 'POST', `${c}/points/search`, { vector: [1, 0], limit: 100 }))).toEqual(all);
      expect(keysOf((await ok<{ points: Point[] }>(node, 'POST', `${c}/points/query`, { query: [1, 0], limit: 100 })).points)).toEqual(all);
      // A query without `query` lists points in id order (a scroll).
      expect(keysOf((await ok<{ points: Point[] }>(node, 'POST', `${c}/points/query`, { limit: 100 })).points)).toEqual(all);
      const one = await ok<Point>(node, 'GET', `${c}/points/10`);
      expect(one.shard_key).toBe(7);

      // Keys named: only their shards, and id 5 under the key named first.
      expect(keysOf(await ok<Point[]>(node, 'POST', `${c}/points`, { ids: [5, 10, 1], shard_key: [7, 'eu'] }))).toEqual({ 5: 7, 10: 7, 1: 'eu' });
      expect(keysOf(await ok<Point[]>(node, 'POST', `${c}/points`, { ids: [5, 10, 1], shard_key: 'eu' }))).toEqual({ 5: 'eu', 1: 'eu' });
      expect(keysOf((await ok<{ points: Point[] }>(node, 'POST', `${c}/points/scroll`, { limit: 100, shard_key: [7, 'eu'] })).points)).toEqual({ ...EU, 5: 7, ...SEVEN });
      expect(keysOf(await ok<Point[]>(node, 'POST', `${c}/points/search`, { vector: [1, 0], limit: 100, shard_key: 7 }))).toEqual({ 5: 7, ...SEVEN });
      const searches = await ok<Point[][]>(node, 'POST', `${c}/points/search/batch`, {
        searches: [{ vector: [1, 0], limit: 100, shard_key: [7, 'eu'] }, { vector: [1, 0], limit: 100, shard_key: 'eu' }],
      });
      expect(searches.map(keysOf)).toEqual([{ ...EU, 5: 7, ...SEVEN }, { ...EU, 5: 'eu' }]);
      const queries = await ok<{ points: Point[] }[]>(node, 'POST', `${c}/points/query/batch`, {
        searches: [{ query: [1, 0], limit: 100, shard_key: [7] }, { query: 5, limit: 100, shard_key: 'eu' }],
      });
      expect(queries.map((q) => keysOf(q.points))).toEqual([{ 5: 7, ...SEVEN }, EU]);
      // Scores are the same whichever copy of id 5 is reported (same vector under both keys).
      const top = await ok<Point[]>(node, 'POST', `${c}/points/search`, { vector: [1, 0], limit: 2, offset: 1, shard_key: [7, 'eu'] });
      expect(top.map((p) => [p.id, p.shard_key])).toEqual([[10, 7], [5, 7]]);
    }
  });

  it('reports no shard_key for an auto-sharded collection', async () => {
    const c = '/collections/plain';
    for (const node of nodes) {
      const lists: Point[][] = [
        await ok<Point[]>(node, 'POST', `${c}/points`, { ids: [1, 2, 3] }),
        (await ok<{ points: Point[] }>(node, 'POST', `${c}/points/scroll`, { limit: 10 })).points,
        await ok<Point[]>(node, 'POST', `${c}/points/search`, { vector: [1, 0], limit: 10 }),
        (await ok<{ points: Point[] }>(node, 'POST', `${c}/points/query`, { query: [1, 0], limit: 10 })).points,
        [await ok<Point>(node, 'GET', `${c}/points/2`)],
      ];
      for (const list of lists) {
        expect(list.length).toBeGreaterThan(0);
        for (const p of list) expect(p).not.toHaveProperty('shard_key');
      }
    }
  });
});
