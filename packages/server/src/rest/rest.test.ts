import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { parseJson } from '@shoal/api';
import {
  DEFAULT_LIMITS, ShoalError, comparePointIds, pointKey, type FacetHit, type Filter, type PayloadIndexParams, type PointId,
  type PointOperation, type Record_, type ScoredPoint, type WithPayload, type WithVector,
} from '@shoal/common';
import type {
  ClusterOperation, CollectionClusterInfo, CollectionInfo, CollectionsService, PointWrite, ScrollRequest, ScrollResult, SearchRequest, UpdateResult, WriteOptions,
} from '@shoal/cluster';
import type { AliasAction, CollectionConfig, CollectionPatch } from '@shoal/meta';
import { registerCollectionRoutes } from './index.js';

// The spec validator lives outside this package's sources (test/openapi.ts); import it by a
// runtime path so the package build does not pull it in, and type it here.
type Validate = (method: string, path: string, status: number, body: unknown) => void;
const HELPER = new URL('../../../../test/openapi.ts', import.meta.url).href;
const spec = (await import(/* @vite-ignore */ HELPER)) as { validateResponse: Validate; validateSchema: (name: string, value: unknown) => void };

interface StoredPoint { id: PointId; vectors: Map<string, Float32Array>; payload: Record<string, unknown> }
interface Coll { config: CollectionConfig; points: Map<string | number, StoredPoint>; indexes: Map<string, PayloadIndexParams> }

/** A small in-memory CollectionsService: enough behaviour to drive every route. */
class FakeService implements CollectionsService {
  readonly collections = new Map<string, Coll>();
  readonly aliases = new Map<string, string>();
  readonly writes: { ops: readonly PointOperation[]; options: WriteOptions }[] = [];
  private opId = 0;

