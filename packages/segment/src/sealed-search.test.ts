// Filtered search in a sealed segment: the planner's choice from the filter's cardinality, the
// subset graphs of its payload values (payload_m), and recall against exact filtered results.
import { describe, expect, it } from 'vitest';
import type { Filter, PointId } from '@shoal/common';
import type { SearchParams } from './contract.js';
import { buildDenseIndex } from './dense/dense-index.js';
import { DenseSpace } from './dense-space.js';
import { gaussianMixture } from './hnsw/test-data.js';
import { subsetsOfIndexes } from './payload-subsets.js';
import { FieldIndex } from './payload-index.js';
import { Segment } from './segment.js';
import { NO_BOUNDS, filterOf, indexParams, must, rng, schemaOf, space } from './test-support.js';
import { wasmSimdSupported } from './wasm/load.js';

const N = 6000;
const DIM = 32;
const r = rng(5);
const all = gaussianMixture(N + 50, DIM, 20, 9);
const payloadOf = (id: number): { tenant: string; n: number } => ({ tenant: `t${id % 20}`, n: Math.floor(r() * 100) });
const payloads = Array.from({ length: N }, (_, id) => payloadOf(id));
const schema = schemaOf({ '': space(DIM, 'Euclid') });

/** A sealed segment over N points (ids 0..N-1), keyword index on tenant, integer on n. */
function sealedSegment(payloadM: number, minPoints: number): Segment {
  const tenant = new FieldIndex('tenant', indexParams('keyword'));
  payloads.forEach((p, offset) => tenant.update(offset, p));
  const idOf = Int32Array.from({ length: N }, (_, i) => i);
  const subsets = payloadM > 0 ? subsetsOfIndexes([tenant], idOf, minPoints) : [];
  const index = buildDenseIndex(all.subarray(0, N * DIM), N, { dim: DIM, metric: 'l2', m: 16, efConstruct: 64, quantization: null, seed: 3, payloadM }, { subsets });
  const dense = new DenseSpace(space(DIM, 'Euclid'), index, idOf, Uint32Array.from(idOf));
  const segment = Segment.sealed(schema, new Map([['', dense]]));
  payloads.forEach((p, id) => segment.appendSealedPoint(id, p));
  for (const [field, type] of [['tenant', 'keyword'], ['n', 'integer']] as const) {
    const build = segment.startIndex(field, indexParams(type));
    while (!build.step(1000));
  }
  return segment;
}

function params(filter: Filter | null, q: number, over: Partial<SearchParams> = {}): SearchParams {
  return {
    vectorName: '', vector: all.slice((N + q) * DIM, (N + q + 1) * DIM), filter, limit: 10, offset: 0, scoreThreshold: null,
    withPayload: { kind: 'none' }, withVector: false, excludeIds: [], ...over,
  };
}

const tenant = (t: number): Filter => must({ kind: 'match', key: 'tenant', value: `t${t}` });

function recall(segment: Segment, filter: (q: number) => Filter, over: Partial<SearchParams>): number {
  let hits = 0;
  for (let q = 0; q < 50; q++) {
    const want = new Set<PointId>(segment.search(params(filter(q), q, { exact: true })).map((p) => p.id));
    for (const p of segment.search(params(filter(q), q, over))) if (want.has(p.id)) hits++;
  }
  return hits / 500;
}

