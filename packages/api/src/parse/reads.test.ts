import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type VectorParams } from '@shoal/common';
import { parseQuery, parseQueryBatch, parseSearch, parseSearchBatch } from './query.js';
import { parseCount, parseFacet, parseRetrieve, parseScroll } from './reads.js';
import { failure } from './test-support.js';

const L = DEFAULT_LIMITS;
const vp = (size: number): VectorParams => ({ size, distance: 'Dot', onDisk: null, datatype: null });
const UNNAMED = new Map([['', vp(2)]]);
const NAMED = new Map([['image', vp(2)]]);

describe('retrieve, scroll, count, facet', () => {
  it('uses Qdrant defaults', () => {
    expect(parseRetrieve({ ids: [1] }, L)).toEqual({ ids: [1], withPayload: { kind: 'all' }, withVector: false });
    expect(parseScroll({}, L)).toEqual({ filter: null, offset: null, limit: 10, withPayload: { kind: 'all' }, withVector: false, orderBy: null });
    expect(parseCount({}, L)).toEqual({ filter: null, exact: true });
    expect(parseFacet({ key: 'city' }, L)).toEqual({ key: 'city', filter: null, limit: 10, exact: false });
  });

  it('reads with_payload and with_vector in every form', () => {
    expect(parseScroll({ with_payload: ['a'], with_vector: ['image'] }, L)).toMatchObject({ withPayload: { kind: 'include', keys: ['a'] }, withVector: ['image'] });
    expect(parseScroll({ with_payload: { exclude: ['b'] }, with_vector: true }, L)).toMatchObject({ withPayload: { kind: 'exclude', keys: ['b'] }, withVector: true });
    expect(parseScroll({ with_payload: { include: ['c'] } }, L).withPayload).toEqual({ kind: 'include', keys: ['c'] });
    expect(parseScroll({ with_payload: false }, L).withPayload).toEqual({ kind: 'none' });
    expect(failure(() => parseScroll({ with_payload: 3 }, L)).kind).toBe('bad_request');
  });

  it('reads order_by as a key or an object', () => {
    expect(parseScroll({ order_by: 'price' }, L).orderBy).toEqual({ key: 'price', direction: 'asc', startFrom: null });
    expect(parseScroll({ order_by: { key: 'at', direction: 'desc', start_from: '2024-01-01T00:00:00Z' } }, L).orderBy).toEqual({
      key: 'at', direction: 'desc', startFrom: Date.UTC(2024, 0, 1) * 1000,
    });
    expect(failure(() => parseScroll({ order_by: 'price', offset: 3 }, L)).kind).toBe('bad_request');
    expect(failure(() => parseScroll({ order_by: { key: 'p', direction: 'up' } }, L)).kind).toBe('bad_request');
  });

  it('answers limit 0 with 422 and a wrongly typed limit with 400', () => {
    expect(failure(() => parseScroll({ limit: 0 }, L)).message).toBe('Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]');
    expect(failure(() => parseScroll({ limit: 'ten' }, L)).message).toBe(
      'Format error in JSON body: limit: invalid type: string "ten", expected an unsigned integer',
    );
    expect(failure(() => parseFacet({ key: 'a', limit: 0 }, L)).kind).toBe('validation');
    expect(parseScroll({ limit: 100_000 }, L).limit).toBe(100_000);
  });
});

