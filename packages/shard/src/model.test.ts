import { describe, it, expect } from 'vitest';
import {
  MemoryFileSystem,
  encodeJson,
  seededRng,
  type Filter,
  type JsonValue,
  type NamedVectors,
  type Payload,
  type PointId,
  type PointOperation,
  type Rng,
  type ScoredPoint,
} from '@shoal/common';
import { createSegment, type SearchParams, type Segment, type SegmentSchema } from '@shoal/segment';
import type { OptimizerConfig, VectorIndexConfig } from './config.js';
import { ManualExecutor } from './executor.js';
import type { OptimizerScheduler } from './optimizer.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

// Model-based test of the segment set and its optimizer: seeded runs of writes (upserts, deletes
// by id and by filter, payload changes, vector updates and deletes, payload index changes) while
// the optimizer freezes, seals, indexes, merges and vacuums with tiny thresholds, its jobs
// completing or failing in a seeded order, the config changing mid-run, the shard restarting and
// the machine losing power (FileSystem double) in the middle of jobs. Every read is compared with
// a single in-memory segment that applies the same acknowledged writes: retrieve, scroll, count,
// facet, ordered scroll and exact search exactly; graph search by recall.

const SOAK = process.env['SHOAL_SOAK'] === '1';
const SEEDS = Number(process.env["SHOAL_MODEL_SEEDS"] ?? (SOAK ? 200 : 32));
const STEPS = SOAK ? 1500 : 400;

const schema: SegmentSchema = {
  vectors: new Map([
    ['', { size: 4, distance: 'Cosine', onDisk: null, datatype: null }],
    ['img', { size: 3, distance: 'Euclid', onDisk: null, datatype: null }],
  ]),
};
const ALL = { kind: 'all' } as const;
const NONE = { kind: 'none' } as const;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)] as T;
const ID_POOL: PointId[] = [
  ...Array.from({ length: 400 }, (_, i) => i),
  2n ** 63n - 1n,
  2n ** 62n,
  '00000000-0000-0000-0000-00000000000a',
  'ffffffff-0000-0000-0000-000000000001',
];
const randomId = (rng: Rng): PointId => pick(rng, ID_POOL);
const randomIds = (rng: Rng): PointId[] => Array.from({ length: 1 + rng.int(4) }, () => randomId(rng));
const manyIds = (rng: Rng): PointId[] => Array.from({ length: 1 + rng.int(12) }, () => randomId(rng));

/** Small integers make exact score ties common, so tie order is checked all the time. */
function component(rng: Rng): number {
  return rng.int(2) === 0 ? rng.int(3) - 1 : Math.fround(rng.next() * 2 - 1);
}

function randomVector(rng: Rng, size: number): Float32Array {
  const v = Float32Array.from({ length: size }, () => component(rng));
  if (v.every((x) => x === 0)) v[0] = 1;
  return v;
}

function randomVectors(rng: Rng, withDefault: boolean): NamedVectors {
  const vectors: NamedVectors = new Map();
  if (withDefault || rng.int(2) === 0) vectors.set('', randomVector(rng, 4));
  if (rng.int(3) !== 0) vectors.set('img', randomVector(rng, 3));
  return vectors;
}

function randomPayload(rng: Rng): Payload {
  const payload: Payload = {};
  if (rng.int(4) !== 0) payload['group'] = pick(rng, ['a', 'b', 'c']);
  if (rng.int(3) !== 0) payload['n'] = rng.int(20);
  if (rng.int(5) === 0) payload['deep'] = { list: [rng.int(3), null, true] } as JsonValue;
  return payload;
}

function randomFilter(rng: Rng): Filter {
  switch (rng.int(4)) {
    case 0:
      return { must: [{ kind: 'match', key: 'group', value: pick(rng, ['a', 'b', 'c']) }], should: [], mustNot: [], minShould: null };
    case 1:
      return {
        must: [{ kind: 'range', key: 'n', range: { gt: null, gte: rng.int(20), lt: null, lte: null } }],
        should: [],
        mustNot: [],
        minShould: null,
      };
    case 2:
      return { must: [], should: [], mustNot: [{ kind: 'match', key: 'group', value: 'a' }], minShould: null };
    default:
      return { must: [{ kind: 'has_id', ids: randomIds(rng) }], should: [], mustNot: [], minShould: null };
  }
}

