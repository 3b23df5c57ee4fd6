import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, type FileSystem, type PointOperation, type VectorParams } from '@shoal/common';
import type { SegmentSchema } from '@shoal/segment';
import { decodeRecord, encodeOperation, recordSelectsByFilter, type ClockTag } from './codec.js';
import { InlineExecutor } from './executor.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

// What one replica lacks of another (LocalShard.deltaFor) and how it is replayed (redo): the
// records from the first one the replica lacks, in the source's WAL order, re-applied even where
// the replica already holds them, leave it with the source's points.

const space: VectorParams = { size: 3, distance: 'Dot', onDisk: null, datatype: null };
const schema: SegmentSchema = { vectors: new Map([['', space]]) };
const all = { kind: 'all' } as const;

const upsert = (id: number, n: number): PointOperation => ({
  kind: 'upsert',
  points: [{ id, vectors: new Map([['', Float32Array.from([id, 0, 1])]]), payload: { n } }],
});
const setPayload = (id: number, extra: Record<string, number>): PointOperation => ({
  kind: 'set_payload', selector: { kind: 'ids', ids: [id] }, payload: extra, key: null,
}) as PointOperation;
const del = (id: number): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });
const tag = (clock: number, tick: number, peer = 7): ClockTag => ({ peer, epoch: 1, clock, tick });

function options(fs: FileSystem, dir: string, extra: Partial<LocalShardOptions> = {}): LocalShardOptions {
  return { fs, dir, schema, executor: new InlineExecutor(), flushPolicy: { intervalMs: null }, ...extra };
}

const points = (shard: LocalShard): unknown[] =>
  shard.scroll({ filter: null, offset: null, limit: 1000, withPayload: all, withVector: false }).points.map((p) => [p.id, p.payload]);

/** Replays what `target` lacks of `source` on it; returns the number of records sent, or the refusal. */
async function catchUp(source: LocalShard, target: LocalShard): Promise<number | string> {
  const delta = await source.deltaFor(target.appliedTicks());
  if ('refused' in delta) return delta.refused;
  let sent = 0;
  try {
    for (;;) {
      const piece = await delta.reader.read(1 << 20);
      if (piece.length === 0) return sent;
      for (const record of piece) {
        const { op, tag: t } = decodeRecord(record.payload);
        await target.redo(op, t);
        sent++;
      }
    }
  } finally {
    delta.reader.close();
  }
}

/** A source and a target shard, and a write both apply. */
async function pair(): Promise<{ source: LocalShard; target: LocalShard; both: (op: PointOperation, t: ClockTag) => Promise<void> }> {
  const fs = new MemoryFileSystem();
  const source = await LocalShard.open(options(fs, '/s'));
  const target = await LocalShard.open(options(fs, '/t'));
  const both = async (op: PointOperation, t: ClockTag): Promise<void> => {
    await source.update(op, t);
    await target.update(op, t);
  };
  return { source, target, both };
}

