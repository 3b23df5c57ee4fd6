import { describe, expect, it } from 'vitest';
import type { Filter, PointOperation } from '@shoal/common';
import * as wire from './wire.js';

describe('Points call bodies', () => {
  it('carry a write exactly: float32 vectors, ids and payload integers beyond 2^53, the lead and its budget', () => {
    const op: PointOperation = {
      kind: 'upsert',
      points: [{ id: 2n ** 63n + 5n, vectors: new Map([['', Float32Array.from([0.1, -1e-30, 3.4e38])]]), payload: { n: 2n ** 60n + 1n, s: 'é', nested: { a: [1, null, true] } } }],
    };
    const back = wire.decodeUpdate(wire.encodeUpdate({ lead: 'strong', leadTimeoutMs: 1234.5, op }));
    expect(back.lead).toBe('strong');
    expect(back.leadTimeoutMs).toBe(1234.5);
    expect(back.op).toEqual(op);
    expect(wire.decodeUpdate(wire.encodeUpdate({ lead: null, leadTimeoutMs: null, op })).lead).toBeNull();
  });

  it('carry reads and their answers exactly', () => {
    const filter: Filter = { must: [{ kind: 'has_id', ids: [1, 2n ** 64n - 1n, '8f5f3c9e-1d2b-4c3a-9e8f-0a1b2c3d4e5f'] }], should: [], mustNot: [], minShould: null };
    const params = {
      vectorName: 'v', vector: Float32Array.from([Math.fround(0.3), Math.fround(-0.7)]), filter, limit: 3, offset: 0, scoreThreshold: null,
      withPayload: { kind: 'include' as const, keys: ['a'] }, withVector: ['v'], excludeIds: [9],
    };
    const search = wire.decodeSearch(wire.encodeSearch(params));
    expect(search).toEqual(params);
    const scored = [{ id: 2n ** 63n, payload: { a: 1 }, vectors: new Map([['v', Float32Array.from([Math.fround(0.1)])]]), score: 0.123456789 }];
    expect(wire.decodeScored(wire.encodeScored(scored))).toEqual(scored);
    const page = { points: [{ id: 'x', payload: null, vectors: null }], nextOffset: 2n ** 62n };
    expect(wire.decodeScrollPage(wire.encodeScrollPage(page))).toEqual(page);
    expect(wire.decodeCount(wire.encodeCount(filter))).toEqual(filter);
    expect(wire.decodeFacetHits(wire.encodeFacetHits([{ value: 2n ** 55n, count: 3 }]))).toEqual([{ value: 2n ** 55n, count: 3 }]);
  });

  it('refuses malformed bytes from a peer as unavailable', () => {
    expect(() => wire.decodeRecords(new Uint8Array([0xff, 0x00]))).toThrow(/malformed records/);
  });
});
