// HNSW over internal ids 0..capacity-1 (Malkov & Yashunin), insertion as in hnswlib: a node gets
// a random top level (mult = 1/ln(m)), descends greedily to that level, then on each level down to
// 0 searches with ef_construct, keeps m neighbours by the heuristic and links back, pruning a
// neighbour's list by the same heuristic when it overflows (m on upper levels, 2m on level 0).
// Given the same seed and insertion order, the links are the same bytes.
import { assert } from '@shoal/common';
import type { Rng } from '@shoal/common';
import { HNSW_EF_MAX, HNSW_LEVEL_MAX, HNSW_M_MAX, HNSW_M_MIN, LEVEL_ABSENT, NO_NODE } from './limits.js';
import type { VectorScorer } from './scorer.js';
import { SearchScratch, drainBestFirst, greedyDescend, searchLayer } from './search.js';
import type { IdBitset, IdFilter } from './search.js';
import { connectUnreachable } from './repair.js';
import { selectNeighbours, sortBestFirst } from './select.js';
import { GraphStore } from './store.js';

/** Repair passes after a build; each one starts from a fresh reachability count. */
const REPAIR_PASSES_MAX = 4;

export interface HnswParams {
  /** Links per node on upper levels; level 0 keeps 2m. Qdrant's `m`. */
  readonly m: number;
  /** Candidate list size while inserting. Qdrant's `ef_construct`. */
  readonly efConstruct: number;
  /**
   * Link slots per node on level 0; 2m when absent (as hnswlib). A larger value reserves room for
   * extra links (Qdrant's payload_m) in the same lists; inserts fill at most 2m of them.
   */
  readonly m0?: number;
}

export interface HnswSearchOptions {
  /** Candidate list size; raised to k when smaller. Defaults to efConstruct (as Qdrant's hnsw_ef). */
  readonly ef?: number;
  /** Internal ids allowed in results; others are traversed but never returned. */
  readonly filter?: IdFilter;
  /** The same as a bitset over internal ids (see IdBitset); both apply when both are given. */
  readonly allowed?: IdBitset;
}

export interface HnswResult {
  /** Internal ids, best first. */
  readonly ids: Uint32Array;
  /** Scores, larger is better (see scorer.ts), aligned with ids. */
  readonly scores: Float64Array;
  /** Distance evaluations this query made: a noise-free measure of its work. */
  readonly distanceEvaluations: number;
}

export class HnswGraph {
  private readonly mult: number;
  private readonly scratch: SearchScratch;
  // Construction scratch: candidates of one level, and the kept neighbours.
  private readonly candIds: Uint32Array;
  private readonly candScores: Float32Array;
  private readonly kept: Uint32Array;
  /** Distance evaluations made by inserts so far (searches and neighbour selection). */
  buildEvaluations = 0;

  /** An empty graph with room for `capacity` nodes scored by `scorer`. */
  static create(capacity: number, params: HnswParams, scorer: VectorScorer, rng: Rng): HnswGraph {
    checkParams(params);
    assert(Number.isInteger(capacity) && capacity >= 0 && capacity <= scorer.rows, 'capacity must fit the scorer rows');
    return new HnswGraph(new GraphStore(capacity, params.m, levelZeroSlots(params)), params, scorer, rng);
  }

  /**
   * Builds a graph of ids 0..capacity-1 inserted in order (or in `order`), then links in any node
   * the pruning left unreachable on level 0.
   */
  static build(capacity: number, params: HnswParams, scorer: VectorScorer, rng: Rng, order?: ArrayLike<number>): HnswGraph {
    const graph = HnswGraph.create(capacity, params, scorer, rng);
    if (order === undefined) for (let id = 0; id < capacity; id++) graph.insert(id);
    else for (let i = 0; i < order.length; i++) graph.insert(order[i] as number);
    graph.connectUnreachable();
    return graph;
  }

  /** Wraps a store read back from bytes (see codec.ts). */
  static fromStore(store: GraphStore, params: HnswParams, scorer: VectorScorer, rng: Rng): HnswGraph {
    checkParams(params);
    assert(store.m === params.m && store.m0 === levelZeroSlots(params) && store.capacity <= scorer.rows, 'store does not match params or scorer');
    return new HnswGraph(store, params, scorer, rng);
  }

