import { describe, it, expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryFileSystem, NodeFileSystem, type FileSystem, type PointOperation, type VectorParams } from '@shoal/common';
import type { SegmentSchema } from '@shoal/segment';
import { InlineExecutor } from './executor.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

const space: VectorParams = { size: 3, distance: 'Dot', onDisk: null, datatype: null };
const schema: SegmentSchema = { vectors: new Map([['', space]]) };
const all = { kind: 'all' } as const;

const upsert = (id: number, payload: Record<string, number | string> = { n: id }): PointOperation => ({
  kind: 'upsert',
  points: [{ id, vectors: new Map([['', Float32Array.from([id, 0, 1])]]), payload }],
});

function options(fs: FileSystem, extra: Partial<LocalShardOptions> = {}): LocalShardOptions {
  return { fs, dir: '/storage/c/shards/0', schema, executor: new InlineExecutor(), flushPolicy: { intervalMs: null }, ...extra };
}

const ids = (shard: LocalShard): unknown[] =>
  shard.scroll({ filter: null, offset: null, limit: 1000, withPayload: all, withVector: false }).points.map((p) => p.id);

/** Let background work on the in-memory file system run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function rewrite(fs: MemoryFileSystem, path: string, change: (bytes: Uint8Array) => void): Promise<void> {
  const bytes = (await fs.readFile(path)) as Uint8Array;
  change(bytes);
  await fs.remove(path);
  const file = await fs.openAppend(path);
  await file.append(bytes);
  await file.sync();
  await file.close();
}

describe('LocalShard', () => {
  it('applies updates after they are durable and serves them after a reopen (WAL replay)', async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs));
    expect(await shard.update(upsert(1))).toEqual({ seq: 1, result: { ok: true } });
    await shard.update(upsert(2));
    expect(await shard.update({ kind: 'set_payload', selector: { kind: 'ids', ids: [9] }, payload: { a: 1 }, key: null })).toEqual({
      seq: 3,
      result: { ok: false, missing: [9] },
    });
    expect(shard.retrieve([1], all, true)[0]?.vectors?.get('')).toEqual(Float32Array.from([1, 0, 1]));
    await shard.close({ flush: false });
    expect(await fs.exists('/storage/c/shards/0/segment.img')).toBe(false);

    const again = await LocalShard.open(options(fs));
    expect(ids(again)).toEqual([1, 2]);
    expect(again.info().appliedSeq).toBe(3);
    expect((await again.update(upsert(3))).seq).toBe(4);
  });

  it('applies concurrent updates in WAL order', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem()));
    const results = await Promise.all([
      shard.update(upsert(1, { v: 'first' })),
      shard.update(upsert(1, { v: 'second' })),
      shard.update({ kind: 'set_payload', selector: { kind: 'ids', ids: [1] }, payload: { w: 'third' }, key: null }),
    ]);
    expect(results.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(shard.retrieve([1], all, false)[0]?.payload).toEqual({ v: 'second', w: 'third' });
  });

  it('rejects a wrong vector before it reaches the WAL', async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem()));
    const bad: PointOperation = { kind: 'upsert', points: [{ id: 1, vectors: new Map([['', new Float32Array(2)]]), payload: null }] };
    await expect(shard.update(bad)).rejects.toMatchObject({ kind: 'bad_request', message: expect.stringContaining('expected dim: 3, got 2') });
    const unknown: PointOperation = { kind: 'upsert', points: [{ id: 1, vectors: new Map([['x', new Float32Array(3)]]), payload: null }] };
    await expect(shard.update(unknown)).rejects.toMatchObject({ kind: 'bad_request' });
    expect(shard.info().appliedSeq).toBe(0);
    expect((await shard.update(upsert(1))).seq).toBe(1);
  });

  it('flushes an image, truncates the WAL below it, and restarts from image + WAL tail', async () => {
    const fs = new MemoryFileSystem();
    const opts = options(fs, { walOptions: { segmentBytes: 200 }, walKeepTail: 2 });
    const shard = await LocalShard.open(opts);
    for (let i = 1; i <= 20; i++) await shard.update(upsert(i));
    const filesBefore = shard.info().walFiles;
    expect(filesBefore).toBeGreaterThan(3);
    await shard.flush();
    expect(shard.info().imageSeq).toBe(20);
    expect(shard.info().walFiles).toBeLessThan(filesBefore);
    await shard.update({ kind: 'delete_points', selector: { kind: 'ids', ids: [5] } });
    await shard.close({ flush: false });

    const again = await LocalShard.open(opts);
    expect(again.info()).toMatchObject({ imageSeq: 20, appliedSeq: 21 });
    expect(ids(again)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    await again.close();
    const third = await LocalShard.open(opts);
    expect(third.info()).toMatchObject({ imageSeq: 21, appliedSeq: 21 });
    expect(third.count(null)).toBe(19);
  });

  it('flushes by itself when the WAL grows past walBytesMax, and when the interval passed', async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs, { flushPolicy: { walBytesMax: 500, intervalMs: null } }));
    for (let i = 1; i <= 10; i++) await shard.update(upsert(i));
    await settle();
    expect(shard.info().imageSeq).toBeGreaterThan(0);
    expect(shard.info().walBytesSinceFlush).toBeLessThan(500);

    let now = 0;
    const timed = await LocalShard.open(
      options(new MemoryFileSystem(), { clock: { nowMs: () => now }, flushPolicy: { walBytesMax: 1e9, intervalMs: 60_000 } }),
    );
    await timed.update(upsert(1));
    await settle();
    expect(timed.info().imageSeq).toBe(0);
    now = 61_000;
    await timed.update(upsert(2));
    await settle();
    expect(timed.info().imageSeq).toBe(2);
    await timed.close();
  });

  it("refuses to open with a corrupt image: ShoalError('storage'), never silently empty", async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs));
    await shard.update(upsert(1));
    await shard.close();
    await rewrite(fs, '/storage/c/shards/0/segment.img', (bytes) => {
      bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 1;
    });
    await expect(LocalShard.open(options(fs))).rejects.toMatchObject({ kind: 'storage', message: expect.stringContaining('CRC') });
    await rewrite(fs, '/storage/c/shards/0/segment.img', (bytes) => {
      bytes[0] = 0;
    });
    await expect(LocalShard.open(options(fs))).rejects.toMatchObject({ kind: 'storage', message: expect.stringContaining('magic') });
  });

  it('refuses to serve writes once the WAL failed, and keeps serving reads', async () => {
    let failSync = false;
    const fs = new MemoryFileSystem({
      beforeOp: (op) => {
        if (failSync && op === 'sync') throw new Error('EIO');
      },
    });
    const events: string[] = [];
    const shard = await LocalShard.open(options(fs, { log: (e) => events.push(e.level) }));
    await shard.update(upsert(1));
    failSync = true;
    await expect(shard.update(upsert(2))).rejects.toMatchObject({ kind: 'storage' });
    failSync = false;
    await expect(shard.update(upsert(3))).rejects.toMatchObject({ kind: 'storage' });
    expect(shard.info().failure?.kind).toBe('storage');
    expect(ids(shard)).toEqual([1]);
    expect(events).toContain('error');
  });

  it("answers 'overloaded' when the WAL queue is full, without failing the shard", async () => {
    const shard = await LocalShard.open(options(new MemoryFileSystem(), { walOptions: { queueMax: 2 } }));
    const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((i) => shard.update(upsert(i))));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect(r.reason).toMatchObject({ kind: 'overloaded' });
    expect(shard.info().failure).toBeNull();
    expect((await shard.update(upsert(7))).result).toEqual({ ok: true });
    expect(shard.count(null)).toBe(6 - rejected.length + 1);
  });

  it('drop() closes the shard and removes its directory', async () => {
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs));
    await shard.update(upsert(1));
    await shard.drop();
    expect(await fs.list('/storage/c/shards')).toEqual([]);
    expect(() => shard.count(null)).toThrow(/closed/);
    await expect(shard.update(upsert(2))).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('persists on the real file system', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shoal-shard-'));
    try {
      const opts = options(new NodeFileSystem(), { dir: `${root}/shards/0` });
      const shard = await LocalShard.open(opts);
      await Promise.all([1, 2, 3].map((i) => shard.update(upsert(i))));
      await shard.flush();
      await shard.update(upsert(4));
      await shard.close({ flush: false });
      const again = await LocalShard.open(opts);
      expect(ids(again)).toEqual([1, 2, 3, 4]);
      await again.drop();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
