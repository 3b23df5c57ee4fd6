// Neighbour selection by the heuristic of Malkov & Yashunin (algorithm 4), as hnswlib does it:
// walk the candidates best first and keep one only if it is closer to the base node than to every
// neighbour kept so far. This spreads links across directions, which keeps clustered data
// navigable; pruned candidates are not added back (hnswlib's default, keepPrunedConnections off).
import type { VectorScorer } from './scorer.js';

/**
 * candIds/candScores: n candidates sorted best first, scores against the base node. Writes at
 * most `cap` kept ids to `out` and returns how many. Counts pair scores into evaluations[0].
 */
export function selectNeighbours(
  scorer: VectorScorer, candIds: Uint32Array, candScores: Float32Array, n: number,
  cap: number, out: Uint32Array, counter: { evaluations: number },
): number {
  if (n <= cap) {
    for (let i = 0; i < n; i++) out[i] = candIds[i] as number;
    return n;
  }
  let kept = 0;
  let pairs = 0;
  for (let i = 0; i < n && kept < cap; i++) {
    const c = candIds[i] as number;
    const toBase = candScores[i] as number;
    let good = true;
    for (let j = 0; j < kept; j++) {
      pairs++;
      if (scorer.scorePair(out[j] as number, c) > toBase) {
        good = false;
        break;
      }
    }
    if (good) out[kept++] = c;
  }
  counter.evaluations += pairs;
  return kept;
}

/** Sorts ids/scores[0..n) by score, best first (insertion sort: n is at most 2m + 1). */
export function sortBestFirst(ids: Uint32Array, scores: Float32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const score = scores[i] as number;
    const id = ids[i] as number;
    let j = i - 1;
    // Ties break on the smaller id so the order never depends on the sort's history.
    while (j >= 0 && ((scores[j] as number) < score || ((scores[j] as number) === score && (ids[j] as number) > id))) {
      scores[j + 1] = scores[j] as number;
      ids[j + 1] = ids[j] as number;
      j--;
    }
    scores[j + 1] = score;
    ids[j + 1] = id;
  }
}
