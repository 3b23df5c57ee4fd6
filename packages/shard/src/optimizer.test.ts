import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, type PointId, type PointOperation } from '@shoal/common';
import { COMPACT_DEAD_MIN, createSegment, type SearchParams, type SegmentSchema } from '@shoal/segment';
import type { OptimizerConfig } from './config.js';
import { InlineExecutor, ManualExecutor } from './executor.js';
import type { OptimizerScheduler } from './optimizer.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

const scheduler: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: () => new Promise((resolve) => setImmediate(resolve)),
};
const spin = async (n = 20): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
const NONE = { kind: 'none' } as const;

function schemaOf(size: number): SegmentSchema {
  return { vectors: new Map([['', { size, distance: 'Cosine', onDisk: null, datatype: null }]]) };
}

function configOf(overrides: Partial<OptimizerConfig>, m = 8): OptimizerConfig {
  return {
    indexingThresholdKb: 1,
    maxSegmentSizeKb: 10_000,
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1000,
    defaultSegmentNumber: 1000,
    maxOptimizationThreads: 1,
    vectors: new Map([['', { m, efConstruct: 32, fullScanThresholdKb: 0, quantization: null }]]),
    ...overrides,
  };
}

function options(fs: MemoryFileSystem, schema: SegmentSchema, optimizer: OptimizerConfig, executor: LocalShardOptions['executor']): LocalShardOptions {
  return { fs, dir: '/shard', schema, optimizer, executor, scheduler, flushPolicy: { intervalMs: null } };
}

/** Deterministic vectors spread over the sphere (a hash of the id). */
function vectorOf(id: number, size: number): Float32Array {
  let x = (id + 1) * 2654435761;
  return Float32Array.from({ length: size }, () => {
    x = (x ^ (x >>> 13)) * 1274126177;
    x ^= x >>> 16;
    return ((x >>> 0) / 2 ** 32) * 2 - 1;
  });
}

function upserts(from: number, to: number, size: number): PointOperation {
  const points = [];
  for (let id = from; id < to; id++) points.push({ id, vectors: new Map([['', vectorOf(id, size)]]), payload: { n: id } });
  return { kind: 'upsert', points };
}

function query(size: number, exact: boolean, limit = 10): SearchParams {
  return { vectorName: '', vector: vectorOf(-7, size), filter: null, limit, offset: 0, scoreThreshold: null, withPayload: NONE, withVector: false, excludeIds: [], exact };
}

