// Exact scoring loops, one per distance, each monomorphic over the row-major Float32Array of a
// vector space. Each pushes a key where larger is better: similarity for Dot / Cosine (Cosine rows
// and query are unit length, so it is a dot product), the negated squared L2 distance for Euclid
// (the square root is taken once per result, not per candidate), the negated L1 distance for
// Manhattan.
import type { Distance } from '@shoal/common';
import type { TopK } from './topk.js';

// The inner loops run four independent accumulators: V8 does not vectorise, and one running sum
// makes every add wait for the previous one. The tail loop handles dim % 4.

export function scanDot(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  const body = dim - (dim % 4);
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j < body; j += 4) {
      const i = base + j;
      s0 += (data[i] as number) * (query[j] as number);
      s1 += (data[i + 1] as number) * (query[j + 1] as number);
      s2 += (data[i + 2] as number) * (query[j + 2] as number);
      s3 += (data[i + 3] as number) * (query[j + 3] as number);
    }
    for (; j < dim; j++) s0 += (data[base + j] as number) * (query[j] as number);
    top.push(s0 + s1 + s2 + s3, offset);
  }
}

export function scanEuclid(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  const body = dim - (dim % 4);
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j < body; j += 4) {
      const i = base + j;
      const d0 = (data[i] as number) - (query[j] as number);
      const d1 = (data[i + 1] as number) - (query[j + 1] as number);
      const d2 = (data[i + 2] as number) - (query[j + 2] as number);
      const d3 = (data[i + 3] as number) - (query[j + 3] as number);
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    for (; j < dim; j++) {
      const d = (data[base + j] as number) - (query[j] as number);
      s0 += d * d;
    }
    top.push(-(s0 + s1 + s2 + s3), offset);
  }
}

export function scanManhattan(data: Float32Array, dim: number, query: Float32Array, candidates: Uint32Array, top: TopK): void {
  const body = dim - (dim % 4);
  for (let c = 0; c < candidates.length; c++) {
    const offset = candidates[c] as number;
    const base = offset * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j < body; j += 4) {
      const i = base + j;
      s0 += Math.abs((data[i] as number) - (query[j] as number));
      s1 += Math.abs((data[i + 1] as number) - (query[j + 1] as number));
      s2 += Math.abs((data[i + 2] as number) - (query[j + 2] as number));
      s3 += Math.abs((data[i + 3] as number) - (query[j + 3] as number));
    }
    for (; j < dim; j++) s0 += Math.abs((data[base + j] as number) - (query[j] as number));
    top.push(-(s0 + s1 + s2 + s3), offset);
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
