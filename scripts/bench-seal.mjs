// How long the event loop waits while a shard seals and indexes a large segment on a worker
// thread: fills a shard (real file system, worker pool of one thread) until the appendable segment
// freezes, then watches perf_hooks.monitorEventLoopDelay until the optimizer is idle again (seal
// job, then HNSW build, swaps, file writes and the image that follows). Prints the worst and the
// typical delays, and the time each phase took.
//
//   npm run build && node scripts/bench-seal.mjs [--points 100000] [--dim 128] [--batch 1000]
//     [--m 16] [--ef-construct 100] [--search-every-ms 0]
//
// --search-every-ms N > 0 also runs a 10-NN search every N ms during the build (its own time then
// counts as event-loop delay too; the maximum search latency is printed).
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem, seededRng } from '../packages/common/dist/index.js';
import { LocalShard, WorkerPool } from '../packages/shard/dist/index.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    batch: { type: 'string', default: '1000' },
    m: { type: 'string', default: '16' },
    'ef-construct': { type: 'string', default: '100' },
    'search-every-ms': { type: 'string', default: '0' },
  },
});
const points = Number(values.points);
const dim = Number(values.dim);
const batch = Number(values.batch);
const searchEveryMs = Number(values['search-every-ms']);

const rng = seededRng(42);
const vector = () => Float32Array.from({ length: dim }, () => rng.next() * 2 - 1);
const schema = { vectors: new Map([['', { size: dim, distance: 'Cosine', onDisk: null, datatype: null }]]) };
// The appendable segment freezes exactly when the last batch lands.
const thresholdKb = (points * dim * 4) / 1024;
const optimizer = {
  indexingThresholdKb: thresholdKb,
  maxSegmentSizeKb: thresholdKb * 4,
  deletedThreshold: 0.2,
  vacuumMinVectorNumber: 1000,
  defaultSegmentNumber: 8,
  maxOptimizationThreads: 1,
  vectors: new Map([['', { m: Number(values.m), efConstruct: Number(values['ef-construct']), fullScanThresholdKb: 10_000, quantization: null }]]),
};

const ms = (ns) => (ns / 1e6).toFixed(1);

const root = await mkdtemp(join(tmpdir(), 'shoal-seal-'));
const pool = new WorkerPool(1);
try {
  const shard = await LocalShard.open({
    fs: new NodeFileSystem(),
    dir: `${root}/shard`,
    schema,
    optimizer,
    executor: pool,
    flushPolicy: { intervalMs: null, walBytesMax: 256 * 1024 * 1024 },
  });
  const fill = monitorEventLoopDelay({ resolution: 1 });
  fill.enable();
  const t0 = performance.now();
  for (let id = 0; id < points - batch; id += batch) {
    const chunk = [];
    for (let i = id; i < id + batch; i++) chunk.push({ id: i, vectors: new Map([['', vector()]]), payload: { n: i, tag: `t${i % 100}` } });
    await shard.update({ kind: 'upsert', points: chunk });
  }
  fill.disable();
  const last = [];
  for (let i = points - batch; i < points; i++) last.push({ id: i, vectors: new Map([['', vector()]]), payload: { n: i, tag: `t${i % 100}` } });
  const t1 = performance.now();

  const build = monitorEventLoopDelay({ resolution: 1 });
  build.enable();
  let searches = 0;
  let searchMsMax = 0;
  const query = vector();
  const timer = searchEveryMs > 0
    ? setInterval(() => {
        const s = performance.now();
        shard.search({ vectorName: '', vector: query, filter: null, limit: 10, offset: 0, scoreThreshold: null, withPayload: { kind: 'none' }, withVector: false, excludeIds: [] });
        searchMsMax = Math.max(searchMsMax, performance.now() - s);
        searches++;
      }, searchEveryMs)
    : null;
  await shard.update({ kind: 'upsert', points: last });
  const frozen = shard.info().frozenSegments;
  let sealedAt = null;
  const watch = setInterval(() => {
    if (sealedAt === null && shard.info().frozenSegments === 0) sealedAt = performance.now();
  }, 5);
  await shard.optimizerIdle();
  const t2 = performance.now();
  clearInterval(watch);
  if (timer !== null) clearInterval(timer);
  build.disable();
  const stats = shard.stats();
  await shard.close();

  console.log(`bench-seal: ${points} x ${dim} (Cosine), m ${values.m}, ef_construct ${values['ef-construct']}, one worker thread`);
  console.log(`  fill: ${((t1 - t0) / 1000).toFixed(1)} s, event-loop delay max ${ms(fill.max)} ms, p99 ${ms(fill.percentile(99))} ms`);
  console.log(`  frozen segments after the last batch: ${frozen}; sealed (plain) after ${(((sealedAt ?? t2) - t1) / 1000).toFixed(1)} s, indexed after ${((t2 - t1) / 1000).toFixed(1)} s`);
  console.log(`  event-loop delay from the freeze until idle: max ${ms(build.max)} ms, p99 ${ms(build.percentile(99))} ms, p50 ${ms(build.percentile(50))} ms, mean ${ms(build.mean)} ms`);
  if (timer !== null) console.log(`  searches during the build: ${searches}, slowest ${searchMsMax.toFixed(1)} ms`);
  console.log(`  after: ${stats.segments} segments, ${stats.indexedVectors} vectors indexed, status ${stats.optimizer?.status}`);
} finally {
  await pool.close();
  await rm(root, { recursive: true, force: true });
}
