// A quick look at one dataset while working on the engine: our DenseIndex (f32 and int8
// traversal) against hnswlib-node in one process, a few ef values, recall@10 / QPS / distance
// evaluations per query. Built indexes can be cached under .cache/bench/tmp (--reuse) so that
// repeated looks at search speed skip the builds. `npm run bench` is the benchmark of record.
//
//   node scripts/bench/probe.mjs [--dataset glove] [--quick] [--efs 64,128,256] [--engines f32,int8,hnswlib]
//     [--oversampling 2] [--quantile 1] [--reuse] [--rounds 3] [--seed 42]
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EF_CONSTRUCT, M } from './constants.mjs';
import { CACHE, K, datasetSpec, exactScore, readF32, readTruth } from './data.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(HERE, 'package.json'));
const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'glove' },
    quick: { type: 'boolean', default: false },
    efs: { type: 'string', default: '64,128,192,256' },
    engines: { type: 'string', default: 'f32,int8,hnswlib' },
    oversampling: { type: 'string', default: '2' },
    reuse: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '42' },
    quantile: { type: 'string', default: '1' },
  },
});
const spec = datasetSpec(values.dataset, values.quick);
const SEED = Number(values.seed);
const base = readF32(spec.base);
const queryData = readF32(spec.queries);
const truth = readTruth(spec);
const queries = Array.from({ length: spec.q }, (_, q) => queryData.subarray(q * spec.dim, (q + 1) * spec.dim));
const efs = values.efs.split(',').map(Number);
const oversampling = Number(values.oversampling);
const { buildDenseIndex, loadDenseIndex } = await import('../../packages/segment/dist/index.js');
const tmp = join(CACHE, 'tmp');
mkdirSync(tmp, { recursive: true });

function ours(int8) {
  const params = {
    dim: spec.dim, metric: spec.metric, m: M, efConstruct: EF_CONSTRUCT, seed: SEED,
    quantization: int8 ? { kind: 'int8', quantile: Number(values.quantile), alwaysRam: true } : null,
  };
  const file = join(tmp, `probe-${spec.key}-${int8 ? `int8-q${values.quantile}` : 'f32'}-s${SEED}.dense`);
  let index;
  let seconds = null;
  if (values.reuse && existsSync(file)) {
    index = loadDenseIndex(new Uint8Array(readFileSync(file)));
  } else {
    const started = performance.now();
    index = buildDenseIndex(base, spec.n, params);
    seconds = (performance.now() - started) / 1000;
    writeFileSync(file, Buffer.concat(index.serialize()));
  }
  const quantization = int8 ? { ignore: false, rescore: true, oversampling } : null;
  let last = null;
  return {
    name: int8 ? `ours int8 (x${oversampling})` : 'ours f32',
    seconds,
    search(q, ef) {
      last = index.search(queries[q], { k: K, ef, exact: false, allowed: null, deleted: null, quantization });
      return last.ids;
    },
    evaluations: () => last.evaluations,
  };
}

function hnswlib() {
  const { HierarchicalNSW } = require('hnswlib-node');
  const file = join(tmp, `probe-${spec.key}-hnswlib-s${SEED}.bin`);
  const index = new HierarchicalNSW(spec.metric === 'dot' ? 'ip' : 'l2', spec.dim);
  let seconds = null;
  if (values.reuse && existsSync(file)) {
    index.readIndexSync(file);
  } else {
    const started = performance.now();
    index.initIndex(spec.n, M, EF_CONSTRUCT, SEED);
    for (let i = 0; i < spec.n; i++) index.addPoint(Array.from(base.subarray(i * spec.dim, (i + 1) * spec.dim)), i);
    seconds = (performance.now() - started) / 1000;
    index.writeIndexSync(file);
  }
  const arrays = queries.map((q) => Array.from(q));
  return {
    name: 'hnswlib',
    seconds,
    search(q, ef) {
      index.setEf(ef);
      return index.searchKnn(arrays[q], K).neighbors;
    },
    evaluations: () => 0,
  };
}

function recall(engine, ef) {
  let hits = 0;
  let evaluations = 0;
  for (let q = 0; q < spec.q; q++) {
    const ids = engine.search(q, ef);
    const kth = truth.scores[q * K + K - 1];
    for (let i = 0; i < ids.length && i < K; i++) {
      if (exactScore(base, Number(ids[i]), queryData, q * spec.dim, spec.dim, spec.metric) >= kth - 1e-9 * Math.abs(kth)) hits++;
    }
    evaluations += engine.evaluations();
  }
  return { recall: hits / (spec.q * K), evaluations: evaluations / spec.q };
}

function qps(engine, ef) {
  const started = performance.now();
  let done = 0;
  let elapsed = 0;
  do {
    for (let q = 0; q < spec.q; q++) engine.search(q, ef);
    done += spec.q;
    elapsed = performance.now() - started;
  } while (elapsed < 250);
  return done / (elapsed / 1000);
}

const engines = values.engines.split(',').map((name) => (name === 'hnswlib' ? hnswlib() : ours(name === 'int8')));
for (const e of engines) if (e.seconds !== null) console.log(`${e.name}: built in ${e.seconds.toFixed(1)} s (${Math.round(spec.n / e.seconds)} inserts/s)`);
const rows = new Map();
for (const e of engines) for (const ef of efs) rows.set(`${e.name} ${ef}`, { ...recall(e, ef), qps: 0 });
for (let round = 0; round < Number(values.rounds); round++) {
  for (let i = 0; i < engines.length; i++) {
    const e = engines[(i + round) % engines.length];
    for (const ef of efs) {
      const row = rows.get(`${e.name} ${ef}`);
      row.qps = Math.max(row.qps, qps(e, ef));
    }
  }
}
for (const e of engines) {
  for (const ef of efs) {
    const r = rows.get(`${e.name} ${ef}`);
    console.log(`${e.name.padEnd(18)} ef ${String(ef).padStart(4)}  recall ${r.recall.toFixed(3)}  QPS ${Math.round(r.qps).toString().padStart(6)}  evals ${Math.round(r.evaluations)}`);
  }
}
