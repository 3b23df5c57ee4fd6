// Search QPS through REST on a 3-node loopback cluster (127.0.0.1/2/3) against one standalone
// node holding the same points. The cluster's collection has 3 shards with 2 replicas each; the
// standalone node's has one shard. Both get the same seeded vectors (a mixture of Gaussians by
// default; --data gauss for i.i.d. Gaussian, on which graphs find few true neighbours), uploaded
// with indexing off and then indexed (indexing_threshold back to Qdrant's default), and are
// measured only once every local replica reports all its vectors in HNSW graphs.
//
// Workloads: /points/query with limit 10 at a fixed hnsw_ef, and with params.exact. Concurrent
// clients each loop over the same query set; the cluster's clients spread over the three nodes.
// Rounds interleave the two targets (the order alternating between rounds); the table shows the
// median QPS over rounds and the ratio cluster / single. All processes share the machine's cores,
// so the ratio is the cost of fanning a query out to three shards and merging, not scaling.
// Needs a build (`npm run build`).
//
//   node scripts/bench-cluster.mjs [--points 100000] [--dim 128] [--clients 4] [--rounds 3]
//     [--seconds 5] [--ef 64] [--queries 200] [--data mixture|gauss]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    ef: { type: 'string', default: '64' },
    queries: { type: 'string', default: '200' },
    data: { type: 'string', default: 'mixture' },
  },
});
const POINTS = Number(values.points);
const DIM = Number(values.dim);
const CLIENTS = Number(values.clients);
const ROUNDS = Math.max(1, Number(values.rounds));
const SECONDS = Number(values.seconds);
const EF = Number(values.ef);
const QUERIES = Number(values.queries);
if (values.data !== 'mixture' && values.data !== 'gauss') throw new Error(`--data must be mixture or gauss, got ${values.data}`);
const MIXTURE = values.data === 'mixture';
/** Mixture data: this many centres, N(0, 1) per coordinate; points spread around them with this sigma. */
const CENTRES = 100;
const SPREAD = 0.35;
const BATCH = 1000;
/**
 * indexing_threshold set once the upload is done, KB: Qdrant's default (10,000), or less when a
 * shard would hold under twice that (small runs), so every shard's points end up in graphs.
 */
const INDEXING_KB = Math.max(1, Math.min(10_000, Math.floor((POINTS * DIM * 4) / 1024 / 3 / 2)));
const INDEX_TIMEOUT_MS = 30 * 60_000;

const MAIN = fileURLToPath(new URL('../packages/server/dist/main.js', import.meta.url));
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const P2P_PORT = 20_000 + Math.floor(Math.random() * 20_000);
const log = (line) => console.error(`[bench-cluster ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ----- processes --------------------------------------------------------------------------------

function start(host, args, clustered) {
  const storage = mkdtempSync(join(tmpdir(), 'shoal-bench-cluster-'));
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: storage,
    env: {
      PATH: process.env.PATH ?? '',
      QDRANT__SERVICE__HOST: host,
      QDRANT__SERVICE__HTTP_PORT: '0',
      QDRANT__STORAGE__STORAGE_PATH: join(storage, 'storage'),
      QDRANT__LOG_LEVEL: 'INFO',
      ...(clustered ? { QDRANT__CLUSTER__ENABLED: 'true', QDRANT__CLUSTER__P2P__PORT: String(P2P_PORT) } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c) => {
    output += c;
    // The REST port is read from the start-up line; later logs only matter at the end.
    if (output.length > 1_000_000) output = output.slice(-200_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, storage, host, output: () => output };
}

async function until(what, test, timeoutMs = 30_000, pauseMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await test();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`${what} not reached in ${timeoutMs} ms${last ? ` (${last.message})` : ''}`);
}

async function call(url, method, path, body) {
  const r = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json.result;
}

async function restUrl(node) {
  return until(`${node.host} REST port`, async () => {
    if (node.child.exitCode !== null) throw new Error(`exited: ${node.output().slice(-2000)}`);
    const m = /"port":(\d+)[^\n]*"msg":"REST API listening"/.exec(node.output());
    return m ? `http://${node.host}:${m[1]}` : undefined;
  });
}

// ----- data --------------------------------------------------------------------------------------

/** mulberry32 */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next, dim) {
  const out = [];
  while (out.length < dim) {
    const r = Math.sqrt(-2 * Math.log(Math.max(next(), 1e-12)));
    const a = 2 * Math.PI * next();
    out.push(Math.round(r * Math.cos(a) * 1e4) / 1e4, Math.round(r * Math.sin(a) * 1e4) / 1e4);
  }
  return out.slice(0, dim);
}

