// HNSW indexing through the official client: small thresholds make the server seal and index
// segments on its worker thread; collection info reports the optimizer (status, indexed vectors,
// segments); exact search equals a brute-force scan, graph search finds nearly the same points;
// a PATCH of indexing_threshold reaches the live shard; kill -9 and restart keeps the graphs.
import { describe, expect, it } from 'vitest';
import { Rand, sleep, useServer } from './support.js';

const shoal = useServer();
const DIM = 64;
// 64-d float32 vectors are 256 bytes: 1 KB (Qdrant's unit) is 4 of them.
const INDEXING_KB = 25;
const rand = new Rand(41);
const stored = new Map<number, number[]>();

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

async function upsert(from: number, to: number): Promise<void> {
  const points = [];
  for (let id = from; id < to; id++) {
    const vector = rand.vector(DIM);
    stored.set(id, vector);
    points.push({ id, vector, payload: { group: id % 4 } });
  }
  await shoal.client.upsert('idx', { wait: true, points });
}

/** Polls collection info until the optimizer is idle (green), at most a minute. */
async function settled(): Promise<Awaited<ReturnType<typeof shoal.client.getCollection>>> {
  for (let i = 0; i < 600; i++) {
    const info = await shoal.client.getCollection('idx');
    if (info.status === 'green') return info;
    expect(['yellow', 'green']).toContain(info.status);
    await sleep(100);
  }
  throw new Error('the optimizer did not settle within a minute');
}

async function searchBoth(): Promise<{ exact: number[]; approximate: number[]; truth: number[] }> {
  const query = rand.vector(DIM);
  const exact = await shoal.client.query('idx', { query, limit: 10, params: { exact: true } });
  const approximate = await shoal.client.query('idx', { query, limit: 10, params: { hnsw_ef: 64 } });
  const truth = [...stored].map(([id, v]) => ({ id, score: cosine(query, v) })).sort((a, b) => b.score - a.score || a.id - b.id);
  return {
    exact: exact.points.map((p) => Number(p.id)),
    approximate: approximate.points.map((p) => Number(p.id)),
    truth: truth.slice(0, 10).map((p) => p.id),
  };
}

describe('HNSW indexing', () => {
  it('seals and indexes segments past indexing_threshold and reports them in collection info', async () => {
    await shoal.client.createCollection('idx', {
      vectors: { size: DIM, distance: 'Cosine' },
      hnsw_config: { m: 8, ef_construct: 64, full_scan_threshold: 10 },
      optimizers_config: { indexing_threshold: INDEXING_KB, max_segment_size: 400, default_segment_number: 2 },
    });
    for (let id = 0; id < 1000; id += 100) await upsert(id, id + 100);
    const info = await settled();
    expect(info.points_count).toBe(1000);
    expect(info.optimizer_status).toBe('ok');
    expect(info.indexed_vectors_count).toBeGreaterThan(800);
    expect(info.segments_count).toBeGreaterThanOrEqual(2);
    let hits = 0;
    for (let q = 0; q < 10; q++) {
      const { exact, approximate, truth } = await searchBoth();
      expect(exact).toEqual(truth);
      hits += approximate.filter((id) => truth.includes(id)).length;
    }
    expect(hits / 100).toBeGreaterThan(0.9);
  });

  it('takes indexing_threshold 0 and back from a PATCH on the live shard', async () => {
    const before = (await settled()).indexed_vectors_count ?? 0;
    await shoal.client.updateCollection('idx', { optimizers_config: { indexing_threshold: 0 } });
    // Up to max_segment_size (400 KB = 1,600 vectors) the appendable segment just grows now.
    await upsert(1000, 1400);
    expect((await settled()).indexed_vectors_count).toBe(before);
    await shoal.client.updateCollection('idx', { optimizers_config: { indexing_threshold: INDEXING_KB } });
    const after = await settled();
    expect(after.indexed_vectors_count).toBeGreaterThan(before);
    expect(after.points_count).toBe(1400);
  });

  it('keeps its graphs across kill -9 and a restart', async () => {
    const before = await settled();
    const probe = await searchBoth();
    await shoal.killAndRestart();
    const after = await settled();
    expect(after.points_count).toBe(before.points_count);
    expect(after.indexed_vectors_count).toBe(before.indexed_vectors_count);
    const again = await searchBoth();
    expect(again.exact).toEqual(again.truth);
    expect(probe.exact).toEqual(probe.truth);
  });
});
