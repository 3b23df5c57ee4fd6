import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, seededRng, type FileSystem, type PointOperation, type Rng, type VectorParams } from '@shoal/common';
import { createSegment, type SegmentSchema } from '@shoal/segment';
import type { ClockTag } from './codec.js';
import { InlineExecutor } from './executor.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

// The applied-ticks map: a tagged write re-sent is acknowledged without being applied again,
// the map is in the image at its seq and rebuilt by the WAL replay, so after a restart or a
// power loss it matches the data exactly.

const space: VectorParams = { size: 3, distance: 'Dot', onDisk: null, datatype: null };
const schema: SegmentSchema = { vectors: new Map([['', space]]) };
const all = { kind: 'all' } as const;

const upsert = (id: number, n: number): PointOperation => ({
  kind: 'upsert',
  points: [{ id, vectors: new Map([['', Float32Array.from([id, 0, 1])]]), payload: { n } }],
});
const del = (id: number): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });
const tag = (clock: number, tick: number, epoch = 1, peer = 7): ClockTag => ({ peer, epoch, clock, tick });

function options(fs: FileSystem, extra: Partial<LocalShardOptions> = {}): LocalShardOptions {
  return { fs, dir: '/storage/c/0', schema, executor: new InlineExecutor(), flushPolicy: { intervalMs: null }, ...extra };
}

const ids = (shard: LocalShard): unknown[] =>
  shard.scroll({ filter: null, offset: null, limit: 1000, withPayload: all, withVector: false }).points.map((p) => p.id);
const payloadOf = (shard: LocalShard, id: number): unknown => shard.retrieve([id], all, false)[0]?.payload ?? null;

describe('LocalShard clock tags', () => {
  it('acknowledges a re-sent write without applying it again (a delete stays a delete)', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem()));
    await shard.update(upsert(1, 1), tag(1, 1));
    await shard.update(del(1), tag(1, 2));
    const again = await shard.update(upsert(1, 1), tag(1, 1));
    expect(again.duplicate).toBe(true);
    expect(ids(shard)).toEqual([]);
    // An untagged write is always applied.
    await shard.update(upsert(1, 2));
    expect(payloadOf(shard, 1)).toEqual({ n: 2 });
    expect(shard.info().duplicateWrites).toBe(1);
    expect(shard.appliedTicks()).toEqual([tag(1, 2)]);
    await shard.close();
  });

  it('answers a duplicate only once the earlier write with that tick is applied', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem()));
    const first = shard.update(upsert(3, 1), tag(2, 1));
    const again = shard.update(upsert(3, 9), tag(2, 1));
    let firstDone = false;
    void first.then(() => (firstDone = true));
    const answer = await again;
    expect(firstDone).toBe(true);
    expect(answer).toEqual({ ...(await first), duplicate: true });
    expect(payloadOf(shard, 3)).toEqual({ n: 1 });
    await shard.close();
  });

  it('keys ticks by (peer, epoch, clock): a new epoch starts its clocks empty, without a gap', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem()));
    await shard.update(upsert(1, 1), tag(1, 1, 1));
    await shard.update(upsert(1, 2), tag(1, 2, 1));
    // The same clock id and tick in the next epoch is another write.
    const next = await shard.update(upsert(1, 3), tag(1, 1, 2));
    expect(next.duplicate).toBeUndefined();
    expect(payloadOf(shard, 1)).toEqual({ n: 3 });
    // Another peer with the same numbers, too.
    expect((await shard.update(upsert(1, 4), tag(1, 1, 2, 8))).duplicate).toBeUndefined();
    expect(shard.info().clockGaps).toBe(0);
    expect(shard.appliedTicks()).toEqual([tag(1, 2, 1), tag(1, 1, 2), tag(1, 1, 2, 8)]);
    await shard.close();
  });

  it('counts and applies a tick past the next one (a gap)', async () => {
    const logged: string[] = [];
    const shard = await LocalShard.open(options(new MemoryFileSystem(), { log: (e) => logged.push(e.message) }));
    await shard.update(upsert(1, 1), tag(1, 1));
    await shard.update(upsert(2, 1), tag(1, 3));
    expect(shard.info().clockGaps).toBe(1);
    expect(ids(shard)).toEqual([1, 2]);
    expect(logged.some((m) => m.includes('clock gap') && m.includes('tick 3'))).toBe(true);
    await shard.close();
  });

  it('keeps the map across restarts: part in the image, part replayed from the WAL', async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs));
    await shard.update(upsert(1, 1), tag(1, 1));
    await shard.update(upsert(2, 1), tag(2, 1));
    await shard.flush();
    await shard.update(del(1), tag(1, 2));
    await shard.update(upsert(4, 1));
    await shard.update(upsert(2, 2), tag(2, 2));
    const before = shard.appliedTicks();
    expect(shard.info().imageSeq).toBe(2);
    await shard.close({ flush: false });

    const reopened = await LocalShard.open(options(fs));
    expect(reopened.info().imageSeq).toBe(2);
    expect(reopened.appliedTicks()).toEqual(before);
    expect(before).toEqual([tag(1, 2), tag(2, 2)]);
    // Re-sent after the restart: nothing applied twice.
    expect((await reopened.update(upsert(1, 1), tag(1, 1))).duplicate).toBe(true);
    expect((await reopened.update(upsert(2, 1), tag(2, 2))).duplicate).toBe(true);
    expect(ids(reopened)).toEqual([2, 4]);
    expect(payloadOf(reopened, 2)).toEqual({ n: 2 });
    // Into an image, then back.
    await reopened.close();
    const third = await LocalShard.open(options(fs));
    expect(third.info().imageSeq).toBe(5);
    expect(third.appliedTicks()).toEqual(before);
    await third.close();
  });

  it('installs a seed durably; writes continue its clocks without a gap', async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs));
    await shard.installTicks([tag(1, 40), tag(3, 2, 5)]);
    await shard.close({ flush: false });
    const reopened = await LocalShard.open(options(fs));
    expect(reopened.appliedTicks()).toEqual([tag(1, 40), tag(3, 2, 5)]);
    expect((await reopened.update(upsert(1, 1), tag(1, 40))).duplicate).toBe(true);
    await reopened.update(upsert(1, 2), tag(1, 41));
    expect(reopened.info().clockGaps).toBe(0);
    expect(payloadOf(reopened, 1)).toEqual({ n: 2 });
    await reopened.close();
  });
});

