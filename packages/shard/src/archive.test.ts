import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, ShoalError, type FileSystem, type PointOperation } from '@shoal/common';
import type { SegmentSchema } from '@shoal/segment';
import { ARCHIVE_CRC_ENTRY, ARCHIVE_HEADER_ENTRY, prepareShardArchive, restoreShardArchive, type ShardArchive } from './archive.js';
import { BLOCK, parseTarHeader } from './archive-tar.js';
import type { OptimizerConfig } from './config.js';
import { InlineExecutor, ManualExecutor } from './executor.js';
import type { OptimizerScheduler } from './optimizer.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

const scheduler: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: () => new Promise((resolve) => setImmediate(resolve)),
};
const SIZE = 8;
const schema: SegmentSchema = { vectors: new Map([['', { size: SIZE, distance: 'Cosine', onDisk: null, datatype: null }]]) };
const identity = { collection: 'c', incarnation: 7, shardId: 2 };
const ALL = { kind: 'all' } as const;

function config(overrides: Partial<OptimizerConfig> = {}): OptimizerConfig {
  return {
    indexingThresholdKb: 8,
    maxSegmentSizeKb: 10_000,
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1000,
    defaultSegmentNumber: 1000,
    maxOptimizationThreads: 1,
    vectors: new Map([['', { m: 8, efConstruct: 32, fullScanThresholdKb: 0, quantization: null }]]),
    ...overrides,
  };
}

function options(fs: FileSystem, dir: string, optimizer = config()): LocalShardOptions {
  return { fs, dir, schema, optimizer, executor: new InlineExecutor(), scheduler, flushPolicy: { intervalMs: null } };
}

function vectorOf(id: number): Float32Array {
  let x = (id + 1) * 2654435761;
  return Float32Array.from({ length: SIZE }, () => {
    x = (x ^ (x >>> 13)) * 1274126177;
    x ^= x >>> 16;
    return ((x >>> 0) / 2 ** 32) * 2 - 1;
  });
}

function upserts(from: number, to: number, tag = 'a'): PointOperation {
  const points = [];
  for (let id = from; id < to; id++) points.push({ id, vectors: new Map([['', vectorOf(id)]]), payload: { n: id, tag } });
  return { kind: 'upsert', points };
}

const deleteIds = (ids: number[]): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids } });

/** Every point with payload and vector, in id order. */
function contents(shard: LocalShard): unknown {
  return shard.scroll({ filter: null, offset: null, limit: 1_000_000, withPayload: ALL, withVector: true }).points;
}

/** A shard with sealed, indexed segments (tombstones in them) and points in the appendable one. */
async function populated(fs: FileSystem, dir: string, points = 3000, optimizer = config()): Promise<LocalShard> {
  const shard = await LocalShard.open(options(fs, dir, optimizer));
  for (let id = 0; id < points; id += 250) await shard.update(upserts(id, id + 250));
  await shard.optimizerIdle();
  await shard.update(deleteIds([1, 2, 3, 500, 501, 1700]));
  await shard.update({ kind: 'set_payload', selector: { kind: 'ids', ids: [10, 11] }, payload: { moved: true }, key: null });
  await shard.update(upserts(points, points + 40, 'b'), { peer: 3, epoch: 1, clock: 0, tick: 1 });
  await shard.update(upserts(points + 40, points + 50, 'b'), { peer: 3, epoch: 1, clock: 0, tick: 2 });
  await shard.update(deleteIds([9]), { peer: 5, epoch: 2, clock: 1, tick: 1 });
  return shard;
}

async function capture(shard: LocalShard): Promise<ShardArchive> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const result = shard.captureForExport();
    if ('capture' in result) return prepareShardArchive(result.capture, identity);
    await result.ready;
  }
  throw new Error('no capture');
}

