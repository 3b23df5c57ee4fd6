// Quantization through the official client: collections with scalar, binary (one and two bits)
// and product quantization are indexed (small indexing_threshold) and searched with the search
// params `quantization` {ignore, rescore, oversampling} and `exact`; what each param does is
// visible in the answers (estimated scores without rescoring, exact scores and the brute-force
// top with exact: true). Configs the engine cannot build are refused with 400 at create and
// PATCH. Every response is validated against the OpenAPI spec.
import { describe, expect, it } from 'vitest';
import { Rand, call, failureStatus, sleep, useServer } from './support.js';

const shoal = useServer();
const DIM = 128;
const POINTS = 600;
// 128-d float32 vectors are 512 bytes: 25 KB is 50 of them, 10 KB 20.
const INDEXING_KB = 25;
const rand = new Rand(73);
const stored = new Map<number, number[]>();
for (let id = 0; id < POINTS; id++) stored.set(id, rand.vector(DIM));
const queries = Array.from({ length: 8 }, () => rand.vector(DIM));

const CONFIGS = {
  scalar: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
  binary: { binary: { always_ram: false } },
  binary2: { binary: { encoding: 'two_bits', query_encoding: 'default' } },
  product: { product: { compression: 'x16', always_ram: true } },
} as const;
type Kind = keyof typeof CONFIGS;

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

function truth(query: number[], k: number): number[] {
  return [...stored].map(([id, v]) => ({ id, score: cosine(query, v) })).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k).map((p) => p.id);
}

/** Polls collection info until the optimizer is idle (green), at most a minute. */
async function settled(name: string): Promise<Awaited<ReturnType<typeof shoal.client.getCollection>>> {
  for (let i = 0; i < 600; i++) {
    const info = await shoal.client.getCollection(name);
    if (info.status === 'green') return info;
    expect(['yellow', 'green']).toContain(info.status);
    await sleep(100);
  }
  throw new Error('the optimizer did not settle within a minute');
}

type Params = NonNullable<Parameters<typeof shoal.client.query>[1]['params']>;

async function search(name: string, query: number[], params: Params): Promise<{ ids: number[]; scores: number[] }> {
  const r = await shoal.client.query(name, { query, limit: 10, params });
  return { ids: r.points.map((p) => Number(p.id)), scores: r.points.map((p) => p.score) };
}

/** Largest |score - exact cosine| over a result. */
function scoreError(query: number[], r: { ids: number[]; scores: number[] }): number {
  return Math.max(...r.ids.map((id, i) => Math.abs((r.scores[i] as number) - cosine(query, stored.get(id) as number[]))));
}

function recall(found: number[], want: number[]): number {
  return found.filter((id) => want.includes(id)).length / want.length;
}

async function createIndexed(kind: Kind): Promise<void> {
  const name = `q-${kind}`;
  await shoal.client.createCollection(name, {
    vectors: { size: DIM, distance: 'Cosine' },
    hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10 },
    optimizers_config: { indexing_threshold: INDEXING_KB, default_segment_number: 1 },
    quantization_config: CONFIGS[kind],
  });
  const points = [...stored].map(([id, vector]) => ({ id, vector }));
  for (let at = 0; at < POINTS; at += 100) await shoal.client.upsert(name, { wait: true, points: points.slice(at, at + 100) });
  const info = await settled(name);
  expect(info.points_count).toBe(POINTS);
  expect(info.indexed_vectors_count).toBeGreaterThanOrEqual(POINTS - 100);
  // The config is reported as given, always_ram included.
  expect(info.config.quantization_config).toEqual(CONFIGS[kind]);
}

