import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '@shoal/common';
import { parseAliasActions, parseCreateFieldIndex, parseUpdateCollection } from './admin.js';
import { DEFAULT_HNSW, DEFAULT_OPTIMIZERS, DEFAULT_WAL, parseCreateCollection } from './collection.js';
import { failure } from './test-support.js';

const L = DEFAULT_LIMITS;

describe('parseCreateCollection', () => {
  it('reads one unnamed vector and fills Qdrant defaults', () => {
    const c = parseCreateCollection({ vectors: { size: 4, distance: 'Cosine' } }, L);
    expect(c.unnamedVectors).toBe(true);
    expect(c.vectors.get('')).toEqual({ size: 4, distance: 'Cosine', onDisk: null, datatype: null });
    expect(c.hnsw).toEqual(DEFAULT_HNSW);
    expect(c.optimizers).toEqual(DEFAULT_OPTIMIZERS);
    expect(c.wal).toEqual(DEFAULT_WAL);
    expect([c.shardNumber, c.replicationFactor, c.writeConsistencyFactor, c.onDiskPayload]).toEqual([1, 1, 1, true]);
  });

  it('reads named vectors with their own hnsw and quantization', () => {
    const c = parseCreateCollection({
      vectors: {
        image: { size: 3, distance: 'Dot', on_disk: true, datatype: 'float16', hnsw_config: { m: 32 } },
        text: { size: 2, distance: 'Manhattan', quantization_config: { scalar: { type: 'int8', quantile: 0.99 } } },
      },
      hnsw_config: { ef_construct: 200 },
      optimizers_config: { indexing_threshold: 0 },
      wal_config: { wal_capacity_mb: 8 },
      quantization_config: { binary: { always_ram: true } },
      metadata: { owner: 'me' },
    }, L);
    expect(c.unnamedVectors).toBe(false);
    expect(c.vectors.get('image')).toEqual({ size: 3, distance: 'Dot', onDisk: true, datatype: 'float16' });
    expect(c.vectorOverrides.get('image')?.hnsw_config).toEqual({ m: 32 });
    expect(c.vectorOverrides.get('text')?.quantization_config).toEqual({ scalar: { type: 'int8', quantile: 0.99 } });
    expect(c.hnsw.ef_construct).toBe(200);
    expect(c.optimizers.indexing_threshold).toBe(0);
    expect(c.wal.wal_capacity_mb).toBe(8);
    expect(c.quantization).toEqual({ binary: { always_ram: true } });
    expect(c.metadata).toEqual({ owner: 'me' });
  });

  it('rejects sizes out of range with 422 and bad types with 400', () => {
    expect(failure(() => parseCreateCollection({ vectors: { size: 0, distance: 'Dot' } }, L)).message).toBe(
      'Validation error in JSON body: [vectors.size: value 0 invalid, must be 1 or larger]',
    );
    expect(failure(() => parseCreateCollection({ vectors: { size: 65537, distance: 'Dot' } }, L)).kind).toBe('validation');
    const e = failure(() => parseCreateCollection({ vectors: { size: '4', distance: 'Dot' } }, L));
    expect(e.kind).toBe('bad_request');
    expect(e.message).toBe('Format error in JSON body: vectors.size: invalid type: string "4", expected an unsigned integer');
    expect(failure(() => parseCreateCollection({ vectors: { size: 4, distance: 'L2' } }, L)).message).toMatch(/vectors.distance: unknown variant `L2`/);
    expect(failure(() => parseCreateCollection({ hnsw_config: { ef_construct: 2 } }, L)).kind).toBe('validation');
    expect(failure(() => parseCreateCollection({ quantization_config: { scalar: { type: 'int4' } } }, L)).kind).toBe('bad_request');
  });

  it('declines features this node does not have, naming them', () => {
    expect(failure(() => parseCreateCollection({ sparse_vectors: { s: {} } }, L)).message).toMatch(/sparse_vectors is not supported/);
    expect(failure(() => parseCreateCollection({ vectors: { size: 2, distance: 'Dot', multivector_config: { comparator: 'max_sim' } } }, L)).kind).toBe('unsupported');
  });
});

describe('parseUpdateCollection', () => {
  it('keeps only the parts given', () => {
    const p = parseUpdateCollection({ optimizers_config: { indexing_threshold: 100 }, params: { replication_factor: 2 }, quantization_config: 'Disabled' }, L);
    expect(p.optimizers).toEqual({ indexing_threshold: 100 });
    expect(p.params).toEqual({ replicationFactor: 2, writeConsistencyFactor: null, onDiskPayload: null });
    expect(p.quantization).toBe('disabled');
    expect(p.hnsw).toBeNull();
    expect(p.vectors).toBeNull();
  });
});