async function collect(archive: ShardArchive): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of archive.chunks()) chunks.push(chunk);
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function* once(bytes: Uint8Array, piece = 4096): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += piece) yield bytes.slice(at, at + piece);
}

/** Entry names of a tar stream, read by the header parser. */
function entries(bytes: Uint8Array): string[] {
  const names: string[] = [];
  let at = 0;
  while (at + BLOCK <= bytes.length && bytes.subarray(at, at + BLOCK).some((b) => b !== 0)) {
    const { name, size } = parseTarHeader(bytes.subarray(at, at + BLOCK));
    names.push(name);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return names;
}

describe('shard archive', () => {
  it('round trip: capture, restore, open gives the same points, sealed indexed segments and tombstones included', async () => {
    const fs = new MemoryFileSystem();
    const shard = await populated(fs, '/src');
    expect(shard.info().sealedSegments).toBeGreaterThan(0);
    const expected = contents(shard);
    const search = { vectorName: '', vector: vectorOf(-3), filter: null, limit: 10, offset: 0, scoreThreshold: null, withPayload: ALL, withVector: false, excludeIds: [], exact: false };
    const expectedSearch = shard.search(search);
    const archive = await capture(shard);
    expect(shard.exportsPinned).toBe(1);
    const ticks = [{ peer: 3, epoch: 1, clock: 0, tick: 2 }, { peer: 5, epoch: 2, clock: 1, tick: 1 }];
    expect(shard.appliedTicks()).toEqual(ticks);
    expect(archive.header).toMatchObject({ collection: 'c', incarnation: 7, shardId: 2, seq: shard.info().appliedSeq, appliedTicks: ticks });
    const bytes = await collect(archive);
    expect(bytes.length).toBe(archive.size);
    expect(shard.exportsPinned).toBe(0);
    const names = entries(bytes);
    expect(names[0]).toBe(ARCHIVE_HEADER_ENTRY);
    expect(names[1]).toBe('segment.img');
    expect(names.at(-1)).toBe(ARCHIVE_CRC_ENTRY);
    expect(names.filter((n) => n.startsWith('segments/')).length).toBeGreaterThanOrEqual(2);

    const target = new MemoryFileSystem();
    const header = await restoreShardArchive(target, once(bytes), '/dst/2');
    expect(header.seq).toBe(archive.header.seq);
    expect(await target.list('/dst')).toEqual(['2']);
    const restored = await LocalShard.open(options(target, '/dst/2'));
    expect(restored.info()).toMatchObject({ appliedSeq: 0, imageSeq: 0, sealedSegments: shard.info().sealedSegments });
    // The applied ticks travel in the image too: a re-sent write is recognised by the restored replica.
    expect(restored.appliedTicks()).toEqual(ticks);
    expect(contents(restored)).toEqual(expected);
    expect(restored.search(search)).toEqual(expectedSearch);
    expect(restored.stats().indexedVectors).toBe(shard.stats().indexedVectors);
    expect(restored.stats().indexedVectors).toBeGreaterThan(0);
    // The restored replica's WAL is its own: the next write is its seq 1, and it survives a reopen.
    expect((await restored.update(deleteIds([4]))).seq).toBe(1);
    await restored.close();
    const again = await LocalShard.open(options(target, '/dst/2'));
    expect(again.has(4)).toBe(false);
    expect(again.count(null)).toBe(shard.count(null) - 1);
    await again.close();
    await shard.close();
  });

  it('refuses a corrupted byte anywhere, or a cut archive, and leaves nothing behind', async () => {
    const fs = new MemoryFileSystem();
    const shard = await populated(fs, '/src', 1200);
    expect(shard.info().sealedSegments).toBeGreaterThan(0);
    const bytes = await collect(await capture(shard));
    await shard.close();
    const positions = new Set<number>();
    for (let at = 0; at < bytes.length; at += 211) positions.add(at);
    // Every tar header block and the end of the archive byte by byte (padding and trailer included).
    let at = 0;
    while (at + BLOCK <= bytes.length && bytes.subarray(at, at + BLOCK).some((b) => b !== 0)) {
      for (let i = 0; i < BLOCK; i += 5) positions.add(at + i);
      const { size } = parseTarHeader(bytes.subarray(at, at + BLOCK));
      positions.add(at + BLOCK + size); // first padding byte (or next header)
      at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
    // The final entry (header, checksum, padding) and the two zero blocks: 4 blocks.
    for (let i = Math.max(0, bytes.length - 4 * BLOCK); i < bytes.length; i += 3) positions.add(i);
    for (let i = bytes.length - 3 * BLOCK; i < bytes.length - 3 * BLOCK + 32; i++) positions.add(i);
    positions.add(bytes.length - 1);
    let refused = 0;
    for (const position of positions) {
      const target = new MemoryFileSystem();
      const broken = bytes.slice();
      broken[position] = (broken[position] as number) ^ 0x01;
      const error = await restoreShardArchive(target, once(broken), '/dst/2').then(() => null, (e: unknown) => e);
      expect(error, `byte ${position} of ${bytes.length}`).toBeInstanceOf(ShoalError);
      expect(await target.list('/dst'), `byte ${position}`).toEqual([]);
      refused++;
    }
    expect(refused).toBe(positions.size);
    for (const length of [0, 100, BLOCK, bytes.length - 2 * BLOCK, bytes.length - 1]) {
      const target = new MemoryFileSystem();
      await expect(restoreShardArchive(target, once(bytes.subarray(0, length)), '/dst/2')).rejects.toBeInstanceOf(ShoalError);
      expect(await target.list('/dst')).toEqual([]);
    }
    const extra = new Uint8Array(bytes.length + 1);
    extra.set(bytes);
    await expect(restoreShardArchive(new MemoryFileSystem(), once(extra), '/dst/2')).rejects.toThrow(/after the end/);
    // The intact archive restores (the checks above are not refusing everything).
    const target = new MemoryFileSystem();
    await restoreShardArchive(target, once(bytes), '/dst/2');
    expect(await target.list('/dst')).toEqual(['2']);
  });

  it('refuses a target that is not empty', async () => {
    const fs = new MemoryFileSystem();
    const shard = await populated(fs, '/src', 300);
    const bytes = await collect(await capture(shard));
    await shard.close();
    const target = new MemoryFileSystem();
    await target.mkdirp('/dst/2');
    const file = await target.openAppend('/dst/2/x');
    await file.close();
    await expect(restoreShardArchive(target, once(bytes), '/dst/2')).rejects.toThrow(/not empty/);
    expect(await target.list('/dst/2')).toEqual(['x']);
  });

  it('writes during a slow stream are not in the archive and do not break it', async () => {
    const fs = new MemoryFileSystem();
    const shard = await populated(fs, '/src');
    const expected = contents(shard);
    const archive = await capture(shard);
    const chunks: Uint8Array[] = [];
    let step = 0;
    for await (const chunk of archive.chunks()) {
      chunks.push(chunk);
      step++;
      if (step === 2) {
        await shard.update(deleteIds([0, 5, 6, 2000, 3010]));
        await shard.update(upserts(5000, 5100, 'late'));
        await shard.update({ kind: 'set_payload', selector: { kind: 'ids', ids: [7] }, payload: { late: true }, key: null });
        // The image on disk is replaced meanwhile; the archive holds the captured one.
        await shard.flush();
      }
      if (step === 5) await shard.update(deleteIds([8, 9]));
    }
    expect(step).toBeGreaterThan(5);
    expect(contents(shard)).not.toEqual(expected);
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const target = new MemoryFileSystem();
    await restoreShardArchive(target, once(bytes, 777), '/dst/2');
    const restored = await LocalShard.open(options(target, '/dst/2'));
    expect(contents(restored)).toEqual(expected);
    await restored.close();
    await shard.close();
  });

  it('keeps retired files while an export holds them through a vacuum and flush, and deletes them after', async () => {
    const fs = new MemoryFileSystem();
    const optimizer = config({ vacuumMinVectorNumber: 10 });
    const shard = await populated(fs, '/src', 3000, optimizer);
    await shard.flush();
    const expected = contents(shard);
    const archive = await capture(shard);
    const captured = archive.header.files.filter((f) => f.path.startsWith('segments/')).map((f) => f.path.slice('segments/'.length));
    const iterator = archive.chunks();
    const chunks: Uint8Array[] = [];
    chunks.push(((await iterator.next()) as IteratorResult<Uint8Array>).value as Uint8Array);
    // Deleting most points makes every sealed segment due for a vacuum; the swap retires their
    // files, and the flush after it would delete them.
    const ids = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 4 !== 0);
    await shard.update(deleteIds(ids));
    await shard.optimizerIdle();
    await shard.flush();
    await shard.flush();
    const onDisk = new Set(await fs.list('/src/segments'));
    for (const name of captured) expect(onDisk.has(name), name).toBe(true);
    expect(shard.exportsPinned).toBe(1);
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) chunks.push(next.value);
    expect(shard.exportsPinned).toBe(0);
    // The vacuum replaced segments: without the pin the captured files would be gone by now.
    await shard.flush();
    await new Promise((resolve) => setImmediate(resolve));
    const after = new Set(await fs.list('/src/segments'));
    expect(captured.some((name) => !after.has(name))).toBe(true);
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const target = new MemoryFileSystem();
    await restoreShardArchive(target, once(bytes), '/dst/2');
    const restored = await LocalShard.open(options(target, '/dst/2', optimizer));
    expect(contents(restored)).toEqual(expected);
    await restored.close();
    await shard.close();
  });

  it('releases the pin when a stream is abandoned, fails, or was never started', async () => {
    const fs = new MemoryFileSystem();
    const shard = await populated(fs, '/src', 1000);
    const a = await capture(shard);
    const iterator = a.chunks();
    await iterator.next();
    expect(shard.exportsPinned).toBe(1);
    await iterator.return(undefined);
    expect(shard.exportsPinned).toBe(0);
    const b = await capture(shard);
    b.release();
    b.release();
    expect(shard.exportsPinned).toBe(0);
    const c = await capture(shard);
    const file = c.header.files[1]!.path;
    const cIterator = c.chunks();
    await cIterator.next();
    await fs.remove(`/src/${file}`);
    await expect((async () => {
      for (let next = await cIterator.next(); next.done !== true; next = await cIterator.next());
    })()).rejects.toThrow(/missing/);
    expect(shard.exportsPinned).toBe(0);
    await shard.close({ flush: false });
  });

  it('waits for a frozen segment to be sealed before it captures', async () => {
    const fs = new MemoryFileSystem();
    const executor = new ManualExecutor();
    const shard = await LocalShard.open({ ...options(fs, '/src'), executor });
    for (let id = 0; id < 500; id += 250) await shard.update(upserts(id, id + 250));
    await spin();
    expect(shard.info().frozenSegments).toBe(1);
    const attempt = shard.captureForExport();
    if (!('blocked' in attempt)) throw new Error('captured while a segment was frozen');
    expect(attempt.blocked).toMatch(/frozen/);
    let ready = false;
    void attempt.ready.then(() => (ready = true));
    await spin();
    expect(ready).toBe(false);
    expect(shard.exportsPinned).toBe(0);
    while (executor.queue.length > 0) {
      executor.queue[0]!.complete();
      await spin();
    }
    await attempt.ready;
    expect(shard.info().frozenSegments).toBe(0);
    const archive = await capture(shard);
    expect(archive.header.files.length).toBeGreaterThan(1);
    archive.release();
    await shard.close();
  });
});

async function spin(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}
