import { describe, expect, it } from 'vitest';
import { ShoalError, crc32c, seededRng } from '@shoal/common';
import { gaussianMixture } from '../hnsw/test-data.js';
import { wasmSimdSupported } from '../wasm/load.js';
import type { DenseIndex, DenseIndexParams, DenseSearchOptions, DenseSubset } from './contract.js';
import { buildDenseIndex, loadDenseIndex } from './dense-index.js';

// A seeded mixture of 8,000 points in 32-d; one keyword-like field with 100 values, each held by
// 1% of the points, drawn independently of the vectors (a value's points are spread over the
// whole space). Queries look like the data; each query filters on one value.
const N = 8000;
const DIM = 32;
const VALUES = 100;
const QUERIES = 60;
const K = 10;
const all = gaussianMixture(N + QUERIES, DIM, 20, 3);
const data = all.slice(0, N * DIM);
const queries = all.slice(N * DIM);
const valueOf = (() => {
  const rng = seededRng(11);
  return Uint8Array.from({ length: N }, () => Math.floor(rng.next() * VALUES));
})();
const subsets: DenseSubset[] = Array.from({ length: VALUES }, (_, v) => {
  const ids: number[] = [];
  for (let id = 0; id < N; id++) if (valueOf[id] === v) ids.push(id);
  return { key: `value-${v}`, ids: Uint32Array.from(ids) };
});

const params = (over: Partial<DenseIndexParams> = {}): DenseIndexParams => ({
  dim: DIM, metric: 'l2', m: 16, efConstruct: 100, quantization: null, seed: 5, ...over,
});

function bitsOf(ids: Uint32Array): Uint8Array {
  const bits = new Uint8Array(Math.ceil(N / 8));
  for (const id of ids) bits[id >>> 3] = (bits[id >>> 3] as number) | (1 << (id & 7));
  return bits;
}

function truthOf(query: Float32Array, ids: Uint32Array): number[] {
  const scored = Array.from(ids, (id) => {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += ((data[id * DIM + j] as number) - (query[j] as number)) ** 2;
    return [id, -s] as const;
  });
  scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return scored.slice(0, K).map((e) => e[0]);
}

/** Mean recall@10 of filtered graph searches, each restricted to one value's 1% of the points. */
function filteredRecall(index: DenseIndex, over: Partial<DenseSearchOptions> = {}): { recall: number; evaluations: number } {
  let hits = 0;
  let evaluations = 0;
  for (let q = 0; q < QUERIES; q++) {
    const subset = subsets[q % VALUES] as DenseSubset;
    const query = queries.subarray(q * DIM, (q + 1) * DIM);
    const allowed = bitsOf(subset.ids);
    const got = index.search(query, { k: K, ef: 64, exact: false, allowed, deleted: null, quantization: null, traversal: 'allowed', ...over });
    for (const id of got.ids) expect(valueOf[id]).toBe(q % VALUES);
    const want = new Set(truthOf(query, subset.ids));
    for (const id of got.ids) if (want.has(id)) hits++;
    evaluations += got.evaluations;
  }
  return { recall: hits / (QUERIES * K), evaluations: evaluations / QUERIES };
}

