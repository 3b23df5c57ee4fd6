import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type VectorParams } from '@shoal/common';
import {
  parseBatchOperations, parseDeletePayload, parseDeleteVectors, parsePathPointId, parsePointsSelector, parseSetPayload,
  parseUpdateVectors, parseUpsert,
} from './points.js';
import { failure } from './test-support.js';

const L = DEFAULT_LIMITS;
const vp = (size: number): VectorParams => ({ size, distance: 'Cosine', onDisk: null, datatype: null });
const UNNAMED = new Map([['', vp(3)]]);
const NAMED = new Map([['image', vp(2)], ['text', vp(3)]]);

describe('parseUpsert', () => {
  it('reads the points form with big ids, UUIDs and payloads', () => {
    const op = parseUpsert({ points: [
      { id: 18446744073709551615n, vector: [1, 2, 3], payload: { n: 9007199254740993n } },
      { id: '{550E8400-E29B-41D4-A716-446655440000}', vector: [0, 0, 1] },
    ] }, '', UNNAMED, L);
    expect(op.kind).toBe('upsert');
    if (op.kind !== 'upsert') return;
    expect(op.points[0]?.id).toBe(2n ** 64n - 1n);
    expect(op.points[0]?.payload).toEqual({ n: 2n ** 53n + 1n });
    expect(Array.from(op.points[0]?.vectors.get('') ?? [])).toEqual([1, 2, 3]);
    expect(op.points[1]?.id).toBe('550e8400-e29b-41d4-a716-446655440000');
    expect(op.points[1]?.payload).toBeNull();
  });

  it('reads the batch form with named vectors', () => {
    const op = parseUpsert({ batch: { ids: [1, 2], vectors: { image: [[1, 2], [3, 4]] }, payloads: [{ a: 1 }, null] } }, '', NAMED, L);
    if (op.kind !== 'upsert') throw new Error('expected upsert');
    expect(op.points.map((p) => p.id)).toEqual([1, 2]);
    expect(Array.from(op.points[1]?.vectors.get('image') ?? [])).toEqual([3, 4]);
    expect(op.points[1]?.vectors.has('text')).toBe(false);
    expect(op.points[0]?.payload).toEqual({ a: 1 });
  });

  it('answers Qdrant\'s messages for wrong dimensions and unknown names', () => {
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, 2] }] }, '', UNNAMED, L)).message).toBe(
      'Wrong input: Vector dimension error: expected dim: 3, got 2',
    );
    const e = failure(() => parseUpsert({ points: [{ id: 1, vector: { audio: [1] } }] }, '', NAMED, L));
    expect([e.kind, e.message]).toEqual(['bad_request', 'Wrong input: Not existing vector name error: audio']);
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, 2] }] }, '', NAMED, L)).message).toBe('Wrong input: Not existing vector name error: ');
  });

  it('rejects invalid ids, non-numbers in vectors and float32 overflow with 400', () => {
    expect(failure(() => parseUpsert({ points: [{ id: -5, vector: [1, 2, 3] }] }, '', UNNAMED, L)).message).toBe(
      'Format error in JSON body: points[0].id: value -5 is not a valid point ID, valid values are either an unsigned integer or a UUID',
    );
    expect(failure(() => parseUpsert({ points: [{ id: 'abc', vector: [1, 2, 3] }] }, '', UNNAMED, L)).kind).toBe('bad_request');
    expect(failure(() => parseUpsert({ points: [{ id: 2n ** 64n, vector: [1, 2, 3] }] }, '', UNNAMED, L)).kind).toBe('bad_request');
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, null, 3] }] }, '', UNNAMED, L)).message).toBe(
      'Format error in JSON body: points[0].vector[1]: invalid type: null, expected f32',
    );
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, '2', 3] }] }, '', UNNAMED, L)).kind).toBe('bad_request');
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, 1e39, 3] }] }, '', UNNAMED, L)).message).toMatch(/out of range for f32/);
    expect(failure(() => parseUpsert({ points: [{ id: 1 }] }, '', UNNAMED, L)).message).toMatch(/missing field `vector`/);
    expect(failure(() => parseUpsert({}, '', UNNAMED, L)).kind).toBe('bad_request');
  });

  it('rejects a batch whose vectors do not match its ids, and oversize batches', () => {
    expect(failure(() => parseUpsert({ batch: { ids: [1, 2], vectors: [[1, 2, 3]] } }, '', UNNAMED, L)).kind).toBe('validation');
    const small = { ...L, batchPointsMax: 1 };
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [1, 2, 3] }, { id: 2, vector: [1, 2, 3] }] }, '', UNNAMED, small)).kind).toBe('validation');
  });

  it('declines sparse and multi vectors', () => {
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: { text: { indices: [1], values: [1] } } }] }, '', NAMED, L)).kind).toBe('unsupported');
    expect(failure(() => parseUpsert({ points: [{ id: 1, vector: [[1, 2, 3]] }] }, '', UNNAMED, L)).kind).toBe('unsupported');
  });
});

