import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, encodeJson, seededRng, type PointId, type PointOperation, type Rng } from '@shoal/common';
import { createSegment, type SegmentSchema } from '@shoal/segment';
import type { OptimizerConfig } from './config.js';
import { ManualExecutor } from './executor.js';
import type { OptimizerScheduler } from './optimizer.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

// Seeded power losses while the optimizer freezes, seals, indexes, merges and vacuums: updates
// and flushes run concurrently, jobs complete in a seeded order (so flushes also fall between a
// freeze and its swap, when no image may be written), and the file system loses power at a random
// I/O operation, in the WAL, the image, a segment file being written, or a retired file being
// deleted. After each loss the shard must reopen with exactly the first k issued updates for a k
// covering every acknowledged one, and keep no segment file that its image does not name.

const SEEDS = 150;
const GENERATIONS = 3;
const STEPS = 70;

const schema: SegmentSchema = { vectors: new Map([['', { size: 3, distance: 'Dot', onDisk: null, datatype: null }]]) };
// 3-d vectors are 12 bytes: 0.1 KB holds 8 of them.
const config: OptimizerConfig = {
  indexingThresholdKb: 0.1,
  maxSegmentSizeKb: 0.4,
  deletedThreshold: 0.2,
  vacuumMinVectorNumber: 4,
  defaultSegmentNumber: 2,
  maxOptimizationThreads: 2,
  vectors: new Map([['', { m: 4, efConstruct: 8, fullScanThresholdKb: 0, quantization: null }]]),
};
const ALL = { kind: 'all' } as const;

const scheduler: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: () => new Promise((resolve) => setImmediate(resolve)),
};

const spin = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

const ids = (rng: Rng): PointId[] => Array.from({ length: 1 + rng.int(4) }, () => rng.int(40));

function randomOp(rng: Rng): PointOperation {
  const roll = rng.int(10);
  if (roll < 6) {
    return { kind: 'upsert', points: ids(rng).map((id) => ({ id, vectors: new Map([['', Float32Array.from([rng.int(3), rng.next(), 1])]]), payload: { v: rng.int(5) } })) };
  }
  if (roll < 8) return { kind: 'delete_points', selector: rng.int(2) === 0 ? { kind: 'ids', ids: ids(rng) } : { kind: 'filter', filter: { must: [{ kind: 'match', key: 'v', value: rng.int(5) }], should: [], mustNot: [], minShould: null } } };
  return { kind: 'set_payload', selector: { kind: 'ids', ids: ids(rng) }, payload: { w: rng.int(9) }, key: null };
}

function dump(reader: Pick<LocalShard, 'scroll'>): string {
  const page = reader.scroll({ filter: null, offset: null, limit: 10_000, withPayload: ALL, withVector: true });
  return encodeJson(page.points.map((p) => [p.id, p.payload, Array.from(p.vectors?.get('') ?? [])])).text;
}

interface Totals {
  runs: number;
  acknowledged: number;
  lost: number;
  mismatches: number;
  strayFiles: number;
  jobsCompleted: number;
  flushesWhileFrozen: number;
  crashesInSegmentFiles: number;
}