// Crash runs as in crash.test.ts, every update tagged: after each power loss the shard holds the
// first k issued updates, and its applied-ticks map is exactly the highest tick per clock among them.

const SEEDS = 60;
const GENERATIONS = 3;
const STEPS = 40;
const spin = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

function randomOp(rng: Rng): PointOperation {
  const id = 1 + rng.int(8);
  switch (rng.int(3)) {
    case 0:
      return del(id);
    case 1:
      return { kind: 'set_payload', selector: { kind: 'ids', ids: [id] }, payload: { s: rng.int(100) }, key: null };
    default:
      return upsert(id, rng.int(100));
  }
}

const dump = (source: Pick<LocalShard, 'scroll'>): string =>
  JSON.stringify(source.scroll({ filter: null, offset: null, limit: 1000, withPayload: all, withVector: false }).points.map((p) => [p.id, p.payload]));

function ticksOf(tags: readonly ClockTag[]): ClockTag[] {
  const best = new Map<string, ClockTag>();
  for (const t of tags) {
    const key = `${t.peer}/${t.epoch}/${t.clock}`;
    if ((best.get(key)?.tick ?? 0) < t.tick) best.set(key, t);
  }
  return [...best.values()].sort((a, b) => a.peer - b.peer || a.epoch - b.epoch || a.clock - b.clock);
}

describe('LocalShard clock tags across power losses', () => {
  it(`the applied-ticks map matches the data after ${SEEDS} seeds x ${GENERATIONS} crashes`, async () => {
    let runs = 0;
    let mismatches = 0;
    let checkedTags = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = seededRng(seed);
      const crashRng = seededRng(seed ^ 0x7a65);
      const hookRef: { current: (op: string, path: string) => Promise<void> } = { current: async () => spin(rng.int(3)) };
      const hooks = { beforeOp: (op: string, path: string): Promise<void> => hookRef.current(op, path) };
      let disk = new MemoryFileSystem(hooks);
      let history: Array<{ op: PointOperation; tag: ClockTag }> = [];
      const next = new Map<number, number>();
      const base = {
        dir: '/s/0',
        schema,
        executor: new InlineExecutor(),
        walOptions: { segmentBytes: 256 + rng.int(1024) },
        flushPolicy: { walBytesMax: 300 + rng.int(2000), intervalMs: null },
        walKeepTail: rng.int(3),
      } satisfies Omit<LocalShardOptions, 'fs'>;
      for (let generation = 0; generation < GENERATIONS; generation++) {
        const current = disk;
        let crashed: MemoryFileSystem | null = null;
        let count = 0;
        const crashAt = 1 + rng.int(120);
        hookRef.current = async () => {
          count++;
          if (crashed === null && count === crashAt && !current.isCrashed) crashed = current.crash(crashRng, hooks);
          await spin(rng.int(4));
        };
        const issued = [...history];
        // Each generation is a new epoch of the coordinator: its clocks start over.
        next.clear();
        try {
          const shard = await LocalShard.open({ ...base, fs: current });
          const pending: Promise<unknown>[] = [];
          for (let step = 0; step < STEPS && !current.isCrashed; step++) {
            if (rng.int(5) === 0) pending.push(shard.flush().catch(() => undefined));
            const clock = 1 + rng.int(3);
            const tick = (next.get(clock) ?? 0) + 1;
            next.set(clock, tick);
            const entry = { op: randomOp(rng), tag: tag(clock, tick, generation + 1) };
            issued.push(entry);
            pending.push(shard.update(entry.op, entry.tag).catch(() => undefined));
            if (rng.int(4) === 0) await spin(rng.int(20));
          }
          await Promise.allSettled(pending);
        } catch {
          expect(current.isCrashed).toBe(true);
        }
        if (crashed === null) crashed = current.crash(crashRng, hooks);
        const recovered = await LocalShard.open({ ...base, fs: crashed });
        const k = recovered.info().appliedSeq;
        runs++;
        const model = createSegment(schema);
        for (const { op } of issued.slice(0, k)) model.apply(op);
        const expected = ticksOf(issued.slice(0, k).map((e) => e.tag));
        if (dump(recovered) !== dump(model) || JSON.stringify(recovered.appliedTicks()) !== JSON.stringify(expected)) mismatches++;
        // Every recovered write sent again is a duplicate; the data does not move.
        for (const { op, tag: t } of issued.slice(0, k)) {
          const again = await recovered.update(op, t);
          if (again.duplicate !== true) mismatches++;
          checkedTags++;
        }
        if (dump(recovered) !== dump(model)) mismatches++;
        history = issued.slice(0, k);
        await recovered.close({ flush: rng.int(2) === 0 });
        disk = crashed;
      }
    }
    console.log(`clock tag crash test: ${runs} crash/recover runs, ${checkedTags} recovered tagged writes re-sent, ${mismatches} mismatches`);
    expect(runs).toBe(SEEDS * GENERATIONS);
    expect(checkedTags).toBeGreaterThan(SEEDS * 10);
    expect(mismatches).toBe(0);
  });
});