describe.runIf(wasmSimdSupported())('filtered search in a sealed segment', () => {
  const linked = sealedSegment(16, 100);
  const plain = sealedSegment(0, 100);
  // 6,000 32-d vectors: the default threshold (10,000 KB) is 80,000 vectors; 0 forces the graph.
  const forced = { fullScanThresholdKb: 0 };
  const explain = (segment: Segment, filter: Filter | null, over: Partial<SearchParams> = {}) => segment.explainSearch(params(filter, 0, over));

  it('shows what the planner chose, and why', () => {
    expect(explain(linked, null, forced)).toMatchObject({ path: 'graph', reason: 'unfiltered', cardinality: null });
    expect(explain(linked, null)).toMatchObject({ path: 'exact', reason: 'small-segment' });
    expect(explain(linked, tenant(3), { exact: true })).toMatchObject({ path: 'exact', reason: 'requested' });
    // 5% of the points, a linked value: its own links carry the walk.
    expect(explain(linked, tenant(3), forced)).toMatchObject({ path: 'graph', traversal: 'allowed', reason: 'subset-graph', cardinality: { min: 300, max: 300 } });
    expect(explain(plain, tenant(3), forced)).toMatchObject({ path: 'graph', traversal: 'all', reason: 'many-match' });
    // A tenant narrowed to ~10% of its points: too few links among them, every point is walked.
    const narrowed = must({ kind: 'match', key: 'tenant', value: 't3' }, { kind: 'range', key: 'n', range: { ...NO_BOUNDS, lt: 10 } });
    expect(explain(linked, narrowed, forced)).toMatchObject({ path: 'graph', traversal: 'all', reason: 'many-match' });
    // 300 points against a threshold of 320 vectors (40 KB of 32-d): few match.
    expect(explain(linked, tenant(3), { fullScanThresholdKb: 40 })).toMatchObject({ path: 'exact', reason: 'few-match' });
  });

  it('counts a filter whose estimate straddles the threshold, then decides', () => {
    // A condition no index answers: 0..6000 estimated; counted: 300 points match.
    const unindexed = filterOf({ must: [{ kind: 'match_text', key: 'tenant', text: 't3' }], mustNot: [{ kind: 'match_text', key: 'tenant', text: 't3' }] });
    expect(explain(linked, unindexed, { fullScanThresholdKb: 40 }).cardinality).toEqual({ min: 0, exp: 0, max: 0 });
    const text = filterOf({ must: [{ kind: 'match_text', key: 'tenant', text: 't1' }] }); // t1, t10..t19: 11 of 20
    const counted = explain(linked, text, { fullScanThresholdKb: 40 });
    expect(counted).toMatchObject({ path: 'graph', reason: 'many-match' });
    expect(counted.cardinality).toEqual({ min: 3300, exp: 3300, max: 3300 });
    // 500 KB of 32-d vectors: 4,000 of them, more than the 3,300 that match.
    expect(explain(linked, text, { fullScanThresholdKb: 500 })).toMatchObject({ path: 'exact', reason: 'few-match' });
  });

  it('keeps recall@10 >= 0.95 on every path, forced onto the graph or not', () => {
    const everyTenant = (q: number): Filter => tenant(q % 20);
    expect(recall(linked, everyTenant, forced)).toBeGreaterThanOrEqual(0.95);
    expect(recall(plain, everyTenant, forced)).toBeGreaterThanOrEqual(0.95);
    expect(recall(linked, everyTenant, {})).toBe(1);
    const half = (q: number): Filter => must({ kind: 'range', key: 'n', range: { ...NO_BOUNDS, gte: q % 50 } });
    expect(recall(linked, half, forced)).toBeGreaterThanOrEqual(0.95);
  });

  it('reuses the allowed ids of a repeated filter, and still leaves out points deleted since', () => {
    const segment = sealedSegment(16, 100);
    // About 80% of the points: enough for its allowed ids to be kept for the next searches.
    const many = must({ kind: 'range', key: 'n', range: { ...NO_BOUNDS, lt: 80 } });
    const ids = (over: Partial<SearchParams>): PointId[] => segment.search(params(many, 7, { ...forced, ...over })).map((p) => p.id);
    const first = ids({});
    expect(ids({})).toEqual(first);
    expect(ids({ exact: true })).toEqual(first);
    segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: first.slice(0, 3) } });
    const after = ids({});
    for (const id of first.slice(0, 3)) expect(after).not.toContain(id);
    expect(after).toEqual(ids({ exact: true }));
    expect(after.slice(0, 7)).toEqual(first.slice(3));
  });
});