describe.runIf(wasmSimdSupported())('subset graphs (payload_m)', () => {
  const plain = buildDenseIndex(data, N, params());
  const linked = buildDenseIndex(data, N, params({ payloadM: 16 }), { subsets });

  it('keep a 1% filter at recall@10 >= 0.95 on a walk through its own points, which fails without them', () => {
    const without = filteredRecall(plain);
    const withLinks = filteredRecall(linked);
    expect(withLinks.recall).toBeGreaterThanOrEqual(0.95);
    // Without subset links the points of one value are barely linked among themselves
    // (2m x 1% = 0.3 links each): the same walk strands early.
    expect(without.recall).toBeLessThan(0.8);
    expect(withLinks.recall - without.recall).toBeGreaterThanOrEqual(0.2);
  });

  it('cost a small fraction of the evaluations of a walk through every point', () => {
    const walkAll = filteredRecall(linked, { traversal: 'all' });
    const walkAllowed = filteredRecall(linked);
    expect(walkAll.recall).toBeGreaterThanOrEqual(0.95);
    expect(walkAllowed.evaluations * 4).toBeLessThan(walkAll.evaluations);
  });

  it('leave unfiltered searches as they were (same results, same work)', () => {
    for (let q = 0; q < 20; q++) {
      const query = queries.subarray(q * DIM, (q + 1) * DIM);
      const o: DenseSearchOptions = { k: K, ef: 64, exact: false, allowed: null, deleted: null, quantization: null };
      const a = plain.search(query, o);
      const b = linked.search(query, o);
      expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      expect(b.evaluations).toBe(a.evaluations);
    }
    expect(linked.subsetKeys).toEqual(subsets.map((s) => s.key));
    expect(plain.subsetKeys).toEqual([]);
    expect(linked.memory().graphBytes).toBeGreaterThan(plain.memory().graphBytes);
  });

  it('serve a tenant filter with m = 0 (subset links only); other searches scan', () => {
    const tenants = buildDenseIndex(data, N, params({ m: 0, payloadM: 16 }), { subsets });
    expect(tenants.indexed).toBe(false);
    const walked = filteredRecall(tenants);
    expect(walked.recall).toBeGreaterThanOrEqual(0.95);
    expect(walked.evaluations).toBeLessThan(N / 20); // a walk among the value's points, not a scan of the index
    const query = queries.subarray(0, DIM);
    const unfiltered = tenants.search(query, { k: K, ef: 64, exact: false, allowed: null, deleted: null, quantization: null });
    expect(unfiltered.evaluations).toBe(N);
  });

  it('survive serialize and load (links, keys, results), and damaged links are refused', () => {
    const bytes = linked.serialize();
    const loaded = loadDenseIndex(bytes);
    expect(loaded.subsetKeys).toEqual(linked.subsetKeys);
    expect(filteredRecall(loaded)).toEqual(filteredRecall(linked));
    const flat = Buffer.concat(bytes);
    // A link far out of range in the extra link pool (near the end of the data, before the keys).
    const keysStart = flat.length - 4 - Buffer.byteLength(JSON.stringify(linked.subsetKeys));
    const damaged = Buffer.from(flat);
    damaged.writeUInt32LE(0xfffffff0, keysStart - 256);
    // With a valid checksum, so that the link check itself must catch it.
    damaged.writeUInt32LE(crc32c(new Uint8Array(damaged.subarray(0, damaged.length - 4))), damaged.length - 4);
    expect(() => loadDenseIndex(new Uint8Array(damaged))).toThrow(/bad extra link/);
  });

  it('refuse subsets that are not ascending ids of the index, and a bad payload_m', () => {
    expect(() => buildDenseIndex(data, N, params({ payloadM: 16 }), { subsets: [{ key: 'x', ids: Uint32Array.from([3, 2]) }] })).toThrow(ShoalError);
    expect(() => buildDenseIndex(data, N, params({ payloadM: 16 }), { subsets: [{ key: 'x', ids: Uint32Array.from([N]) }] })).toThrow(ShoalError);
    expect(() => buildDenseIndex(data, 10, params({ payloadM: 1 }))).toThrow(ShoalError);
  });
});

describe('subset graphs on the JS path', () => {
  it('are built the same way; its filtered walk goes through every point (recall stays high)', () => {
    const small = 2000;
    const some = subsets.slice(0, 5).map((s) => ({ key: s.key, ids: s.ids.filter((id) => id < small) }));
    const index = buildDenseIndex(data.subarray(0, small * DIM), small, params({ payloadM: 8 }), { implementation: 'js', subsets: some });
    expect(index.subsetKeys).toEqual(some.map((s) => s.key));
    const subset = some[0] as DenseSubset;
    const allowed = new Uint8Array(Math.ceil(small / 8));
    for (const id of subset.ids) allowed[id >>> 3] = (allowed[id >>> 3] as number) | (1 << (id & 7));
    const got = index.search(queries.subarray(0, DIM), { k: K, ef: 64, exact: false, allowed, deleted: null, quantization: null, traversal: 'allowed' });
    expect(got.ids.length).toBe(K);
    for (const id of got.ids) expect(valueOf[id]).toBe(0);
  });
});
