import { describe, expect, it } from 'vitest';
import { ShoalError, comparePointIds } from '@shoal/common';
import type { Payload, PointId, Record_ } from '@shoal/common';
import { createSegment, loadSegment } from './load.js';
import type { Segment } from './segment.js';
import { indexParams, int, must, point, rng, schemaOf, space } from './test-support.js';

const NONE = { kind: 'none' } as const;
const ALL = { kind: 'all' } as const;
const ids = (records: readonly Record_[]): PointId[] => records.map((r) => r.id);

function mixedIds(count: number, seed: number): PointId[] {
  const r = rng(seed);
  const out = new Set<PointId>();
  while (out.size < count) {
    const roll = r();
    if (roll < 0.6) out.add(int(r, 0, 1_000_000));
    else if (roll < 0.7) out.add(BigInt(Number.MAX_SAFE_INTEGER) + BigInt(int(r, 1, 1_000_000)));
    else {
      const hex = Array.from({ length: 32 }, () => int(r, 0, 15).toString(16)).join('');
      out.add(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
    }
  }
  return [...out];
}

function scrollAll(segment: Segment, limit: number, filter: Parameters<Segment['count']>[0] = null): PointId[] {
  const seen: PointId[] = [];
  let offset: PointId | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = segment.scroll({ filter, offset, limit, withPayload: NONE, withVector: false });
    expect(page.points.length).toBeLessThanOrEqual(limit);
    seen.push(...ids(page.points));
    if (page.nextOffset === null) return seen;
    offset = page.nextOffset;
  }
  throw new Error('scroll did not end');
}

describe('scroll', () => {
  it('pages through every point exactly once, in id order, across inserts and deletes', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
    const all = mixedIds(2000, 5);
    const r = rng(6);
    all.forEach((id, i) => segment.apply({ kind: 'upsert', points: [point(id, [1, 0], { even: i % 2 === 0 })] }));
    const sorted = [...all].sort(comparePointIds);
    expect(scrollAll(segment, 37)).toEqual(sorted);
    const gone = sorted.filter(() => r() < 0.3);
    segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: gone } });
    const left = sorted.filter((id) => !gone.includes(id));
    expect(scrollAll(segment, 100)).toEqual(left);
    const evens = left.filter((id) => all.indexOf(id) % 2 === 0);
    expect(scrollAll(segment, 11, must({ kind: 'match', key: 'even', value: true }))).toEqual(evens);
    // Ascending new ids keep the cached order; a smaller one forces a re-sort. Both stay exact.
    segment.apply({ kind: 'upsert', points: [point(3, [1, 0]), point('ffffffff-ffff-ffff-ffff-ffffffffffff', [1, 0])] });
    expect(scrollAll(segment, 500)).toEqual([...left, 3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'].sort(comparePointIds));
  });

  it('starts at the offset id inclusive and reports the next id', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
    for (const id of [10, 20, 30, 40]) segment.apply({ kind: 'upsert', points: [point(id, [1, 0])] });
    const page = segment.scroll({ filter: null, offset: 20, limit: 2, withPayload: NONE, withVector: false });
    expect(ids(page.points)).toEqual([20, 30]);
    expect(page.nextOffset).toBe(40);
    expect(segment.scroll({ filter: null, offset: 25, limit: 5, withPayload: NONE, withVector: false }).nextOffset).toBeNull();
  });

  it('survives compaction after mass deletes without changing what readers see', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
    segment.apply({ kind: 'create_field_index', field: 'k', params: indexParams('integer') });
    for (let id = 0; id < 10_000; id++) segment.apply({ kind: 'upsert', points: [point(id, [id % 7, 1], { k: id % 10 })] });
    segment.apply({ kind: 'delete_points', selector: { kind: 'filter', filter: must({ kind: 'range', key: 'k', range: { gt: null, gte: 2, lt: null, lte: null } }) } });
    expect(segment.count(null)).toBe(2000);
    expect(scrollAll(segment, 999)).toEqual(Array.from({ length: 10_000 }, (_, i) => i).filter((i) => i % 10 < 2));
    expect(segment.count(must({ kind: 'match', key: 'k', value: 1 }))).toBe(1000);
    expect(segment.payloadIndexes().get('k')?.points).toBe(2000);
  });
});

