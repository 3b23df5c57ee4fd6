// Level-0 reachability repair. Pruning a full neighbour list by the heuristic can drop the last
// link into a node, which then no search can return (hnswlib has the same gap; about one node in
// a few thousand on Gaussian data). After a build, each such node gets one incoming link from the
// nearest reachable node: a free slot if one of the nearest has one, else the slot of a link whose
// target has the most other incoming links, so the replacement cannot orphan anyone in turn.
import type { VectorScorer } from './scorer.js';
import { drainBestFirst, searchLayer } from './search.js';
import type { SearchScratch } from './search.js';
import { LEVEL_ABSENT, NO_NODE } from './limits.js';
import type { GraphStore } from './store.js';

interface Reach {
  readonly reached: Uint8Array;
  /** Incoming level-0 links from reached nodes. */
  readonly inDegree: Uint32Array;
}

/** Links every present node into level 0's component of the entry point; returns links added. */
export function connectUnreachable(
  g: GraphStore, scorer: VectorScorer, s: SearchScratch, ef: number, ids: Uint32Array, scores: Float32Array,
): number {
  if (g.entry === NO_NODE) return 0;
  const reach: Reach = { reached: new Uint8Array(g.capacity), inDegree: new Uint32Array(g.capacity) };
  markFrom(g, reach, g.entry);
  let added = 0;
  for (let u = 0; u < g.capacity; u++) {
    if (g.levels[u] === LEVEL_ABSENT || reach.reached[u] === 1) continue;
    const query = scorer.row(u);
    searchLayer(g, scorer, query, s, g.entry, Math.fround(scorer.score(query, g.entry)), ef, 0, false, null, null);
    const n = drainBestFirst(s.results, ids, scores);
    linkInto(g, reach, u, ids, n);
    added++;
    markFrom(g, reach, u);
  }
  return added;
}

/** Adds u to the list of the best candidate with room, or replaces the most redundant link. */
function linkInto(g: GraphStore, reach: Reach, u: number, ids: Uint32Array, n: number): void {
  const links = g.level0;
  for (let i = 0; i < n; i++) {
    const base = (ids[i] as number) * g.stride0;
    const count = links[base] as number;
    if (count < g.m0) {
      links[base + 1 + count] = u;
      links[base] = count + 1;
      reach.inDegree[u] = (reach.inDegree[u] as number) + 1;
      return;
    }
  }
  const base = (ids[0] as number) * g.stride0;
  let slot = 1;
  for (let i = 2; i <= g.m0; i++) {
    if ((reach.inDegree[links[base + i] as number] as number) > (reach.inDegree[links[base + slot] as number] as number)) slot = i;
  }
  const dropped = links[base + slot] as number;
  reach.inDegree[dropped] = (reach.inDegree[dropped] as number) - 1;
  links[base + slot] = u;
  reach.inDegree[u] = (reach.inDegree[u] as number) + 1;
}

/** Marks everything reachable from `start` on level 0, counting in-degrees from reached nodes. */
function markFrom(g: GraphStore, reach: Reach, start: number): void {
  const links = g.level0;
  const stack = [start];
  reach.reached[start] = 1;
  while (stack.length > 0) {
    const base = (stack.pop() as number) * g.stride0;
    const n = links[base] as number;
    for (let i = 1; i <= n; i++) {
      const v = links[base + i] as number;
      reach.inDegree[v] = (reach.inDegree[v] as number) + 1;
      if (reach.reached[v] === 1) continue;
      reach.reached[v] = 1;
      stack.push(v);
    }
  }
}