  private get(name: string): Coll {
    const c = this.collections.get(this.aliases.get(name) ?? name);
    if (c === undefined) throw new ShoalError('not_found', `Not found: Collection \`${name}\` doesn't exist!`);
    return c;
  }
  listCollections(): string[] { return [...this.collections.keys()]; }
  async collectionExists(name: string): Promise<boolean> { return this.collections.has(this.aliases.get(name) ?? name); }
  async createCollection(name: string, config: CollectionConfig): Promise<void> {
    if (this.collections.has(name)) throw new ShoalError('bad_request', `Wrong input: Collection \`${name}\` already exists!`);
    this.collections.set(name, { config, points: new Map(), indexes: new Map() });
  }
  async updateCollection(name: string, _patch: CollectionPatch): Promise<void> { this.get(name); }
  async deleteCollection(name: string): Promise<boolean> { return this.collections.delete(name); }
  async collectionClusterInfo(name: string): Promise<CollectionClusterInfo> {
    const c = this.get(name);
    return { peerId: 7, shardCount: 1, localShards: [{ shardId: 0, shardKey: null, pointsCount: c.points.size, state: 'Active' }], remoteShards: [], transfers: [] };
  }
  async collectionConfig(name: string): Promise<CollectionConfig> {
    return this.get(name).config;
  }
  async createShardKey(): Promise<void> { throw new ShoalError('bad_request', 'Wrong input: no custom sharding here'); }
  async deleteShardKey(): Promise<void> { throw new ShoalError('bad_request', 'Wrong input: no custom sharding here'); }
  async listShardKeys(name: string): Promise<null> { this.get(name); return null; }
  readonly clusterOperations: ClusterOperation[] = [];
  async updateCollectionCluster(name: string, operation: ClusterOperation): Promise<void> {
    this.get(name);
    this.clusterOperations.push(operation);
  }
  async collectionInfo(name: string): Promise<CollectionInfo> {
    const c = this.get(name);
    const payloadSchema = new Map([...c.indexes].map(([field, params]) => [field, { dataType: params.type, params, points: c.points.size }]));
    return { status: 'green', optimizerStatus: { ok: true }, pointsCount: c.points.size, indexedVectorsCount: 0, segmentsCount: 1, config: c.config, payloadSchema };
  }
  async updateAliases(actions: readonly AliasAction[]): Promise<void> {
    for (const a of actions) {
      if (a.kind === 'create') { this.get(a.collection); this.aliases.set(a.alias, a.collection); }
      else if (a.kind === 'delete') this.aliases.delete(a.alias);
      else { const t = this.aliases.get(a.oldAlias); if (t !== undefined) { this.aliases.delete(a.oldAlias); this.aliases.set(a.newAlias, t); } }
    }
  }
  listAliases(collection: string | null): { alias: string; collection: string }[] {
    return [...this.aliases].filter(([, c]) => collection === null || c === collection).map(([alias, c]) => ({ alias, collection: c }));
  }
  async createFieldIndex(collection: string, field: string, params: PayloadIndexParams): Promise<UpdateResult> {
    this.get(collection).indexes.set(field, params);
    return { operationId: this.opId++, status: 'completed' };
  }
  async deleteFieldIndex(collection: string, field: string): Promise<UpdateResult> {
    this.get(collection).indexes.delete(field);
    return { operationId: this.opId++, status: 'completed' };
  }
  async updatePoints(collection: string, writes: readonly PointWrite[], options: WriteOptions): Promise<UpdateResult> {
    const c = this.get(collection);
    const ops = writes.map((w) => w.op);
    this.writes.push({ ops, options });
    for (const op of ops) {
      if (op.kind === 'upsert') for (const p of op.points) c.points.set(pointKey(p.id), { id: p.id, vectors: new Map(p.vectors), payload: { ...(p.payload ?? {}) } });
      if (op.kind === 'delete_points' && op.selector.kind === 'ids') for (const id of op.selector.ids) c.points.delete(pointKey(id));
    }
    return { operationId: this.opId++, status: options.wait ? 'completed' : 'acknowledged' };
  }
  private record(p: StoredPoint, withPayload: WithPayload, withVector: WithVector): Record_ {
    const vectors = withVector === false ? null : new Map([...p.vectors].filter(([n]) => withVector === true || withVector.includes(n)));
    return { id: p.id, payload: withPayload.kind === 'none' ? null : (p.payload as Record_['payload']), vectors };
  }
  async retrieve(collection: string, ids: readonly PointId[], wp: WithPayload, wv: WithVector): Promise<Record_[]> {
    const c = this.get(collection);
    return ids.flatMap((id) => { const p = c.points.get(pointKey(id)); return p === undefined ? [] : [this.record(p, wp, wv)]; });
  }
  async search(collection: string, r: SearchRequest): Promise<ScoredPoint[]> {
    const c = this.get(collection);
    const q = r.query.kind === 'vector' ? r.query.vector : c.points.get(pointKey(r.query.id))?.vectors.get(r.vectorName);
    if (q === undefined) throw new ShoalError('not_found', 'Not found: No point with id');
    const scored = [...c.points.values()].map((p) => {
      const v = p.vectors.get(r.vectorName) ?? new Float32Array(q.length);
      let s = 0;
      for (let i = 0; i < q.length; i++) s += (q[i] as number) * (v[i] as number);
      return { ...this.record(p, r.withPayload, r.withVector), score: s };
    });
    return scored.sort((a, b) => b.score - a.score).slice(r.offset, r.offset + r.limit);
  }
  async scroll(collection: string, r: ScrollRequest): Promise<ScrollResult> {
    const sorted = [...this.get(collection).points.values()].sort((a, b) => comparePointIds(a.id, b.id));
    const from = r.offset === null ? 0 : sorted.findIndex((p) => comparePointIds(p.id, r.offset as PointId) >= 0);
    const page = sorted.slice(from, from + r.limit);
    const next = sorted[from + r.limit];
    return { points: page.map((p) => this.record(p, r.withPayload, r.withVector)), nextPageOffset: next === undefined ? null : next.id };
  }
  async count(collection: string, _filter: Filter | null): Promise<number> { return this.get(collection).points.size; }
  async facet(collection: string, key: string): Promise<FacetHit[]> {
    const counts = new Map<string, number>();
    for (const p of this.get(collection).points.values()) { const v = p.payload[key]; if (typeof v === 'string') counts.set(v, (counts.get(v) ?? 0) + 1); }
    return [...counts].map(([value, count]) => ({ value, count }));
  }
}

