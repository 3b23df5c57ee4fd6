// One engine in its own process (forked by run.mjs with --expose-gc), so that its RAM per vector
// is the growth of this process's RSS across the build, measured the same way for every engine.
// It builds once, then answers the parent's commands over IPC:
//   { cmd: 'recall', efs, stopAt }  -> recall@10 (ties at rank 10 count as hits) and, for ours,
//                                      distance evaluations per query, per ef; stops after the
//                                      first ef reaching stopAt when stopAt is given
//   { cmd: 'time', efs }            -> QPS of one pass over all queries per ef, single thread
//   { cmd: 'exit' }
import { createRequire } from 'node:module';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EF_CONSTRUCT, M } from './constants.mjs';
import { CACHE, K, datasetSpec, exactScore, readF32, readTruth } from './data.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(HERE, 'package.json'));
const SEED = 42;

const [engineName, datasetName, quickFlag] = process.argv.slice(2);
const spec = datasetSpec(datasetName, quickFlag === 'quick');
const base = readF32(spec.base);
const queryData = readF32(spec.queries);
const truth = readTruth(spec);
const queries = Array.from({ length: spec.q }, (_, q) => queryData.subarray(q * spec.dim, (q + 1) * spec.dim));

function settledRss() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  return process.memoryUsage().rss;
}

// Each adapter: build() (timed), then search(q, ef) -> ids (numbers), plus setEf(ef) before a
// pass, evaluations() for the last search where the engine counts them, and bytesPerVector()
// where the engine reports its own memory (else the RSS growth across the build counts).

/** Oversampling of the int8 row: ceil(k * this) estimates are rescored on the f32 rows. */
export const INT8_OVERSAMPLING = 2;
/**
 * Calibration of the int8 row: the central 99% of the values (Qdrant's usual setting); the
 * 0.5% most extreme on each side are clipped. Each row's code carries its own coding error
 * (packages/segment/src/dense/quantize.ts), without which the 768-d mixture, whose neighbours
 * differ by less than the clipped amounts, stayed near recall 0.73 at any ef.
 */
export const INT8_QUANTILE = 0.99;
/** Product quantization of the pq row: x16, four dimensions per code byte. */
export const PQ_COMPRESSION = 16;

/**
 * The quantized rows of ours: what the index codes and how a search uses the codes. The binary
 * and pq rows rescore every candidate of the walk (oversampling = ef / k): their codes rank
 * near neighbours too coarsely for a fixed small oversampling to reach high recall.
 */
const OURS = {
  ours: { quantization: null, oversampling: () => null, label: 'f32' },
  'ours-int8': {
    quantization: { kind: 'int8', quantile: INT8_QUANTILE, alwaysRam: true },
    oversampling: () => INT8_OVERSAMPLING,
    label: `int8 q${INT8_QUANTILE} traversal + f32 rescoring of ${INT8_OVERSAMPLING}k`,
  },
  'ours-binary': {
    quantization: { kind: 'binary', alwaysRam: true, encoding: 'one_bit' },
    oversampling: (ef) => Math.max(1, ef / K),
    label: 'binary 1-bit traversal + f32 rescoring of all ef',
  },
  'ours-pq': {
    quantization: { kind: 'product', compression: PQ_COMPRESSION, alwaysRam: true },
    oversampling: (ef) => Math.max(1, ef / K),
    label: `product x${PQ_COMPRESSION} traversal + f32 rescoring of all ef`,
  },
};

/**
 * Our DenseIndex (packages/segment/src/dense): rows, codes and graph in one WebAssembly memory,
 * search and build in WebAssembly (or the JS loops where SIMD is missing), one row of OURS.
 */
function oursWith(row) {
  return async () => {
    const { buildDenseIndex } = await import('../../packages/segment/dist/index.js');
    const { wasmSimdSupported } = await import('../../packages/segment/dist/wasm/index.js');
    const params = { dim: spec.dim, metric: spec.metric, m: M, efConstruct: EF_CONSTRUCT, seed: SEED, quantization: row.quantization };
    let index = null;
    let ef = EF_CONSTRUCT;
    let quantization = null;
    let last = null;
    const engine = wasmSimdSupported() ? 'WASM' : 'JS';
    const setQuantization = () => {
      const oversampling = row.oversampling(ef);
      quantization = oversampling === null ? null : { ignore: false, rescore: true, oversampling };
    };
    setQuantization();
    return {
      build() {
        index = buildDenseIndex(base, spec.n, params);
      },
      label: () => `ours (${engine}, ${row.label})`,
      setEf(value) {
        ef = value;
        setQuantization();
      },
      search(q) {
        last = index.search(queries[q], { k: K, ef, exact: false, allowed: null, deleted: null, quantization });
        return last.ids;
      },
      evaluations: () => last.evaluations,
      // The index's own account: its whole WebAssembly memory (data, scratch and slack).
      bytesPerVector: () => index.memory().memoryBytes / spec.n,
    };
  };
}