describe('order_by', () => {
  const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
  const prices: Record<number, Payload> = { 1: { price: 5 }, 2: { price: [1, 9] }, 3: { price: 5 }, 4: { price: 'x' }, 5: {}, 6: { price: 2.5 } };
  for (const [id, payload] of Object.entries(prices)) segment.apply({ kind: 'upsert', points: [point(Number(id), [1, 0], payload)] });

  it('needs a range index, with Qdrant\'s message', () => {
    const call = (): unknown => segment.scrollOrdered({ filter: null, orderBy: { key: 'price', direction: 'asc', startFrom: null }, limit: 10, withPayload: NONE, withVector: false });
    expect(call).toThrow(ShoalError);
    expect(call).toThrow('No range index for `order_by` key: `price`. Please create one to use `order_by`.');
  });

  it('orders by value (once per value), ties by id, from start_from inclusive', () => {
    segment.apply({ kind: 'create_field_index', field: 'price', params: indexParams('float') });
    const run = (direction: 'asc' | 'desc', startFrom: number | null, limit: number): [PointId, number][] =>
      segment.scrollOrdered({ filter: null, orderBy: { key: 'price', direction, startFrom }, limit, withPayload: NONE, withVector: false }).map((r) => [r.id, r.orderValue]);
    expect(run('asc', null, 10)).toEqual([[2, 1], [6, 2.5], [1, 5], [3, 5], [2, 9]]);
    expect(run('desc', null, 10)).toEqual([[2, 9], [1, 5], [3, 5], [6, 2.5], [2, 1]]);
    expect(run('asc', 5, 2)).toEqual([[1, 5], [3, 5]]);
    expect(run('desc', 5, 3)).toEqual([[1, 5], [3, 5], [6, 2.5]]);
    const filtered = segment.scrollOrdered({ filter: must({ kind: 'has_id', ids: [3, 6] }), orderBy: { key: 'price', direction: 'asc', startFrom: null }, limit: 10, withPayload: ALL, withVector: false });
    expect(filtered.map((r) => [r.id, r.payload])).toEqual([[6, { price: 2.5 }], [3, { price: 5 }]]);
  });

  it('sees writes made after the index was built', () => {
    const s = createSegment(schemaOf({ '': space(2, 'Dot') }));
    s.apply({ kind: 'create_field_index', field: 't', params: indexParams('integer') });
    const r = rng(3);
    const model = new Map<number, number>();
    for (let step = 0; step < 3000; step++) {
      const id = int(r, 0, 500);
      const t = int(r, 0, 100);
      s.apply({ kind: 'upsert', points: [point(id, [1, 0], { t })] });
      model.set(id, t);
      if (step % 300 === 0) {
        const expected = [...model].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 20);
        const got = s.scrollOrdered({ filter: null, orderBy: { key: 't', direction: 'desc', startFrom: null }, limit: 20, withPayload: NONE, withVector: false });
        expect(got.map((g) => [g.id, g.orderValue])).toEqual(expected);
      }
    }
  });
});

describe('facet', () => {
  it('counts points per value (once per point), largest first then by value, with a filter', () => {
    const segment = createSegment(schemaOf({ '': space(2, 'Dot') }));
    const payloads: Payload[] = [{ c: 'b' }, { c: ['a', 'a', 'b'] }, { c: 'a' }, { c: 'z', k: 1 }, { c: 7 }, { c: 'z', k: 1 }];
    payloads.forEach((p, id) => segment.apply({ kind: 'upsert', points: [point(id, [1, 0], p)] }));
    expect(() => segment.facet({ key: 'c', filter: null, limit: 10 })).toThrow('No appropriate index for faceting: `c`');
    segment.apply({ kind: 'create_field_index', field: 'c', params: indexParams('keyword') });
    expect(segment.facet({ key: 'c', filter: null, limit: 10 })).toEqual([
      { value: 'a', count: 2 }, { value: 'b', count: 2 }, { value: 'z', count: 2 },
    ]);
    expect(segment.facet({ key: 'c', filter: null, limit: 1 })).toEqual([{ value: 'a', count: 2 }]);
    expect(segment.facet({ key: 'c', filter: must({ kind: 'match', key: 'k', value: 1 }), limit: 10 })).toEqual([{ value: 'z', count: 2 }]);
    segment.apply({ kind: 'create_field_index', field: 'k', params: indexParams('float') });
    expect(() => segment.facet({ key: 'k', filter: null, limit: 10 })).toThrow(ShoalError);
    segment.apply({ kind: 'create_field_index', field: 'k', params: indexParams('integer') });
    expect(segment.facet({ key: 'k', filter: null, limit: 10 })).toEqual([{ value: 1, count: 2 }]);
  });
});

