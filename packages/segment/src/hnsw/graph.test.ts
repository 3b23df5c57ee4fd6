import { beforeAll, describe, expect, it } from 'vitest';
import { ShoalError, seededRng } from '@shoal/common';
import { HnswGraph } from './graph.js';
import type { HnswSearchOptions } from './graph.js';
import { loadGraph, serializeGraph } from './codec.js';
import { createJsScorer } from './scorer.js';
import type { GraphMetric, VectorScorer } from './scorer.js';
import { exactTopK, gaussian, gaussianMixture, normalizeRows, recallAt, rowOf } from './test-data.js';

const N = 10_000;
const DIM = 32;
const QUERIES = 100;
const K = 10;
const PARAMS = { m: 16, efConstruct: 100 };

interface Built {
  data: Float32Array;
  queries: Float32Array;
  scorer: VectorScorer;
  graph: HnswGraph;
}

function build(rows: number, dim: number, metric: GraphMetric, seed: number, params = PARAMS, clusters = 0): Built {
  // Queries come from the same distribution as the data (same clusters), as real queries do.
  const all = clusters > 0 ? gaussianMixture(rows + QUERIES, dim, clusters, seed) : gaussian(rows + QUERIES, dim, seed);
  const data = all.slice(0, rows * dim);
  const queries = all.slice(rows * dim);
  if (metric === 'dot') {
    normalizeRows(data, dim);
    normalizeRows(queries, dim);
  }
  const scorer = createJsScorer(data, dim, metric);
  const graph = HnswGraph.build(rows, params, scorer, seededRng(seed));
  return { data, queries, scorer, graph };
}

function meanRecall(b: Built, options: HnswSearchOptions, allow?: (id: number) => boolean): number {
  let total = 0;
  for (let q = 0; q < QUERIES; q++) {
    const query = rowOf(b.queries, DIM, q);
    const found = b.graph.search(query, K, options).ids;
    total += recallAt(found, exactTopK(b.scorer, query, K, allow));
  }
  return total / QUERIES;
}

// Byte-wise comparison: vitest's deep equality on megabyte arrays takes seconds.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Every structural property the search relies on; returns the first violation or null. */
function violation(graph: HnswGraph): string | null {
  const g = graph.store;
  for (let id = 0; id < g.capacity; id++) {
    if (!graph.has(id)) continue;
    const top = graph.levelOf(id);
    for (let level = 0; level <= top; level++) {
      const links = graph.neighbours(id, level);
      if (links.length > g.degreeOf(level)) return `node ${id} level ${level}: ${links.length} links`;
      if (links.includes(id)) return `node ${id} level ${level}: self link`;
      if (new Set(links).size !== links.length) return `node ${id} level ${level}: duplicate link`;
      for (const v of links) if (graph.levelOf(v) < level) return `node ${id} level ${level}: link to ${v} below it`;
    }
  }
  return null;
}

function entryViolation(graph: HnswGraph): string | null {
  const g = graph.store;
  let top = 0;
  for (let id = 0; id < g.capacity; id++) if (graph.has(id)) top = Math.max(top, graph.levelOf(id));
  if (g.maxLevel !== top) return `max level ${g.maxLevel}, highest node level ${top}`;
  return graph.levelOf(g.entry) === top ? null : `entry ${g.entry} is on level ${graph.levelOf(g.entry)}, not ${top}`;
}

function unreachableOnLevel0(graph: HnswGraph): number {
  const seen = new Uint8Array(graph.store.capacity);
  const stack = [graph.store.entry];
  seen[graph.store.entry] = 1;
  let reached = 1;
  while (stack.length > 0) {
    for (const v of graph.neighbours(stack.pop() as number, 0)) {
      if (seen[v] === 1) continue;
      seen[v] = 1;
      reached++;
      stack.push(v);
    }
  }
  return graph.size - reached;
}

