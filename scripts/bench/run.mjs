// `npm run bench`: our HNSW graph against hnswlib-node and usearch, same M and ef_construct,
// single thread, interleaved rounds, one markdown table. See README.md in this folder.
//
//   node scripts/bench/run.mjs [--dataset glove|gauss128|gauss768|all] [--quick] [--rounds 3]
//     [--engines ours,ours-int8,hnswlib,usearch] [--resume] [--tables main,filtered,latency]
//     [--filtered-dataset gauss128]
//
// Each engine runs in its own child process (its RSS growth across the build is its RAM per
// vector). Builds run one at a time; then a recall pass per engine (untimed, also a warm-up);
// then rounds in which every engine times one pass per ef of the same grid, the engine order
// rotating between rounds; the best pass of all rounds counts.
//
// The filtered and latency tables (filtered-engine.mjs) follow, on one dataset: ours (a sealed
// segment searched through its planner) against hnswlib-node with a filter callback.
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CACHE, DATASETS, datasetSpec } from './data.mjs';
import { EF_CONSTRUCT, M } from './constants.mjs';
import { FIELDS, filteredTruth } from './filtered.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
// Steps of about 1.25x: a coarse grid makes an engine just short of a target jump a whole step.
const EF_GRID = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048];
const TARGETS = [0.9, 0.95, 0.99];
const REFERENCE = 'hnswlib';
/**
 * Fewest dimensions for the binary row: one bit per dimension ranks neighbours too coarsely
 * below several hundred (Qdrant recommends binary codes for high-dimensional embeddings).
 */
const BINARY_DIM_MIN = 512;