function randomOp(rng: Rng): PointOperation {
  const selector = rng.int(3) === 0 ? { kind: 'filter' as const, filter: randomFilter(rng) } : { kind: 'ids' as const, ids: randomIds(rng) };
  const roll = rng.int(24);
  if (roll < 10) {
    return { kind: 'upsert', points: manyIds(rng).map((id) => ({ id, vectors: randomVectors(rng, rng.int(4) !== 0), payload: rng.int(5) === 0 ? null : randomPayload(rng) })) };
  }
  switch (roll) {
    case 10:
    case 11:
    case 12:
      return { kind: 'delete_points', selector };
    case 13:
      return { kind: 'set_payload', selector, payload: randomPayload(rng), key: null };
    case 14:
      return { kind: 'overwrite_payload', selector, payload: randomPayload(rng) };
    case 15:
      return { kind: 'delete_payload', selector, keys: ['group', 'n'].filter(() => rng.int(2) === 0) };
    case 16:
      return { kind: 'clear_payload', selector };
    case 17:
    case 18:
      return { kind: 'update_vectors', points: randomIds(rng).map((id) => ({ id, vectors: randomVectors(rng, false) })) };
    case 19:
      return { kind: 'delete_vectors', selector, vectorNames: [pick(rng, ['', 'img'])] };
    case 20:
    case 21: {
      const field = pick(rng, ['group', 'n']);
      const type = field === 'group' ? 'keyword' : 'integer';
      return { kind: 'create_field_index', field, params: { type, lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null } };
    }
    default:
      return { kind: 'delete_field_index', field: pick(rng, ['group', 'n']) };
  }
}

function randomConfig(rng: Rng): OptimizerConfig {
  const vector = (): VectorIndexConfig => ({
    m: pick(rng, [0, 4, 8]),
    efConstruct: pick(rng, [8, 32]),
    fullScanThresholdKb: pick(rng, [0, 0, 0.2]),
    quantization: rng.int(3) === 0 ? { kind: 'int8', quantile: 0.99, alwaysRam: false } : null,
  });
  return {
    // 64 vectors of 4 dimensions make a KB.
    indexingThresholdKb: pick(rng, [0, 0.3, 0.5, 1]),
    maxSegmentSizeKb: pick(rng, [1, 2, 4]),
    deletedThreshold: pick(rng, [0.1, 0.2, 0.5]),
    vacuumMinVectorNumber: pick(rng, [5, 20]),
    defaultSegmentNumber: pick(rng, [1, 2, 3]),
    maxOptimizationThreads: pick(rng, [1, 1, 1, 2, 2, 0]),
    vectors: new Map([['', vector()], ['img', vector()]]),
  };
}

const immediateScheduler: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: () => new Promise((resolve) => setImmediate(resolve)),
};

const spin = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

interface Totals {
  steps: number;
  writes: number;
  reads: number;
  restarts: number;
  crashes: number;
  jobsCompleted: number;
  jobsFailed: number;
  graphJobs: number;
  merges: number;
  graphSearches: number;
  recallSum: number;
  sealedPeak: number;
}

/** Everything a reader can see, as comparable text. */
function dump(reader: Pick<Segment, 'scroll'>): string {
  const page = reader.scroll({ filter: null, offset: null, limit: 100_000, withPayload: ALL, withVector: true });
  return encodeJson(page.points.map((p) => [p.id, p.payload, [...(p.vectors ?? new Map<string, Float32Array>())].sort().map(([n, v]) => [n, Array.from(v)])])).text;
}

function scrollIds(reader: Pick<Segment, 'scroll'>, filter: Filter | null, limit: number): PointId[] {
  const out: PointId[] = [];
  let offset: PointId | null = null;
  for (let i = 0; i < 1000; i++) {
    const page = reader.scroll({ filter, offset, limit, withPayload: NONE, withVector: false });
    out.push(...page.points.map((p) => p.id));
    if (page.nextOffset === null) return out;
    offset = page.nextOffset;
  }
  throw new Error('scroll did not end');
}