  private constructor(
    readonly store: GraphStore,
    readonly params: HnswParams,
    private readonly scorer: VectorScorer,
    private readonly rng: Rng,
  ) {
    this.mult = 1 / Math.log(params.m);
    const room = Math.max(params.efConstruct, store.m0 + 1);
    this.scratch = new SearchScratch(store.capacity, store.m0);
    this.candIds = new Uint32Array(room);
    this.candScores = new Float32Array(room);
    this.kept = new Uint32Array(room);
  }

  get size(): number {
    return this.store.count;
  }

  has(id: number): boolean {
    return this.store.levels[id] !== undefined && this.store.levels[id] !== LEVEL_ABSENT;
  }

  levelOf(id: number): number {
    assert(this.has(id), `node ${id} is not in the graph`);
    return this.store.levels[id] as number;
  }

  neighbours(id: number, level: number): Uint32Array {
    return this.store.neighbours(id, level);
  }

  /** Marks a node deleted: never returned again, still used to route searches until a rebuild. */
  delete(id: number): void {
    assert(this.has(id), `node ${id} is not in the graph`);
    this.store.deleted[id] = 1;
  }

  isDeleted(id: number): boolean {
    return this.store.deleted[id] === 1;
  }

  insert(id: number): void {
    this.insertAtLevel(id, randomLevel(this.rng, this.mult));
  }

  /**
   * Inserts `id` with a top level drawn by the caller (randomLevel with mult = 1 / ln m), for
   * stores whose upper-level pool was sized from levels drawn up front.
   */
  insertAtLevel(id: number, level: number): void {
    assert(Number.isInteger(level) && level >= 0 && level <= HNSW_LEVEL_MAX, `level ${level} out of range`);
    const g = this.store;
    g.allocate(id, level);
    if (g.entry === NO_NODE) {
      g.entry = id;
      g.maxLevel = level;
      return;
    }
    const s = this.scratch;
    s.evaluations = 1;
    const query = this.scorer.row(id);
    let cur = g.entry;
    let curScore = Math.fround(this.scorer.score(query, cur)); // as scoreBatch writes f32
    if (g.maxLevel > level) {
      cur = greedyDescend(g, this.scorer, query, s, cur, curScore, g.maxLevel, level + 1);
      curScore = s.bestScore;
    }
    for (let l = Math.min(level, g.maxLevel); l >= 0; l--) {
      // Tombstones count as neighbours here: they stay traversable, and linking past them would
      // leave the nodes they connect harder to reach until a rebuild drops them.
      searchLayer(g, this.scorer, query, s, cur, curScore, this.params.efConstruct, l, false, null, null);
      const n = drainBestFirst(s.results, this.candIds, this.candScores);
      cur = this.candIds[0] as number;
      curScore = this.candScores[0] as number;
      const kept = selectNeighbours(this.scorer, this.candIds, this.candScores, n, g.m, this.kept, s);
      g.setLinks(id, l, this.kept, kept);
      // linkBack reads the kept list back from the store: shrink() reuses the scratch arrays.
      this.linkBack(id, l, kept);
    }
    if (level > g.maxLevel) {
      g.entry = id;
      g.maxLevel = level;
    }
    this.buildEvaluations += s.evaluations;
  }

  /**
   * Gives every node that pruning left without a path from the entry point on level 0 an incoming
   * link; returns how many it linked. build() calls it; call it after a batch of insert()s.
   */
  connectUnreachable(): number {
    this.scratch.evaluations = 0;
    let added = 0;
    // A replaced link can, rarely, orphan its old target; another pass links that one in.
    for (let pass = 0; pass < REPAIR_PASSES_MAX; pass++) {
      const linked = connectUnreachable(this.store, this.scorer, this.scratch, this.params.efConstruct, this.candIds, this.candScores);
      added += linked;
      if (linked === 0) break;
    }
    this.buildEvaluations += this.scratch.evaluations;
    return added;
  }