function setup(limits = DEFAULT_LIMITS): { app: Hono; service: FakeService; call: (method: string, path: string, body?: unknown, raw?: string) => Promise<{ status: number; body: any; text: string }> } {
  const app = new Hono();
  const service = new FakeService();
  const unexpected: unknown[] = [];
  registerCollectionRoutes(app, service, { limits, onUnexpectedError: (e) => unexpected.push(e) });
  const call = async (method: string, path: string, body?: unknown, raw?: string) => {
    const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
    if (raw !== undefined) init.body = raw;
    else if (body !== undefined) init.body = JSON.stringify(body);
    const res = await app.request(path, init);
    const text = await res.text();
    expect(res.headers.get('content-type')).toBe('application/json');
    const parsed = parseJson(text, 64);
    if (!path.includes('/points/search')) spec.validateResponse(method, path, res.status, parsed);
    expect(unexpected).toEqual([]);
    return { status: res.status, body: parsed, text };
  };
  return { app, service, call };
}

async function withCollection(vectors: unknown = { size: 2, distance: 'Dot' }) {
  const s = setup();
  expect((await s.call('PUT', '/collections/c', { vectors })).status).toBe(200);
  return s;
}

describe('collection routes', () => {
  it('creates, describes, lists and deletes collections as Qdrant does', async () => {
    const { call } = await withCollection();
    const info = await call('GET', '/collections/c');
    expect(info.status).toBe(200);
    expect(info.body.result.config.params.vectors).toEqual({ size: 2, distance: 'Dot' });
    expect(info.body.result.config.hnsw_config).toEqual({ m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false });
    expect(info.body.result.optimizer_status).toBe('ok');
    expect((await call('GET', '/collections')).body.result).toEqual({ collections: [{ name: 'c' }] });
    expect((await call('GET', '/collections/c/exists')).body.result).toEqual({ exists: true });
    expect((await call('PATCH', '/collections/c', { optimizers_config: { indexing_threshold: 1 } })).body.result).toBe(true);
    expect((await call('DELETE', '/collections/c')).body.result).toBe(true);
    expect((await call('GET', '/collections/c/exists')).body.result).toEqual({ exists: false });
  });

  it('reports named vectors with their overrides, quantization and metadata in a valid CollectionInfo', async () => {
    const { call } = await withCollection({
      img: { size: 3, distance: 'Euclid', on_disk: true, hnsw_config: { m: 8 }, quantization_config: { product: { compression: 'x16' } } },
      txt: { size: 2, distance: 'Manhattan', datatype: 'uint8' },
    });
    await call('PATCH', '/collections/c', { metadata: { k: 'v' } });
    const info = await call('GET', '/collections/c');
    expect(info.body.result.config.params.vectors).toEqual({
      img: { size: 3, distance: 'Euclid', on_disk: true, hnsw_config: { m: 8 }, quantization_config: { product: { compression: 'x16' } } },
      txt: { size: 2, distance: 'Manhattan', datatype: 'uint8' },
    });
    expect(info.body.result.config.params).toMatchObject({ shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true });
    expect(info.body.result.config.wal_config).toEqual({ wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 });
    const q = await call('PUT', '/collections/q', { vectors: { size: 2, distance: 'Cosine' }, quantization_config: { scalar: { type: 'int8', always_ram: true } }, metadata: { a: 1 } });
    expect(q.status).toBe(200);
    const qi = await call('GET', '/collections/q');
    expect(qi.body.result.config.quantization_config).toEqual({ scalar: { type: 'int8', always_ram: true } });
    expect(qi.body.result.config.metadata).toEqual({ a: 1 });
  });

  it('answers 404 for an unknown collection and 400/422 for bad bodies', async () => {
    const { call } = setup();
    const missing = await call('GET', '/collections/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.status.error).toMatch(/doesn't exist/);
    const zero = await call('PUT', '/collections/c', { vectors: { size: 0, distance: 'Dot' } });
    expect([zero.status, zero.body.status.error]).toEqual([422, 'Validation error in JSON body: [vectors.size: value 0 invalid, must be 1 or larger]']);
    const broken = await call('PUT', '/collections/c', undefined, '{"vectors": ');
    expect(broken.status).toBe(400);
    expect(broken.body.status.error).toMatch(/^Format error in JSON body: /);
  });

  it('manages aliases and payload indexes', async () => {
    const { call } = await withCollection();
    expect((await call('POST', '/collections/aliases', { actions: [{ create_alias: { collection_name: 'c', alias_name: 'a' } }] })).status).toBe(200);
    expect((await call('GET', '/aliases')).body.result).toEqual({ aliases: [{ alias_name: 'a', collection_name: 'c' }] });
    expect((await call('GET', '/collections/c/aliases')).body.result.aliases).toHaveLength(1);
    const idx = await call('PUT', '/collections/a/index?wait=true', { field_name: 'city', field_schema: 'keyword' });
    expect(idx.body.result).toEqual({ operation_id: 0, status: 'completed' });
    const info = await call('GET', '/collections/c');
    expect(info.body.result.payload_schema).toEqual({ city: { data_type: 'keyword', points: 0 } });
    expect((await call('DELETE', '/collections/c/index/city')).status).toBe(200);
  });

  it('declines unsupported collection routes with a clear 400', async () => {
    const { call } = await withCollection();
    const snap = await call('POST', '/collections/c/snapshots');
    expect([snap.status, snap.body.status.error]).toEqual([400, 'the collection snapshot API is not supported by this node yet']);
    expect((await call('POST', '/collections/c/points/query/groups', { query: [1, 2], group_by: 'a' })).status).toBe(400);
  });
});

