// Exact scoring loops, one per distance, each monomorphic over the row-major Float32Array of a
// vector space. Each pushes a key where larger is better: similarity for Dot / Cosine (Cosine rows
// and query are unit length, so it is a dot product), the negated squared L2 distance for Euclid
// (the square root is taken once per result, not per candidate), the negated L1 distance for
// Manhattan.
import type { Distance } from '@shoal/common';
import type { TopK } from './topk.js';

export function scanDot(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += (data[base + j] as number) * (query[j] as number);
    top.push(sum, offset);
  }
}

export function scanEuclid(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let sum = 0;
    for (let j = 0; j < dim; j++) {
      const d = (data[base + j] as number) - (query[j] as number);
      sum += d * d;
    }
    top.push(-sum, offset);
  }
}

export function scanManhattan(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += Math.abs((data[base + j] as number) - (query[j] as number));
    top.push(-sum, offset);
  }
}

/** Score reported to users from a heap key. */
export function scoreOfKey(distance: Distance, key: number): number {
  switch (distance) {
    case 'Cosine':
    case 'Dot':
      return key;
    case 'Euclid':
      return Math.sqrt(-key);
    case 'Manhattan':
      return -key;
  }
}

/** Whether a score passes score_threshold: >= for similarities, <= for distances. */
export function passesThreshold(distance: Distance, score: number, threshold: number | null): boolean {
  if (threshold === null) return true;
  return distance === 'Euclid' || distance === 'Manhattan' ? score <= threshold : score >= threshold;
}

/** Unit-length copy for Cosine; a zero vector stays zero. */
export function normalized(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let j = 0; j < vector.length; j++) norm += (vector[j] as number) * (vector[j] as number);
  const out = new Float32Array(vector.length);
  if (norm === 0) return out;
  const scale = 1 / Math.sqrt(norm);
  for (let j = 0; j < vector.length; j++) out[j] = (vector[j] as number) * scale;
  return out;
}
