// One engine of the filtered-search and latency rows, in its own process (forked by run.mjs).
// It builds once, then answers commands over IPC:
//   { cmd: 'recall', cases: [{ field, mode, ef }] } -> recall@10 against the exact filtered
//        results (ties at rank 10 count as hits) and, for ours, the planner's choice
//   { cmd: 'time', cases }                        -> QPS of one pass over the queries per case
//   { cmd: 'latency', ef, during: 'idle' | 'build' } -> p50 / p99 of single unfiltered searches,
//        idle or while a worker thread builds another index of the same rows (one thread)
//   { cmd: 'exit' }
// Modes: 'planner' (ours: the segment's planner at the default full_scan_threshold, hnsw_ef = ef),
// 'graph' (ours: full_scan_threshold 0, so the planner walks the graph; hnswlib-node: searchKnn
// with the filter callback).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EF_CONSTRUCT, M } from './constants.mjs';
import { K, datasetSpec, exactScore, readF32, readTruth } from './data.mjs';
import { FIELDS, fieldValues, filteredTruth, queryValue } from './filtered.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(HERE, 'package.json'));
const SEED = 42;
/** Qdrant's default full_scan_threshold, KB. */
const FULL_SCAN_KB_DEFAULT = 10_000;
/** Links per node of each payload value's subset graph (Qdrant's payload_m; its default is m). */
export const PAYLOAD_M = M;

const [engineName, datasetName, quickFlag] = process.argv.slice(2);
const spec = datasetSpec(datasetName, quickFlag === 'quick');
const base = readF32(spec.base);
const queryData = readF32(spec.queries);
const queries = Array.from({ length: spec.q }, (_, q) => queryData.subarray(q * spec.dim, (q + 1) * spec.dim));
const values = fieldValues(spec.n);
const kth = filteredTruth(spec);
const unfilteredTruth = readTruth(spec);

/**
 * Ours: a sealed segment as the optimizer makes one: points in id order, a keyword index per
 * field, and a DenseIndex (m 16, ef_construct 100) with a subset graph (payload_m 16) for every
 * value held by at least 100 points (every value here: what full_scan_threshold 0 builds).
 */
async function ours() {
  const seg = await import('../../packages/segment/dist/index.js');
  const distance = spec.metric === 'dot' ? 'Dot' : 'Euclid';
  const vector = { size: spec.dim, distance, onDisk: null, datatype: null };
  const schema = { vectors: new Map([['', vector]]) };
  const keyword = { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null };
  const payloads = Array.from({ length: spec.n }, (_, i) => Object.fromEntries(FIELDS.map((f, j) => [f.name, `v${values[j][i]}`])));
  const idOf = Int32Array.from({ length: spec.n }, (_, i) => i);
  let segment = null;
  return {
    label: 'ours (WASM, f32, sealed segment + planner)',
    build() {
      const definitions = FIELDS.map((f) => ({ field: f.name, params: keyword }));
      const subsets = seg.payloadSubsets(payloads, idOf, definitions, seg.subsetPointsMin(0));
      const params = { dim: spec.dim, metric: spec.metric, m: M, efConstruct: EF_CONSTRUCT, quantization: null, seed: SEED, payloadM: PAYLOAD_M };
      const index = seg.buildDenseIndex(base, spec.n, params, { subsets });
      const space = new seg.DenseSpace(vector, index, idOf, Uint32Array.from(idOf));
      segment = seg.Segment.sealed(schema, new Map([['', space]]));
      payloads.forEach((p, id) => segment.appendSealedPoint(id, p));
      for (const d of definitions) {
        const build = segment.startIndex(d.field, d.params);
        while (!build.step(10_000));
      }
      return { subsets: subsets.length };
    },
    params(q, c) {
      const field = c.field === null ? null : FIELDS[c.field];
      return {
        vectorName: '', vector: queries[q], limit: K, offset: 0, scoreThreshold: null, withPayload: { kind: 'none' }, withVector: false,
        excludeIds: [], hnswEf: c.ef,
        filter: field === null ? null : { must: [{ kind: 'match', key: field.name, value: `v${queryValue(c.field, q)}` }], should: [], mustNot: [], minShould: null },
        fullScanThresholdKb: c.mode === 'graph' ? 0 : FULL_SCAN_KB_DEFAULT,
      };
    },
    search(q, c) {
      return segment.search(this.params(q, c)).map((p) => p.id);
    },
    explain(c) {
      const e = segment.explainSearch(this.params(0, c));
      return `${e.path === 'exact' ? 'exact scan' : e.traversal === 'allowed' ? 'HNSW, walk of the filter\'s points' : 'HNSW'} (${e.reason})`;
    },
    builderSource: `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.dist).then(({ buildDenseIndex }) => {
        const started = performance.now();
        buildDenseIndex(workerData.rows, workerData.n, workerData.params);
        parentPort.postMessage((performance.now() - started) / 1000);
      });`,
    builderData() {
      return {
        dist: pathToFileURL(join(HERE, '../../packages/segment/dist/index.js')).href,
        rows: base.slice(), n: spec.n,
        params: { dim: spec.dim, metric: spec.metric, m: M, efConstruct: EF_CONSTRUCT, quantization: null, seed: SEED + 1 },
      };
    },
  };
}

