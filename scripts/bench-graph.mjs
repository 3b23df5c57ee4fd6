// The HNSW graph alone, single thread, plain-JS scoring: build rate, then an ef sweep with
// recall@10 against exact search, QPS and distance evaluations per query. No peers here; the
// figure that does not drift with machine load is distance evaluations per query.
//
//   npm run build && node scripts/bench-graph.mjs [--points 100000] [--dim 128] [--queries 500]
//     [--clusters 0] [--metric l2|dot] [--m 16] [--ef-construct 100] [--efs 16,32,64,128,256,512]
//
// --clusters 0 draws standard Gaussian vectors; --clusters C > 0 a mixture of C Gaussians
// (centres N(0, 1), spread 0.35), closer to real embeddings.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { seededRng } from '../packages/common/dist/index.js';
import { HnswGraph, createJsScorer } from '../packages/segment/dist/hnsw/index.js';

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
  },
});
const N = Number(values.points);
const DIM = Number(values.dim);
const Q = Number(values.queries);
const CLUSTERS = Number(values.clusters);
const METRIC = values.metric;
const K = 10;
const PARAMS = { m: Number(values.m), efConstruct: Number(values['ef-construct']) };
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
    s += METRIC === 'dot' ? a * b : -(a - b) * (a - b);
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
const scorer = createJsScorer(data, DIM, METRIC);

let t = performance.now();
const graph = HnswGraph.build(N, PARAMS, scorer, seededRng(42));
const buildSeconds = (performance.now() - t) / 1000;

t = performance.now();
const kth = Array.from({ length: Q }, (_, q) => kthBest(data, query(q)));
const truthSeconds = (performance.now() - t) / 1000;

console.log(`HNSW graph, plain-JS scorer: ${N} x ${DIM} ${CLUSTERS > 0 ? `mixture of ${CLUSTERS}` : 'Gaussian'}, ${METRIC}, m ${PARAMS.m}, ef_construct ${PARAMS.efConstruct}, ${Q} queries, node ${process.version}`);
console.log(`build: ${buildSeconds.toFixed(1)} s, ${Math.round(N / buildSeconds)} inserts/s, ${Math.round(graph.buildEvaluations / N)} distance evaluations per insert, max level ${graph.store.maxLevel}`);
console.log(`exact search (ground truth, f64): ${((truthSeconds / Q) * 1000).toFixed(1)} ms per query`);
console.log('');
console.log('| ef | recall@10 | QPS (best of ' + ROUNDS + ') | distance evaluations / query | % of a full scan |');
console.log('|---:|---:|---:|---:|---:|');
for (const ef of EFS) {
  let hits = 0;
  let evaluations = 0;
  for (let q = 0; q < Q; q++) {
    const r = graph.search(query(q), K, { ef });
    evaluations += r.distanceEvaluations;
    for (const id of r.ids) if (exactScore(data, id, query(q)) >= kth[q] - 1e-9 * Math.abs(kth[q])) hits++;
  }
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let q = 0; q < Q; q++) graph.search(query(q), K, { ef });
    best = Math.max(best, Q / ((performance.now() - start) / 1000));
  }
  const perQuery = evaluations / Q;
  console.log(`| ${ef} | ${(hits / (Q * K)).toFixed(4)} | ${Math.round(best)} | ${Math.round(perQuery)} | ${((perQuery / N) * 100).toFixed(2)}% |`);
}
