// A 3-shard, 2-replica collection on three real nodes answers searches as one standalone node
// given the same points: exact search returns the same ids and the same scores (ties broken by
// id, also where offset and limit cut through a group of equal scores), through every node, with
// filters, score_threshold, offset, a query by point id, and read consistency default / 2 / all.
// With HNSW graphs on every replica, recall@10 at a low hnsw_ef is not worse than one node's
// (by more than 0.01). The search parameters (exact, hnsw_ef, quantization) reach a replica on
// another peer: a shard held by one peer only answers a query received by another node exactly
// as it answers its own node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startServer, removeStorage, unexpectedErrors, type ServerProcess } from '../test/harness.js';
import { installValidatingFetch, Rand, type FetchValidator } from '../test/support.js';
import { type ClusterNode, clusterNodes, collectionCluster, pickP2pPort, startCluster, stopAll, waitFor } from './nodes.js';

type Client = QdrantClient;
type QueryArgs = Parameters<Client['query']>[1];
type Hit = { id: number; score: number };

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);
let single: ServerProcess;
let singleClient: Client;
let nodeClients: Client[] = [];
let validator: FetchValidator;

// ----- data ------------------------------------------------------------------------------------

/** Exact collection: 16-d, Cosine; many points share one of a few vectors (groups of equal scores). */
const EXACT = 'eq_exact';
const EXACT_DIM = 16;
const EXACT_POINTS = 1200;
/** Vectors that several points share: point ids ≡ 0 (mod 4) take SHARED[id % SHARED.length]. */
const SHARED_COUNT = 12;

/** HNSW collection: 32-d Gaussian, small thresholds so each shard's segments get graphs. */
const HNSW = 'eq_hnsw';
const HNSW_DIM = 32;
const HNSW_POINTS = 3600;
/** 32-d float32 vectors are 128 bytes: 1 KB (Qdrant's unit) holds 8. */
const INDEXING_KB = 40;
const INDEXING_POINTS = INDEXING_KB * 8;
const HNSW_CONFIG = { m: 8, ef_construct: 32, full_scan_threshold: 10 };
const OPTIMIZERS = { indexing_threshold: INDEXING_KB, default_segment_number: 2, max_segment_size: 100_000 };
/** Low enough that a walk of these graphs misses some true neighbours. */
const LOW_EF = 40;
const HNSW_QUERIES = 60;

/** One shard on one peer, with scalar codes: what reaches a replica on another peer. */
const WIRE = 'eq_wire';
const WIRE_POINTS = 1600;

const rand = new Rand(20240611);
const sharedVectors = Array.from({ length: SHARED_COUNT }, () => rand.vector(EXACT_DIM));
const exactVectors = new Map<number, number[]>();
for (let id = 1; id <= EXACT_POINTS; id++) {
  exactVectors.set(id, id % 4 === 0 ? sharedVectors[(id / 4) % SHARED_COUNT]! : rand.vector(EXACT_DIM));
}
// Exact duplicates among the unshared points too: each id ≡ 1 (mod 50) copies its predecessor.
for (let id = 51; id <= EXACT_POINTS; id += 50) exactVectors.set(id, exactVectors.get(id - 1)!);

function exactPayload(id: number): Record<string, unknown> {
  return { group: id % 7, tag: ['red', 'green', 'blue'][id % 3], n: id };
}

function gaussian(r: Rand, dim: number): number[] {
  const out: number[] = [];
  while (out.length < dim) {
    const u = Math.max(r.next(), 1e-12);
    const v = r.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    out.push(radius * Math.cos(2 * Math.PI * v), radius * Math.sin(2 * Math.PI * v));
  }
  return out.slice(0, dim);
}

const hnswRand = new Rand(77);
const hnswVectors = Array.from({ length: HNSW_POINTS }, () => gaussian(hnswRand, HNSW_DIM));
const hnswQueries = Array.from({ length: HNSW_QUERIES }, () => gaussian(hnswRand, HNSW_DIM));
const wireVectors = Array.from({ length: WIRE_POINTS }, () => gaussian(hnswRand, HNSW_DIM));
const wireQueries = Array.from({ length: 12 }, () => gaussian(hnswRand, HNSW_DIM));

// ----- helpers ---------------------------------------------------------------------------------

function clientOf(url: string): Client {
  return new QdrantClient({ url, checkCompatibility: false });
}

async function query(client: Client, collection: string, args: QueryArgs): Promise<Hit[]> {
  const r = await client.query(collection, args);
  return r.points.map((p) => ({ id: Number(p.id), score: p.score }));
}