/** Whether an engine has a row on a dataset of `dim` dimensions. */
function runsOn(engine, dim) {
  return engine !== 'ours-binary' || dim >= BINARY_DIM_MIN;
}

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'all' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'ours,ours-int8,ours-binary,ours-pq,hnswlib,usearch' },
    resume: { type: 'boolean', default: false },
    tables: { type: 'string', default: 'main,filtered,latency' },
    'filtered-dataset': { type: 'string', default: 'gauss128' },
  },
});
const tables = new Set(values.tables.split(','));
const names = values.dataset === 'all' ? Object.keys(DATASETS) : values.dataset.split(',');
const engines = values.engines.split(',');
const rounds = Math.max(1, Number(values.rounds));
const log = (line) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Runs data.mjs in its own process: parsing wink's 300 MB of JSON needs a bigger heap. */
function prepareDataset(name) {
  const args = ['--max-old-space-size=6144', join(HERE, 'data.mjs'), name, ...(values.quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`preparing ${name} failed (exit ${r.status})`);
}

/** A child process for one engine and a way to send it a command and await its reply. */
function startEngine(engine, name, script = 'engine.mjs') {
  const child = fork(join(HERE, script), [engine, name, values.quick ? 'quick' : 'full'], {
    execArgv: ['--expose-gc', '--max-old-space-size=8192'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let waiting = null;
  const fail = (why) => {
    if (waiting) waiting.reject(new Error(`${engine}: ${why}`));
    waiting = null;
  };
  child.on('message', (msg) => {
    if (msg.type === 'error') return fail(msg.message);
    const w = waiting;
    waiting = null;
    w?.resolve(msg);
  });
  child.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  const next = () => new Promise((resolve, reject) => { waiting = { resolve, reject }; });
  return {
    engine,
    child,
    next,
    ask(msg) {
      const reply = next();
      child.send(msg);
      return reply;
    },
    stop() {
      if (child.connected) child.send({ cmd: 'exit' });
    },
  };
}

async function benchDataset(name) {
  const spec = datasetSpec(name, values.quick);
  const resultPath = join(CACHE, 'results', `${spec.key}.json`);
  if (values.resume && existsSync(resultPath)) {
    log(`${spec.key}: results reused from ${resultPath}`);
    return JSON.parse(readFileSync(resultPath, 'utf8'));
  }
  prepareDataset(name);
  const result = { dataset: name, title: spec.title, n: spec.n, q: spec.q, dim: spec.dim, measuredAt: new Date().toISOString(), engines: {} };
  const live = [];
  try {
    for (const engine of engines.filter((e) => runsOn(e, spec.dim))) {
      log(`${spec.key}: building ${engine}`);
      const handle = startEngine(engine, name);
      try {
        const built = await handle.next();
        result.engines[engine] = { label: built.label, buildSeconds: built.buildSeconds, bytesPerVector: built.bytesPerVector, rssPerVector: built.rssPerVector, sweep: {} };
        log(`${spec.key}: ${built.label} built in ${built.buildSeconds.toFixed(1)} s`);
        live.push(handle);
      } catch (err) {
        result.engines[engine] = { error: String(err.message).split('\n')[0] };
        log(`${spec.key}: ${engine} failed: ${err.message}`);
        handle.child.kill();
      }
    }
    await sweep(spec, live, result);
  } finally {
    for (const h of live) h.stop();
  }
  mkdirSync(dirname(resultPath), { recursive: true });
  writeFileSync(`${resultPath}.tmp`, JSON.stringify(result, null, 2));
  renameSync(`${resultPath}.tmp`, resultPath);
  return result;
}

/** Recall per engine until it reaches the top target, then the shared grid, then timed rounds. */
async function sweep(spec, live, result) {
  const top = TARGETS[TARGETS.length - 1];
  let last = EF_GRID[EF_GRID.length - 1];
  let everyoneReached = true;
  let highest = 0;
  for (const h of live) {
    const { rows } = await h.ask({ cmd: 'recall', efs: EF_GRID, stopAt: top });
    for (const row of rows) result.engines[h.engine].sweep[row.ef] = { recall: row.recall, evaluations: row.evaluations };
    const reached = rows.find((r) => r.recall >= top);
    if (reached) highest = Math.max(highest, reached.ef);
    else everyoneReached = false;
    log(`${spec.key}: ${h.engine} recall ${rows.map((r) => `${r.ef}:${r.recall.toFixed(3)}`).join(' ')}`);
  }
  if (everyoneReached) last = highest;
  const grid = EF_GRID.filter((ef) => ef <= last);
  result.grid = grid;
  for (const h of live) {
    const missing = grid.filter((ef) => result.engines[h.engine].sweep[ef] === undefined);
    if (missing.length === 0) continue;
    const { rows } = await h.ask({ cmd: 'recall', efs: missing });
    for (const row of rows) result.engines[h.engine].sweep[row.ef] = { recall: row.recall, evaluations: row.evaluations };
  }
  for (let round = 0; round < rounds; round++) {
    const order = live.map((_, i) => live[(i + round) % live.length]);
    for (const h of order) {
      const { qps } = await h.ask({ cmd: 'time', efs: grid });
      for (const [ef, value] of Object.entries(qps)) {
        const cell = result.engines[h.engine].sweep[ef];
        cell.qps = Math.max(cell.qps ?? 0, value);
      }
    }
    log(`${spec.key}: round ${round + 1}/${rounds} done`);
  }
}

/** For each target: the first ef of the grid whose recall reaches it, with its best QPS. */
function atTargets(entry, grid) {
  return TARGETS.map((target) => {
    const ef = grid.find((e) => entry.sweep[e]?.recall >= target);
    return ef === undefined ? null : { ef, ...entry.sweep[ef] };
  });
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function ratio(value, ref) {
  return ref === undefined || ref === null || !(ref > 0) ? '' : ` (${(value / ref).toFixed(2)}x)`;
}

function table(results) {
  const lines = [
    '| dataset | engine | build s | inserts/s | QPS @ recall 0.90 (ef) | QPS @ 0.95 (ef) | QPS @ 0.99 (ef) | distance evals / query @ 0.90 / 0.95 / 0.99 (ours only) | RAM bytes / vector |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const ref = r.engines[REFERENCE];
    const refAt = ref && !ref.error ? atTargets(ref, r.grid) : [];
    for (const [engine, e] of Object.entries(r.engines)) {
      const head = `| ${r.title}, ${fmt(r.n)} x ${r.dim}, ${r.q} queries | ${e.label ?? engine}`;
      if (e.error) {
        lines.push(`${head} | failed: ${e.error} | | | | | | |`);
        continue;
      }
      const isRef = engine === REFERENCE;
      const rr = (value, refValue) => (isRef ? '' : ratio(value, refValue));
      const inserts = r.n / e.buildSeconds;
      const cells = atTargets(e, r.grid).map((c, i) => {
        if (!c) return `not reached (ef <= ${r.grid[r.grid.length - 1]})`;
        return `${fmt(c.qps)} (ef ${c.ef})${rr(c.qps, refAt[i]?.qps)}`;
      });
      const evals = atTargets(e, r.grid).map((c) => (c && c.evaluations !== null ? fmt(c.evaluations) : '—')).join(' / ');
      lines.push(
        `${head} | ${fmt(e.buildSeconds, 1)}${rr(e.buildSeconds, ref?.buildSeconds)} | ${fmt(inserts)}${rr(inserts, ref && r.n / ref.buildSeconds)}` +
          ` | ${cells.join(' | ')} | ${evals} | ${fmt(e.bytesPerVector)}${rr(e.bytesPerVector, ref?.bytesPerVector)} |`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Filtered search and latency (filtered-engine.mjs)

const FILTER_EF_GRID = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
const FILTER_TARGET = 0.95;
const FILTERED_ENGINES = ['ours', 'hnswlib'];

/** The first ef of the grid whose recall reaches the target (one recall pass per ef). */
async function efForTarget(h, field, mode) {
  let last = null;
  for (const ef of FILTER_EF_GRID) {
    const { rows } = await h.ask({ cmd: 'recall', cases: [{ field, mode, ef }] });
    last = rows[0];
    if (last.recall >= FILTER_TARGET) return { ...last, reached: true };
  }
  return { ...last, reached: false };
}

async function benchFiltered(name) {
  const spec = datasetSpec(name, values.quick);
  const resultPath = join(CACHE, 'results', `${spec.key}-filtered.json`);
  if (values.resume && existsSync(resultPath)) {
    log(`${spec.key}: filtered results reused from ${resultPath}`);
    return JSON.parse(readFileSync(resultPath, 'utf8'));
  }
  prepareDataset(name);
  filteredTruth(spec, log);
  const result = { dataset: name, title: spec.title, n: spec.n, q: spec.q, dim: spec.dim, measuredAt: new Date().toISOString(), engines: {} };
  const live = [];
  try {
    for (const engine of FILTERED_ENGINES) {
      log(`${spec.key}: filtered: building ${engine}`);
      const h = startEngine(engine, name, 'filtered-engine.mjs');
      const built = await h.next();
      log(`${spec.key}: filtered: ${built.label} built in ${built.buildSeconds.toFixed(1)} s`);
      result.engines[engine] = { label: built.label, buildSeconds: built.buildSeconds, subsets: built.subsets ?? null, cases: [] };
      live.push(h);
    }
    // Which cases each engine runs: ours by its planner (default threshold) and with the graph
    // forced; hnswlib with its filter callback; both unfiltered (latency). Each at the first ef
    // of the grid reaching the target recall (an exact scan reaches it at any ef).
    for (const h of live) {
      const cases = result.engines[h.engine].cases;
      for (let field = 0; field < FIELDS.length; field++) {
        if (h.engine === 'ours') cases.push(await efForTarget(h, field, 'planner'));
        cases.push(await efForTarget(h, field, 'graph'));
      }
      cases.push(await efForTarget(h, null, 'graph'));
      log(`${spec.key}: filtered: ${h.engine} ${cases.map((c) => `${c.field === null ? 'none' : FIELDS[c.field].label}/${c.mode}: ef ${c.ef} recall ${c.recall.toFixed(3)}`).join(', ')}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const h of live.map((_, i) => live[(i + round) % live.length])) {
        const cases = result.engines[h.engine].cases;
        const { qps } = await h.ask({ cmd: 'time', cases: cases.map(({ field, mode, ef }) => ({ field, mode, ef })) });
        qps.forEach((value, i) => { cases[i].qps = Math.max(cases[i].qps ?? 0, value); });
      }
      log(`${spec.key}: filtered: round ${round + 1}/${rounds} done`);
    }
    // Latency, one engine at a time (the other process idles): unfiltered searches at the ef
    // reaching the target, idle and while a worker thread builds another index of the same rows.
    for (const h of live) {
      const e = result.engines[h.engine];
      const ef = e.cases.find((c) => c.field === null).ef;
      e.latency = { ef, idle: await h.ask({ cmd: 'latency', ef, during: 'idle' }), build: await h.ask({ cmd: 'latency', ef, during: 'build' }) };
      log(`${spec.key}: latency: ${h.engine} p50/p99 idle ${e.latency.idle.p50.toFixed(3)}/${e.latency.idle.p99.toFixed(3)} ms, during build ${e.latency.build.p50.toFixed(3)}/${e.latency.build.p99.toFixed(3)} ms`);
    }
  } finally {
    for (const h of live) h.stop();
  }
  mkdirSync(dirname(resultPath), { recursive: true });
  writeFileSync(`${resultPath}.tmp`, JSON.stringify(result, null, 2));
  renameSync(`${resultPath}.tmp`, resultPath);
  return result;
}

function filteredTable(r) {
  const ref = r.engines[REFERENCE];
  const refCase = (field) => ref?.cases?.find((c) => c.field === field && c.mode === 'graph');
  const lines = [
    `Filtered search, ${r.title}, ${fmt(r.n)} x ${r.dim}, ${r.q} queries, k=10, one thread; a query filters on one keyword value held by the share of points given; ` +
      `recall against the exact filtered top 10; ef: the first hnsw_ef of the grid reaching recall ${FILTER_TARGET} (— for an exact scan, which ignores it); ` +
      `ratio = QPS / hnswlib-node's QPS at recall ${FILTER_TARGET} in the same run.`,
    '',
    '| selectivity | engine | search path | ef | recall@10 | QPS |',
    '|---|---|---|---:|---:|---:|',
  ];
  FIELDS.forEach((field, f) => {
    const refQps = refCase(f)?.reached ? refCase(f).qps : null;
    for (const [engine, e] of Object.entries(r.engines)) {
      for (const c of e.cases.filter((x) => x.field === f)) {
        const who = engine === 'ours' ? (c.mode === 'planner' ? "ours, planner's choice (full_scan_threshold 10,000 KB)" : 'ours, HNSW forced (full_scan_threshold 0)') : e.label;
        const recall = `${c.recall.toFixed(3)}${c.reached ? '' : ` (not ${FILTER_TARGET} by ef ${c.ef})`}`;
        const qps = `${fmt(c.qps)}${engine === REFERENCE ? '' : ratio(c.qps, refQps)}`;
        const ef = c.path.startsWith('exact') ? '—' : c.ef;
        lines.push(`| ${field.label} | ${who} | ${c.path} | ${ef} | ${recall} | ${qps} |`);
      }
    }
  });
  return lines.join('\n');
}

function latencyTable(r) {
  const ref = r.engines[REFERENCE]?.latency;
  const ms = (x, refX) => `${x.toFixed(3)}${refX === undefined ? '' : ratio(x, refX)}`;
  const lines = [
    `Search latency, ${r.title}, ${fmt(r.n)} x ${r.dim}, unfiltered k=10 at the ef reaching recall ${FILTER_TARGET}, single searches on the main thread, ` +
      'idle, and while a worker thread builds another index of the same rows (one indexing thread: ours buildDenseIndex, hnswlib-node addPoint); ' +
      'ratio = figure / hnswlib-node\'s (lower is better).',
    '',
    '| engine | ef (recall@10) | p50 idle ms | p99 idle ms | p50 during build ms | p99 during build ms | searches during build | build in the worker s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [engine, e] of Object.entries(r.engines)) {
    const L = e.latency;
    if (!L) continue;
    const isRef = engine === REFERENCE;
    const recall = e.cases.find((c) => c.field === null).recall;
    lines.push(
      `| ${e.label} | ${L.ef} (${recall.toFixed(3)}) | ${ms(L.idle.p50, isRef ? undefined : ref?.idle.p50)} | ${ms(L.idle.p99, isRef ? undefined : ref?.idle.p99)} | ` +
        `${ms(L.build.p50, isRef ? undefined : ref?.build.p50)} | ${ms(L.build.p99, isRef ? undefined : ref?.build.p99)} | ${fmt(L.build.count)} | ${fmt(L.build.buildSeconds ?? 0, 1)} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  for (const name of names) if (!DATASETS[name]) throw new Error(`unknown dataset ${name}`);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  if (tables.has('main')) {
    const results = [];
    for (const name of names) results.push(await benchDataset(name));
    const dates = [...new Set(results.map((r) => (r.measuredAt ?? 'unknown date').slice(0, 10)))].join(', ');
    console.log(
      `HNSW single thread, M=${M}, ef_construct=${EF_CONSTRUCT}, k=10; measured ${dates}, node ${process.version}, ${cpus().length} x ${cpu}; ` +
        `best of ${rounds} interleaved rounds; ratio = figure / hnswlib-node's figure in the same run; cosine sets pre-normalised, inner product for every engine.`,
    );
    console.log('');
    console.log(table(results));
  }
  if (tables.has('filtered') || tables.has('latency')) {
    const name = values['filtered-dataset'];
    if (!DATASETS[name]) throw new Error(`unknown dataset ${name}`);
    const r = await benchFiltered(name);
    console.log('');
    console.log(`Measured ${r.measuredAt.slice(0, 10)}, node ${process.version}, ${cpus().length} x ${cpu}; M=${M}, ef_construct=${EF_CONSTRUCT}, ours with payload_m ${M} (${r.engines.ours?.subsets ?? 0} subset graphs); best of ${rounds} interleaved rounds.`);
    if (tables.has('filtered')) {
      console.log('');
      console.log(filteredTable(r));
    }
    if (tables.has('latency')) {
      console.log('');
      console.log(latencyTable(r));
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