function compareReads(rng: Rng, shard: LocalShard, model: Segment, totals: Totals, context: string): void {
  totals.reads++;
  const say = (what: string): string => `${context}: ${what}`;
  expect(shard.count(null), say('count')).toBe(model.count(null));
  expect(dump(shard), say('all points')).toBe(dump(model));
  const filter = randomFilter(rng);
  expect(shard.count(filter), say('filtered count')).toBe(model.count(filter));
  const limit = 1 + rng.int(7);
  expect(scrollIds(shard, filter, limit), say('filtered scroll')).toEqual(scrollIds(model, filter, limit));
  const ids = randomIds(rng);
  expect(encodeJson(shard.retrieve(ids, ALL, true)).text, say('retrieve')).toBe(encodeJson(model.retrieve(ids, ALL, true)).text);
  expect([...shard.payloadIndexes()].sort(), say('payload indexes')).toEqual([...model.payloadIndexes()].sort());
  if (model.payloadIndexes().has('group')) {
    const params = { key: 'group', filter: rng.int(2) === 0 ? null : filter, limit: 1 + rng.int(3) };
    expect(shard.facet(params), say('facet')).toEqual(model.facet(params));
  }
  if (model.payloadIndexes().get('n')?.params.type === 'integer') {
    const params = { filter: null, orderBy: { key: 'n', direction: pick(rng, ['asc', 'desc'] as const), startFrom: null }, limit: 1 + rng.int(10), withPayload: NONE, withVector: false };
    expect(shard.scrollOrdered(params).map((r) => [r.id, r.orderValue]), say('ordered scroll')).toEqual(model.scrollOrdered(params).map((r) => [r.id, r.orderValue]));
  }
  for (const vectorName of ['', 'img']) {
    const size = vectorName === '' ? 4 : 3;
    const search: SearchParams = {
      vectorName,
      vector: randomVector(rng, size),
      filter: rng.int(2) === 0 ? null : randomFilter(rng),
      limit: 1 + rng.int(10),
      offset: rng.int(3),
      scoreThreshold: null,
      withPayload: NONE,
      withVector: false,
      excludeIds: rng.int(4) === 0 ? [randomId(rng)] : [],
      exact: true,
    };
    const expected = model.search(search);
    expect(shard.search(search).map(scored), say(`exact search ${JSON.stringify(vectorName)}`)).toEqual(expected.map(scored));
    const approximate = shard.search({ ...search, exact: false, offset: 0, hnswEf: 32 });
    const truth = model.search({ ...search, offset: 0 });
    if (truth.length > 0) {
      totals.graphSearches++;
      const found = new Set(approximate.map((p) => String(p.id)));
      totals.recallSum += truth.filter((p) => found.has(String(p.id))).length / truth.length;
    }
  }
}

const scored = (p: ScoredPoint): [PointId, number] => [p.id, p.score];

