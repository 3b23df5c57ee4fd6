// Collections and aliases through the official client: create (unnamed and named vectors of every
// distance), the configuration echoed back, list, exists, update, delete, and aliases.
import { describe, expect, it } from 'vitest';
import { call, failureStatus, resultOf, useServer } from './support.js';

const shoal = useServer();

describe('collections', () => {
  it('creates a collection with one unnamed vector and reports its whole configuration', async () => {
    expect(
      await shoal.client.createCollection('unnamed', {
        vectors: { size: 4, distance: 'Dot', on_disk: true },
        hnsw_config: { m: 32, ef_construct: 200, full_scan_threshold: 5000 },
        optimizers_config: { indexing_threshold: 5000, default_segment_number: 2 },
        wal_config: { wal_capacity_mb: 16, wal_segments_ahead: 1 },
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
        on_disk_payload: true,
      }),
    ).toBe(true);
    const info = await shoal.client.getCollection('unnamed');
    expect(info.status).toBe('green');
    expect(info.optimizer_status).toBe('ok');
    expect(info.points_count).toBe(0);
    expect(info.config.params.vectors).toMatchObject({ size: 4, distance: 'Dot', on_disk: true });
    expect(info.config.params.on_disk_payload).toBe(true);
    expect(info.config.hnsw_config).toMatchObject({ m: 32, ef_construct: 200, full_scan_threshold: 5000 });
    expect(info.config.optimizer_config).toMatchObject({ indexing_threshold: 5000, default_segment_number: 2 });
    expect(info.config.wal_config).toMatchObject({ wal_capacity_mb: 16, wal_segments_ahead: 1 });
    expect(info.config.quantization_config).toEqual({ scalar: { type: 'int8', quantile: 0.99, always_ram: true } });
    expect(info.payload_schema).toEqual({});
  });

  it('creates a collection of named vectors, one per distance', async () => {
    const vectors = {
      c: { size: 3, distance: 'Cosine' as const },
      d: { size: 5, distance: 'Dot' as const },
      e: { size: 2, distance: 'Euclid' as const },
      m: { size: 7, distance: 'Manhattan' as const, on_disk: true },
    };
    await shoal.client.createCollection('named', { vectors });
    const info = await shoal.client.getCollection('named');
    const reported = info.config.params.vectors as Record<string, { size: number; distance: string }>;
    expect(Object.keys(reported).sort()).toEqual(['c', 'd', 'e', 'm']);
    for (const [name, v] of Object.entries(vectors)) expect(reported[name]).toMatchObject({ size: v.size, distance: v.distance });
    await shoal.client.upsert('named', { wait: true, points: [{ id: 1, vector: { c: [1, 2, 3], e: [0, 1] } }] });
    expect((await shoal.client.getCollection('named')).points_count).toBe(1);
  });

  it('lists collections and answers exists', async () => {
    const names = (await shoal.client.getCollections()).collections.map((c) => c.name).sort();
    expect(names).toEqual(['named', 'unnamed']);
    expect((await shoal.client.collectionExists('named')).exists).toBe(true);
    expect((await shoal.client.collectionExists('nope')).exists).toBe(false);
  });

  it('updates parameters with PATCH', async () => {
    expect(await shoal.client.updateCollection('unnamed', { optimizers_config: { indexing_threshold: 12345 }, hnsw_config: { ef_construct: 64 } })).toBe(true);
    const info = await shoal.client.getCollection('unnamed');
    expect(info.config.optimizer_config.indexing_threshold).toBe(12345);
    expect(info.config.optimizer_config.default_segment_number).toBe(2);
    expect(info.config.hnsw_config).toMatchObject({ m: 32, ef_construct: 64 });
  });

  it('refuses to create an existing collection (409) and reports unknown ones (404)', async () => {
    expect(await failureStatus(shoal.client.createCollection('named', { vectors: { size: 3, distance: 'Cosine' } }))).toBe(409);
    const again = await call(shoal.server.url, 'PUT', '/collections/named', { vectors: { size: 3, distance: 'Cosine' } });
    expect(again.text).toContain('Collection `named` already exists!');
    expect(await failureStatus(shoal.client.getCollection('missing'))).toBe(404);
    expect(await failureStatus(shoal.client.updateCollection('missing', { optimizers_config: { indexing_threshold: 1 } }))).toBe(404);
    const raw = await call(shoal.server.url, 'GET', '/collections/missing');
    expect(raw.status).toBe(404);
    expect(raw.text).toContain('missing');
  });

  it('rejects a bad vectors config with 4xx', async () => {
    const zero = await call(shoal.server.url, 'PUT', '/collections/bad', { vectors: { size: 0, distance: 'Cosine' } });
    expect([400, 422]).toContain(zero.status);
    const distance = await call(shoal.server.url, 'PUT', '/collections/bad', { vectors: { size: 3, distance: 'Hamming' } });
    expect(distance.status).toBe(400);
    expect((await shoal.client.collectionExists('bad')).exists).toBe(false);
  });

  it('deletes a collection', async () => {
    await shoal.client.createCollection('doomed', { vectors: { size: 2, distance: 'Euclid' } });
    await shoal.client.upsert('doomed', { wait: true, points: [{ id: 1, vector: [1, 1] }] });
    expect(await shoal.client.deleteCollection('doomed')).toBe(true);
    expect((await shoal.client.collectionExists('doomed')).exists).toBe(false);
    expect(await failureStatus(shoal.client.getCollection('doomed'))).toBe(404);
    await shoal.client.createCollection('doomed', { vectors: { size: 2, distance: 'Euclid' } });
    expect((await shoal.client.getCollection('doomed')).points_count).toBe(0);
    await shoal.client.deleteCollection('doomed');
  });
});