/** hnswlib-node: the same graph parameters; the filter is its searchKnn callback on labels. */
async function hnswlib() {
  const { HierarchicalNSW } = require('hnswlib-node');
  const arrays = queries.map((q) => Array.from(q)); // its API takes number[]; converted untimed
  let index = null;
  let ef = -1;
  return {
    label: 'hnswlib-node (searchKnn with a filter callback)',
    build() {
      index = new HierarchicalNSW(spec.metric === 'dot' ? 'ip' : 'l2', spec.dim);
      index.initIndex(spec.n, M, EF_CONSTRUCT, SEED);
      for (let i = 0; i < spec.n; i++) index.addPoint(Array.from(base.subarray(i * spec.dim, (i + 1) * spec.dim)), i);
      return {};
    },
    search(q, c) {
      if (c.ef !== ef) index.setEf((ef = c.ef));
      if (c.field === null) return index.searchKnn(arrays[q], K).neighbors;
      const column = values[c.field];
      const wanted = queryValue(c.field, q);
      return index.searchKnn(arrays[q], K, (label) => column[label] === wanted).neighbors;
    },
    explain: () => 'HNSW, filter callback',
    builderSource: `
      const { workerData, parentPort } = require('node:worker_threads');
      const { HierarchicalNSW } = require(workerData.module);
      const started = performance.now();
      const index = new HierarchicalNSW(workerData.space, workerData.dim);
      index.initIndex(workerData.n, workerData.m, workerData.efConstruct, workerData.seed);
      for (let i = 0; i < workerData.n; i++) index.addPoint(Array.from(workerData.rows.subarray(i * workerData.dim, (i + 1) * workerData.dim)), i);
      parentPort.postMessage((performance.now() - started) / 1000);`,
    builderData() {
      return {
        module: require.resolve('hnswlib-node'), rows: base.slice(), n: spec.n, dim: spec.dim, space: spec.metric === 'dot' ? 'ip' : 'l2',
        m: M, efConstruct: EF_CONSTRUCT, seed: SEED + 1,
      };
    },
  };
}

function recallOf(engine, c) {
  let hits = 0;
  for (let q = 0; q < spec.q; q++) {
    const ids = engine.search(q, c);
    const limit = c.field === null ? unfilteredTruth.scores[q * K + K - 1] : kth[c.field][q];
    for (let i = 0; i < ids.length && i < K; i++) {
      const id = Number(ids[i]);
      if (c.field !== null && values[c.field][id] !== queryValue(c.field, q)) continue;
      if (exactScore(base, id, queryData, q * spec.dim, spec.dim, spec.metric) >= limit - 1e-9 * Math.abs(limit)) hits++;
    }
  }
  return hits / (spec.q * K);
}

const TIME_MIN_MS = 250;

function qpsOf(engine, c) {
  const started = performance.now();
  let done = 0;
  let elapsed = 0;
  do {
    for (let q = 0; q < spec.q; q++) engine.search(q, c);
    done += spec.q;
    elapsed = performance.now() - started;
  } while (elapsed < TIME_MIN_MS);
  return done / (elapsed / 1000);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Single unfiltered searches, each timed; `until` says when to stop. */
async function timeSearches(engine, ef, until) {
  const c = { field: null, mode: 'graph', ef };
  const times = [];
  for (let q = 0; !until(times.length); q = (q + 1) % spec.q) {
    const s = performance.now();
    engine.search(q, c);
    times.push(performance.now() - s);
    // Let the worker's message in now and then.
    if (times.length % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return times;
}

async function latency(engine, ef, during) {
  const IDLE_SEARCHES = Math.max(2000, spec.q * 2);
  await timeSearches(engine, ef, (n) => n >= 200); // warm-up
  let times;
  let buildSeconds = null;
  if (during === 'idle') {
    times = await timeSearches(engine, ef, (n) => n >= IDLE_SEARCHES);
  } else {
    const worker = new Worker(engine.builderSource, { eval: true, workerData: engine.builderData() });
    let done = false;
    worker.once('message', (seconds) => {
      buildSeconds = seconds;
      done = true;
    });
    worker.once('error', (err) => {
      throw err;
    });
    times = await timeSearches(engine, ef, () => done);
    await worker.terminate();
  }
  times.sort((a, b) => a - b);
  return { count: times.length, p50: percentile(times, 50), p99: percentile(times, 99), buildSeconds };
}

async function main() {
  const engine = engineName === 'ours' ? await ours() : await hnswlib();
  const started = performance.now();
  const info = engine.build();
  process.send({ type: 'built', label: engine.label, buildSeconds: (performance.now() - started) / 1000, ...info });
  process.on('message', (msg) => {
    void (async () => {
      if (msg.cmd === 'recall') {
        process.send({ type: 'recall', rows: msg.cases.map((c) => ({ ...c, recall: recallOf(engine, c), path: engine.explain(c) })) });
      } else if (msg.cmd === 'time') {
        process.send({ type: 'time', qps: msg.cases.map((c) => qpsOf(engine, c)) });
      } else if (msg.cmd === 'latency') {
        process.send({ type: 'latency', ...(await latency(engine, msg.ef, msg.during)) });
      } else if (msg.cmd === 'exit') {
        process.disconnect();
      }
    })().catch((err) => process.send({ type: 'error', message: String(err?.stack ?? err) }));
  });
}

main().catch((err) => {
  process.send?.({ type: 'error', message: String(err?.stack ?? err) });
  process.exitCode = 1;
});
