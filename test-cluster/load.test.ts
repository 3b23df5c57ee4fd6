// Three real nodes under sustained load: writers upsert large batches (1,000 points of 128
// dimensions per request) through every node while searchers run exact searches through every
// node. Throughout, each node's view of the Raft term and leader is sampled: a node whose event
// loop stalls past the election timeout (decoding or applying a large batch, a blocking fsync)
// would start an election and bump the term. The nodes run with the production Raft timing (100 ms
// ticks, elections after 1-2 s of silence): nothing in the environment below changes it.
// About 60 s of load by default; SHOAL_SOAK=1 runs it for 5 minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexpectedErrors } from '../test/harness.js';
import { type ClusterNode, clusterNodes, clusterStatus, pickP2pPort, request, startCluster, stopAll } from './nodes.js';

const SOAK = process.env['SHOAL_SOAK'] === '1';
const LOAD_MS = SOAK ? 5 * 60_000 : 60_000;
const DIM = 128;
const BATCH = 1_000;
/** Writers per node and searchers per node. */
const WRITERS_PER_NODE = 1;
const SEARCHERS_PER_NODE = 1;
const SAMPLE_EVERY_MS = 200;
/** An upsert of a large batch on two busy shared cores may take a while; it must still succeed. */
const UPSERT_TIMEOUT_MS = 60_000;
const SEARCH_TIMEOUT_MS = 30_000;
const COLLECTION = 'load';
const CONFIG = { vectors: { size: DIM, distance: 'Cosine' }, shard_number: 3, replication_factor: 2 } as const;

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);

/**
 * A pool of distinct vectors, each already JSON text, so that building a 1,000-point body costs
 * the client a string join rather than 128,000 number formats (the client shares the cores with
 * the nodes it loads).
 */
const POOL = 4_096;
const vectorText: string[] = (() => {
  let x = 12345;
  const next = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296 - 0.5;
  };
  return Array.from({ length: POOL }, () => `[${Array.from({ length: DIM }, () => next().toFixed(4)).join(',')}]`);
})();
const vectorOf = (i: number): number[] => JSON.parse(vectorText[i % POOL]!) as number[];

function upsertBody(ids: readonly number[]): string {
  return `{"points":[${ids.map((id) => `{"id":${id},"vector":${vectorText[(id * 7919) % POOL]},"payload":{"w":${id % 16}}}`).join(',')}]}`;
}

async function post(node: ClusterNode, method: string, path: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, text: await response.text() };
}

/** process_event_loop_delay_seconds{quantile="1"} from /metrics: the longest stall since the process started, ms. */
async function maxLoopDelayMs(node: ClusterNode): Promise<number> {
  const r = await request(node, 'GET', '/metrics');
  const match = /^process_event_loop_delay_seconds\{quantile="1"\} (\S+)$/m.exec(String(r.body));
  if (match === null) throw new Error(`no event-loop delay in /metrics of ${node.host}`);
  return Number(match[1]) * 1000;
}

interface RaftView {
  readonly atMs: number;
  readonly host: string;
  readonly term: number;
  readonly leader: number | null;
  readonly role: string | null;
}

async function raftViews(startedMs: number): Promise<RaftView[]> {
  return Promise.all(nodes.map(async (node) => {
    const s = await clusterStatus(node);
    return { atMs: Math.round(performance.now() - startedMs), host: node.host, term: s.raft_info.term, leader: s.raft_info.leader, role: s.raft_info.role };
  }));
}

beforeAll(async () => {
  await startCluster(nodes, p2pPort);
}, 60_000);

afterAll(async () => {
  const errors = nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? ''));
  await stopAll(nodes);
  expect(errors).toEqual([]);
});