describe('payload operations', () => {
  const make = (): Segment => {
    const s = createSegment(schemaOf({ '': space(2, 'Dot'), img: space(3, 'Euclid') }));
    s.apply({ kind: 'upsert', points: [point(1, [1, 0], { a: 1, nested: { x: 1, list: [{ y: 1 }, { y: 2 }] } }), point(2, [0, 1], null)] });
    return s;
  };
  const payloadOf = (s: Segment, id: PointId): Payload | null => s.retrieve([id], ALL, false)[0]?.payload ?? null;

  it('set_payload merges at the top, null removes a key, and a nested key creates objects', () => {
    const s = make();
    expect(s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [1] }, payload: { b: 2, a: null }, key: null })).toEqual({ ok: true });
    expect(payloadOf(s, 1)).toEqual({ b: 2, nested: { x: 1, list: [{ y: 1 }, { y: 2 }] } });
    s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [1] }, payload: { z: 9 }, key: 'nested.list[].extra' });
    expect(payloadOf(s, 1)).toEqual({ b: 2, nested: { x: 1, list: [{ y: 1, extra: { z: 9 } }, { y: 2, extra: { z: 9 } }] } });
    s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [2] }, payload: { v: 1 }, key: 'p.q[2]' });
    expect(payloadOf(s, 2)).toEqual({ p: { q: [null, null, { v: 1 }] } });
    s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [1] }, payload: { w: 1 }, key: 'b.c' });
    expect(payloadOf(s, 1)?.['b']).toEqual({ c: { w: 1 } });
  });

  it('delete_payload removes key paths; overwrite and clear replace everything', () => {
    const s = make();
    s.apply({ kind: 'delete_payload', selector: { kind: 'ids', ids: [1] }, keys: ['nested.list[].y', 'a', 'missing.path'] });
    expect(payloadOf(s, 1)).toEqual({ nested: { x: 1, list: [{}, {}] } });
    s.apply({ kind: 'overwrite_payload', selector: { kind: 'filter', filter: must({ kind: 'has_id', ids: [1, 2] }) }, payload: { only: true } });
    expect([payloadOf(s, 1), payloadOf(s, 2)]).toEqual([{ only: true }, { only: true }]);
    s.apply({ kind: 'clear_payload', selector: { kind: 'ids', ids: [2] } });
    expect(payloadOf(s, 2)).toEqual({});
  });

  it('operations naming a missing id update the points that exist and report the missing one (as Qdrant)', () => {
    const s = make();
    const selector = { kind: 'ids' as const, ids: [1, 77] };
    expect(s.apply({ kind: 'set_payload', selector, payload: { q: 1 }, key: null })).toEqual({ ok: false, missing: [77] });
    expect(payloadOf(s, 1)).toMatchObject({ q: 1 });
    expect(s.apply({ kind: 'clear_payload', selector })).toEqual({ ok: false, missing: [77] });
    expect(payloadOf(s, 1)).toEqual({});
    expect(s.apply({ kind: 'update_vectors', points: [{ id: 77, vectors: new Map([['', Float32Array.from([1, 1])]]) }] })).toEqual({ ok: false, missing: [77] });
    expect(s.has(77)).toBe(false);
    expect(s.apply({ kind: 'delete_vectors', selector, vectorNames: [''] })).toEqual({ ok: false, missing: [77] });
    expect(s.retrieve([1], NONE, true)[0]?.vectors?.has('')).toBe(false);
    expect(s.apply({ kind: 'delete_points', selector })).toEqual({ ok: true });
    expect(s.has(1)).toBe(false);
  });

  it('keeps bigint payload values exact and matches them', () => {
    const s = make();
    const big = 18446744073709551615n;
    s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [2] }, payload: { big, list: [big, 1] }, key: null });
    expect(payloadOf(s, 2)).toEqual({ big, list: [big, 1] });
    expect(s.count(must({ kind: 'match', key: 'list', value: big }))).toBe(1);
    expect(s.count(must({ kind: 'match', key: 'big', value: big - 1n }))).toBe(0);
  });

  it('upsert replaces vectors and payload; update_vectors and delete_vectors touch only the named ones', () => {
    const s = make();
    s.apply({ kind: 'update_vectors', points: [{ id: 1, vectors: new Map([['img', Float32Array.from([1, 2, 3])]]) }] });
    expect([...(s.retrieve([1], NONE, true)[0]?.vectors?.keys() ?? [])]).toEqual(['', 'img']);
    s.apply({ kind: 'delete_vectors', selector: { kind: 'ids', ids: [1] }, vectorNames: [''] });
    expect([...(s.retrieve([1], NONE, true)[0]?.vectors?.keys() ?? [])]).toEqual(['img']);
    expect(s.count(must({ kind: 'has_vector', vector: '' }))).toBe(1);
    s.apply({ kind: 'upsert', points: [point(1, [5, 5])] });
    const [record] = s.retrieve([1], ALL, true);
    expect(record?.payload).toEqual({});
    expect([...(record?.vectors?.keys() ?? [])]).toEqual(['']);
    expect(s.stats().vectors).toEqual(new Map([['', 2], ['img', 0]]));
  });

  it('with_payload include / exclude select key paths; retrieve keeps the requested order', () => {
    const s = make();
    expect(s.retrieve([2, 99, 1], { kind: 'include', keys: ['nested.list[].y', 'a'] }, false).map((r) => [r.id, r.payload])).toEqual([
      [2, {}],
      [1, { a: 1, nested: { list: [{ y: 1 }, { y: 2 }] } }],
    ]);
    expect(s.retrieve([1], { kind: 'exclude', keys: ['nested.x', 'a'] }, false)[0]?.payload).toEqual({ nested: { list: [{ y: 1 }, { y: 2 }] } });
    expect(payloadOf(s, 1)).toEqual({ a: 1, nested: { x: 1, list: [{ y: 1 }, { y: 2 }] } });
    expect(s.retrieve([1], NONE, ['img'])[0]?.vectors).toEqual(new Map());
  });
});