async function hnswlib() {
  const { HierarchicalNSW } = require('hnswlib-node');
  const arrays = queries.map((q) => Array.from(q)); // its API takes number[]; converted untimed
  let index = null;
  return {
    build() {
      index = new HierarchicalNSW(spec.metric === 'dot' ? 'ip' : 'l2', spec.dim);
      index.initIndex(spec.n, M, EF_CONSTRUCT, SEED);
      for (let i = 0; i < spec.n; i++) index.addPoint(Array.from(base.subarray(i * spec.dim, (i + 1) * spec.dim)), i);
    },
    label: () => 'hnswlib-node',
    setEf(value) { index.setEf(value); },
    search: (q) => index.searchKnn(arrays[q], K).neighbors,
    evaluations: () => null,
  };
}

// usearch fixes expansion_search when an index is made: the built index is saved once and loaded
// into a fresh Index per ef (loading is outside the timed passes).
async function usearch() {
  const { Index } = require('usearch');
  const config = (expansionSearch) => ({
    dimensions: spec.dim, metric: spec.metric === 'dot' ? 'ip' : 'l2sq', quantization: 'f32',
    connectivity: M, expansion_add: EF_CONSTRUCT, expansion_search: expansionSearch, multi: false,
  });
  const file = join(CACHE, 'tmp', `usearch-${spec.key}-${process.pid}.usearch`);
  let index = null;
  let saved = false;
  const keys = new BigUint64Array(spec.n);
  for (let i = 0; i < spec.n; i++) keys[i] = BigInt(i);
  return {
    build() {
      index = new Index(config(EF_CONSTRUCT));
      index.add(keys, base, 1);
    },
    label: () => 'usearch',
    setEf(value) {
      if (!saved) {
        mkdirSync(dirname(file), { recursive: true });
        index.save(file);
        saved = true;
      }
      index = null;
      globalThis.gc();
      index = new Index(config(value));
      index.load(file);
    },
    search: (q) => index.search(queries[q], K, 1).keys,
    evaluations: () => null,
    cleanup() { rmSync(file, { force: true }); },
  };
}

const ENGINES = {
  ...Object.fromEntries(Object.entries(OURS).map(([name, row]) => [name, oursWith(row)])),
  hnswlib,
  usearch,
};

function recallAt(engine, ef) {
  engine.setEf(ef);
  let hits = 0;
  let evaluations = 0;
  for (let q = 0; q < spec.q; q++) {
    const ids = engine.search(q);
    const kth = truth.scores[q * K + K - 1];
    const slack = 1e-9 * Math.abs(kth);
    for (let i = 0; i < ids.length && i < K; i++) {
      if (exactScore(base, Number(ids[i]), queryData, q * spec.dim, spec.dim, spec.metric) >= kth - slack) hits++;
    }
    evaluations += engine.evaluations() ?? 0;
  }
  const counted = engine.evaluations() !== null;
  return { ef, recall: hits / (spec.q * K), evaluations: counted ? evaluations / spec.q : null };
}

/** Whole passes over the queries until TIME_MIN_MS have passed, so fast passes are not all noise. */
const TIME_MIN_MS = 250;

function timePass(engine, ef) {
  engine.setEf(ef);
  const started = performance.now();
  let done = 0;
  let elapsed = 0;
  do {
    for (let q = 0; q < spec.q; q++) engine.search(q);
    done += spec.q;
    elapsed = performance.now() - started;
  } while (elapsed < TIME_MIN_MS);
  return done / (elapsed / 1000);
}

async function main() {
  const engine = await ENGINES[engineName]();
  const before = settledRss();
  const started = performance.now();
  engine.build();
  const buildSeconds = (performance.now() - started) / 1000;
  const after = settledRss();
  const rssPerVector = (after - before) / spec.n;
  process.send({
    type: 'built', label: engine.label(), buildSeconds, rssPerVector,
    bytesPerVector: engine.bytesPerVector?.() ?? rssPerVector,
  });
  process.on('message', (msg) => {
    if (msg.cmd === 'recall') {
      const rows = [];
      for (const ef of msg.efs) {
        const row = recallAt(engine, ef);
        rows.push(row);
        if (msg.stopAt !== undefined && row.recall >= msg.stopAt) break;
      }
      process.send({ type: 'recall', rows });
    } else if (msg.cmd === 'time') {
      const qps = {};
      for (const ef of msg.efs) qps[ef] = timePass(engine, ef);
      process.send({ type: 'time', qps });
    } else if (msg.cmd === 'exit') {
      engine.cleanup?.();
      process.disconnect();
    }
  });
}

main().catch((err) => {
  process.send?.({ type: 'error', message: String(err?.stack ?? err) });
  process.exitCode = 1;
});
