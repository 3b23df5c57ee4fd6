// One DenseIndex (packages/segment/src/dense) alone, single thread: build rate, then an ef sweep
// with recall@10 against exact search, QPS and distance evaluations per query. No peers here
// (scripts/bench has them); the figure that does not drift with machine load is distance
// evaluations per query.
//
//   npm run build && node scripts/bench-graph.mjs [--points 100000] [--dim 128] [--queries 500]
//     [--clusters 0] [--metric l2|dot|l1] [--m 16] [--ef-construct 100] [--efs 16,32,64,128,256,512]
//     [--implementation wasm-simd|js] [--int8] [--quantile 1] [--oversampling 2]
//
// --clusters 0 draws standard Gaussian vectors; --clusters C > 0 a mixture of C Gaussians
// (centres N(0, 1), spread 0.35), closer to real embeddings.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { seededRng } from '../packages/common/dist/index.js';
import { buildDenseIndex, defaultKernelImplementation } from '../packages/segment/dist/index.js';

/** Common's seeded generator (mulberry32), as a plain () => [0, 1) function. */
const seededRngNext = (seed) => seededRng(seed).next;

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    queries: { type: 'string', default: '500' },
    clusters: { type: 'string', default: '0' },
    metric: { type: 'string', default: 'l2' },
    m: { type: 'string', default: '16' },
    'ef-construct': { type: 'string', default: '100' },
    efs: { type: 'string', default: '16,32,64,128,256,512' },
    rounds: { type: 'string', default: '3' },
    implementation: { type: 'string', default: '' },
    int8: { type: 'boolean', default: false },
    quantile: { type: 'string', default: '1' },
    oversampling: { type: 'string', default: '2' },
  },
});
const N = Number(values.points);
const DIM = Number(values.dim);
const Q = Number(values.queries);
const CLUSTERS = Number(values.clusters);
const METRIC = values.metric;
const K = 10;
const IMPLEMENTATION = values.implementation || defaultKernelImplementation();
const PARAMS = {
  dim: DIM, metric: METRIC, m: Number(values.m), efConstruct: Number(values['ef-construct']), seed: 42,
  quantization: values.int8 ? { kind: 'int8', quantile: Number(values.quantile), alwaysRam: true } : null,
};
const SEARCH = {
  k: 10, exact: false, allowed: null, deleted: null,
  quantization: values.int8 ? { ignore: false, rescore: true, oversampling: Number(values.oversampling) } : null,
};
const EFS = values.efs.split(',').map(Number);
const ROUNDS = Number(values.rounds);

function normal(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function vectors(count, seed) {
  const rand = seededRngNext(seed);
  const centres = Array.from({ length: CLUSTERS }, () => Float64Array.from({ length: DIM }, () => normal(rand)));
  const out = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    const centre = CLUSTERS > 0 ? centres[Math.floor(rand() * CLUSTERS)] : null;
    for (let j = 0; j < DIM; j++) out[i * DIM + j] = centre ? centre[j] + 0.35 * normal(rand) : normal(rand);
    if (METRIC === 'dot') normalizeRow(out, i * DIM);
  }
  return out;
}

function normalizeRow(a, base) {
  let s = 0;
  for (let j = 0; j < DIM; j++) s += a[base + j] * a[base + j];
  const scale = 1 / Math.sqrt(s);
  for (let j = 0; j < DIM; j++) a[base + j] *= scale;
}

// Exact scores in f64; a result counts as a hit when its exact score reaches the 10th best, so
// ties at rank 10 are not counted as misses.
function exactScore(data, id, query) {
  let s = 0;
  for (let j = 0; j < DIM; j++) {
    const a = data[id * DIM + j];
    const b = query[j];
    s += METRIC === 'dot' ? a * b : METRIC === 'l1' ? -Math.abs(a - b) : -(a - b) * (a - b);
  }
  return s;
}

function kthBest(data, query) {
  const top = new Float64Array(K).fill(-Infinity);
  for (let id = 0; id < N; id++) {
    const s = exactScore(data, id, query);
    if (s <= top[K - 1]) continue;
    let i = K - 1;
    while (i > 0 && top[i - 1] < s) { top[i] = top[i - 1]; i--; }
    top[i] = s;
  }
  return top[K - 1];
}

// Queries come from the same stream as the data (the same mixture centres), then split off.
const all = vectors(N + Q, 1);
const data = all.subarray(0, N * DIM);
const queries = all.subarray(N * DIM);
const query = (q) => queries.subarray(q * DIM, (q + 1) * DIM);
let t = performance.now();
const index = buildDenseIndex(data, N, PARAMS, { implementation: IMPLEMENTATION });
const buildSeconds = (performance.now() - t) / 1000;
const memory = index.memory();

t = performance.now();
const kth = Array.from({ length: Q }, (_, q) => kthBest(data, query(q)));
const truthSeconds = (performance.now() - t) / 1000;

const traversal = values.int8 ? `int8 traversal (quantile ${values.quantile}), f32 rescoring of ${values.oversampling}k` : 'f32';
console.log(`DenseIndex (${IMPLEMENTATION}, ${traversal}): ${N} x ${DIM} ${CLUSTERS > 0 ? `mixture of ${CLUSTERS}` : 'Gaussian'}, ${METRIC}, m ${PARAMS.m}, ef_construct ${PARAMS.efConstruct}, ${Q} queries, node ${process.version}`);
console.log(`build: ${buildSeconds.toFixed(1)} s, ${Math.round(N / buildSeconds)} inserts/s; memory ${Math.round(memory.memoryBytes / N)} bytes per vector (vectors ${Math.round(memory.vectorBytes / N)}, codes ${Math.round(memory.quantizedBytes / N)}, graph ${Math.round(memory.graphBytes / N)})`);
console.log(`exact search (ground truth, f64): ${((truthSeconds / Q) * 1000).toFixed(1)} ms per query`);
console.log('');
console.log('| ef | recall@10 | QPS (best of ' + ROUNDS + ') | distance evaluations / query | % of a full scan |');
console.log('|---:|---:|---:|---:|---:|');
for (const ef of EFS) {
  let hits = 0;
  let evaluations = 0;
  for (let q = 0; q < Q; q++) {
    const r = index.search(query(q), { ...SEARCH, ef });
    evaluations += r.evaluations;
    for (const id of r.ids) if (exactScore(data, id, query(q)) >= kth[q] - 1e-9 * Math.abs(kth[q])) hits++;
  }
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let q = 0; q < Q; q++) index.search(query(q), { ...SEARCH, ef });
    best = Math.max(best, Q / ((performance.now() - start) / 1000));
  }
  const perQuery = evaluations / Q;
  console.log(`| ${ef} | ${(hits / (Q * K)).toFixed(4)} | ${Math.round(best)} | ${Math.round(perQuery)} | ${((perQuery / N) * 100).toFixed(2)}% |`);
}