describe('POST /collections/{c}/cluster', () => {
  it('passes each ClusterOperations body (spec-valid) to the service and refuses malformed ones', async () => {
    const { call, service } = await withCollection();
    const bodies = [
      { move_shard: { shard_id: 0, from_peer_id: 11, to_peer_id: 2 ** 52 + 1 } },
      { replicate_shard: { shard_id: 3, from_peer_id: 1, to_peer_id: 2, method: 'stream_records' } },
      { abort_transfer: { shard_id: 3, from_peer_id: 1, to_peer_id: 2 } },
      { restart_transfer: { shard_id: 3, from_peer_id: 1, to_peer_id: 2, method: 'snapshot' } },
      { drop_replica: { shard_id: 1, peer_id: 7 } },
    ];
    for (const body of bodies) {
      spec.validateSchema('ClusterOperations', body);
      const r = await call('POST', '/collections/c/cluster', body);
      expect([r.status, r.body.result]).toEqual([200, true]);
    }
    expect(service.clusterOperations).toEqual([
      { kind: 'move_shard', shardId: 0, from: 11, to: 2 ** 52 + 1, method: null },
      { kind: 'replicate_shard', shardId: 3, from: 1, to: 2, method: 'stream_records' },
      { kind: 'abort_transfer', shardId: 3, from: 1, to: 2 },
      { kind: 'restart_transfer', shardId: 3, from: 1, to: 2, method: 'snapshot' },
      { kind: 'drop_replica', shardId: 1, peer: 7 },
    ]);
    const bad: Array<[unknown, RegExp]> = [
      [{}, /exactly one of/],
      [{ move_shard: { shard_id: 0, from_peer_id: 1 } }, /missing field `to_peer_id`/],
      [{ move_shard: { shard_id: -1, from_peer_id: 1, to_peer_id: 2 } }, /shard_id/],
      [{ replicate_shard: { shard_id: 0, from_peer_id: 1, to_peer_id: 2, method: 'fast' } }, /unknown variant `fast`/],
      [{ restart_transfer: { shard_id: 0, from_peer_id: 1, to_peer_id: 2 } }, /missing field `method`/],
      [{ teleport: {} }, /unknown variant `teleport`/],
      [{ start_resharding: { direction: 'up' } }, /not supported/],
    ];
    for (const [body, message] of bad) {
      const r = await call('POST', '/collections/c/cluster', body);
      expect(r.status).toBe(400);
      expect(r.body.status.error).toMatch(message);
    }
    expect(service.clusterOperations).toHaveLength(5);
    expect((await call('POST', '/collections/nope/cluster', bodies[0])).status).toBe(404);
  });
});

