// Scores as users see them. The scans themselves run in ./vector-store.ts on the distance
// kernels of ./wasm; they produce heap keys where larger is better: the similarity for Dot /
// Cosine (Cosine rows and query are unit length, so it is a dot product), the negated squared L2
// distance for Euclid (the square root is taken once per result, not per candidate), the negated
// L1 distance for Manhattan.
import type { Distance } from '@shoal/common';

/**
 * Score reported to users from a heap key. `+ 0` turns a negative zero (which kernels and
 * negations produce in different places) into zero, so every path reports the same score.
 */
export function scoreOfKey(distance: Distance, key: number): number {
  switch (distance) {
    case 'Cosine':
    case 'Dot':
      return key + 0;
    case 'Euclid':
      return Math.sqrt(-key + 0);
    case 'Manhattan':
      return -key + 0;
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