describe('parseAliasActions', () => {
  it('reads create, delete and rename', () => {
    const actions = parseAliasActions({ actions: [
      { create_alias: { collection_name: 'c', alias_name: 'a' } },
      { delete_alias: { alias_name: 'b' } },
      { rename_alias: { old_alias_name: 'a', new_alias_name: 'z' } },
    ] }, L);
    expect(actions).toEqual([
      { kind: 'create', collection: 'c', alias: 'a' },
      { kind: 'delete', alias: 'b' },
      { kind: 'rename', oldAlias: 'a', newAlias: 'z' },
    ]);
  });

  it('rejects unknown actions and missing fields', () => {
    expect(failure(() => parseAliasActions({ actions: [{ drop_alias: {} }] }, L)).kind).toBe('bad_request');
    expect(failure(() => parseAliasActions({ actions: [{ create_alias: { alias_name: 'a' } }] }, L)).message).toBe(
      'Format error in JSON body: actions[0].create_alias: missing field `collection_name`',
    );
  });
});

describe('parseCreateFieldIndex', () => {
  it('accepts a type name or a params object', () => {
    expect(parseCreateFieldIndex({ field_name: 'city', field_schema: 'keyword' }).params.type).toBe('keyword');
    const i = parseCreateFieldIndex({ field_name: 'n', field_schema: { type: 'integer', lookup: false, range: true } });
    expect(i.params).toMatchObject({ type: 'integer', lookup: false, range: true });
  });

  it('declines index types that come later and rejects unknown ones', () => {
    expect(failure(() => parseCreateFieldIndex({ field_name: 'g', field_schema: 'geo' })).kind).toBe('unsupported');
    expect(failure(() => parseCreateFieldIndex({ field_name: 'g', field_schema: 'blob' })).kind).toBe('bad_request');
    expect(failure(() => parseCreateFieldIndex({ field_schema: 'keyword' })).message).toMatch(/missing field `field_name`/);
  });
});

describe('quantization_config', () => {
  const create = (q: unknown): unknown => parseCreateCollection({ vectors: { size: 8, distance: 'Cosine' }, quantization_config: q }, L).quantization;

  it('keeps every config the dense index builds, as given', () => {
    for (const q of [
      { scalar: { type: 'int8' } },
      { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
      { scalar: { type: 'int8', memory: 'pinned' } },
      { binary: {} },
      { binary: { always_ram: true, encoding: 'one_bit', query_encoding: 'default' } },
      { binary: { encoding: 'two_bits', query_encoding: 'binary' } },
      { product: { compression: 'x4' } },
      { product: { compression: 'x64', always_ram: false } },
    ]) {
      expect(create(q)).toEqual(q);
    }
  });

  it('refuses what the index cannot build with 400, at create and at PATCH (collection and vector)', () => {
    for (const q of [
      { binary: { encoding: 'one_and_half_bits' } },
      { binary: { query_encoding: 'scalar8bits' } },
      { binary: { query_encoding: 'scalar4bits' } },
      { turbo: {} },
    ]) {
      const atCreate = failure(() => create(q));
      expect(atCreate.kind).toBe('unsupported');
      expect(atCreate.message).toMatch(/quantization_config\.(binary|turbo)/);
      expect(failure(() => parseUpdateCollection({ quantization_config: q }, L)).kind).toBe('unsupported');
      expect(failure(() => parseUpdateCollection({ vectors: { '': { quantization_config: q } } }, L)).kind).toBe('unsupported');
      const named = { vectors: { text: { size: 4, distance: 'Dot', quantization_config: q } } };
      expect(failure(() => parseCreateCollection(named, L)).kind).toBe('unsupported');
    }
  });

  it('answers malformed configs in Qdrant\'s words: wrong variants 400, out of range 422', () => {
    expect(failure(() => create({ product: { compression: 'x2' } })).message).toMatch(/quantization_config.product.compression: unknown variant `x2`/);
    expect(failure(() => create({ product: {} })).message).toMatch(/missing field `compression`/);
    expect(failure(() => create({ binary: { encoding: 'three_bits' } })).kind).toBe('bad_request');
    expect(failure(() => create({ scalar: { type: 'int8', memory: 'disk' } })).kind).toBe('bad_request');
    expect(failure(() => create({ scalar: { type: 'int8', quantile: 0.4 } })).kind).toBe('validation');
    expect(failure(() => create({ scalar: { type: 'int8' }, binary: {} })).kind).toBe('bad_request');
    expect(failure(() => create({ lattice: {} })).message).toMatch(/unknown variant `lattice`/);
  });
});