describe('optimizer', () => {
  it('re-applies tombstones by id after the frozen segment took more deletes than compaction needs', async () => {
    const fs = new MemoryFileSystem();
    const schema = schemaOf(2);
    const executor = new ManualExecutor();
    // 2-d vectors are 8 bytes: the appendable segment freezes at 12,000 points (93.75 KB).
    const shard = await LocalShard.open(options(fs, schema, configOf({ indexingThresholdKb: 93.75 }), executor));
    const model = createSegment(schema);
    const total = 3 * COMPACT_DEAD_MIN;
    for (let id = 0; id < total; id += 1000) {
      const op = upserts(id, id + 1000, 2);
      await shard.update(op);
      model.apply(op);
    }
    expect(shard.info().frozenSegments).toBe(1);
    const early: PointId[] = Array.from({ length: COMPACT_DEAD_MIN + 10 }, (_, i) => i * 2);
    const deleteEarly: PointOperation = { kind: 'delete_points', selector: { kind: 'ids', ids: early } };
    await shard.update(deleteEarly);
    model.apply(deleteEarly);
    await spin();
    // The seal job took its snapshot; now more than half the points go while it runs.
    expect(executor.queue.length).toBe(1);
    const late: PointOperation = { kind: 'delete_points', selector: { kind: 'filter', filter: { must: [{ kind: 'range', key: 'n', range: { gt: null, gte: 5000, lt: null, lte: null } }], should: [], mustNot: [], minShould: null } } };
    await shard.update(late);
    model.apply(late);
    await shard.update({ kind: 'set_payload', selector: { kind: 'ids', ids: [1, 3] }, payload: { moved: true }, key: null });
    model.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [1, 3] }, payload: { moved: true }, key: null });
    await drain(executor, shard);
    expect(shard.info()).toMatchObject({ sealedSegments: 1, frozenSegments: 0 });
    expect(shard.stats().vectors.get('')).toBe(model.count(null));
    const scroll = { filter: null, offset: null, limit: 100_000, withPayload: { kind: 'all' } as const, withVector: true };
    expect(shard.count(null)).toBe(model.count(null));
    expect(shard.scroll(scroll)).toEqual(model.scroll(scroll));
    expect(shard.search(query(2, true))).toEqual(model.search(query(2, true)));
    await shard.close();
    const again = await LocalShard.open(options(fs, schema, configOf({ indexingThresholdKb: 93.75 }), new ManualExecutor()));
    expect(again.scroll(scroll)).toEqual(model.scroll(scroll));
    await again.close();
  });

  it('loads graphs from their files on restart without building any', async () => {
    const fs = new MemoryFileSystem();
    const schema = schemaOf(8);
    const config = configOf({ indexingThresholdKb: 8 });
    const builder = new InlineExecutor();
    const shard = await LocalShard.open(options(fs, schema, config, builder));
    for (let id = 0; id < 3000; id += 250) await shard.update(upserts(id, id + 250, 8));
    await shard.optimizerIdle();
    const stats = shard.stats();
    expect(shard.info().sealedSegments).toBeGreaterThan(0);
    expect(stats.indexedVectors).toBeGreaterThan(2000);
    expect(builder.jobsRun).toBeGreaterThan(0);
    const approximate = shard.search(query(8, false));
    const exact = shard.search(query(8, true));
    await shard.close();

    const idle = new ManualExecutor();
    const again = await LocalShard.open(options(fs, schema, config, idle));
    await spin(50);
    // Nothing to build: the graphs came from the files.
    expect(idle.queue.length).toBe(0);
    expect(idle.jobsRun).toBe(0);
    expect(again.stats().indexedVectors).toBe(stats.indexedVectors);
    expect(again.optimizerInfo().status).toBe('green');
    expect(again.search(query(8, false))).toEqual(approximate);
    expect(again.search(query(8, true))).toEqual(exact);
    await again.close();
  });

  it('reports grey, yellow, red and green as Qdrant does, and indexes once indexing_threshold is set again', async () => {
    const fs = new MemoryFileSystem();
    const schema = schemaOf(4);
    const executor = new ManualExecutor();
    // 4-d vectors are 16 bytes: 1 KB is 64 of them.
    const shard = await LocalShard.open(options(fs, schema, configOf({ maxOptimizationThreads: 0, indexingThresholdKb: 1, maxSegmentSizeKb: 2 }), executor));
    await shard.update(upserts(0, 100, 4));
    // Optimization disabled while the appendable segment is past the threshold.
    expect(shard.optimizerInfo().status).toBe('grey');
    expect(shard.info().frozenSegments).toBe(0);

    // indexing_threshold 0: segments are sealed at max_segment_size, without graphs.
    shard.reconfigure(configOf({ maxOptimizationThreads: 1, indexingThresholdKb: 0, maxSegmentSizeKb: 2 }));
    expect(shard.info().frozenSegments).toBe(0);
    await shard.update(upserts(100, 200, 4));
    expect(shard.info().frozenSegments).toBe(1);
    expect(shard.optimizerInfo().status).toBe('yellow');
    await spin();
    (executor.queue[0] ?? fail('no seal job')).fail(new Error('disk on fire'));
    await spin();
    expect(shard.optimizerInfo()).toMatchObject({ status: 'red', error: expect.stringContaining('disk on fire') });
    expect(shard.stats().optimizer).toMatchObject({ status: 'red' });
    // The sources stayed and are searched; the job is retried.
    expect(shard.count(null)).toBe(200);
    (executor.queue[0] ?? fail('no retry')).complete();
    await shard.optimizerIdle();
    expect(shard.optimizerInfo()).toMatchObject({ status: 'green', error: null });
    expect(shard.info().sealedSegments).toBe(1);
    expect(shard.stats().indexedVectors).toBe(0);

    // Back to indexing: the sealed segment gets its graph.
    shard.reconfigure(configOf({ maxOptimizationThreads: 1, indexingThresholdKb: 1, maxSegmentSizeKb: 2 }));
    expect(shard.optimizerInfo().status).toBe('yellow');
    expect(executor.queue.map((job) => job.input.kind)).toEqual(['index']);
    executor.queue[0]?.complete();
    await shard.optimizerIdle();
    expect(shard.stats().indexedVectors).toBe(200);
    expect(shard.optimizerInfo().status).toBe('green');
    // A new m rebuilds the graphs.
    shard.reconfigure(configOf({ maxOptimizationThreads: 1, indexingThresholdKb: 1, maxSegmentSizeKb: 2 }, 12));
    expect(executor.queue.map((job) => job.input.vectors.map((v) => v.params.m))).toEqual([[12]]);
    await shard.close();
  });

  it('merges small segments and vacuums deleted points', async () => {
    const fs = new MemoryFileSystem();
    const schema = schemaOf(4);
    const config = configOf({ indexingThresholdKb: 1, maxSegmentSizeKb: 8, defaultSegmentNumber: 1, deletedThreshold: 0.3, vacuumMinVectorNumber: 50 });
    const executor = new InlineExecutor();
    const shard = await LocalShard.open(options(fs, schema, config, executor));
    const model = createSegment(schema);
    for (let id = 0; id < 400; id += 50) {
      const op = upserts(id, id + 50, 4);
      await shard.update(op);
      model.apply(op);
      await shard.optimizerIdle();
    }
    expect(shard.info().sealedSegments).toBe(1);
    const del: PointOperation = { kind: 'delete_points', selector: { kind: 'ids', ids: Array.from({ length: 200 }, (_, i) => i * 2) } };
    await shard.update(del);
    model.apply(del);
    await shard.optimizerIdle();
    await shard.flush();
    const files = await fs.list('/shard/segments');
    // One sealed segment without the deleted points: 200 indexed vectors, its two files only.
    expect(shard.stats().indexedVectors).toBe(200);
    expect(files.length).toBe(2);
    expect(shard.search(query(4, true, 50))).toEqual(model.search(query(4, true, 50)));
    await shard.close();
  });

  it('opens 300 small sealed segments in one process', async () => {
    const fs = new MemoryFileSystem();
    const schema = schemaOf(4);
    // 0.1 KB is 6.4 vectors of 4 dimensions: every 7 points freeze a segment.
    const config = configOf({ indexingThresholdKb: 0.1, maxSegmentSizeKb: 0.1 });
    const shard = await LocalShard.open(options(fs, schema, config, new InlineExecutor()));
    for (let id = 0; id < 2100; id += 7) {
      await shard.update(upserts(id, id + 7, 4));
      if (id % 700 === 0) await shard.optimizerIdle();
    }
    await shard.optimizerIdle();
    expect(shard.info().sealedSegments).toBe(300);
    const exact = shard.search(query(4, true));
    await shard.close();
    const again = await LocalShard.open(options(fs, schema, config, new ManualExecutor()));
    expect(again.info().sealedSegments).toBe(300);
    expect(again.search(query(4, true))).toEqual(exact);
    expect(again.count(null)).toBe(2100);
    await again.close();
  });
});

/** Complete every job, including the ones the completed jobs lead to. */
async function drain(executor: ManualExecutor, shard: LocalShard): Promise<void> {
  for (;;) {
    await spin();
    const job = executor.queue[0];
    if (job === undefined) return shard.optimizerIdle();
    job.complete();
  }
}

function fail(message: string): never {
  throw new Error(message);
}