/** The same collection and points on the standalone node and (through rotating nodes) on the cluster. */
async function createEverywhere(name: string, config: Parameters<Client['createCollection']>[1], cluster: Parameters<Client['createCollection']>[1]): Promise<void> {
  await singleClient.createCollection(name, config);
  await nodeClients[0]!.createCollection(name, { ...config, ...cluster });
}

async function upsertEverywhere(name: string, points: { id: number; vector: number[]; payload?: Record<string, unknown> }[], batch: number): Promise<void> {
  for (let i = 0, b = 0; i < points.length; i += batch, b++) {
    const part = points.slice(i, i + batch);
    await singleClient.upsert(name, { wait: true, points: part });
    await nodeClients[b % nodeClients.length]!.upsert(name, { wait: true, points: part });
  }
}

/** Ids that are among the true top 10, over all queries. */
function recall(found: readonly Hit[][], truth: readonly Hit[][]): number {
  let hits = 0;
  let total = 0;
  for (const [q, want] of truth.entries()) {
    const ids = new Set(want.map((h) => h.id));
    hits += found[q]!.filter((h) => ids.has(h.id)).length;
    total += want.length;
  }
  return hits / total;
}

// ----- lifecycle -------------------------------------------------------------------------------

beforeAll(async () => {
  single = await startServer();
  await startCluster(nodes, p2pPort);
  validator = installValidatingFetch();
  singleClient = clientOf(single.url);
  nodeClients = nodes.map((n) => clientOf(n.url));
}, 60_000);

afterAll(async () => {
  const validated = validator?.count() ?? 0;
  const violations = validator?.violations ?? [];
  validator?.uninstall();
  const errors = [...nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? '')), ...unexpectedErrors(single?.output() ?? '')];
  await stopAll(nodes);
  await single?.stop();
  if (single !== undefined) removeStorage(single.storage);
  expect(violations).toEqual([]);
  expect(validated).toBeGreaterThan(20);
  expect(errors).toEqual([]);
});

// ----- tests -----------------------------------------------------------------------------------