async function runSeed(seed: number, totals: Totals): Promise<void> {
  const rng = seededRng(seed);
  const crashRng = seededRng(seed ^ 0x5eed);
  let lastPath = '';
  const hookRef: { current: (op: string, path: string) => Promise<void> } = { current: async () => undefined };
  const hooks = { beforeOp: (op: string, path: string): Promise<void> => hookRef.current(op, path) };
  let disk = new MemoryFileSystem(hooks);
  let history: PointOperation[] = [];
  const base = (fs: MemoryFileSystem): LocalShardOptions => ({
    fs,
    dir: '/s',
    schema,
    optimizer: config,
    executor: new ManualExecutor(),
    scheduler,
    flushPolicy: { walBytesMax: 500 + rng.int(2000), intervalMs: null },
    walOptions: { segmentBytes: 512 + rng.int(1024) },
    walKeepTail: rng.int(3),
  });

  for (let generation = 0; generation < GENERATIONS; generation++) {
    const current = disk;
    let crashed: MemoryFileSystem | null = null;
    let count = 0;
    const crashAt = 1 + rng.int(300);
    hookRef.current = async (_op, path) => {
      count++;
      if (crashed === null && count === crashAt && !current.isCrashed) {
        lastPath = path;
        crashed = current.crash(crashRng, hooks);
      }
      await spin(rng.int(3));
    };
    const issued = [...history];
    const acked: number[] = [];
    await drive(current, base, rng, issued, acked, totals);
    if (crashed === null) crashed = current.crash(crashRng, hooks);
    else if (lastPath.includes('/segments/')) totals.crashesInSegmentFiles++;
    hookRef.current = async () => undefined;

    const recovered = await LocalShard.open(base(crashed));
    const k = recovered.info().appliedSeq;
    totals.runs++;
    totals.acknowledged += acked.length;
    totals.lost += acked.filter((seq) => seq > k).length;
    const model = createSegment(schema);
    for (const op of issued.slice(0, k)) model.apply(op);
    if (dump(recovered) !== dump(model)) totals.mismatches++;
    // Once an image of the reopened shard is durable, every file left in segments/ belongs to a
    // sealed segment it names (files of jobs cut short and of retired segments are gone).
    await recovered.flush();
    const files = await crashed.list('/s/segments');
    const { sealedSegments: sealed, frozenSegments: frozen } = recovered.info();
    const points = files.filter((f) => f.endsWith('.points')).length;
    const dense = files.filter((f) => f.endsWith('.dense')).length;
    if (points !== files.length - dense || (frozen === 0 && (points !== sealed || dense !== sealed))) totals.strayFiles++;
    history = issued.slice(0, k);
    await recovered.close({ flush: rng.int(2) === 0 });
    disk = crashed;
  }
}

async function drive(
  fs: MemoryFileSystem,
  base: (fs: MemoryFileSystem) => LocalShardOptions,
  rng: Rng,
  issued: PointOperation[],
  acked: number[],
  totals: Totals,
): Promise<void> {
  const options = base(fs);
  const executor = options.executor as ManualExecutor;
  let shard: LocalShard;
  try {
    shard = await LocalShard.open(options);
  } catch {
    expect(fs.isCrashed).toBe(true);
    return;
  }
  const pending: Promise<unknown>[] = [];
  for (let step = 0; step < STEPS && !fs.isCrashed; step++) {
    const roll = rng.int(20);
    if (roll < 10) {
      const op = randomOp(rng);
      issued.push(op);
      pending.push(shard.update(op).then((r) => acked.push(r.seq), () => undefined));
    } else if (roll < 12) {
      if (shard.info().frozenSegments > 0) totals.flushesWhileFrozen++;
      pending.push(shard.flush().catch(() => undefined));
    } else if (roll < 16) {
      const job = executor.queue[rng.int(Math.max(1, executor.queue.length))];
      if (job !== undefined) {
        job.complete();
        totals.jobsCompleted++;
      }
    } else if (roll < 19) {
      await spin(rng.int(20));
    } else {
      await Promise.allSettled(pending);
    }
  }
  await Promise.allSettled(pending);
}

describe('optimizer crash safety', () => {
  it(`loses no acknowledged update across swaps, ${SEEDS} seeds x ${GENERATIONS} power losses`, async () => {
    const totals: Totals = { runs: 0, acknowledged: 0, lost: 0, mismatches: 0, strayFiles: 0, jobsCompleted: 0, flushesWhileFrozen: 0, crashesInSegmentFiles: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) await runSeed(seed, totals);
    console.log(`optimizer crash test: ${JSON.stringify(totals)}`);
    expect(totals.runs).toBe(SEEDS * GENERATIONS);
    expect(totals.jobsCompleted).toBeGreaterThan(SEEDS * 3);
    expect(totals.flushesWhileFrozen).toBeGreaterThan(SEEDS / 2);
    expect(totals.crashesInSegmentFiles).toBeGreaterThan(5);
    expect(totals.lost).toBe(0);
    expect(totals.mismatches).toBe(0);
    expect(totals.strayFiles).toBe(0);
  });
});