describe('parseQuery', () => {
  it('reads a vector, a point id, and {nearest}', () => {
    const v = parseQuery({ query: [1, 2], limit: 3, offset: 1, score_threshold: 0.5, params: { exact: true } }, '', UNNAMED, L);
    if (v.kind !== 'search') throw new Error('expected search');
    expect(Array.from(v.request.query.kind === 'vector' ? v.request.query.vector : [])).toEqual([1, 2]);
    expect(v.request).toMatchObject({ vectorName: '', limit: 3, offset: 1, scoreThreshold: 0.5, exact: true, withPayload: { kind: 'none' }, withVector: false });
    const byId = parseQuery({ query: { nearest: 18446744073709551615n }, using: 'image' }, '', NAMED, L);
    expect(byId).toMatchObject({ kind: 'search', request: { vectorName: 'image', limit: 10, query: { kind: 'point', id: 2n ** 64n - 1n } } });
  });

  it('serves a query without `query` as points in id order', () => {
    expect(parseQuery({ limit: 2, offset: 3 }, '', UNNAMED, L)).toMatchObject({ kind: 'scroll', skip: 3, request: { limit: 5, offset: null } });
  });

  it('declines the query kinds this node does not serve, naming them', () => {
    expect(failure(() => parseQuery({ prefetch: [{ query: [1, 2] }], query: { fusion: 'rrf' } }, '', UNNAMED, L)).message).toBe(
      'query `prefetch` is not supported by this node yet',
    );
    for (const q of [{ recommend: { positive: [1] } }, { discover: {} }, { context: [] }, { order_by: 'a' }, { fusion: 'rrf' }, { sample: 'random' }, { formula: {} }]) {
      expect(failure(() => parseQuery({ query: q }, '', UNNAMED, L)).kind).toBe('unsupported');
    }
  });

  it('checks the vector against `using`', () => {
    expect(failure(() => parseQuery({ query: [1, 2, 3] }, '', UNNAMED, L)).message).toBe('Wrong input: Vector dimension error: expected dim: 2, got 3');
    expect(failure(() => parseQuery({ query: [1, 2], using: 'audio' }, '', NAMED, L)).message).toBe('Wrong input: Not existing vector name error: audio');
    expect(failure(() => parseQuery({ query: [1, 2], limit: 0 }, '', UNNAMED, L)).kind).toBe('validation');
  });

  it('reads batches', () => {
    expect(parseQueryBatch({ searches: [{ query: [1, 2] }, {}] }, UNNAMED, L).map((q) => q.kind)).toEqual(['search', 'scroll']);
    expect(failure(() => parseQueryBatch({}, UNNAMED, L)).message).toMatch(/missing field `searches`/);
  });
});

describe('parseSearch (legacy)', () => {
  it('reads the unnamed and {name, vector} forms; limit is required', () => {
    expect(parseSearch({ vector: [1, 2], limit: 1 }, '', UNNAMED, L)).toMatchObject({ vectorName: '', limit: 1 });
    expect(parseSearch({ vector: { name: 'image', vector: [1, 2] }, limit: 2, with_payload: true }, '', NAMED, L)).toMatchObject({
      vectorName: 'image', limit: 2, withPayload: { kind: 'all' },
    });
    expect(failure(() => parseSearch({ vector: [1, 2] }, '', UNNAMED, L)).message).toMatch(/missing field `limit`/);
    expect(parseSearchBatch({ searches: [{ vector: [1, 2], limit: 1 }] }, UNNAMED, L)).toHaveLength(1);
  });
});

describe('search params', () => {
  const params = (p: unknown): unknown => {
    const r = parseSearch({ vector: [1, 2], limit: 5, params: p }, '', UNNAMED, L);
    return { exact: r.exact, hnswEf: r.hnswEf, indexedOnly: r.indexedOnly, quantization: r.quantization };
  };

  it('reads exact, hnsw_ef, indexed_only and quantization, with Qdrant defaults', () => {
    expect(parseSearch({ vector: [1, 2], limit: 5 }, '', UNNAMED, L)).toMatchObject({ exact: false, hnswEf: null, indexedOnly: false, quantization: null });
    expect(params({})).toEqual({ exact: false, hnswEf: null, indexedOnly: false, quantization: null });
    expect(params({ exact: true, hnsw_ef: 128, indexed_only: true })).toEqual({ exact: true, hnswEf: 128, indexedOnly: true, quantization: null });
    expect(params({ quantization: {} })).toMatchObject({ quantization: { ignore: false, rescore: null, oversampling: null } });
    expect(params({ quantization: { ignore: true, rescore: false, oversampling: 2.4 } })).toMatchObject({
      quantization: { ignore: true, rescore: false, oversampling: 2.4 },
    });
    expect(params({ quantization: { rescore: null, oversampling: null } })).toMatchObject({ quantization: { ignore: false, rescore: null, oversampling: null } });
  });

  it('takes them in query requests too', () => {
    const q = parseQuery({ query: [1, 2], params: { quantization: { oversampling: 3 } } }, '', UNNAMED, L);
    expect(q).toMatchObject({ request: { quantization: { ignore: false, rescore: null, oversampling: 3 } } });
  });

  it('refuses oversampling below 1 with 422 and wrong types with 400', () => {
    expect(failure(() => params({ quantization: { oversampling: 0.5 } })).message).toBe(
      'Validation error in JSON body: [params.quantization.oversampling: value 0.5 invalid, must be 1 or larger]',
    );
    expect(failure(() => params({ quantization: { rescore: 'yes' } })).kind).toBe('bad_request');
    expect(failure(() => params({ quantization: true })).kind).toBe('bad_request');
    expect(failure(() => params({ indexed_only: 1 })).kind).toBe('bad_request');
  });
});