describe('three real nodes under sustained ingest of large batches and exact searches', () => {
  it(`keeps one leader and one term for ${LOAD_MS / 1000} s of load; every acknowledged point is counted`, async () => {
    const created = await request(nodes[1]!, 'PUT', `/collections/${COLLECTION}`, CONFIG, 30_000);
    expect(created.status, JSON.stringify(created.body)).toBe(200);

    const t0 = performance.now();
    const before = await raftViews(t0);
    const term = before[0]!.term;
    const leader = before[0]!.leader;
    expect(leader).not.toBeNull();
    expect(before.map((v) => [v.term, v.leader])).toEqual(nodes.map(() => [term, leader]));
    const loopBefore = await Promise.all(nodes.map(maxLoopDelayMs));

    // Every view that differs from the first, and every status request that failed: both are
    // what a stalled node or an election looks like from outside.
    const changed: RaftView[] = [];
    const statusFailures: string[] = [];
    let samples = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
        try {
          const views = await raftViews(t0);
          samples += 1;
          for (const v of views) if (v.term !== term || v.leader !== leader) changed.push(v);
        } catch (error) {
          statusFailures.push(`${Math.round(performance.now() - t0)} ms: ${String(error)}`);
        }
      }
    })();

    let nextId = 1;
    const ackedIds: number[] = [];
    const upsertFailures: string[] = [];
    const upsertMs: number[] = [];
    const writer = async (node: ClusterNode): Promise<void> => {
      while (running) {
        const ids = Array.from({ length: BATCH }, () => nextId++);
        const started = performance.now();
        try {
          const r = await post(node, 'PUT', `/collections/${COLLECTION}/points?wait=true`, upsertBody(ids), UPSERT_TIMEOUT_MS);
          if (r.status === 200) {
            ackedIds.push(...ids);
            upsertMs.push(performance.now() - started);
          } else upsertFailures.push(`${node.host}: ${r.status} ${r.text.slice(0, 300)}`);
        } catch (error) {
          upsertFailures.push(`${node.host}: ${String(error)}`);
        }
      }
    };

    let searches = 0;
    const searchFailures: string[] = [];
    const searchMs: number[] = [];
    const searcher = async (node: ClusterNode, seed: number): Promise<void> => {
      for (let q = seed; running; q += 7) {
        const body = JSON.stringify({ query: vectorOf(q), limit: 10, params: { exact: true } });
        const started = performance.now();
        try {
          const r = await post(node, 'POST', `/collections/${COLLECTION}/points/query`, body, SEARCH_TIMEOUT_MS);
          if (r.status === 200) {
            searches += 1;
            searchMs.push(performance.now() - started);
          } else searchFailures.push(`${node.host}: ${r.status} ${r.text.slice(0, 300)}`);
        } catch (error) {
          searchFailures.push(`${node.host}: ${String(error)}`);
        }
      }
    };

    const clients = [
      ...nodes.flatMap((node) => Array.from({ length: WRITERS_PER_NODE }, () => writer(node))),
      ...nodes.flatMap((node, i) => Array.from({ length: SEARCHERS_PER_NODE }, (_, j) => searcher(node, i * 100 + j))),
    ];
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    running = false;
    await Promise.all(clients);
    const loadSeconds = (performance.now() - t0) / 1000;
    await sampler;

    const after = await raftViews(t0);
    const loopAfter = await Promise.all(nodes.map(maxLoopDelayMs));
    const counts = await Promise.all(nodes.map(async (node) => {
      const r = await request(node, 'POST', `/collections/${COLLECTION}/points/count?consistency=all`, { exact: true }, 30_000);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return (r.body as { result: { count: number } }).result.count;
    }));

    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    const p = (xs: number[], q: number): number => Math.round(sorted(xs)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN);
    const batches = upsertMs.length;
    console.log(
      `load: ${loadSeconds.toFixed(1)} s, ${nodes.length} nodes, ${CONFIG.shard_number} shards x rf ${CONFIG.replication_factor}; ` +
        `${ackedIds.length} points acknowledged in ${batches} batches of ${BATCH}x${DIM}-d (${(batches / loadSeconds).toFixed(2)} batches/s, ` +
        `${Math.round(ackedIds.length / loadSeconds)} points/s, upsert p50 ${p(upsertMs, 0.5)} ms / max ${p(upsertMs, 1)} ms); ` +
        `${searches} exact searches (${(searches / loadSeconds).toFixed(1)} QPS, p50 ${p(searchMs, 0.5)} ms / max ${p(searchMs, 1)} ms); ` +
        `failures: ${upsertFailures.length} upserts, ${searchFailures.length} searches, ${statusFailures.length} status reads; ` +
        `raft term ${term} leader ${leader}, ${samples} samples of 3 nodes, ${changed.length} differing; ` +
        `max event-loop delay since start per node: before ${loopBefore.map((ms) => ms.toFixed(0)).join('/')} ms, after ${loopAfter.map((ms) => ms.toFixed(0)).join('/')} ms; ` +
        `counts ${counts.join('/')}`,
    );
    if (changed.length > 0) console.log('raft views that changed:', JSON.stringify(changed.slice(0, 20)));
    for (const failure of [...upsertFailures, ...searchFailures, ...statusFailures].slice(0, 10)) console.log('failure:', failure);

    // The load happened: every writer and searcher got answers, through every node.
    expect(batches).toBeGreaterThanOrEqual(nodes.length * WRITERS_PER_NODE);
    expect(searches).toBeGreaterThanOrEqual(nodes.length * SEARCHERS_PER_NODE);
    expect(samples).toBeGreaterThan(0);
    // No election: the same term and leader on every node, at the end and at every sample.
    expect(changed).toEqual([]);
    expect(after.map((v) => [v.term, v.leader])).toEqual(nodes.map(() => [term, leader]));
    // Nothing failed on a healthy cluster; every acknowledged (distinct) point is there.
    expect(upsertFailures).toEqual([]);
    expect(searchFailures).toEqual([]);
    expect(statusFailures).toEqual([]);
    expect(new Set(ackedIds).size).toBe(ackedIds.length);
    expect(counts).toEqual(nodes.map(() => ackedIds.length));
  }, LOAD_MS + 180_000);
});
