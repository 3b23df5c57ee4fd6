import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, type PointOperation } from '@shoal/common';
import { createSegment, type SearchParams, type SegmentSchema } from '@shoal/segment';
import type { OptimizerConfig } from './config.js';
import { LocalShard, type LocalShardOptions } from './shard.js';
import { WorkerPool } from './worker-pool.js';

// The real path: jobs run on worker threads (the compiled dist/worker.js, so this needs a build),
// the graphs come back in shared memory and are searched here without a copy.

const schema: SegmentSchema = {
  vectors: new Map([
    ['', { size: 16, distance: 'Cosine', onDisk: null, datatype: null }],
    ['b', { size: 8, distance: 'Euclid', onDisk: null, datatype: null }],
  ]),
};
// 16-d vectors are 64 bytes: 16 KB holds 256 of them.
const config: OptimizerConfig = {
  indexingThresholdKb: 16,
  maxSegmentSizeKb: 200,
  deletedThreshold: 0.2,
  vacuumMinVectorNumber: 100,
  defaultSegmentNumber: 2,
  maxOptimizationThreads: 1,
  vectors: new Map([
    ['', { m: 16, efConstruct: 64, fullScanThresholdKb: 0, quantization: null }],
    ['b', { m: 8, efConstruct: 32, fullScanThresholdKb: 0, quantization: { kind: 'int8', quantile: 0.99, alwaysRam: false } }],
  ]),
};
const NONE = { kind: 'none' } as const;

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), x | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function batch(from: number, to: number, random: () => number): PointOperation {
  const points = [];
  for (let id = from; id < to; id++) {
    points.push({
      id,
      vectors: new Map([
        ['', Float32Array.from({ length: 16 }, () => random() * 2 - 1)],
        ['b', Float32Array.from({ length: 8 }, () => random() * 2 - 1)],
      ]),
      payload: { group: id % 5 },
    });
  }
  return { kind: 'upsert', points };
}

function options(fs: MemoryFileSystem, executor: WorkerPool): LocalShardOptions {
  return { fs, dir: '/shard', schema, optimizer: config, executor, flushPolicy: { intervalMs: null } };
}

describe('optimization on worker threads', () => {
  it('seals, indexes and merges in workers; searches see the graphs through shared memory', async () => {
    const pool = new WorkerPool(1);
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs, pool));
    const model = createSegment(schema);
    const random = seeded(7);
    for (let id = 0; id < 2000; id += 100) {
      const op = batch(id, id + 100, random);
      await shard.update(op);
      model.apply(op);
    }
    const deletes: PointOperation = { kind: 'delete_points', selector: { kind: 'ids', ids: Array.from({ length: 300 }, (_, i) => i * 3) } };
    await shard.update(deletes);
    model.apply(deletes);
    await shard.optimizerIdle();
    expect(pool.jobsRun).toBeGreaterThan(3);
    expect(pool.threads).toBeGreaterThan(0);
    expect(shard.optimizerInfo().status).toBe('green');
    expect(shard.stats().indexedVectors).toBeGreaterThan(1000);
    let hits = 0;
    let wanted = 0;
    for (let q = 0; q < 20; q++) {
      for (const [vectorName, size] of [['', 16], ['b', 8]] as const) {
        const search: SearchParams = {
          vectorName, vector: Float32Array.from({ length: size }, () => random() * 2 - 1), filter: q % 2 === 0 ? null : { must: [{ kind: 'match', key: 'group', value: q % 5 }], should: [], mustNot: [], minShould: null },
          limit: 10, offset: 0, scoreThreshold: null, withPayload: NONE, withVector: false, excludeIds: [], exact: true,
        };
        const truth = model.search(search);
        expect(shard.search(search)).toEqual(truth);
        const found = new Set(shard.search({ ...search, exact: false }).map((p) => p.id));
        hits += truth.filter((p) => found.has(p.id)).length;
        wanted += truth.length;
      }
    }
    expect(hits / wanted).toBeGreaterThan(0.9);
    await shard.close();
    const again = await LocalShard.open(options(fs, pool));
    expect(again.count(null)).toBe(1700);
    await again.close();
    await pool.close();
  });

  it('close() cancels a running job by ending its worker; the sources stay and nothing is lost', async () => {
    const pool = new WorkerPool(1);
    const fs = new MemoryFileSystem();
    const shard = await LocalShard.open(options(fs, pool));
    const random = seeded(8);
    for (let id = 0; id < 1200; id += 300) await shard.update(batch(id, id + 300, random));
    // Jobs are running or queued now; closing must not wait for them to finish.
    expect(shard.optimizerInfo().status).toBe('yellow');
    await shard.close();
    const again = await LocalShard.open(options(fs, pool));
    expect(again.count(null)).toBe(1200);
    await again.optimizerIdle();
    expect(again.optimizerInfo().status).toBe('green');
    expect(again.count(null)).toBe(1200);
    await again.close();
    await pool.close();
  });
});