describe('point routes', () => {
  it('keeps ids above 2^53 distinct and writes them back exactly', async () => {
    const { call } = await withCollection();
    const raw = '{"points":[{"id":9007199254740993,"vector":[1,0],"payload":{"n":18446744073709551615}},{"id":9007199254740994,"vector":[0,1]},{"id":18446744073709551615,"vector":[1,1]}]}';
    const up = await call('PUT', '/collections/c/points?wait=true&ordering=strong', undefined, raw);
    expect(up.body.result).toEqual({ operation_id: 0, status: 'completed' });
    const got = await call('POST', '/collections/c/points', undefined, '{"ids":[9007199254740993,18446744073709551615]}');
    expect(got.text).toContain('"id":9007199254740993,"payload":{"n":18446744073709551615}');
    expect(got.text).toContain('"id":18446744073709551615');
    expect((await call('POST', '/collections/c/points/count', {})).body.result).toEqual({ count: 3 });
  });

  it('passes wait and ordering to the service and rejects bad values', async () => {
    const { call, service } = await withCollection();
    await call('PUT', '/collections/c/points?wait=true&ordering=medium', { points: [{ id: 1, vector: [1, 2] }] });
    expect(service.writes[0]?.options).toMatchObject({ wait: true, ordering: 'medium' });
    expect((await call('PUT', '/collections/c/points?ordering=fast', { points: [] })).status).toBe(400);
    expect((await call('PUT', '/collections/c/points?wait=maybe', { points: [] })).status).toBe(400);
  });

  it('answers Qdrant\'s errors for wrong vectors and oversize bodies', async () => {
    const { call } = await withCollection();
    const dim = await call('PUT', '/collections/c/points', { points: [{ id: 1, vector: [1, 2, 3] }] });
    expect([dim.status, dim.body.status.error]).toEqual([400, 'Wrong input: Vector dimension error: expected dim: 2, got 3']);
    const small = setup({ ...DEFAULT_LIMITS, requestBytesMax: 64 });
    await small.call('PUT', '/collections/c', { vectors: { size: 2, distance: 'Dot' } });
    const big = await small.call('PUT', '/collections/c/points', { points: [{ id: 1, vector: [1, 2], payload: { s: 'x'.repeat(100) } }] });
    expect(big.status).toBe(400);
    expect(big.body.status.error).toMatch(/^Payload error: JSON payload \((\d+|more than 64) bytes\) is larger than allowed \(limit: 64 bytes\)\.$/);
  });

  it('refuses a declared oversize body before reading it', async () => {
    const { app } = setup({ ...DEFAULT_LIMITS, requestBytesMax: 10 });
    const res = await app.request('/collections/c/points/count', { method: 'POST', headers: { 'content-length': '11' }, body: '{"a":123456}' });
    const body = parseJson(await res.text(), 64);
    spec.validateResponse('POST', '/collections/c/points/count', res.status, body);
    expect((body as { status: { error: string } }).status.error).toBe('Payload error: JSON payload (11 bytes) is larger than allowed (limit: 10 bytes).');
  });

  it('reads points by id, scrolls, queries, searches and facets', async () => {
    const { call } = await withCollection();
    await call('PUT', '/collections/c/points', { batch: { ids: [1, 2, 3], vectors: [[1, 0], [0, 1], [1, 1]], payloads: [{ city: 'a' }, { city: 'b' }, { city: 'a' }] } });
    const one = await call('GET', '/collections/c/points/3');
    expect(one.body.result).toEqual({ id: 3, payload: { city: 'a' }, vector: [1, 1] });
    expect((await call('GET', '/collections/c/points/9')).status).toBe(404);
    expect((await call('GET', '/collections/c/points/not-an-id')).status).toBe(400);
    const page = await call('POST', '/collections/c/points/scroll', { limit: 2 });
    expect(page.body.result.next_page_offset).toBe(3);
    expect(page.body.result.points.map((p: { id: number }) => p.id)).toEqual([1, 2]);
    const q = await call('POST', '/collections/c/points/query', { query: [1, 0.5], limit: 2, with_payload: true });
    expect(q.body.result.points.map((p: { id: number; score: number }) => [p.id, p.score])).toEqual([[3, 1.5], [1, 1]]);
    const noQuery = await call('POST', '/collections/c/points/query', { offset: 1 });
    expect(noQuery.body.result.points.map((p: { id: number }) => p.id)).toEqual([2, 3]);
    const batch = await call('POST', '/collections/c/points/query/batch', { searches: [{ query: [0, 1], limit: 1 }, { query: { nearest: [1, 0] }, limit: 1 }] });
    expect(batch.body.result.map((r: { points: { id: number }[] }) => r.points[0]?.id)).toEqual([2, 1]);
    const legacy = await call('POST', '/collections/c/points/search', { vector: [0, 1], limit: 1 });
    expect(legacy.body.result).toHaveLength(1);
    spec.validateSchema('ScoredPoint', legacy.body.result[0]);
    const legacyBatch = await call('POST', '/collections/c/points/search/batch', { searches: [{ vector: [0, 1], limit: 2 }] });
    expect(legacyBatch.body.result[0]).toHaveLength(2);
    const facet = await call('POST', '/collections/c/facet', { key: 'city' });
    expect(facet.body.result.hits).toEqual([{ value: 'a', count: 2 }, { value: 'b', count: 1 }]);
    expect((await call('POST', '/collections/c/points/scroll', { limit: 0 })).status).toBe(422);
    const unsupported = await call('POST', '/collections/c/points/query', { query: { recommend: { positive: [1] } } });
    expect([unsupported.status, unsupported.body.status.error]).toEqual([400, 'query `recommend` is not supported by this node yet']);
  });

  it('routes every write endpoint to updatePoints with the parsed operation', async () => {
    const { call, service } = await withCollection({ img: { size: 2, distance: 'Cosine' } });
    const sel = { points: [1] };
    await call('POST', '/collections/c/points/delete', sel);
    await call('PUT', '/collections/c/points/vectors', { points: [{ id: 1, vector: { img: [1, 2] } }] });
    await call('POST', '/collections/c/points/vectors/delete', { ...sel, vector: ['img'] });
    await call('POST', '/collections/c/points/payload', { ...sel, payload: { a: 1 }, key: 'x' });
    await call('PUT', '/collections/c/points/payload', { ...sel, payload: { a: 1 } });
    await call('POST', '/collections/c/points/payload/delete', { ...sel, keys: ['a'] });
    await call('POST', '/collections/c/points/payload/clear', sel);
    await call('POST', '/collections/c/points/batch', { operations: [{ upsert: { points: [{ id: 2, vector: { img: [1, 1] } }] } }, { delete: sel }] });
    expect(service.writes.map((w) => w.ops.map((o) => o.kind).join('+'))).toEqual([
      'delete_points', 'update_vectors', 'delete_vectors', 'set_payload', 'overwrite_payload', 'delete_payload', 'clear_payload', 'upsert+delete_points',
    ]);
    const rec = await call('GET', '/collections/c/points/2');
    expect(rec.body.result.vector).toEqual({ img: [1, 1] });
  });
});
