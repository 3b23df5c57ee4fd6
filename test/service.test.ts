// Service endpoints, configuration at start-up, and the API key, against a real node process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStorage, REPO_ROOT, startServer, tempStorage, type ServerProcess } from './harness.js';
import { call, resultOf } from './support.js';

describe('service endpoints', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer();
    await call(server.url, 'PUT', '/collections/svc', { vectors: { size: 2, distance: 'Dot' } });
    await call(server.url, 'PUT', '/collections/svc/points?wait=true', { points: [{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1] }] });
  });
  afterAll(async () => {
    await server.stop();
    removeStorage(server.storage);
  });

  it('GET / names the API level and a 40-hex commit', async () => {
    const root = (await call(server.url, 'GET', '/')).json as { title: string; version: string; commit: string };
    expect(root.version).toMatch(/^1\.19\.\d+$/);
    expect(root.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(root.title).toContain('shoal');
  });

  it('answers the health probes', async () => {
    for (const path of ['/healthz', '/livez', '/readyz']) expect((await call(server.url, 'GET', path)).status).toBe(200);
  });

  it('reports the cluster as disabled and refuses cluster operations as a standalone node does', async () => {
    expect(resultOf(await call(server.url, 'GET', '/cluster'))).toEqual({ status: 'disabled' });
    expect((await call(server.url, 'POST', '/cluster/recover')).status).toBe(400);
    expect((await call(server.url, 'DELETE', '/cluster/peer/7')).status).toBe(400);
  });

  it('serves telemetry with the collection count', async () => {
    const telemetry = resultOf<{ collections: { number_of_collections: number } }>(await call(server.url, 'GET', '/telemetry'));
    expect(telemetry.collections.number_of_collections).toBe(1);
  });

  it('exports Qdrant-named metrics, REST latency by endpoint and status, and the event-loop delay', async () => {
    await call(server.url, 'GET', '/collections/missing');
    const text = (await call(server.url, 'GET', '/metrics')).text;
    expect(text).toMatch(/^collections_total 1$/m);
    expect(text).toMatch(/^collection_points\{id="svc"\} 2$/m);
    expect(text).toMatch(/^rest_responses_duration_seconds_count\{method="PUT",endpoint="\/collections\/:name\/points",status="200"\} 1$/m);
    expect(text).toMatch(/^rest_responses_duration_seconds_count\{method="GET",endpoint="\/collections\/:name",status="404"\} 1$/m);
    expect(text).toMatch(/^process_event_loop_delay_seconds\{quantile="0.99"\} [0-9.e-]+$/m);
  });
});

describe('start-up configuration', () => {
  const run = (env: Record<string, string>, args: string[] = []) =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'packages/server/dist/main.js'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', QDRANT__SERVICE__HTTP_PORT: '0', QDRANT__STORAGE__STORAGE_PATH: join(tempStorage(), 's'), ...env },
      encoding: 'utf8',
      timeout: 15_000,
    });

  it('stops on a bad key or value, naming it', () => {
    const unknown = run({ QDRANT__SERVICE__HTTP_PROT: '1' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('service.http_prot');
    const badType = run({ QDRANT__SERVICE__GRPC_PORT: 'many' });
    expect(badType.status).toBe(2);
    expect(badType.stderr).toContain('service.grpc_port');
  });

  it('refuses --uri without cluster.enabled rather than running standalone silently', () => {
    const result = run({}, ['--uri', 'http://127.0.0.1:6335']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('cluster mode');
  });

  it('refuses a second process on the same storage', async () => {
    const storage = tempStorage();
    const first = await startServer({ storage });
    try {
      const second = spawnSync(process.execPath, [join(REPO_ROOT, 'packages/server/dist/main.js')], {
        cwd: storage,
        env: { PATH: process.env['PATH'] ?? '', QDRANT__SERVICE__HTTP_PORT: '0', QDRANT__STORAGE__STORAGE_PATH: join(storage, 'storage') },
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect(second.status).not.toBe(0);
      expect(second.stderr).toContain('in use by process');
    } finally {
      await first.stop();
      removeStorage(storage);
    }
  });
});

describe('api key', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ env: { QDRANT__SERVICE__API_KEY: 'secret', QDRANT__SERVICE__READ_ONLY_API_KEY: 'reader' } });
  });
  afterAll(async () => {
    await server.stop();
    removeStorage(server.storage);
  });

  it('requires the key everywhere but the probes; the read-only key only reads', async () => {
    const request = (method: string, path: string, key: string | null, body?: unknown) =>
      fetch(server.url + path, {
        method,
        headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'api-key': key }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await request('GET', '/healthz', null)).status).toBe(200);
    expect((await request('GET', '/collections', null)).status).toBe(401);
    expect((await request('PUT', '/collections/k', 'secret', { vectors: { size: 2, distance: 'Dot' } })).status).toBe(200);
    expect((await request('GET', '/collections/k', 'reader')).status).toBe(200);
    expect((await request('POST', '/collections/k/points/scroll', 'reader', {})).status).toBe(200);
    expect((await request('PUT', '/collections/k/points', 'reader', { points: [{ id: 1, vector: [1, 2] }] })).status).toBe(401);
    expect((await request('DELETE', '/collections/k', 'wrong')).status).toBe(401);
  });
});

describe('collection cluster info on a standalone node', () => {
  it('lists every shard as local and Active with its points, under a peer id kept across restarts', async () => {
    const storage = tempStorage();
    let server = await startServer({ storage });
    try {
      await call(server.url, 'PUT', '/collections/cc', { vectors: { size: 2, distance: 'Dot' }, shard_number: 2 });
      await call(server.url, 'PUT', '/collections/cc/points?wait=true', { points: [1, 2, 3, 4, 5].map((id) => ({ id, vector: [id, 1] })) });
      const info = resultOf<{ peer_id: number; shard_count: number; local_shards: { shard_id: number; points_count: number; state: string }[]; remote_shards: unknown[] }>(
        await call(server.url, 'GET', '/collections/cc/cluster'),
      );
      expect(info.shard_count).toBe(2);
      expect(info.local_shards.map((s) => s.shard_id)).toEqual([0, 1]);
      expect(info.local_shards.every((s) => s.state === 'Active')).toBe(true);
      expect(info.local_shards.reduce((sum, s) => sum + s.points_count, 0)).toBe(5);
      expect(info.remote_shards).toEqual([]);
      expect(Number.isSafeInteger(info.peer_id) && info.peer_id > 0).toBe(true);
      await server.kill();
      server = await startServer({ storage });
      const again = resultOf<{ peer_id: number }>(await call(server.url, 'GET', '/collections/cc/cluster'));
      expect(again.peer_id).toBe(info.peer_id);
    } finally {
      await server.stop();
      removeStorage(storage);
    }
  });
});