const centres = (() => {
  const next = rng(7);
  return Array.from({ length: CENTRES }, () => gaussian(next, DIM));
})();

/** One vector: i.i.d. Gaussian, or a centre of the mixture plus Gaussian noise (closer to real embeddings). */
function vectorOf(next) {
  if (!MIXTURE) return gaussian(next, DIM);
  const centre = centres[Math.floor(next() * CENTRES)];
  return gaussian(next, DIM).map((x, j) => Math.round((centre[j] + SPREAD * x) * 1e4) / 1e4);
}

function batchOf(from, to) {
  const next = rng(1_000_003 + from); // each batch its own stream: the same points whoever uploads them
  const points = [];
  for (let id = from; id < to; id++) points.push({ id: id + 1, vector: vectorOf(next) });
  return points;
}

const queryNext = rng(99);
const queries = Array.from({ length: QUERIES }, () => vectorOf(queryNext));

// ----- setup ------------------------------------------------------------------------------------

const COLLECTION = 'bench';
const config = {
  vectors: { size: DIM, distance: 'Cosine' },
  // Indexing off while uploading (as Qdrant advises for bulk loads); on once all points are in.
  optimizers_config: { indexing_threshold: 0 },
};

async function upload(urls) {
  for (let from = 0, b = 0; from < POINTS; from += BATCH, b++) {
    await call(urls[b % urls.length], 'PUT', `/collections/${COLLECTION}/points?wait=true`, { points: batchOf(from, Math.min(POINTS, from + BATCH)) });
  }
}

/** Points held by this node's replicas, and how many of them are in graphs. */
async function localIndexState(url, clustered) {
  const info = await call(url, 'GET', `/collections/${COLLECTION}`);
  const points = clustered
    ? (await call(url, 'GET', `/collections/${COLLECTION}/cluster`)).local_shards.reduce((s, sh) => s + sh.points_count, 0)
    : info.points_count;
  return { status: info.status, points, indexed: info.indexed_vectors_count ?? 0, segments: info.segments_count };
}

async function indexAndWait(urls, clustered, name) {
  await call(urls[0], 'PATCH', `/collections/${COLLECTION}`, { optimizers_config: { indexing_threshold: INDEXING_KB } });
  for (const url of urls) {
    await until(`${name} ${url} has the new indexing_threshold`, async () => (await call(url, 'GET', `/collections/${COLLECTION}`)).config.optimizer_config.indexing_threshold === INDEXING_KB);
  }
  // A write after the change lets each shard freeze its (now full) appendable segment: a delete
  // by filter (sent to every shard) that matches no point, so no point moves. Again if a node
  // stays idle with vectors outside graphs.
  const touch = () => call(urls[0], 'POST', `/collections/${COLLECTION}/points/delete?wait=true`, { filter: { must: [{ has_id: [POINTS + 1_000_000] }] } });
  await touch();
  const started = Date.now();
  const states = [];
  for (const url of urls) {
    let idleChecks = 0;
    states.push(await until(`${name} ${url} indexed`, async () => {
      const s = await localIndexState(url, clustered);
      if (s.status === 'green' && s.indexed === s.points) return s;
      if (s.status === 'green' && ++idleChecks % 10 === 0) await touch();
      return undefined;
    }, INDEX_TIMEOUT_MS, 1000));
  }
  log(`${name}: indexed in ${((Date.now() - started) / 1000).toFixed(0)} s: ${states.map((s) => `${s.indexed}/${s.points} in ${s.segments} segments`).join(', ')}`);
}

// ----- measuring --------------------------------------------------------------------------------

const WORKLOADS = {
  hnsw: (query) => ({ query, limit: 10, params: { hnsw_ef: EF } }),
  exact: (query) => ({ query, limit: 10, params: { exact: true } }),
};