describe('HNSW on 10k x 32-d Gaussian, m 16, ef_construct 100', () => {
  let l2: Built;
  let cosine: Built;
  beforeAll(() => {
    l2 = build(N, DIM, 'l2', 1, PARAMS, 50);
    cosine = build(N, DIM, 'dot', 2, PARAMS, 50);
  });

  it('keeps degree bounds, no self or duplicate links, and links only to nodes on that level', () => {
    expect(violation(l2.graph)).toBeNull();
    expect(violation(cosine.graph)).toBeNull();
    expect(entryViolation(l2.graph)).toBeNull();
    expect(entryViolation(cosine.graph)).toBeNull();
    expect(l2.graph.size).toBe(N);
    expect(l2.graph.store.maxLevel).toBeGreaterThan(0);
  });

  it('reaches every node from the entry point on level 0', () => {
    expect(unreachableOnLevel0(l2.graph)).toBe(0);
    expect(unreachableOnLevel0(cosine.graph)).toBe(0);
  });

  it('finds the exact top 10 with recall >= 0.95 at ef 64 (L2 and cosine)', () => {
    expect(meanRecall(l2, { ef: 64 })).toBeGreaterThanOrEqual(0.95);
    expect(meanRecall(cosine, { ef: 64 })).toBeGreaterThanOrEqual(0.95);
  });

  it('returns results best first with the scorer\'s scores, and counts distance evaluations', () => {
    const query = rowOf(l2.queries, DIM, 0);
    const result = l2.graph.search(query, K, { ef: 64 });
    expect(result.ids.length).toBe(K);
    for (let i = 0; i < K; i++) expect(result.scores[i]).toBeCloseTo(l2.scorer.score(query, result.ids[i] as number), 4);
    for (let i = 1; i < K; i++) expect(result.scores[i - 1]).toBeGreaterThanOrEqual(result.scores[i] as number);
    // A graph search looks at a small fraction of the points, and more of them at a larger ef.
    expect(result.distanceEvaluations).toBeGreaterThan(K);
    expect(result.distanceEvaluations).toBeLessThan(N / 5);
    expect(l2.graph.search(query, K, { ef: 256 }).distanceEvaluations).toBeGreaterThan(result.distanceEvaluations);
  });

  it('with a 1% bitset filter returns only matching points, recall >= 0.9 at ef 128', () => {
    const bits = new Uint8Array(Math.ceil(N / 8));
    const allow = (id: number): boolean => id % 100 === 42;
    for (let id = 0; id < N; id++) if (allow(id)) bits[id >>> 3] = (bits[id >>> 3] as number) | (1 << (id & 7));
    for (let q = 0; q < QUERIES; q++) {
      for (const id of l2.graph.search(rowOf(l2.queries, DIM, q), K, { ef: 128, allowed: bits }).ids) expect(allow(id)).toBe(true);
    }
    expect(meanRecall(l2, { ef: 128, allowed: bits }, allow)).toBeGreaterThanOrEqual(0.9);
  });

  it('with a 10% filter returns only matching points, recall >= 0.9 at ef 128', () => {
    const allow = (id: number): boolean => id % 10 === 3;
    for (let q = 0; q < QUERIES; q++) {
      for (const id of l2.graph.search(rowOf(l2.queries, DIM, q), K, { ef: 128, filter: allow }).ids) expect(id % 10).toBe(3);
    }
    expect(meanRecall(l2, { ef: 128, filter: allow }, allow)).toBeGreaterThanOrEqual(0.9);
    expect(meanRecall(cosine, { ef: 128, filter: allow }, allow)).toBeGreaterThanOrEqual(0.9);
  });

  it('serializes and loads without rebuilding, answering identically', () => {
    const bytes = serializeGraph(cosine.graph);
    let scored = 0;
    const counting: VectorScorer = {
      rows: cosine.scorer.rows,
      dim: cosine.scorer.dim,
      score: (q, id) => (scored++, cosine.scorer.score(q, id)),
      scoreBatch: (q, ids, count, out) => (scored += count, cosine.scorer.scoreBatch(q, ids, count, out)),
      scorePair: (a, b) => (scored++, cosine.scorer.scorePair(a, b)),
      row: (id) => cosine.scorer.row(id),
    };
    const loaded = loadGraph(bytes, counting, seededRng(99));
    expect(scored).toBe(0);
    expect(loaded.size).toBe(N);
    for (let q = 0; q < QUERIES; q++) {
      const query = rowOf(cosine.queries, DIM, q);
      const a = cosine.graph.search(query, K, { ef: 64 });
      const b = loaded.search(query, K, { ef: 64 });
      expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
      expect(b.distanceEvaluations).toBe(a.distanceEvaluations);
    }
    expect(sameBytes(serializeGraph(loaded), bytes)).toBe(true);
  });

  it('loads in place from aligned bytes inside a larger buffer, deletes writing through', () => {
    const bytes = serializeGraph(l2.graph);
    const arena = new Uint8Array(bytes.length + 64);
    const region = arena.subarray(32, 32 + bytes.length);
    region.set(bytes);
    const loaded = loadGraph(region, l2.scorer, seededRng(1), { inPlace: true });
    const query = rowOf(l2.queries, DIM, 3);
    const before = loaded.search(query, K, { ef: 64 });
    expect(Array.from(before.ids)).toEqual(Array.from(l2.graph.search(query, K, { ef: 64 }).ids));
    const first = before.ids[0] as number;
    loaded.delete(first);
    expect(sameBytes(region, bytes)).toBe(false); // the tombstone landed in the caller's bytes
    expect(Array.from(loaded.search(query, K, { ef: 64 }).ids)).not.toContain(first);
    expect(Array.from(l2.graph.search(query, K, { ef: 64 }).ids)).toContain(first);
  });
});