describe.each(Object.keys(CONFIGS) as Kind[])('%s quantization', (kind) => {
  const name = `q-${kind}`;

  it('indexes the collection with its codes and reports the config', async () => {
    await createIndexed(kind);
  });

  it('rescores by default: exact scores, and the neighbours found', async () => {
    let hits = 0;
    for (const query of queries) {
      const r = await search(name, query, {});
      expect(scoreError(query, r)).toBeLessThan(1e-5);
      hits += recall(r.ids, truth(query, 10));
    }
    expect(hits / queries.length).toBeGreaterThanOrEqual(kind === 'scalar' ? 0.9 : 0.6);
  });

  it('returns the codes\' estimated scores with rescore: false', async () => {
    let error = 0;
    for (const query of queries) {
      const r = await search(name, query, { quantization: { rescore: false } });
      expect(r.ids.length).toBe(10);
      for (let i = 1; i < r.scores.length; i++) expect(r.scores[i - 1]).toBeGreaterThanOrEqual(r.scores[i] as number);
      error = Math.max(error, scoreError(query, r));
    }
    expect(error).toBeGreaterThan(1e-5);
  });

  it('finds more with more oversampling, and walks the f32 vectors with ignore: true', async () => {
    let narrow = 0;
    let wide = 0;
    let ignored = 0;
    for (const query of queries) {
      const want = truth(query, 10);
      narrow += recall((await search(name, query, { hnsw_ef: 16, quantization: { rescore: true, oversampling: 1 } })).ids, want);
      wide += recall((await search(name, query, { hnsw_ef: 16, quantization: { rescore: true, oversampling: 20 } })).ids, want);
      const r = await search(name, query, { quantization: { ignore: true } });
      expect(scoreError(query, r)).toBeLessThan(1e-5);
      ignored += recall(r.ids, want);
    }
    expect(wide).toBeGreaterThan(narrow);
    // Rescoring 200 candidates (ef raised to 200 with them) recovers nearly every neighbour.
    expect(wide / queries.length).toBeGreaterThanOrEqual(0.9);
    expect(ignored / queries.length).toBeGreaterThanOrEqual(0.9);
  });

  it('skips the codes with exact: true: the brute-force top with exact scores', async () => {
    for (const query of queries.slice(0, 4)) {
      const r = await search(name, query, { exact: true, quantization: { rescore: false, oversampling: 1 } });
      expect(r.ids).toEqual(truth(query, 10));
      expect(scoreError(query, r)).toBeLessThan(1e-5);
    }
  });

  it('refuses oversampling below 1 with 422', async () => {
    const raw = await call(shoal.server.url, 'POST', `/collections/${name}/points/query`, { query: queries[0], params: { quantization: { oversampling: 0.5 } } });
    expect(raw.status).toBe(422);
    expect(raw.text).toContain('oversampling');
  });
});

describe('quantization configs the engine cannot build', () => {
  const refused = [
    { binary: { encoding: 'one_and_half_bits' } },
    { binary: { query_encoding: 'scalar8bits' } },
    { binary: { query_encoding: 'scalar4bits' } },
    { turbo: { bits: 'bits4' } },
  ];

  it('are refused with 400 in Qdrant\'s envelope at create, collection-wide and per vector', async () => {
    for (const q of refused) {
      const raw = await call(shoal.server.url, 'PUT', '/collections/refused', { vectors: { size: 4, distance: 'Dot' }, quantization_config: q });
      expect(raw.status).toBe(400);
      const body = raw.json as { status: { error: string }; time: number };
      expect(body.status.error).toMatch(/quantization_config\.(binary|turbo)/);
      const named = await call(shoal.server.url, 'PUT', '/collections/refused', { vectors: { v: { size: 4, distance: 'Dot', quantization_config: q } } });
      expect(named.status).toBe(400);
    }
    expect((await shoal.client.collectionExists('refused')).exists).toBe(false);
  });

  it('are refused with 400 at PATCH, and the collection keeps its config', async () => {
    for (const q of refused) {
      const raw = await call(shoal.server.url, 'PATCH', '/collections/q-scalar', { quantization_config: q });
      expect(raw.status).toBe(400);
      const perVector = await call(shoal.server.url, 'PATCH', '/collections/q-scalar', { vectors: { '': { quantization_config: q } } });
      expect(perVector.status).toBe(400);
    }
    expect(await failureStatus(shoal.client.updateCollection('q-scalar', { quantization_config: { product: { compression: 'x3' as 'x4' } } }))).toBe(400);
    expect((await shoal.client.getCollection('q-scalar')).config.quantization_config).toEqual(CONFIGS.scalar);
  });

  it('a PATCH to another buildable config is taken and rebuilt', async () => {
    await shoal.client.updateCollection('q-scalar', { quantization_config: { product: { compression: 'x32' } } });
    const info = await settled('q-scalar');
    expect(info.config.quantization_config).toEqual({ product: { compression: 'x32' } });
    const query = queries[0] as number[];
    const r = await search('q-scalar', query, { quantization: { rescore: true, oversampling: 20 } });
    expect(recall(r.ids, truth(query, 10))).toBeGreaterThanOrEqual(0.8);
    expect(scoreError(query, r)).toBeLessThan(1e-5);
  });
});