describe('LocalShard delta for a replica that missed writes', () => {
  it('replays from the first missed record, in the source order, over writes the replica already has', async () => {
    const { source, target, both } = await pair();
    await both(upsert(1, 1), tag(1, 1));
    await both(upsert(2, 1), tag(2, 1));
    // The target misses clock 1's tick 2 (it failed there), then gets clock 2's tick 2, which
    // the source applied after it: the same point, so only the source's order is right.
    await source.update(upsert(1, 2), tag(1, 2));
    await both(upsert(1, 3), tag(2, 2));
    await source.update(del(2), tag(3, 1));
    await source.update(setPayload(1, { x: 1 }), tag(3, 2));
    expect(await catchUp(source, target)).toBe(4);
    expect(points(target)).toEqual(points(source));
    expect(points(target)).toEqual([[1, { n: 3, x: 1 }]]);
    expect(target.appliedTicks()).toEqual(source.appliedTicks());
    // Nothing lacking: nothing sent.
    expect(await catchUp(source, target)).toBe(0);
    await source.close();
    await target.close();
  });

  it('redo never lowers a tick, and a later re-send of a redone write is a duplicate', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem(), '/s'));
    await shard.update(upsert(1, 1), tag(1, 1));
    await shard.update(upsert(1, 2), tag(1, 2));
    await shard.redo(upsert(1, 0), tag(1, 1));
    expect(shard.appliedTicks()).toEqual([tag(1, 2)]);
    expect(points(shard)).toEqual([[1, { n: 0 }]]);
    expect((await shard.update(upsert(1, 9), tag(1, 2))).duplicate).toBe(true);
    expect(points(shard)).toEqual([[1, { n: 0 }]]);
    expect(shard.info().clockGaps).toBe(0);
    await shard.close();
  });

  it('refuses when the replica holds a write the source never applied', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s'));
    const target = await LocalShard.open(options(fs, '/t'));
    await source.update(upsert(1, 1), tag(1, 1));
    await target.update(upsert(1, 1), tag(1, 1));
    await target.update(upsert(1, 2), tag(1, 2));
    expect(await catchUp(source, target)).toMatch(/holds tick 2 of clock 7\/1\/1/);
    const other = await LocalShard.open(options(fs, '/o'));
    await other.update(upsert(5, 1), tag(9, 1));
    expect(await catchUp(source, other)).toMatch(/clock 7\/1\/9, this one has none/);
    await other.close();
    await source.close();
    await target.close();
  });

  it('refuses once the records the replica lacks left the WAL, and when they came by a seed', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s', { walOptions: { segmentBytes: 300 }, walKeepTail: 0 }));
    const target = await LocalShard.open(options(fs, '/t'));
    for (let i = 1; i <= 20; i++) await source.update(upsert(i, i), tag(1, i));
    await source.flush();
    expect(source.info().walFirstSeq).toBeGreaterThan(1);
    expect(await catchUp(source, target)).toMatch(/clock 7\/1\/1 past tick 0 in the WAL carries tick \d+/);
    // A seeded tick (a transfer into the source) is in no record either.
    const seeded = await LocalShard.open(options(fs, '/u'));
    await seeded.installTicks([tag(4, 10)]);
    await seeded.update(upsert(1, 1), tag(4, 11));
    const fresh = await LocalShard.open(options(fs, '/v'));
    expect(await catchUp(seeded, fresh)).toMatch(/clock 7\/1\/4 past tick 0 in the WAL carries tick 11/);
    await fresh.installTicks([tag(4, 10)]);
    expect(await catchUp(seeded, fresh)).toBe(1);
    for (const s of [source, target, seeded, fresh]) await s.close();
  });

  it('keeps the WAL from the first lacking record while the delta is read, across a flush', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s', { walOptions: { segmentBytes: 300 }, walKeepTail: 0 }));
    const target = await LocalShard.open(options(fs, '/t'));
    for (let i = 1; i <= 3; i++) {
      await source.update(upsert(i, i), tag(1, i));
      await target.update(upsert(i, i), tag(1, i));
    }
    for (let i = 4; i <= 20; i++) await source.update(upsert(i, i), tag(1, i));
    const delta = await source.deltaFor(target.appliedTicks());
    if ('refused' in delta) throw new Error(delta.refused);
    expect(delta.reader.position).toBe(4);
    await source.flush();
    for (let i = 21; i <= 25; i++) await source.update(upsert(i, i), tag(1, i));
    await source.flush();
    expect(source.info().walFirstSeq).toBeLessThanOrEqual(4);
    const seqs: number[] = [];
    for (let piece = await delta.reader.read(200); piece.length > 0; piece = await delta.reader.read(200)) {
      for (const r of piece) {
        seqs.push(r.seq);
        const d = decodeRecord(r.payload);
        await target.redo(d.op, d.tag);
      }
    }
    delta.reader.close();
    expect(seqs).toEqual(Array.from({ length: 22 }, (_, i) => i + 4));
    expect(points(target)).toEqual(points(source));
    await source.update(upsert(26, 26), tag(1, 26));
    await source.flush();
    expect(source.info().walFirstSeq).toBeGreaterThan(4);
    await source.close();
    await target.close();
  });

  it('refuses when a filter would meet points the replica already changed (records it holds after the first it lacks)', async () => {
    const { source, target, both } = await pair();
    await both(upsert(1, 1), tag(1, 1));
    // The target misses a filter delete that the source applied before a write both have.
    const byFilter: PointOperation = { kind: 'delete_points', selector: { kind: 'filter', filter: { must: [{ kind: 'match', key: 'x', value: 1 }], should: [], mustNot: [], minShould: null } } } as unknown as PointOperation;
    expect(recordSelectsByFilter(encodeOperation(byFilter, tag(2, 1)))).toBe(true);
    expect(recordSelectsByFilter(encodeOperation(setPayload(1, { x: 1 }), tag(3, 1)))).toBe(false);
    await source.update(byFilter, tag(2, 1));
    await both(setPayload(1, { x: 1 }), tag(3, 1));
    expect(await catchUp(source, target)).toMatch(/selects points by a filter before the last of them/);
    // A filter after the last record the replica holds meets the same points on both: sent.
    const fs = new MemoryFileSystem();
    const other = await LocalShard.open(options(fs, '/o'));
    await other.update(upsert(1, 1), tag(1, 1));
    await other.update(setPayload(1, { x: 1 }), tag(3, 1));
    const source2 = await LocalShard.open(options(fs, '/s2'));
    await source2.update(upsert(1, 1), tag(1, 1));
    await source2.update(upsert(2, 1), tag(4, 1));
    await source2.update(setPayload(1, { x: 1 }), tag(3, 1));
    await source2.update(byFilter, tag(2, 1));
    expect(await catchUp(source2, other)).toBe(3);
    expect(points(other)).toEqual(points(source2));
    for (const sh of [source, target, other, source2]) await sh.close();
  });

  it('refuses when the first record past the replica\'s tick carries another tick (a gap, or a redone record out of place)', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s'));
    const target = await LocalShard.open(options(fs, '/t'));
    await source.update(upsert(1, 1), tag(1, 1));
    await target.update(upsert(1, 1), tag(1, 1));
    await source.redo(upsert(1, 3), tag(1, 3));
    await source.redo(upsert(1, 2), tag(1, 2));
    expect(await catchUp(source, target)).toMatch(/past tick 1 in the WAL carries tick 3/);
    const gapped = await LocalShard.open(options(fs, '/g'));
    await gapped.update(upsert(1, 1), tag(1, 2));
    expect(await catchUp(gapped, target)).toMatch(/past a missing tick/);
    for (const sh of [source, target, gapped]) await sh.close();
  });

  it('counts a write the source accepted but has not applied yet as one the replica lacks', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s'));
    const target = await LocalShard.open(options(fs, '/t'));
    await source.update(upsert(1, 1), tag(1, 1));
    await target.update(upsert(1, 1), tag(1, 1));
    // In flight on the source while the delta is told: in its WAL (or about to be), not applied.
    const inFlight = source.update(upsert(2, 2), tag(5, 1));
    const sent = catchUp(source, target);
    await inFlight;
    expect(await sent).toBe(1);
    expect(points(target)).toEqual(points(source));
    await source.close();
    await target.close();
  });

  it('counts writes that arrive while the WAL is scanned as ones the replica lacks', async () => {
    const fs = new MemoryFileSystem();
    const source = await LocalShard.open(options(fs, '/s', { deltaScanBytes: 100 }));
    const target = await LocalShard.open(options(fs, '/t'));
    for (let i = 1; i <= 20; i++) {
      await source.update(upsert(i, i), tag(1, i));
      await target.update(upsert(i, i), tag(1, i));
    }
    const sent = catchUp(source, target);
    const during = source.update(upsert(99, 99), tag(5, 1));
    await during;
    expect(await sent).toBe(1);
    expect(points(target)).toEqual(points(source));
    await source.close();
    await target.close();
  });
});