describe('HNSW tombstones', () => {
  it('never returns a deleted point, keeps finding the others, and survives a reload', () => {
    const b = build(3000, DIM, 'l2', 5);
    const gone = (id: number): boolean => id % 4 === 1;
    for (let id = 0; id < 3000; id++) if (gone(id)) b.graph.delete(id);
    b.graph.delete(b.graph.store.entry); // the entry point too: it must still route searches
    const alive = (id: number): boolean => !b.graph.isDeleted(id);
    const loaded = loadGraph(serializeGraph(b.graph), b.scorer, seededRng(1));
    let total = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = rowOf(b.queries, DIM, q);
      for (const graph of [b.graph, loaded]) {
        const found = graph.search(query, K, { ef: 64 }).ids;
        for (const id of found) expect(alive(id)).toBe(true);
        if (graph === loaded) total += recallAt(found, exactTopK(b.scorer, query, K, alive));
      }
    }
    expect(total / QUERIES).toBeGreaterThanOrEqual(0.95);
  });
});

describe('HNSW construction', () => {
  it('gives the same links for the same seed and insertion order, other links for another seed', () => {
    const data = gaussian(2000, 16, 3);
    const scorer = createJsScorer(data, 16, 'l2');
    const bytesOf = (seed: number): Uint8Array => {
      return serializeGraph(HnswGraph.build(2000, { m: 8, efConstruct: 40 }, scorer, seededRng(seed)));
    };
    const first = bytesOf(11);
    expect(sameBytes(bytesOf(11), first)).toBe(true);
    expect(sameBytes(bytesOf(12), first)).toBe(false);
  });

  it('builds a searchable graph for L1 and for inserts in any order', () => {
    const rows = 2000;
    const data = gaussian(rows, 16, 8);
    const scorer = createJsScorer(data, 16, 'l1');
    const order = Array.from({ length: rows }, (_, i) => (i * 7919) % rows); // a permutation: 7919 is prime
    const graph = HnswGraph.build(rows, { m: 8, efConstruct: 64 }, scorer, seededRng(8), order);
    expect(violation(graph)).toBeNull();
    expect(unreachableOnLevel0(graph)).toBe(0);
    const queries = gaussian(50, 16, 9);
    let total = 0;
    for (let q = 0; q < 50; q++) {
      const query = rowOf(queries, 16, q);
      total += recallAt(graph.search(query, K, { ef: 64 }).ids, exactTopK(scorer, query, K));
    }
    expect(total / 50).toBeGreaterThanOrEqual(0.95);
  });

  it('answers an empty graph with nothing and a one-point graph with that point', () => {
    const scorer = createJsScorer(gaussian(4, 4, 1), 4, 'dot');
    const graph = HnswGraph.create(4, { m: 4, efConstruct: 8 }, scorer, seededRng(1));
    expect(graph.search(scorer.row(0), 3).ids.length).toBe(0);
    graph.insert(2);
    expect(Array.from(graph.search(scorer.row(0), 3).ids)).toEqual([2]);
    graph.delete(2);
    expect(graph.search(scorer.row(0), 3).ids.length).toBe(0);
  });

  it('rejects damaged bytes as corrupt storage', () => {
    const scorer = createJsScorer(gaussian(200, 8, 4), 8, 'l2');
    const graph = HnswGraph.create(200, { m: 4, efConstruct: 16 }, scorer, seededRng(4));
    for (let id = 0; id < 200; id++) graph.insert(id);
    const bytes = serializeGraph(graph);
    const flipped = bytes.slice();
    flipped[100] = (flipped[100] as number) ^ 1;
    expect(() => loadGraph(flipped, scorer, seededRng(1))).toThrow(ShoalError);
    expect(() => loadGraph(bytes.subarray(0, bytes.length - 4), scorer, seededRng(1))).toThrow(/corrupt/);
  });
});

