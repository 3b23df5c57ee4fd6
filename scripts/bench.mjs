// `npm run bench`: exact-search throughput of one segment, single thread, on seeded data.
// Prints one table. The reference column is a plain scalar loop over the same Float32Array in
// the same run, so the ratio is the figure to quote; absolute numbers drift on shared machines.
//
//   node scripts/bench.mjs [--points 100000] [--dim 128] [--queries 200]
import { parseArgs } from 'node:util';
import { createSegment, defaultKernelImplementation } from '../packages/segment/dist/index.js';
import { seededRng } from '../packages/common/dist/index.js';

/** Common's seeded generator (mulberry32), as a plain () => [0, 1) function. */
const seededRngNext = (seed) => seededRng(seed).next;

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    queries: { type: 'string', default: '200' },
  },
});
const N = Number(values.points);
const DIM = Number(values.dim);
const QUERIES = Number(values.queries);
const LIMIT = 10;

function gaussianVectors(count, dim, seed) {
  const rand = seededRngNext(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** The same top-k by a plain loop: the reference the segment is compared with. */
function referenceSearch(data, query, dim, limit, l2) {
  const best = [];
  for (let row = 0, base = 0; base < data.length; row++, base += dim) {
    let s = 0;
    if (l2) {
      for (let j = 0; j < dim; j++) {
        const d = data[base + j] - query[j];
        s += d * d;
      }
      s = -s;
    } else {
      for (let j = 0; j < dim; j++) s += data[base + j] * query[j];
    }
    if (best.length < limit || s > best[best.length - 1][0]) {
      best.push([s, row]);
      best.sort((a, b) => b[0] - a[0]);
      if (best.length > limit) best.pop();
    }
  }
  return best;
}

function timeQueries(queries, run) {
  const count = queries.length / DIM;
  const started = performance.now();
  for (let q = 0; q < count; q++) run(queries.subarray(q * DIM, (q + 1) * DIM));
  return count / ((performance.now() - started) / 1000);
}

function benchDistance(distance, data, queries) {
  const segment = createSegment({ vectors: new Map([['', { size: DIM, distance, onDisk: null, datatype: null }]]) });
  const loadStarted = performance.now();
  const BATCH = 1000;
  for (let start = 0; start < N; start += BATCH) {
    const points = [];
    for (let i = start; i < Math.min(N, start + BATCH); i++) {
      points.push({ id: i, vectors: new Map([['', data.subarray(i * DIM, (i + 1) * DIM)]]), payload: { group: `g${i % 10}`, n: i } });
    }
    segment.apply({ kind: 'upsert', points });
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const search = (filter) => (query) =>
    segment.search({ vectorName: '', vector: query, filter, limit: LIMIT, offset: 0, scoreThreshold: null, withPayload: { kind: 'none' }, withVector: false, excludeIds: [] });
  const tenPercent = { must: [{ kind: 'match', key: 'group', value: 'g3' }], should: [], mustNot: [], minShould: null };
  // warm up both paths before timing
  timeQueries(queries.subarray(0, DIM * 5), search(null));
  const l2 = distance === 'Euclid';
  const referenceData = distance === 'Cosine' ? normalizeRows(data) : data;
  const reference = timeQueries(queries, (q) => referenceSearch(referenceData, q, DIM, LIMIT, l2));
  const plain = timeQueries(queries, search(null));
  const filtered = timeQueries(queries, search(tenPercent));
  return { distance, loadSeconds, plain, filtered, reference };
}

function normalizeRows(data) {
  const out = new Float32Array(data.length);
  for (let base = 0; base < data.length; base += DIM) {
    let norm = 0;
    for (let j = 0; j < DIM; j++) norm += data[base + j] * data[base + j];
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < DIM; j++) out[base + j] = data[base + j] / norm;
  }
  return out;
}

const data = gaussianVectors(N, DIM, 42);
const queries = gaussianVectors(QUERIES, DIM, 7);
console.log(`exact search, ${N} x ${DIM}-d float32, ${QUERIES} queries, limit ${LIMIT}, single thread, kernels ${defaultKernelImplementation()}, node ${process.version}`);
console.log('| distance | upserts/s | QPS | QPS, filter 10% | reference loop QPS | ratio to reference |');
console.log('|---|---|---|---|---|---|');
for (const distance of ['Cosine', 'Euclid']) {
  const r = benchDistance(distance, data, queries);
  console.log(
    `| ${r.distance} | ${Math.round(N / r.loadSeconds)} | ${r.plain.toFixed(1)} | ${r.filtered.toFixed(1)} | ${r.reference.toFixed(1)} | ${(r.plain / r.reference).toFixed(2)}x |`,
  );
}