async function search(url, body) {
  const r = await fetch(`${url}/collections/${COLLECTION}/points/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`query: ${r.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json.result.points;
}

/** CLIENTS clients for SECONDS, client c on urls[c % urls.length]: QPS and latency percentiles. */
async function measure(urls, workload) {
  const latencies = [];
  const endAt = performance.now() + SECONDS * 1000;
  const client = async (c) => {
    const url = urls[c % urls.length];
    for (let i = c * 37; performance.now() < endAt; i++) {
      const t = performance.now();
      await search(url, WORKLOADS[workload](queries[i % queries.length]));
      latencies.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  return { qps: latencies.length / elapsed, p50: pct(50), p99: pct(99) };
}

async function recallAt10(urls) {
  let hits = 0;
  let total = 0;
  for (const [i, q] of queries.entries()) {
    const url = urls[i % urls.length];
    const truth = new Set((await search(url, WORKLOADS.exact(q))).map((p) => p.id));
    const found = await search(url, WORKLOADS.hnsw(q));
    hits += found.filter((p) => truth.has(p.id)).length;
    total += truth.size;
  }
  return hits / total;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ----- run --------------------------------------------------------------------------------------

const nodes = [];
let single;
try {
  const first = `http://${HOSTS[0]}:${P2P_PORT}`;
  for (const [i, host] of HOSTS.entries()) {
    const uri = `http://${host}:${P2P_PORT}`;
    nodes.push(start(host, i === 0 ? ['--uri', uri] : ['--bootstrap', first, '--uri', uri], true));
    if (i === 0) await restUrl(nodes[0]);
  }
  single = start('127.0.0.1', [], false);
  const clusterUrls = [];
  for (const n of nodes) clusterUrls.push(await restUrl(n));
  const singleUrls = [await restUrl(single)];
  await until('3 voters', async () => {
    const all = await Promise.all(clusterUrls.map((u) => call(u, 'GET', '/cluster')));
    return all.every((s) => s.raft_info.is_voter && s.raft_info.leader !== null && Object.keys(s.peers).length === 3);
  });
  await call(clusterUrls[0], 'PUT', `/collections/${COLLECTION}`, { ...config, shard_number: 3, replication_factor: 2 });
  await call(singleUrls[0], 'PUT', `/collections/${COLLECTION}`, config);

  log(`uploading ${POINTS} x ${DIM}-d to both (batches of ${BATCH})`);
  let t = Date.now();
  await Promise.all([upload(singleUrls), upload(clusterUrls)]);
  log(`uploaded in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  t = Date.now();
  await Promise.all([indexAndWait(singleUrls, false, 'single'), indexAndWait(clusterUrls, true, 'cluster')]);

  const targets = { single: singleUrls, cluster: clusterUrls };
  const recall = { single: await recallAt10(singleUrls), cluster: await recallAt10(clusterUrls) }; // also a warm-up
  log(`recall@10 at hnsw_ef ${EF}: single ${recall.single.toFixed(4)}, cluster ${recall.cluster.toFixed(4)}`);

  const results = {};
  for (const w of Object.keys(WORKLOADS)) results[w] = { single: [], cluster: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single'];
    for (const w of Object.keys(WORKLOADS)) {
      for (const target of order) {
        const m = await measure(targets[target], w);
        results[w][target].push(m);
        log(`round ${round + 1} ${w} ${target}: ${m.qps.toFixed(0)} QPS, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms`);
      }
    }
  }

  const f = (x, d = 0) => x.toFixed(d);
  const lines = [
    `Search through REST, ${POINTS} x ${DIM}-d ${MIXTURE ? `mixture of ${CENTRES} Gaussians` : 'Gaussian'} (Cosine), limit 10, ${CLIENTS} concurrent clients, ${ROUNDS} interleaved rounds of ${SECONDS} s; median over rounds.`,
    `Cluster: 3 nodes on 127.0.0.1/2/3, 3 shards x 2 replicas, default read consistency, clients spread over the nodes. Single: one node, one shard. All four processes on the same ${availableParallelism()} cores.`,
    '',
    '| search | single QPS | cluster QPS | cluster / single | single p50 / p99 ms | cluster p50 / p99 ms | recall@10 single / cluster |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const w of Object.keys(WORKLOADS)) {
    const s = results[w].single;
    const c = results[w].cluster;
    const sq = median(s.map((m) => m.qps));
    const cq = median(c.map((m) => m.qps));
    const label = w === 'hnsw' ? `HNSW, hnsw_ef ${EF}` : 'exact';
    const rec = w === 'hnsw' ? `${f(recall.single, 3)} / ${f(recall.cluster, 3)}` : '(ground truth)';
    lines.push(
      `| ${label} | ${f(sq)} | ${f(cq)} | ${f(cq / sq, 2)} | ${f(median(s.map((m) => m.p50)), 1)} / ${f(median(s.map((m) => m.p99)), 1)} | ${f(median(c.map((m) => m.p50)), 1)} / ${f(median(c.map((m) => m.p99)), 1)} | ${rec} |`,
    );
  }
  console.log(lines.join('\n'));
} finally {
  for (const n of [...nodes, ...(single ? [single] : [])]) n.child.kill('SIGKILL');
  for (const n of [...nodes, ...(single ? [single] : [])]) rmSync(n.storage, { recursive: true, force: true });
}
