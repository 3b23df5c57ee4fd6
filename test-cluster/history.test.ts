// The history checks on planted histories: each kind of violation is caught, and correct
// histories (with unknown operations either way) pass.
import { describe, expect, it } from 'vitest';
import { checkData, checkMeta, checkRegister, outcomeOf, type DataOp, type MetaOp, type PointWrite, type RegisterOp, type ReplicaContent } from './history.js';

const point = (id: number, shard = 0): PointWrite => ({ id, shard, payload: { id, batch: 1 }, vector: [0.1, id / 10] });
const stored = (p: PointWrite) => ({ id: p.id, payload: p.payload, vector: p.vector.map((x) => Math.fround(x)) });

function upsert(points: PointWrite[], outcome: DataOp['outcome'], at = 0): DataOp {
  return { client: 0, collection: 'c', kind: 'upsert', points, ids: points.map((p) => p.id), node: 0, invokeMs: at, completeMs: at + 1, outcome };
}
function del(ids: number[], outcome: DataOp['outcome'], at = 10): DataOp {
  return { client: 0, collection: 'c', kind: 'delete', ids, node: 0, invokeMs: at, completeMs: at + 1, outcome };
}
function replica(peer: number, points: PointWrite[], shard = 0): ReplicaContent {
  return { collection: 'c', shard, peer, state: 'Active', points: points.map(stored) };
}

describe('point checks', () => {
  const [p1, p2, p3] = [point(1), point(2), point(3)];

  it('passes a history whose replicas hold what was acknowledged', () => {
    const ops = [upsert([p1, p2], 'ok'), upsert([p3], 'unknown'), del([2], 'ok')];
    const v = checkData(ops, [replica(1, [p1, p3]), replica(2, [p1, p3])], { c: [0] });
    expect(v).toMatchObject({ acknowledged: 1, deleted: 1, unknown: 1, lost: [], resurrected: [], phantom: [], corrupted: [], diverged: [], unread: [] });
  });

  it('catches a lost write (and the replicas disagreeing about it)', () => {
    const v = checkData([upsert([p1, p2], 'ok')], [replica(1, [p1, p2]), replica(2, [p1])], { c: [0] });
    expect(v.lost).toEqual([expect.objectContaining({ id: 2, peer: 2 })]);
    expect(v.diverged).toEqual([expect.objectContaining({ id: 2 })]);
  });

  it('catches a resurrected delete', () => {
    const v = checkData([upsert([p1, p2], 'ok'), del([1], 'ok')], [replica(1, [p2]), replica(2, [p1, p2])], { c: [0] });
    expect(v.resurrected).toEqual([expect.objectContaining({ id: 1, peer: 2 })]);
  });

  it('an unknown delete may or may not have happened, but the replicas must agree', () => {
    expect(checkData([upsert([p1], 'ok'), del([1], 'unknown')], [replica(1, []), replica(2, [])], { c: [0] }).lost).toEqual([]);
    expect(checkData([upsert([p1], 'ok'), del([1], 'unknown')], [replica(1, [p1]), replica(2, [p1])], { c: [0] }).resurrected).toEqual([]);
    expect(checkData([upsert([p1], 'ok'), del([1], 'unknown')], [replica(1, [p1]), replica(2, [])], { c: [0] }).diverged).toHaveLength(1);
  });

  it('catches points of refused or never-sent upserts, points on the wrong shard and altered contents', () => {
    const wrongShard = point(4, 1);
    const altered = { ...stored(p2), payload: { id: 2, batch: 9 } };
    const ops = [upsert([p1], 'fail'), upsert([p2], 'ok'), upsert([wrongShard], 'ok')];
    const v = checkData(ops, [
      { ...replica(1, [p1, wrongShard]), points: [stored(p1), altered, stored(wrongShard), stored(point(7))] },
      replica(2, [p2]),
      replica(2, [wrongShard], 1),
    ], { c: [0, 1] });
    expect(v.phantom.map((p) => p.id).sort()).toEqual([1, 4, 7]);
    expect(v.corrupted).toEqual([expect.objectContaining({ id: 2, peer: 1 })]);
  });

  it('reports a shard of which no replica was read', () => {
    expect(checkData([], [replica(1, [])], { c: [0, 1] }).unread).toEqual(['c/1']);
  });

  it('judges answers: 2xx ok, 4xx refused, 408 / 5xx / none unknown', () => {
    expect([200, 404, 400, 408, 503, 500, null].map(outcomeOf)).toEqual(['ok', 'fail', 'fail', 'unknown', 'unknown', 'unknown', 'unknown']);
  });
});

const w = (value: string | null, invokeMs: number, completeMs: number, optional = false): RegisterOp => ({ kind: 'write', value, invokeMs, completeMs: optional ? Infinity : completeMs, optional, source: 0 });
const r = (value: string | null, invokeMs: number, completeMs: number): RegisterOp => ({ kind: 'read', value, invokeMs, completeMs, optional: false, source: 0 });