async function runSeed(seed: number, totals: Totals): Promise<void> {
  const rng = seededRng(seed);
  const crashRng = seededRng(seed ^ 0xc0ffee);
  let config = randomConfig(rng);
  const io = { count: 0, crashAt: -1 };
  let crashed: MemoryFileSystem | null = null;
  let disk: MemoryFileSystem;
  const hooks = {
    beforeOp: async (): Promise<void> => {
      io.count++;
      if (io.count === io.crashAt && crashed === null && !disk.isCrashed) crashed = disk.crash(crashRng, hooks);
      if (rng.int(4) === 0) await spin(1);
    },
  };
  disk = new MemoryFileSystem(hooks);
  const base = (fs: MemoryFileSystem, executor: ManualExecutor): LocalShardOptions => ({
    fs,
    dir: '/storage/shard',
    schema,
    optimizer: config,
    executor,
    scheduler: immediateScheduler,
    flushPolicy: { walBytesMax: 2_000 + rng.int(20_000), intervalMs: null },
    walOptions: { segmentBytes: 4096 },
    walKeepTail: rng.int(3),
  });
  let executor = new ManualExecutor();
  let shard = await LocalShard.open(base(disk, executor));
  const model = createSegment(schema);
  const ops: PointOperation[] = [];

  const recover = async (): Promise<void> => {
    const image = crashed ?? disk.crash(crashRng, hooks);
    await shard.close({ flush: false }).catch(() => undefined);
    crashed = null;
    io.crashAt = -1;
    disk = image;
    executor = new ManualExecutor();
    shard = await LocalShard.open(base(disk, executor));
    const k = shard.info().appliedSeq;
    // Every acknowledged write survives; the one in flight may or may not.
    expect(k === ops.length || k === ops.length + 1, `seed ${seed}: ${k} writes recovered of ${ops.length} acknowledged`).toBe(true);
    totals.crashes++;
  };

  for (let step = 0; step < STEPS; step++) {
    totals.steps++;
    const context = `seed ${seed} step ${step}`;
    const roll = rng.int(100);
    if (roll < 55) {
      const op = randomOp(rng);
      let result;
      try {
        result = (await shard.update(op)).result;
      } catch (error) {
        if (!disk.isCrashed) throw error;
        const before = ops.length;
        await recover();
        if (shard.info().appliedSeq === before + 1) {
          ops.push(op);
          model.apply(op);
        }
        continue;
      }
      ops.push(op);
      const expected = model.apply(op);
      totals.writes++;
      expect(result, `${context}: result of ${op.kind}`).toEqual(expected);
    } else if (roll < 76) {
      const job = executor.queue.length === 0 ? null : pick(rng, executor.queue);
      if (job !== null) {
        if (job.input.kind === 'index' || job.input.vectors.some((v) => v.params.m > 0)) totals.graphJobs++;
        if (job.input.sources.length > 1) totals.merges++;
        job.complete();
        totals.jobsCompleted++;
      }
    } else if (roll < 78) {
      const job = executor.queue.length === 0 ? null : pick(rng, executor.queue);
      if (job !== null) {
        job.fail(new Error('injected job failure'));
        totals.jobsFailed++;
      }
    } else if (roll < 79) {
      config = randomConfig(rng);
      shard.reconfigure(config);
    } else if (roll < 84) {
      await shard.flush().catch((error: unknown) => {
        if (!disk.isCrashed) throw error;
      });
    } else if (roll < 85) {
      await shard.close({ flush: rng.int(2) === 0 }).catch((error: unknown) => {
        if (!disk.isCrashed) throw error;
      });
      if (!disk.isCrashed) {
        executor = new ManualExecutor();
        try {
          shard = await LocalShard.open(base(disk, executor));
          expect(shard.info().appliedSeq, `${context}: reopened`).toBe(ops.length);
          totals.restarts++;
        } catch (error) {
          if (!disk.isCrashed) throw error;
        }
      }
    } else if (roll < 86) {
      // Lose power at one of the next few I/O operations (WAL, image, segment files).
      if (io.crashAt < 0) io.crashAt = io.count + 1 + rng.int(12);
    } else {
      await spin(rng.int(6));
    }
    if (disk.isCrashed) {
      await recover();
      if (shard.info().appliedSeq > ops.length) throw new Error('a write was applied that was never issued');
    }
    totals.sealedPeak = Math.max(totals.sealedPeak, (shard.stats().segments ?? 1) - 1);
    if (step % 4 === 0 || roll >= 55) compareReads(rng, shard, model, totals, context);
  }
  // Let every job finish: the optimizer settles, green, and still agrees with the model.
  io.crashAt = -1;
  if (disk.isCrashed) await recover();
  config = { ...config, maxOptimizationThreads: Math.max(1, config.maxOptimizationThreads) };
  shard.reconfigure(config);
  for (let round = 0; round < 200; round++) {
    await spin(3);
    const job = executor.queue[0];
    if (job === undefined) {
      if (shard.optimizerInfo().running === 0) break;
      continue;
    }
    job.complete();
    totals.jobsCompleted++;
  }
  expect(shard.optimizerInfo().status, `seed ${seed}: settled ${JSON.stringify(shard.optimizerInfo())} ${executor.queue.length}`).toBe('green');
  compareReads(rng, shard, model, totals, `seed ${seed} end`);
  await shard.close();
  const reopened = await LocalShard.open(base(disk, new ManualExecutor()));
  expect(dump(reopened)).toBe(dump(model));
  await reopened.close();
}

describe('segment set and optimizer against a model', () => {
  it(`agree on every read across ${SEEDS} seeds x ${STEPS} steps`, async () => {
    const totals: Totals = {
      steps: 0, writes: 0, reads: 0, restarts: 0, crashes: 0, jobsCompleted: 0, jobsFailed: 0, graphJobs: 0, merges: 0,
      graphSearches: 0, recallSum: 0, sealedPeak: 0,
    };
    for (let seed = 1; seed <= SEEDS; seed++) await runSeed(seed, totals);
    const recall = totals.recallSum / Math.max(1, totals.graphSearches);
    console.log(`model test: ${JSON.stringify({ ...totals, recallSum: undefined })}, graph search recall ${recall.toFixed(4)}`);
    expect(totals.jobsCompleted).toBeGreaterThan(SEEDS * 5);
    expect(totals.graphJobs).toBeGreaterThan(SEEDS);
    expect(totals.merges).toBeGreaterThan(0);
    expect(totals.crashes).toBeGreaterThan(0);
    expect(totals.restarts).toBeGreaterThan(0);
    expect(totals.jobsFailed).toBeGreaterThan(0);
    expect(recall).toBeGreaterThan(0.9);
  }, SOAK ? 4 * 3_600_000 : 180_000);
});