describe('HNSW edge cases', () => {
  it('links every node in when pruning left some unreachable', () => {
    const rows = 2000;
    const scorer = createJsScorer(gaussian(rows, 16, 8), 16, 'l1');
    const graph = HnswGraph.create(rows, { m: 8, efConstruct: 64 }, scorer, seededRng(8));
    for (let i = 0; i < rows; i++) graph.insert((i * 7919) % rows);
    const before = unreachableOnLevel0(graph);
    expect(before).toBeGreaterThan(0); // this seed does orphan a node; the repair must fix it
    expect(graph.connectUnreachable()).toBeGreaterThanOrEqual(before);
    expect(unreachableOnLevel0(graph)).toBe(0);
    expect(violation(graph)).toBeNull();
  });

  it('stays connected and finds exact duplicates when every vector appears four times', () => {
    const distinct = gaussianMixture(500, 16, 10, 21);
    const data = new Float32Array(2000 * 16);
    for (let i = 0; i < 2000; i++) data.set(distinct.subarray((i % 500) * 16, (i % 500 + 1) * 16), i * 16);
    const scorer = createJsScorer(data, 16, 'l2');
    const graph = HnswGraph.build(2000, { m: 8, efConstruct: 64 }, scorer, seededRng(21));
    expect(violation(graph)).toBeNull();
    expect(unreachableOnLevel0(graph)).toBe(0);
    let found = 0;
    for (let i = 0; i < 500; i += 5) {
      const ids = Array.from(graph.search(scorer.row(i), 4, { ef: 64 }).ids).sort((a, b) => a - b);
      if (ids.join() === [i, i + 500, i + 1000, i + 1500].join()) found++;
    }
    expect(found).toBeGreaterThanOrEqual(95);
  });

  it('leaves ids without a vector out, and serves k above n and ef below k', () => {
    const scorer = createJsScorer(gaussian(10, 4, 3), 4, 'l2');
    const graph = HnswGraph.create(10, { m: 4, efConstruct: 8 }, scorer, seededRng(3));
    graph.insert(7);
    graph.insert(2);
    expect(Array.from(graph.search(scorer.row(2), 5, { ef: 1 }).ids)).toEqual([2, 7]);
    for (const id of [0, 4, 9, 5]) graph.insert(id);
    graph.connectUnreachable();
    expect(graph.has(3)).toBe(false);
    const all = Array.from(graph.search(scorer.row(3), 50, { ef: 2 }).ids).sort((a, b) => a - b);
    expect(all).toEqual([0, 2, 4, 5, 7, 9]);
    expect(unreachableOnLevel0(graph)).toBe(0);
    const loaded = loadGraph(serializeGraph(graph), scorer, seededRng(1));
    expect(Array.from(loaded.search(scorer.row(3), 3).ids)).toEqual(Array.from(graph.search(scorer.row(3), 3).ids));
  });

  it('reserves level-0 slots beyond 2m without using them for its own links', () => {
    const scorer = createJsScorer(gaussianMixture(2000, 16, 10, 31), 16, 'l2');
    const graph = HnswGraph.build(2000, { m: 6, m0: 20, efConstruct: 48 }, scorer, seededRng(31));
    expect(violation(graph)).toBeNull(); // degree <= 2m = 12 on level 0
    expect(graph.store.stride0).toBe(21);
    const loaded = loadGraph(serializeGraph(graph), scorer, seededRng(1));
    expect(loaded.store.m0).toBe(20);
    expect(Array.from(loaded.search(scorer.row(5), 10).ids)).toEqual(Array.from(graph.search(scorer.row(5), 10).ids));
  });
});