describe('selectors and payload operations', () => {
  it('reads ids or a filter', () => {
    expect(parsePointsSelector({ points: [1, 2] }, '', L)).toEqual({ kind: 'ids', ids: [1, 2] });
    expect(parsePointsSelector({ filter: { must: [] } }, '', L).kind).toBe('filter');
    expect(failure(() => parsePointsSelector({}, '', L)).kind).toBe('bad_request');
  });

  it('reads set (with key), overwrite, delete payload', () => {
    expect(parseSetPayload({ payload: { a: 1 }, points: [1], key: 'x.y' }, '', L, false)).toEqual({
      kind: 'set_payload', selector: { kind: 'ids', ids: [1] }, payload: { a: 1 }, key: 'x.y',
    });
    expect(parseSetPayload({ payload: { a: 1 }, points: [1] }, '', L, true).kind).toBe('overwrite_payload');
    expect(parseDeletePayload({ keys: ['a'], filter: {} }, '', L)).toMatchObject({ kind: 'delete_payload', keys: ['a'] });
    expect(failure(() => parseSetPayload({ payload: [1], points: [1] }, '', L, false)).message).toBe(
      'Format error in JSON body: payload: invalid type: sequence, expected a map',
    );
  });

  it('reads vector updates and deletions, checking names', () => {
    const op = parseUpdateVectors({ points: [{ id: 1, vector: { image: [1, 2] } }] }, '', NAMED, L);
    expect(op.kind).toBe('update_vectors');
    expect(failure(() => parseUpdateVectors({ points: [] }, '', NAMED, L)).kind).toBe('validation');
    expect(parseDeleteVectors({ points: [1], vector: ['text'] }, '', NAMED, L)).toMatchObject({ kind: 'delete_vectors', vectorNames: ['text'] });
    expect(failure(() => parseDeleteVectors({ points: [1], vector: ['nope'] }, '', NAMED, L)).message).toBe('Wrong input: Not existing vector name error: nope');
  });

  it('reads /points/batch operations in order', () => {
    const ops = parseBatchOperations({ operations: [
      { upsert: { points: [{ id: 1, vector: [1, 2, 3] }] } },
      { delete: { points: [2] } },
      { set_payload: { payload: { a: 1 }, points: [1] } },
      { overwrite_payload: { payload: { b: 1 }, points: [1] } },
      { delete_payload: { keys: ['a'], points: [1] } },
      { clear_payload: { points: [1] } },
      { update_vectors: { points: [{ id: 1, vector: [3, 2, 1] }] } },
      { delete_vectors: { points: [1], vector: [''] } },
    ] }, UNNAMED, L);
    expect(ops.map((o) => o.kind)).toEqual(['upsert', 'delete_points', 'set_payload', 'overwrite_payload', 'delete_payload', 'clear_payload', 'update_vectors', 'delete_vectors']);
    expect(failure(() => parseBatchOperations({ operations: [{ explode: {} }] }, UNNAMED, L)).message).toMatch(/operations\[0\]: unknown variant `explode`/);
  });

  it('reads ids from the path', () => {
    expect(parsePathPointId('18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(parsePathPointId('42')).toBe(42);
    expect(parsePathPointId('550e8400e29b41d4a716446655440000')).toBe('550e8400-e29b-41d4-a716-446655440000');
    expect(failure(() => parsePathPointId('x1')).kind).toBe('bad_request');
  });
});
