// Seeded data and exact answers for the graph's tests.
import { seededRng } from '@shoal/common';
import type { VectorScorer } from './scorer.js';

/** rows x dim standard normal values (Box-Muller over a seeded generator). */
export function gaussian(rows: number, dim: number, seed: number): Float32Array {
  const rng = seededRng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * rows x dim drawn from a mixture of `clusters` Gaussians: centres N(0, 1), spread `spread`.
 * Clustered data is where graph construction goes wrong (links stay inside clusters).
 */
export function gaussianMixture(rows: number, dim: number, clusters: number, seed: number, spread = 0.35): Float32Array {
  const centres = gaussian(clusters, dim, seed);
  const noise = gaussian(rows, dim, seed + 1);
  const rng = seededRng(seed + 2);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const c = rng.int(clusters);
    for (let j = 0; j < dim; j++) out[i * dim + j] = (centres[c * dim + j] as number) + spread * (noise[i * dim + j] as number);
  }
  return out;
}

/** Scales each row to unit length in place (Cosine stores unit rows and scores by dot). */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let base = 0; base < data.length; base += dim) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (data[base + j] as number) ** 2;
    const scale = norm === 0 ? 0 : 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) data[base + j] = (data[base + j] as number) * scale;
  }
  return data;
}

/** The k best ids for a query by scoring every row the predicate allows. */
export function exactTopK(scorer: VectorScorer, query: Float32Array, k: number, allow: (id: number) => boolean = () => true): number[] {
  const ids: number[] = [];
  const scores: number[] = [];
  for (let id = 0; id < scorer.rows; id++) {
    if (!allow(id)) continue;
    ids.push(id);
    scores.push(scorer.score(query, id));
  }
  return ids
    .map((_, i) => i)
    .sort((a, b) => (scores[b] as number) - (scores[a] as number))
    .slice(0, k)
    .map((i) => ids[i] as number);
}

export function recallAt(found: ArrayLike<number>, truth: readonly number[]): number {
  const want = new Set(truth);
  let hits = 0;
  for (let i = 0; i < found.length; i++) if (want.has(found[i] as number)) hits++;
  return hits / truth.length;
}

export function rowOf(data: Float32Array, dim: number, id: number): Float32Array {
  return data.subarray(id * dim, (id + 1) * dim);
}
