// The optimizer builds subset graphs (payload_m) for the values of the shard's keyword indexes:
// an index job reads them from the sealed segment's payload indexes, a build job (merge) from
// the points' payloads. Filtered searches on one value then walk its links.
import { describe, expect, it } from 'vitest';
import { MemoryFileSystem, seededRng, type PointOperation } from '@shoal/common';
import { loadDenseIndex, type SearchParams, type SegmentSchema } from '@shoal/segment';
import type { OptimizerConfig } from './config.js';
import { InlineExecutor } from './executor.js';
import type { OptimizerScheduler } from './optimizer.js';
import { LocalShard } from './shard.js';

const scheduler: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: () => new Promise((resolve) => setImmediate(resolve)),
};
const DIM = 16;
const BATCH = 500;
const TENANTS = 20;
const schema: SegmentSchema = { vectors: new Map([['', { size: DIM, distance: 'Euclid', onDisk: null, datatype: null }]]) };

/** Seeded points: vectors around 10 centres, a tenant drawn independently of the vector. */
function points(from: number, to: number, seed: number): PointOperation {
  const rng = seededRng(seed);
  const centres = Array.from({ length: 10 }, () => Array.from({ length: DIM }, () => rng.next() * 4 - 2));
  const out = [];
  for (let id = from; id < to; id++) {
    const centre = centres[Math.floor(rng.next() * 10)] as number[];
    const vector = Float32Array.from(centre, (c) => c + (rng.next() - 0.5));
    out.push({ id, vectors: new Map([['', vector]]), payload: { tenant: `t${Math.floor(rng.next() * TENANTS)}` } });
  }
  return { kind: 'upsert', points: out };
}

function config(points: number, defaultSegmentNumber: number, payloadM: number | null): OptimizerConfig {
  const kb = (points * DIM * 4) / 1024;
  return {
    indexingThresholdKb: kb,
    maxSegmentSizeKb: kb * 8,
    deletedThreshold: 0.2,
    vacuumMinVectorNumber: 1000,
    defaultSegmentNumber,
    maxOptimizationThreads: 1,
    // full_scan_threshold 0: every filter walks the graph, and every value of 100+ points is linked.
    vectors: new Map([['', { m: 16, efConstruct: 64, fullScanThresholdKb: 0, quantization: null, payloadM }]]),
  };
}

function search(tenant: string, q: number, exact: boolean): SearchParams {
  const rng = seededRng(1000 + q);
  return {
    vectorName: '', vector: Float32Array.from({ length: DIM }, () => rng.next() * 4 - 2), limit: 10, offset: 0, scoreThreshold: null,
    filter: { must: [{ kind: 'match', key: 'tenant', value: tenant }], should: [], mustNot: [], minShould: null },
    withPayload: { kind: 'none' }, withVector: false, excludeIds: [], exact,
  };
}

async function subsetKeysOnDisk(fs: MemoryFileSystem): Promise<string[][]> {
  const names = (await fs.list('/shard/segments')).filter((n) => n.endsWith('.dense')).sort();
  const out: string[][] = [];
  for (const name of names) {
    const bytes = await fs.readFile(`/shard/segments/${name}`);
    if (bytes !== null) out.push([...loadDenseIndex(bytes).subsetKeys]);
  }
  return out;
}

async function filledShard(total: number, perSegment: number, defaultSegmentNumber: number, payloadM: number | null): Promise<{ fs: MemoryFileSystem; shard: LocalShard }> {
  const fs = new MemoryFileSystem();
  const shard = await LocalShard.open({
    fs, dir: '/shard', schema, optimizer: config(perSegment, defaultSegmentNumber, payloadM), executor: new InlineExecutor(), scheduler,
    flushPolicy: { intervalMs: null },
  });
  await shard.update({ kind: 'create_field_index', field: 'tenant', params: { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null } });
  for (let id = 0; id < total; id += BATCH) await shard.update(points(id, id + BATCH, id + 1));
  await shard.optimizerIdle();
  // An image naming only the current segments lets the retired files go.
  await shard.flush();
  await shard.flush();
  return { fs, shard };
}

function recall(shard: LocalShard): number {
  let hits = 0;
  for (let q = 0; q < 40; q++) {
    const tenant = `t${q % TENANTS}`;
    const want = new Set(shard.search(search(tenant, q, true)).map((p) => p.id));
    for (const p of shard.search(search(tenant, q, false))) if (want.has(p.id)) hits++;
  }
  return hits / 400;
}

describe('subset graphs built by the optimizer', () => {
  it('an index job links every tenant of the sealed segment; a tenant filter finds its neighbours', async () => {
    const { fs, shard } = await filledShard(4000, 4000, 1000, null);
    const keys = await subsetKeysOnDisk(fs);
    expect(keys.length).toBe(1);
    expect(new Set(keys[0])).toEqual(new Set(Array.from({ length: TENANTS }, (_, t) => JSON.stringify(['tenant', `st${t}`]))));
    expect(shard.stats().indexedVectors).toBe(4000);
    expect(recall(shard)).toBeGreaterThanOrEqual(0.95);
    await shard.close();
  });

  it('a merge builds them from the payloads; payload_m 0 builds none', async () => {
    const merged = await filledShard(4000, 2000, 1, 8);
    const keys = await subsetKeysOnDisk(merged.fs);
    expect(keys.length).toBe(1);
    expect(keys[0]?.length).toBe(TENANTS);
    expect(recall(merged.shard)).toBeGreaterThanOrEqual(0.95);
    await merged.shard.close();
    const none = await filledShard(2000, 2000, 1000, 0);
    expect(await subsetKeysOnDisk(none.fs)).toEqual([[]]);
    expect(recall(none.shard)).toBeGreaterThanOrEqual(0.95);
    await none.shard.close();
  });
});