  /** Adds `id` to the lists of its kept neighbours on one level, pruning those that overflow. */
  private linkBack(id: number, level: number, keptCount: number): void {
    const g = this.store;
    const links = g.links(level);
    const cap = g.degreeOf(level);
    const base = g.linkBase(id, level);
    for (let i = 0; i < keptCount; i++) {
      const nb = links[base + 1 + i] as number;
      const nbBase = g.linkBase(nb, level);
      const n = links[nbBase] as number;
      if (n < cap) {
        links[nbBase + 1 + n] = id;
        links[nbBase] = n + 1;
        continue;
      }
      this.shrink(nb, nbBase, links, cap, id);
    }
  }

  /** Rebuilds a full list from its links plus `extra` by the heuristic. */
  private shrink(nb: number, nbBase: number, links: Uint32Array, cap: number, extra: number): void {
    const ids = this.candIds;
    const scores = this.candScores;
    const n = links[nbBase] as number;
    for (let i = 0; i < n; i++) {
      const v = links[nbBase + 1 + i] as number;
      ids[i] = v;
      scores[i] = this.scorer.scorePair(nb, v);
    }
    ids[n] = extra;
    scores[n] = this.scorer.scorePair(nb, extra);
    this.scratch.evaluations += n + 1;
    sortBestFirst(ids, scores, n + 1);
    const kept = selectNeighbours(this.scorer, ids, scores, n + 1, cap, this.kept, this.scratch);
    links[nbBase] = kept;
    for (let i = 0; i < kept; i++) links[nbBase + 1 + i] = this.kept[i] as number;
  }

  /** The k best nodes for `query`, excluding tombstones and nodes the filter rejects. */
  search(query: Float32Array, k: number, options: HnswSearchOptions = {}): HnswResult {
    assert(Number.isInteger(k) && k > 0, 'k must be a positive integer');
    const g = this.store;
    if (g.entry === NO_NODE) return { ids: new Uint32Array(0), scores: new Float64Array(0), distanceEvaluations: 0 };
    const ef = Math.max(options.ef ?? this.params.efConstruct, k);
    assert(ef <= HNSW_EF_MAX, `ef ${ef} above ${HNSW_EF_MAX}`);
    const s = this.scratch;
    s.evaluations = 1;
    let cur = g.entry;
    let curScore = Math.fround(this.scorer.score(query, cur)); // as scoreBatch writes f32
    if (g.maxLevel > 0) {
      cur = greedyDescend(g, this.scorer, query, s, cur, curScore, g.maxLevel, 1);
      curScore = s.bestScore;
    }
    assert(options.allowed === undefined || options.allowed.length * 8 >= g.capacity, 'bitset shorter than the graph');
    searchLayer(g, this.scorer, query, s, cur, curScore, ef, 0, true, options.allowed ?? null, options.filter ?? null);
    while (s.results.size > k) s.results.pop();
    const ids = new Uint32Array(s.results.size);
    const scores = new Float64Array(s.results.size);
    drainBestFirst(s.results, ids, scores);
    return { ids, scores, distanceEvaluations: s.evaluations };
  }
}

function levelZeroSlots(params: HnswParams): number {
  return params.m0 ?? 2 * params.m;
}

function checkParams(params: HnswParams): void {
  assert(Number.isInteger(params.m) && params.m >= HNSW_M_MIN && params.m <= HNSW_M_MAX, `m must be in [${HNSW_M_MIN}, ${HNSW_M_MAX}]`);
  const m0 = levelZeroSlots(params);
  assert(Number.isInteger(m0) && m0 >= 2 * params.m && m0 <= 2 * HNSW_M_MAX, `m0 must be in [2m, ${2 * HNSW_M_MAX}]`);
  assert(Number.isInteger(params.efConstruct) && params.efConstruct >= 1 && params.efConstruct <= HNSW_EF_MAX, 'efConstruct out of range');
}

/** Top level of a new node: floor(-ln(U) * mult), U uniform in (0, 1], capped. */
export function randomLevel(rng: Rng, mult: number): number {
  const u = 1 - rng.next();
  return Math.min(Math.floor(-Math.log(u) * mult), HNSW_LEVEL_MAX);
}
