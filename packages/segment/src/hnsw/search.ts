// The layer search of HNSW (Malkov & Yashunin, algorithm 2) and the greedy descent of the upper
// levels, as standalone functions over the store's typed arrays. Neighbours not yet visited are
// gathered into a scratch list and scored with one scoreBatch call per list, so a WebAssembly
// kernel crosses the JS boundary once per expanded node, not once per pair.
import { IdHeap } from './heap.js';
import type { VectorScorer } from './scorer.js';
import type { GraphStore } from './store.js';
import { VisitedSet } from './visited.js';

/** Returns true for internal ids that may appear in results. */
export type IdFilter = (id: number) => boolean;

/**
 * The same as a bitset: id may appear in results when bit (id & 7) of byte (id >>> 3) is set.
 * Preferred over IdFilter when the filter is known up front: no call per candidate, and a
 * WebAssembly search can read it from memory.
 */
export type IdBitset = Uint8Array;

/** Per-searcher working memory, reused across searches: nothing is allocated per step. */
export class SearchScratch {
  readonly visited: VisitedSet;
  readonly candidates = new IdHeap(256);
  readonly results = new IdHeap(256);
  readonly ids: Uint32Array;
  readonly scores: Float32Array;
  /** Distance evaluations since the caller last zeroed it. */
  evaluations = 0;
  /** Score of the node the last greedyDescend returned. */
  bestScore = 0;

  constructor(capacity: number, m0: number) {
    this.visited = new VisitedSet(capacity);
    this.ids = new Uint32Array(m0);
    this.scores = new Float32Array(m0);
  }
}

/**
 * Greedy walk from `start` down to level `bottom` (inclusive): on each level, move to the best
 * neighbour while that improves the score. Returns the node reached; its score in s.bestScore.
 */
export function greedyDescend(
  g: GraphStore, scorer: VectorScorer, query: Float32Array, s: SearchScratch,
  start: number, startScore: number, top: number, bottom: number,
): number {
  let cur = start;
  let curScore = startScore;
  const ids = s.ids;
  const scores = s.scores;
  for (let level = top; level >= bottom; level--) {
    const links = g.links(level);
    for (let moved = true; moved; ) {
      moved = false;
      const base = g.linkBase(cur, level);
      const n = links[base] as number;
      for (let i = 0; i < n; i++) ids[i] = links[base + 1 + i] as number;
      scorer.scoreBatch(query, ids, n, scores);
      s.evaluations += n;
      for (let i = 0; i < n; i++) {
        const score = scores[i] as number;
        if (score > curScore) {
          curScore = score;
          cur = ids[i] as number;
          moved = true;
        }
      }
    }
  }
  s.bestScore = curScore;
  return cur;
}

/**
 * Best-first search of one level from one entry, keeping the ef best acceptable nodes in
 * s.results (a min-heap: the worst kept result on top). A node is acceptable when it is not a
 * tombstone (if skipDeleted) and passes the bitset and the filter (each when given); unacceptable nodes are still expanded, so a
 * filter or deletes never cut the graph apart.
 */
export function searchLayer(
  g: GraphStore, scorer: VectorScorer, query: Float32Array, s: SearchScratch,
  entry: number, entryScore: number, ef: number, level: number,
  skipDeleted: boolean, bits: IdBitset | null, filter: IdFilter | null,
): void {
  s.visited.reset(g.capacity);
  const marks = s.visited.marks;
  const epoch = s.visited.current;
  const cand = s.candidates;
  const res = s.results;
  const links = g.links(level);
  const deleted = g.deleted;
  const ids = s.ids;
  const scores = s.scores;
  cand.clear();
  res.clear();
  marks[entry] = epoch;
  cand.push(-entryScore, entry);
  if (acceptable(entry, skipDeleted ? deleted : null, bits, filter)) res.push(entryScore, entry);
  let evaluations = 0;
  // The score a newcomer must beat: the worst kept result once ef are kept, -Infinity before.
  let worst = res.size >= ef ? res.topKey() : -Infinity;
  while (cand.size > 0) {
    const current = cand.topId();
    if (-cand.topKey() < worst) break;
    cand.pop();
    const base = g.linkBase(current, level);
    const n = links[base] as number;
    let k = 0;
    for (let i = 1; i <= n; i++) {
      const v = links[base + i] as number;
      if (marks[v] !== epoch) {
        marks[v] = epoch;
        ids[k++] = v;
      }
    }
    if (k === 0) continue;
    scorer.scoreBatch(query, ids, k, scores);
    evaluations += k;
    for (let i = 0; i < k; i++) {
      const score = scores[i] as number;
      if (score <= worst) continue;
      const v = ids[i] as number;
      cand.push(-score, v);
      if (skipDeleted && deleted[v] !== 0) continue;
      if (bits !== null && ((bits[v >>> 3] as number) & (1 << (v & 7))) === 0) continue;
      if (filter !== null && !filter(v)) continue;
      if (res.size < ef) res.push(score, v);
      else res.replaceTop(score, v);
      if (res.size >= ef) worst = res.topKey();
    }
  }
  s.evaluations += evaluations;
}

function acceptable(id: number, deleted: Uint8Array | null, bits: IdBitset | null, filter: IdFilter | null): boolean {
  if (deleted !== null && deleted[id] !== 0) return false;
  if (bits !== null && ((bits[id >>> 3] as number) & (1 << (id & 7))) === 0) return false;
  return filter === null || filter(id);
}

/** Empties s.results into ids/scores, best first; returns how many. */
export function drainBestFirst(res: IdHeap, ids: Uint32Array, scores: Float32Array | Float64Array): number {
  const n = res.size;
  for (let i = n - 1; i >= 0; i--) {
    ids[i] = res.topId();
    scores[i] = res.topKey();
    res.pop();
  }
  return n;
}