describe('aliases', () => {
  const aliasNames = async (collection?: string): Promise<[string, string][]> => {
    const res = collection === undefined ? await shoal.client.getAliases() : await shoal.client.getCollectionAliases(collection);
    return res.aliases.map((a): [string, string] => [a.alias_name, a.collection_name]).sort();
  };

  it('creates, lists, renames and deletes aliases', async () => {
    await shoal.client.updateCollectionAliases({
      actions: [
        { create_alias: { collection_name: 'named', alias_name: 'a1' } },
        { create_alias: { collection_name: 'unnamed', alias_name: 'a2' } },
        { create_alias: { collection_name: 'unnamed', alias_name: 'a3' } },
      ],
    });
    expect(await aliasNames()).toEqual([['a1', 'named'], ['a2', 'unnamed'], ['a3', 'unnamed']]);
    expect(await aliasNames('unnamed')).toEqual([['a2', 'unnamed'], ['a3', 'unnamed']]);
    await shoal.client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: 'a3', new_alias_name: 'a4' } }] });
    expect(await aliasNames('unnamed')).toEqual([['a2', 'unnamed'], ['a4', 'unnamed']]);
    await shoal.client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'a4' } }] });
    expect(await aliasNames()).toEqual([['a1', 'named'], ['a2', 'unnamed']]);
  });

  it('switches an alias to another collection in one request', async () => {
    await shoal.client.updateCollectionAliases({
      actions: [{ delete_alias: { alias_name: 'a2' } }, { create_alias: { collection_name: 'named', alias_name: 'a2' } }],
    });
    expect(await aliasNames('named')).toEqual([['a1', 'named'], ['a2', 'named']]);
    expect(await aliasNames('unnamed')).toEqual([]);
  });

  it('works wherever a collection name does', async () => {
    await shoal.client.upsert('a1', { wait: true, points: [{ id: 2, vector: { c: [0, 1, 0] }, payload: { via: 'alias' } }] });
    const points = await shoal.client.retrieve('named', { ids: [2], with_payload: true });
    expect(points[0]?.payload).toEqual({ via: 'alias' });
    const info = await shoal.client.getCollection('a1');
    expect(info.points_count).toBe(2);
    const found = await shoal.client.query('a2', { query: [0, 1, 0], using: 'c', limit: 1 });
    expect(found.points[0]?.id).toBe(2);
    expect((await shoal.client.count('a1', { exact: true })).count).toBe(2);
    const scrolled = resultOf<{ points: { id: number }[] }>(await call(shoal.server.url, 'POST', '/collections/a2/points/scroll', {}));
    expect(scrolled.points.map((p) => p.id)).toEqual([1, 2]);
  });

  it('answers 404 for an alias to a missing collection and for a missing alias', async () => {
    const status = await failureStatus(shoal.client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'missing', alias_name: 'x' } }] }));
    expect(status).toBe(404);
    expect(await failureStatus(shoal.client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'never' } }] }))).toBe(404);
    expect((await aliasNames()).map(([a]) => a)).not.toContain('x');
  });

  it('drops the aliases of a deleted collection', async () => {
    await shoal.client.createCollection('short_lived', { vectors: { size: 2, distance: 'Dot' } });
    await shoal.client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'short_lived', alias_name: 'sl' } }] });
    await shoal.client.deleteCollection('short_lived');
    expect((await aliasNames()).map(([a]) => a)).not.toContain('sl');
    expect(await failureStatus(shoal.client.getCollection('sl'))).toBe(404);
  });
});

describe('restart', () => {
  it('keeps collections, their configuration, aliases and payload indexes across SIGKILL and restart', async () => {
    await shoal.client.createPayloadIndex('named', { field_name: 'via', field_schema: 'keyword', wait: true });
    const before = await shoal.client.getCollection('unnamed');
    const aliasesBefore = (await shoal.client.getAliases()).aliases;
    await shoal.killAndRestart();
    expect((await shoal.client.getCollections()).collections.map((c) => c.name).sort()).toEqual(['named', 'unnamed']);
    const after = await shoal.client.getCollection('unnamed');
    expect(after.config).toEqual(before.config);
    expect((await shoal.client.getAliases()).aliases).toEqual(aliasesBefore);
    const named = await shoal.client.getCollection('a1');
    expect(named.points_count).toBe(2);
    expect(named.payload_schema['via']).toMatchObject({ data_type: 'keyword', points: 1 });
    const viaAlias = await shoal.client.retrieve('a2', { ids: [2], with_payload: true });
    expect(viaAlias[0]?.payload).toEqual({ via: 'alias' });
  });
});
