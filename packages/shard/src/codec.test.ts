import { describe, it, expect } from 'vitest';
import type { PointOperation } from '@shoal/common';
import { decodeOperation, decodeRecord, encodeOperation } from './codec.js';

const big = 2n ** 63n + 5n;
const filter = {
  must: [{ kind: 'match', key: 'n', value: -(2n ** 60n) }, { kind: 'range', key: 'x', range: { gt: 1.5, gte: null, lt: null, lte: 1e300 } }],
  should: [],
  mustNot: [{ kind: 'has_id', ids: [1, big, '0bdb8f3e-5e4c-4a7a-9c1b-1a2b3c4d5e6f'] }],
  minShould: null,
} as const;

const ops: PointOperation[] = [
  {
    kind: 'upsert',
    points: [
      { id: 7, vectors: new Map([['', Float32Array.from([0.1, -2, 3e-40])], ['img', Float32Array.from([1, 2])]]), payload: { a: 1, big, f: 1e20, s: 'é "q" \\ \u2028', __proto__x: null, nested: { arr: [true, null, -0.5] } } },
      { id: big, vectors: new Map(), payload: null },
    ],
  },
  { kind: 'delete_points', selector: { kind: 'filter', filter } },
  { kind: 'set_payload', selector: { kind: 'ids', ids: [1, 2] }, payload: { k: 'v' }, key: 'a.b[0]' },
  { kind: 'overwrite_payload', selector: { kind: 'ids', ids: [3] }, payload: {} },
  { kind: 'delete_payload', selector: { kind: 'ids', ids: [3] }, keys: ['a', 'b.c'] },
  { kind: 'clear_payload', selector: { kind: 'ids', ids: ['0bdb8f3e-5e4c-4a7a-9c1b-1a2b3c4d5e6f'] } },
  { kind: 'update_vectors', points: [{ id: 9, vectors: new Map([['', Float32Array.from([Number.MAX_VALUE, -0])]]) }] },
  { kind: 'delete_vectors', selector: { kind: 'ids', ids: [9] }, vectorNames: ['img'] },
  { kind: 'create_field_index', field: 'city', params: { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: true, onDisk: null } },
  { kind: 'delete_field_index', field: 'city' },
];

describe('operation codec', () => {
  it('round-trips every operation kind exactly (bigints, unsafe floats, vectors bit for bit)', () => {
    for (const op of ops) expect(decodeOperation(encodeOperation(op))).toEqual(op);
  });

  it('keeps a float beyond 2^53 a number and a big integer a bigint', () => {
    const decoded = decodeOperation(encodeOperation(ops[0] as PointOperation));
    const payload = decoded.kind === 'upsert' ? decoded.points[0]?.payload : null;
    expect(typeof payload?.f).toBe('number');
    expect(payload?.big).toBe(big);
  });

  it('stores vectors as raw float32, not as JSON text', () => {
    const vector = new Float32Array(1000).map((_, i) => Math.sin(i) / 3);
    const op: PointOperation = { kind: 'upsert', points: [{ id: 1, vectors: new Map([['', vector]]), payload: null }] };
    const bytes = encodeOperation(op);
    expect(bytes.length).toBeLessThan(4000 + 200);
    const back = decodeOperation(bytes);
    expect(back.kind === 'upsert' && back.points[0]?.vectors.get('')).toEqual(vector);
  });
});

describe('operation codec, clock tags (format 2)', () => {
  const tag = { peer: 2 ** 40 + 7, epoch: 3, clock: 12, tick: 2 ** 33 + 1 };

  it('round-trips a tag with every operation kind; an untagged record has none', () => {
    for (const op of ops) {
      expect(decodeRecord(encodeOperation(op, tag))).toEqual({ op, tag });
      expect(decodeRecord(encodeOperation(op))).toEqual({ op, tag: null });
      expect(decodeOperation(encodeOperation(op, tag))).toEqual(op);
    }
  });

  it('still decodes a format 1 record (written before tags existed)', () => {
    // Built by hand in format 1's layout: version 1, flags 0, header length, JSON, pad, no vectors.
    const json = new TextEncoder().encode('{"kind":"delete_points","selector":{"kind":"ids","ids":[1,2]}}');
    const headerEnd = (8 + json.length + 3) & ~3;
    const bytes = new Uint8Array(headerEnd + 4);
    bytes[0] = 1;
    new DataView(bytes.buffer).setUint32(4, json.length, true);
    bytes.set(json, 8);
    expect(decodeRecord(bytes)).toEqual({ op: { kind: 'delete_points', selector: { kind: 'ids', ids: [1, 2] } }, tag: null });
    // Flag bit 1 means nothing in format 1: no tag block is read.
    bytes[1] = 2;
    expect(decodeRecord(bytes).tag).toBeNull();
  });

  it('refuses an unknown format and a tag field beyond 2^53', () => {
    const bytes = encodeOperation(ops[1] as PointOperation, tag);
    const future = bytes.slice();
    future[0] = 3;
    expect(() => decodeRecord(future)).toThrow(/unknown format 3/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(36, 0x0020_0000, true); // tick's high word: 2^53
    expect(() => decodeRecord(huge)).toThrow(/2\^53/);
  });
});