describe('a 3-shard, 2-replica collection against one node with the same points', () => {
  it('exact search: the same ids and scores through every node, ties broken by id at the page boundaries', async () => {
    await createEverywhere(EXACT, { vectors: { size: EXACT_DIM, distance: 'Cosine' } }, { shard_number: 3, replication_factor: 2 });
    const points = [...exactVectors].map(([id, vector]) => ({ id, vector, payload: exactPayload(id) }));
    await upsertEverywhere(EXACT, points, 200);
    for (const node of nodes) {
      const info = await collectionCluster(node, EXACT);
      expect(info.local_shards.map((s) => s.state)).toEqual(['Active', 'Active']);
      // Each node holds two of the three shards: the third is always read from another peer.
      expect(info.remote_shards).toHaveLength(4);
    }

    const filters = [
      undefined,
      { must: [{ key: 'group', match: { any: [1, 2, 4] } }] },
      { must: [{ key: 'n', range: { gte: 100, lt: 900 } }], must_not: [{ key: 'tag', match: { value: 'green' } }] },
    ];
    // Queries: a shared vector (a group of 100 points with score 1, ties across all shards), a
    // duplicated unshared vector, and fresh vectors.
    const queries: QueryArgs['query'][] = [sharedVectors[3]!, exactVectors.get(100)!, exactVectors.get(351)!, rand.vector(EXACT_DIM), rand.vector(EXACT_DIM)];
    const pages = [
      { limit: 10, offset: 0 },
      { limit: 10, offset: 95 }, // cuts through the end of a 100-point tie group
      { limit: 7, offset: 3 },
      { limit: 25, offset: 40 },
    ];
    const consistencies: (QueryArgs['consistency'] | undefined)[] = [undefined, 2, 'all'];
    let tiedAtBoundary = 0;
    let compared = 0;
    for (const [qi, q] of queries.entries()) {
      for (const filter of filters) {
        for (const page of pages) {
          const args: QueryArgs = { query: q, filter, ...page, params: { exact: true } };
          const want = await query(singleClient, EXACT, args);
          // The page's first / last score equals a score just outside it: the tie is decided by id.
          const wider = await query(singleClient, EXACT, { ...args, offset: Math.max(0, page.offset - 1), limit: page.limit + 2 });
          if (want.length > 0 && wider.length === want.length + 2 && (wider[0]!.score === want[0]!.score || wider.at(-1)!.score === want.at(-1)!.score)) tiedAtBoundary++;
          for (const [ci, client] of nodeClients.entries()) {
            const consistency = consistencies[(qi + ci) % consistencies.length];
            const got = await query(client, EXACT, { ...args, ...(consistency === undefined ? {} : { consistency }) });
            expect(got, `query ${qi} ${JSON.stringify(filter)} ${JSON.stringify(page)} via node ${ci} consistency ${String(consistency)}`).toEqual(want);
            compared++;
          }
        }
      }
      // score_threshold: one set exactly at a score that several points share (inclusive), one between scores.
      const top = await query(singleClient, EXACT, { query: q, limit: 60, params: { exact: true } });
      for (const threshold of [top[30]!.score, (top[20]!.score + top[21]!.score) / 2]) {
        const args: QueryArgs = { query: q, limit: 100, score_threshold: threshold, params: { exact: true } };
        const want = await query(singleClient, EXACT, args);
        expect(want.length).toBeGreaterThan(0);
        for (const client of nodeClients) expect(await query(client, EXACT, { ...args, consistency: 'all' })).toEqual(want);
      }
    }
    // The data really has ties at page boundaries (otherwise the tie-break was not tested).
    expect(tiedAtBoundary).toBeGreaterThan(5);
    expect(compared).toBe(queries.length * filters.length * pages.length * 3);

    // Query by point id (the point itself is not returned), a shared vector's point and unshared ones.
    for (const id of [8, 100, 351, 777]) {
      for (const page of [{ limit: 10, offset: 0 }, { limit: 10, offset: 95 }]) {
        const args: QueryArgs = { query: id, ...page, params: { exact: true }, filter: filters[id % 2 === 0 ? 0 : 1] };
        const want = await query(singleClient, EXACT, args);
        expect(want.map((h) => h.id)).not.toContain(id);
        for (const [ci, client] of nodeClients.entries()) {
          expect(await query(client, EXACT, { ...args, consistency: ci === 1 ? 'all' : undefined }), `by id ${id} via node ${ci}`).toEqual(want);
        }
      }
    }
  }, 60_000);

  it('HNSW: with graphs on every replica, cluster recall@10 at a low hnsw_ef is within 0.01 of one node', async () => {
    const config = { vectors: { size: HNSW_DIM, distance: 'Euclid' as const }, hnsw_config: HNSW_CONFIG, optimizers_config: OPTIMIZERS };
    await createEverywhere(HNSW, config, { shard_number: 3, replication_factor: 2 });
    await upsertEverywhere(HNSW, hnswVectors.map((vector, i) => ({ id: i + 1, vector })), 300);

    // Every replica indexed: each node's optimizer idle, and all its local points in graphs but
    // at most one appendable remainder (below indexing_threshold) per local shard.
    await waitFor('graphs on the standalone node', async () => {
      const info = await singleClient.getCollection(HNSW);
      return info.status === 'green' && (info.indexed_vectors_count ?? 0) >= HNSW_POINTS - INDEXING_POINTS ? true : undefined;
    }, 45_000, 200);
    for (const [ci, node] of nodes.entries()) {
      const local = (await collectionCluster(node, HNSW)).local_shards;
      expect(local).toHaveLength(2);
      const localPoints = local.reduce((sum, s) => sum + s.points_count, 0);
      const indexed = await waitFor(`graphs on node ${ci}`, async () => {
        const info = await nodeClients[ci]!.getCollection(HNSW);
        const count = info.indexed_vectors_count ?? 0;
        return info.status === 'green' && count >= localPoints - local.length * INDEXING_POINTS ? count : undefined;
      }, 45_000, 200);
      console.log(`node ${ci}: ${indexed} of its ${localPoints} local vectors in graphs`);
    }
    expect((await singleClient.count(HNSW, { exact: true })).count).toBe(HNSW_POINTS);

    const truth: Hit[][] = [];
    const singleFound: Hit[][] = [];
    const clusterFound: Hit[][][] = nodes.map(() => []);
    for (const [qi, q] of hnswQueries.entries()) {
      truth.push(await query(singleClient, HNSW, { query: q, limit: 10, params: { exact: true } }));
      // Exact search on indexed shards equals the standalone node too.
      expect(await query(nodeClients[qi % 3]!, HNSW, { query: q, limit: 10, params: { exact: true } })).toEqual(truth[qi]);
      singleFound.push(await query(singleClient, HNSW, { query: q, limit: 10, params: { hnsw_ef: LOW_EF } }));
      for (const [ci, client] of nodeClients.entries()) clusterFound[ci]!.push(await query(client, HNSW, { query: q, limit: 10, params: { hnsw_ef: LOW_EF } }));
    }
    const singleRecall = recall(singleFound, truth);
    const clusterRecalls = clusterFound.map((found) => recall(found, truth));
    console.log(`recall@10 at hnsw_ef ${LOW_EF}: single node ${singleRecall.toFixed(4)}, through each cluster node ${clusterRecalls.map((r) => r.toFixed(4)).join(' ')}`);
    // The graphs were walked: an exact scan would have found everything.
    expect(singleRecall).toBeLessThan(0.98);
    expect(singleRecall).toBeGreaterThan(0.5);
    for (const r of clusterRecalls) expect(r).toBeGreaterThanOrEqual(singleRecall - 0.01);
    // The cluster's replicas walk their graphs too: at the smallest ef (limit) they miss neighbours.
    for (const client of nodeClients) {
      const found: Hit[][] = [];
      for (const q of hnswQueries) found.push(await query(client, HNSW, { query: q, limit: 10, params: { hnsw_ef: 10 } }));
      expect(recall(found, truth)).toBeLessThan(0.98);
    }
  }, 90_000);

  it('exact, hnsw_ef and quantization reach a replica on another peer', async () => {
    // One shard, one replica: two of the three nodes can only answer through the p2p Search call.
    const config = {
      vectors: { size: HNSW_DIM, distance: 'Euclid' as const },
      hnsw_config: { m: 4, ef_construct: 64, full_scan_threshold: 10 },
      optimizers_config: OPTIMIZERS,
      quantization_config: { scalar: { type: 'int8' as const, always_ram: true } },
    };
    await nodeClients[1]!.createCollection(WIRE, { ...config, shard_number: 1, replication_factor: 1 });
    for (let i = 0; i < WIRE_POINTS; i += 400) {
      await nodeClients[(i / 400) % 3]!.upsert(WIRE, { wait: true, points: wireVectors.slice(i, i + 400).map((vector, j) => ({ id: i + j + 1, vector })) });
    }
    const owner = await ownerOf(WIRE);
    expect(owner).toBeGreaterThanOrEqual(0);
    await waitFor('graphs on the owner', async () => {
      const info = await nodeClients[owner]!.getCollection(WIRE);
      return info.status === 'green' && (info.indexed_vectors_count ?? 0) >= WIRE_POINTS - INDEXING_POINTS ? true : undefined;
    }, 45_000, 200);
    const others = [0, 1, 2].filter((i) => i !== owner);

    const variants: Record<string, QueryArgs['params']> = {
      default: undefined,
      exact: { exact: true },
      efLow: { hnsw_ef: 10, quantization: { ignore: true } },
      efHigh: { hnsw_ef: 300 },
      noRescore: { quantization: { rescore: false } },
      ignoreCodes: { quantization: { ignore: true } },
    };
    const local: Record<string, Hit[][]> = {};
    for (const [name, params] of Object.entries(variants)) {
      local[name] = [];
      for (const q of wireQueries) local[name].push(await query(nodeClients[owner]!, WIRE, { query: q, limit: 10, params }));
    }
    // Each parameter changes the owner's answer to some query, so an answer that ignored it would show.
    const differs = (a: string, b: string): boolean => local[a]!.some((hits, q) => JSON.stringify(hits) !== JSON.stringify(local[b]![q]));
    expect(differs('exact', 'default')).toBe(true);
    expect(differs('efLow', 'ignoreCodes')).toBe(true);
    expect(differs('efHigh', 'default')).toBe(true);
    expect(differs('noRescore', 'default')).toBe(true);
    expect(differs('ignoreCodes', 'noRescore')).toBe(true);
    // Without rescoring, the scores are the codes' estimates, not float distances.
    const exactScore = (q: number, id: number): number => distanceOf(wireQueries[q]!, wireVectors[id - 1]!);
    expect(local['noRescore']!.some((hits, q) => hits.some((h) => Math.abs(h.score - exactScore(q, h.id)) > 1e-3))).toBe(true);
    for (const other of others) {
      for (const [name, params] of Object.entries(variants)) {
        for (const [q, vector] of wireQueries.entries()) {
          const got = await query(nodeClients[other]!, WIRE, { query: vector, limit: 10, params });
          expect(got, `${name}, query ${q}, through node ${other} (the shard is on node ${owner})`).toEqual(local[name]![q]);
        }
      }
    }
  }, 90_000);
});

/** Index of the node that holds the collection's only replica. */
async function ownerOf(name: string): Promise<number> {
  for (const [i, node] of nodes.entries()) {
    if ((await collectionCluster(node, name)).local_shards.length > 0) return i;
  }
  return -1;
}

function distanceOf(a: readonly number[], b: readonly number[]): number {
  // float32 inputs, as stored
  const fa = Float32Array.from(a);
  const fb = Float32Array.from(b);
  let sum = 0;
  for (let i = 0; i < fa.length; i++) sum += (fa[i]! - fb[i]!) ** 2;
  return Math.sqrt(sum);
}