describe('register linearizability', () => {
  it('accepts sequential and overlapping histories', () => {
    expect(checkRegister([w('a', 0, 1), r('a', 2, 3), w('b', 4, 5), r('b', 6, 7)]).ok).toBe(true);
    // Two overlapping writes: either order, as long as the reads agree with one of them.
    expect(checkRegister([w('a', 0, 10), w('b', 1, 9), r('a', 11, 12), r('a', 13, 14)]).ok).toBe(true);
    expect(checkRegister([w('a', 0, 10), w('b', 1, 9), r('b', 11, 12)]).ok).toBe(true);
    expect(checkRegister([r(null, 0, 1), w('a', 2, 3), w(null, 4, 5), r(null, 6, 7)]).ok).toBe(true);
  });

  it('catches a stale read', () => {
    const v = checkRegister([w('a', 0, 1), w('b', 2, 3), r('a', 4, 5)]);
    expect(v).toMatchObject({ ok: false, reason: 'no linearization' });
  });

  it('catches reads that see two values flip back', () => {
    expect(checkRegister([w('a', 0, 1), w('b', 2, 20), r('b', 3, 4), r('a', 5, 6)]).ok).toBe(false);
  });

  it('an unknown write may take effect late or never', () => {
    expect(checkRegister([w('a', 0, 1), w('b', 2, 0, true), r('a', 10, 11), r('b', 20, 21)]).ok).toBe(true);
    expect(checkRegister([w('a', 0, 1), w('b', 2, 0, true), r('a', 10, 11)]).ok).toBe(true);
    // ... but not before it was invoked, and not twice.
    expect(checkRegister([w('a', 0, 1), r('b', 2, 3), w('b', 5, 0, true)]).ok).toBe(false);
    expect(checkRegister([w('a', 0, 1), w('b', 2, 0, true), r('b', 3, 4), w('c', 5, 6), r('b', 7, 8)]).ok).toBe(false);
  });

  it('gives up, as a failure, past its bound', () => {
    const many = Array.from({ length: 16 }, (_, i) => w(`v${i}`, 0, 100));
    const v = checkRegister([...many, r('nobody', 101, 102)], null, 500);
    expect(v).toMatchObject({ ok: false, reason: 'search bound exceeded' });
  });
});

describe('metadata histories', () => {
  const op = (o: Partial<MetaOp> & Pick<MetaOp, 'kind' | 'invokeMs'>): MetaOp => ({ client: 0, node: 0, completeMs: o.invokeMs + 1, outcome: 'ok', ...o });

  it('projects alias writes, deletes and linearizable reads onto each alias', () => {
    const ops = [
      op({ kind: 'write', writes: { x: 'A', y: 'B' }, invokeMs: 0 }),
      op({ kind: 'read', linearizable: true, observed: { x: 'A', y: 'B' }, invokeMs: 2 }),
      op({ kind: 'delete', alias: 'x', invokeMs: 4 }),
      op({ kind: 'delete', alias: 'x', invokeMs: 6, outcome: 'fail', status: 404 }),
      op({ kind: 'write', writes: { y: 'C' }, invokeMs: 8, outcome: 'unknown', completeMs: null }),
      op({ kind: 'read', linearizable: true, observed: { y: 'B' }, invokeMs: 10 }),
      op({ kind: 'read', linearizable: true, observed: { y: 'C' }, invokeMs: 12 }),
      // A local read may be stale: it only has to show a value someone wrote.
      op({ kind: 'read', linearizable: false, observed: { x: 'A', y: 'B' }, invokeMs: 14 }),
    ];
    const v = checkMeta(ops, ['x', 'y']);
    expect(v.registers['x']).toMatchObject({ ok: true, ops: 6 }); // every linearizable read reads every alias
    expect(v.registers['y']).toMatchObject({ ok: true, ops: 5 });
    expect(v.impossibleReads).toEqual([]);
  });

  it('catches a non-linearizable alias history: a 404 on delete after an acknowledged create', () => {
    const ops = [op({ kind: 'write', writes: { x: 'A' }, invokeMs: 0 }), op({ kind: 'delete', alias: 'x', invokeMs: 5, outcome: 'fail', status: 404 })];
    expect(checkMeta(ops, ['x']).registers['x']).toMatchObject({ ok: false, reason: 'no linearization' });
  });

  it("reads of one collection's aliases tell only whether each alias points to it", () => {
    const ops = [
      op({ kind: 'write', writes: { x: 'A' }, invokeMs: 0 }),
      op({ kind: 'read', linearizable: true, of: 'A', observed: { x: 'A' }, invokeMs: 2 }),
      op({ kind: 'read', linearizable: true, of: 'B', observed: {}, invokeMs: 4 }),
      op({ kind: 'write', writes: { x: 'B' }, invokeMs: 6 }),
      op({ kind: 'read', linearizable: true, of: 'A', observed: {}, invokeMs: 8 }),
    ];
    expect(checkMeta(ops, ['x']).registers['x']).toMatchObject({ ok: true, ops: 5 });
    // After x -> B was acknowledged, B's aliases must list x.
    const stale = [...ops, op({ kind: 'read', linearizable: true, of: 'B', observed: {}, invokeMs: 10 })];
    expect(checkMeta(stale, ['x']).registers['x']).toMatchObject({ ok: false, reason: 'no linearization' });
  });

  it('catches a stale linearizable read, and a local read of a value never written', () => {
    const ops = [
      op({ kind: 'write', writes: { x: 'A' }, invokeMs: 0 }),
      op({ kind: 'write', writes: { x: 'B' }, invokeMs: 2 }),
      op({ kind: 'read', linearizable: true, observed: { x: 'A' }, invokeMs: 4 }),
      op({ kind: 'read', linearizable: false, observed: { x: 'Z' }, invokeMs: 6 }),
    ];
    const v = checkMeta(ops, ['x']);
    expect(v.registers['x']!.ok).toBe(false);
    expect(v.impossibleReads).toEqual(['#3: x = Z']);
  });
});