describe('payload index bookkeeping', () => {
  it('counts only points with values of the index type, and drops the index on request', () => {
    const s = createSegment(schemaOf({ '': space(2, 'Dot') }));
    const values: Payload[] = [{ n: 1 }, { n: 'one' }, { n: [2, 3] }, { n: 1.5 }, {}, { n: null }];
    values.forEach((p, id) => s.apply({ kind: 'upsert', points: [point(id, [1, 0], p)] }));
    s.apply({ kind: 'create_field_index', field: 'n', params: indexParams('integer') });
    s.apply({ kind: 'create_field_index', field: 'n2', params: indexParams('float') });
    expect(s.payloadIndexes().get('n')).toEqual({ params: indexParams('integer'), points: 2 });
    s.apply({ kind: 'upsert', points: [point(10, [1, 0], { n: 5, n2: 0.5 })] });
    expect(s.payloadIndexes().get('n')?.points).toBe(3);
    expect(s.payloadIndexes().get('n2')?.points).toBe(1);
    // A fractional number under an integer index must still satisfy ranges (checked per point).
    expect(s.count(must({ kind: 'range', key: 'n', range: { gt: 1, gte: null, lt: 2, lte: null } }))).toBe(1);
    s.apply({ kind: 'delete_field_index', field: 'n' });
    expect([...s.payloadIndexes().keys()]).toEqual(['n2']);
  });
});

describe('serialize / loadSegment', () => {
  it('round-trips points, vectors, bigint payloads and index definitions', () => {
    const schema = schemaOf({ '': space(3, 'Cosine'), e: space(2, 'Manhattan') });
    const s = createSegment(schema);
    const r = rng(42);
    const all = mixedIds(300, 9);
    all.forEach((id, i) => {
      const p = point(id, i % 5 === 0 ? null : [r(), r(), r()], { i, big: 2n ** 63n + BigInt(i), tag: `t${i % 4}` });
      if (i % 3 === 0) p.vectors.set('e', Float32Array.from([r(), r()]));
      s.apply({ kind: 'upsert', points: [p] });
    });
    s.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: all.slice(0, 20) } });
    s.apply({ kind: 'create_field_index', field: 'tag', params: indexParams('keyword') });
    const loaded = loadSegment(schema, s.serialize());
    expect(scrollAll(loaded, 1000)).toEqual(scrollAll(s, 1000));
    expect(loaded.retrieve(all, ALL, true)).toEqual(s.retrieve(all, ALL, true));
    expect(loaded.payloadIndexes()).toEqual(s.payloadIndexes());
    expect(loaded.stats()).toEqual(s.stats());
    const query = { vectorName: '', vector: Float32Array.from([0.3, 0.1, 0.9]), filter: must({ kind: 'match', key: 'tag', value: 't1' }), limit: 10, offset: 0, scoreThreshold: null, withPayload: ALL, withVector: false, excludeIds: [] };
    expect(loaded.search(query)).toEqual(s.search(query));
    // One contiguous buffer (as read back from a file) loads the same.
    const chunks = s.serialize();
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.length;
    }
    expect(loadSegment(schema, [joined]).count(null)).toBe(280);
    joined[joined.length - 10] = (joined[joined.length - 10] as number) ^ 1;
    expect(() => loadSegment(schema, [joined])).toThrow(/corrupt/);
  });

  it('refuses an image of another vector configuration', () => {
    const s = createSegment(schemaOf({ '': space(3, 'Dot') }));
    expect(() => loadSegment(schemaOf({ '': space(4, 'Dot') }), s.serialize())).toThrow(ShoalError);
  });
});
