// How long a shard's image write holds the event loop: fills the appendable segment of a shard
// (real file system, no sealing) with N points of dim floats and a small payload in batches,
// then writes the image with shard.flush() while perf_hooks.monitorEventLoopDelay watches.
// Also times the pieces on their own: one batch's apply, the segment image (serialize), the
// CRC-32C of the vector bytes, and the longest synchronous stretch of a flush (the largest gap
// between ticks of a 1 ms timer).
//
//   npm run build && node scripts/bench-flush.mjs [--points 20000] [--dim 128] [--batch 1000] [--flushes 5]
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem, crc32c, seededRng } from '../packages/common/dist/index.js';
import { LocalShard, InlineExecutor } from '../packages/shard/dist/index.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '128' },
    batch: { type: 'string', default: '1000' },
    flushes: { type: 'string', default: '5' },
  },
});
const points = Number(values.points);
const dim = Number(values.dim);
const batch = Number(values.batch);
const flushes = Number(values.flushes);

const rng = seededRng(42);
const vector = () => Float32Array.from({ length: dim }, () => rng.next() * 2 - 1);
const schema = { vectors: new Map([['', { size: dim, distance: 'Cosine', onDisk: null, datatype: null }]]) };
const bigKb = 1024 * 1024 * 1024;
const optimizer = {
  indexingThresholdKb: bigKb,
  maxSegmentSizeKb: bigKb,
  deletedThreshold: 0.2,
  vacuumMinVectorNumber: 1000,
  defaultSegmentNumber: 1,
  maxOptimizationThreads: 1,
  vectors: new Map([['', { m: 16, efConstruct: 100, fullScanThresholdKb: 10_000, quantization: null }]]),
};

/** Longest gap between ticks of a 1 ms timer while `run` runs: the longest synchronous stretch. */
async function longestStretch(run) {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const t0 = performance.now();
  await run();
  const took = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 5));
  histogram.disable();
  clearInterval(timer);
  return { took, gap: worst, delayMax: histogram.max / 1e6 };
}

const f = (x) => x.toFixed(1);
const root = await mkdtemp(join(tmpdir(), 'shoal-flush-'));
try {
  const shard = await LocalShard.open({
    fs: new NodeFileSystem(),
    dir: `${root}/shard`,
    schema,
    optimizer,
    executor: new InlineExecutor(),
    flushPolicy: { intervalMs: null, walBytesMax: 1024 * 1024 * 1024 },
  });
  let applyMax = 0;
  let next = 0;
  const fill = await longestStretch(async () => {
    for (; next < points; next += batch) {
      const chunk = [];
      for (let i = next; i < Math.min(points, next + batch); i++) {
        chunk.push({ id: i, vectors: new Map([['', vector()]]), payload: { n: i, tag: `t${i % 100}`, w: i % 16, name: `point number ${i}` } });
      }
      const s = performance.now();
      await shard.update({ kind: 'upsert', points: chunk });
      applyMax = Math.max(applyMax, performance.now() - s);
    }
  });
  console.log(`bench-flush: ${points} x ${dim} (Cosine) with payloads, batches of ${batch}, appendable segment only`);
  console.log(`  fill: ${f(fill.took)} ms, longest stretch ${f(fill.gap)} ms, event-loop delay max ${f(fill.delayMax)} ms; slowest update() ${f(applyMax)} ms`);

  const segment = shard.set?.appendable ?? null;
  if (segment !== null) {
    let serializeMs = Infinity;
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      const parts = segment.serialize();
      serializeMs = Math.min(serializeMs, performance.now() - s);
      bytes = parts.reduce((n, p) => n + p.length, 0);
    }
    const block = new Uint8Array(points * dim * 4).map((_, i) => i * 31);
    let crcMs = Infinity;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      crc32c(block);
      crcMs = Math.min(crcMs, performance.now() - s);
    }
    console.log(`  segment.serialize() (sync, best of 3): ${f(serializeMs)} ms for ${(bytes / 1e6).toFixed(1)} MB; crc32c over ${(block.length / 1e6).toFixed(1)} MB: ${f(crcMs)} ms`);
  }

  const runs = [];
  for (let i = 0; i < flushes; i++) {
    // One more small update so that the image is behind and flush() writes a whole new one.
    await shard.update({ kind: 'upsert', points: [{ id: next + i, vectors: new Map([['', vector()]]), payload: { n: i } }] });
    runs.push(await longestStretch(() => shard.flush()));
  }
  const worst = (key) => Math.max(...runs.map((r) => r[key]));
  const median = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  console.log(`  flush x${flushes}: took median ${f(median('took'))} ms; longest stretch median ${f(median('gap'))} ms, worst ${f(worst('gap'))} ms; event-loop delay max ${f(worst('delayMax'))} ms`);
  await shard.close({ flush: false });
} finally {
  await rm(root, { recursive: true, force: true });
}
