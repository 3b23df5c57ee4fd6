import { describe, expect, it } from 'vitest';
import { seededRng } from '@shoal/common';
import { gaussianMixture, normalizeRows } from '../hnsw/test-data.js';
import { instantiateKernelsModule, wasmSimdSupported } from '../wasm/load.js';
import type { KernelImplementation } from '../wasm/types.js';
import type { DenseIndex, DenseIndexParams, DenseMetric, DenseQuantization, DenseSearchOptions } from './contract.js';
import { buildDenseIndex, loadDenseIndex, openDenseIndex } from './dense-index.js';
import { SEARCHERS_MAX } from './limits.js';
import { OVERSAMPLING_DEFAULT } from './limits.js';
import { PQ_CENTROIDS, assignJs, productKey, productTable } from './product.js';
import type { Assign, TableKernel } from './product.js';
import { planLayout } from './layout.js';
import { maxPages } from './memory.js';

const K = 10;
const IMPLEMENTATIONS: KernelImplementation[] = wasmSimdSupported() ? ['wasm-simd', 'js'] : ['js'];
const METRICS: DenseMetric[] = ['dot', 'l2', 'l1'];

function params(over: Partial<DenseIndexParams> = {}): DenseIndexParams {
  return { dim: 32, metric: 'l2', m: 12, efConstruct: 64, quantization: null, seed: 5, ...over };
}

function options(over: Partial<DenseSearchOptions> = {}): DenseSearchOptions {
  return { k: K, ef: 64, exact: false, allowed: null, deleted: null, quantization: null, ...over };
}

function refKey(metric: DenseMetric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j] as number;
    const y = b[j] as number;
    s += metric === 'dot' ? x * y : metric === 'l2' ? (x - y) ** 2 : Math.abs(x - y);
  }
  return metric === 'dot' ? s : -s;
}

/** The k best ids by the exact key (ties: smaller id). */
function truth(data: Float32Array, dim: number, metric: DenseMetric, query: Float32Array, k: number): number[] {
  const n = data.length / dim;
  const scored: [number, number][] = [];
  for (let id = 0; id < n; id++) scored.push([id, refKey(metric, query, data.subarray(id * dim, (id + 1) * dim))]);
  scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return scored.slice(0, k).map((e) => e[0]);
}

function meanRecall(index: DenseIndex, data: Float32Array, queries: Float32Array, o: DenseSearchOptions): number {
  const { dim, metric } = index.params;
  const n = queries.length / dim;
  let total = 0;
  for (let q = 0; q < n; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim);
    const want = new Set(truth(data, dim, metric, query, o.k));
    let hits = 0;
    for (const id of index.search(query, o).ids) if (want.has(id)) hits++;
    total += hits / o.k;
  }
  return total / n;
}

function dataset(rows: number, queries: number, dim: number, metric: DenseMetric, seed: number, clusters = 20): { data: Float32Array; queries: Float32Array } {
  const all = gaussianMixture(rows + queries, dim, clusters, seed);
  if (metric === 'dot') normalizeRows(all, dim);
  return { data: all.slice(0, rows * dim), queries: all.slice(rows * dim) };
}

const RESCORE = (oversampling: number | null): DenseSearchOptions['quantization'] => ({ ignore: false, rescore: true, oversampling });
const ESTIMATES = { ignore: false, rescore: false, oversampling: 1 };

describe('product-quantization kernels against scalar references', () => {
  it.runIf(wasmSimdSupported())('pq_assign picks the nearest centroid (ties to the smaller index), as assignJs does', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const wasm = instantiateKernelsModule(memory)['pq_assign'] as Assign;
    const js = assignJs(memory);
    const f32 = new Float32Array(memory.buffer);
    const rng = seededRng(9);
    for (const [len, k] of [[1, 256], [2, 7], [4, 256], [5, 33], [16, 100]] as const) {
      const k4 = (k + 3) & ~3;
      const n = 60;
      const points = 0;
      const ct = 64 * 1024;
      // Small integers: distances are exact in f32 and doubles alike, so ties are real ties.
      for (let i = 0; i < n * len; i++) f32[(points >>> 2) + i] = rng.int(7) - 3;
      for (let j = 0; j < len; j++) {
        for (let c = 0; c < k4; c++) f32[(ct >>> 2) + j * k4 + c] = c < k ? rng.int(7) - 3 : 3.4e38;
      }
      const outWasm = 128 * 1024;
      const outJs = outWasm + 1024;
      wasm(points, len * 4, n, len, ct, k4, outWasm, 1);
      js(points, len * 4, n, len, ct, k4, outJs, 1);
      const u8 = new Uint8Array(memory.buffer);
      for (let i = 0; i < n; i++) {
        let best = Infinity;
        let want = -1;
        for (let c = 0; c < k; c++) {
          let d = 0;
          for (let j = 0; j < len; j++) d += ((f32[(points >>> 2) + i * len + j] as number) - (f32[(ct >>> 2) + j * k4 + c] as number)) ** 2;
          if (d < best) {
            best = d;
            want = c;
          }
        }
        expect(u8[outWasm + i]).toBe(want);
        expect(u8[outJs + i]).toBe(want);
      }
    }
  });

  it.runIf(wasmSimdSupported())('pq_table gives each sub-vector the partial keys of every centroid, for every metric', () => {
    const memory = new WebAssembly.Memory({ initial: 8 });
    const kernel = instantiateKernelsModule(memory)['pq_table'] as TableKernel;
    const f32 = new Float32Array(memory.buffer);
    const rng = seededRng(4);
    for (const [dim, subdim] of [[10, 4], [9, 1], [33, 16], [8, 2]] as const) {
      for (let metric = 0; metric < 3; metric++) {
        const p = params({ dim, metric: METRICS[metric] as DenseMetric, quantization: { kind: 'product', compression: (subdim * 4) as 16, alwaysRam: true } });
        const L = planLayout({ params: p, count: 300, upperWords: 0, entry: 0, maxLevel: 0, qMid: 0, qScale: 1 });
        const query = 0;
        for (let j = 0; j < dim; j++) f32[j] = rng.next() * 2 - 1;
        // A codebook at the layout's qdata offset would not fit this small memory: use a fixed one.
        const book = 4096;
        for (let i = 0; i < PQ_CENTROIDS * dim; i++) f32[(book >>> 2) + i] = rng.next() * 2 - 1;
        const at = { ...L, qdataPtr: book };
        const wasmOut = 256 * 1024;
        const jsOut = 384 * 1024;
        kernel(query, book, dim, subdim, metric, wasmOut);
        productTable(memory, at, subdim, query, jsOut, null);
        const units = Math.ceil(dim / subdim);
        for (let s = 0; s < units; s++) {
          const len = Math.min(subdim, dim - s * subdim);
          for (let c = 0; c < PQ_CENTROIDS; c++) {
            let want = 0;
            for (let j = 0; j < len; j++) {
              const q = f32[s * subdim + j] as number;
              const x = f32[(book >>> 2) + s * PQ_CENTROIDS * subdim + j * PQ_CENTROIDS + c] as number;
              want += metric === 0 ? q * x : metric === 1 ? -((q - x) ** 2) : -Math.abs(q - x);
            }
            expect(f32[(wasmOut >>> 2) + s * PQ_CENTROIDS + c]).toBeCloseTo(want, 5);
            expect(f32[(jsOut >>> 2) + s * PQ_CENTROIDS + c]).toBeCloseTo(want, 5);
          }
        }
      }
    }
  });

  it('productKey sums the entries a code picks, in the kernel order', () => {
    const table = new Float32Array(7 * PQ_CENTROIDS);
    const rng = seededRng(2);
    for (let i = 0; i < table.length; i++) table[i] = rng.next();
    const code = Uint8Array.from({ length: 7 }, () => rng.int(256));
    let want = 0;
    for (let s = 0; s < 7; s++) want += table[s * PQ_CENTROIDS + (code[s] as number)] as number;
    expect(productKey(table, 0, code, 0, 7, 0.5)).toBeCloseTo(want + 0.5, 5);
  });
});

describe.each(IMPLEMENTATIONS)('quantized DenseIndex (%s)', (implementation) => {
  const engine = { implementation };

  describe.each(METRICS)('metric %s', (metric) => {
    const dim = 32;
    const { data, queries } = dataset(2000, 20, dim, metric, 31);
    const kinds: DenseQuantization[] = [
      { kind: 'binary', alwaysRam: true },
      { kind: 'binary', alwaysRam: true, encoding: 'two_bits' },
      { kind: 'product', compression: 8, alwaysRam: true },
      { kind: 'product', compression: 32, alwaysRam: true },
    ];
    const indexes = kinds.map((quantization) => buildDenseIndex(data, 2000, params({ dim, metric, quantization }), engine));

    it('finds the neighbours after rescoring, graph and exact scan, and returns full-precision keys', () => {
      indexes.forEach((index) => {
        for (const exact of [false, true]) {
          // Coarse codes on 32 dimensions: rescoring 10k candidates recovers the neighbours.
          expect(meanRecall(index, data, queries, options({ exact, quantization: RESCORE(10) }))).toBeGreaterThanOrEqual(0.9);
        }
        const query = queries.subarray(0, dim);
        const got = index.search(query, options({ quantization: RESCORE(4) }));
        got.ids.forEach((id, i) => expect(got.keys[i]).toBeCloseTo(refKey(metric, query, data.subarray(id * dim, (id + 1) * dim)), 3));
      });
    });

    it('ranks by its estimates without rescoring, and the estimates follow the real keys', () => {
      indexes.forEach((index, which) => {
        const query = queries.subarray(dim, 2 * dim);
        const got = index.search(query, options({ exact: true, quantization: ESTIMATES }));
        expect(got.ids.length).toBe(K);
        for (let i = 1; i < K; i++) expect(got.keys[i - 1]).toBeGreaterThanOrEqual(got.keys[i] as number);
        // Estimates of the best ten against their real keys: the same sign, the same order of
        // magnitude (the best estimates of coarse codes are the most optimistic ones).
        const real = Array.from(got.ids, (id) => refKey(metric, query, data.subarray(id * dim, (id + 1) * dim)));
        const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
        const ratio = mean(got.keys) / mean(real);
        expect(ratio, `kind ${which}`).toBeGreaterThan(0.2);
        expect(ratio, `kind ${which}`).toBeLessThan(5);
      });
    });

    it('ignores the codes when asked: the f32 search, its keys and its evaluations', () => {
      const plain = buildDenseIndex(data, 2000, params({ dim, metric }), engine);
      const query = queries.subarray(0, dim);
      const want = plain.search(query, options());
      for (const index of indexes) {
        const got = index.search(query, options({ quantization: { ignore: true, rescore: null, oversampling: null } }));
        expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
        expect(Array.from(got.keys)).toEqual(Array.from(want.keys));
      }
    });
  });

  it('rescores ceil(k * oversampling) candidates, the code kind\'s default when unset', () => {
    const dim = 16;
    const { data, queries } = dataset(1500, 1, dim, 'l2', 8);
    const query = queries.subarray(0, dim);
    const cases: [DenseQuantization, number][] = [
      [{ kind: 'int8', quantile: 0.99, alwaysRam: true }, OVERSAMPLING_DEFAULT.int8],
      [{ kind: 'binary', alwaysRam: true }, OVERSAMPLING_DEFAULT.binary],
      [{ kind: 'product', compression: 16, alwaysRam: true }, OVERSAMPLING_DEFAULT.product],
    ];
    for (const [quantization, dflt] of cases) {
      const index = buildDenseIndex(data, 1500, params({ dim, quantization }), engine);
      // An exact scan scores every row once on the codes, then rescores the kept candidates.
      const scan = (q: DenseSearchOptions['quantization']): number => index.search(query, options({ exact: true, quantization: q })).evaluations;
      expect(scan(RESCORE(2.35))).toBe(1500 + 24);
      expect(scan(RESCORE(null))).toBe(1500 + K * dflt);
      expect(scan(null)).toBe(1500 + K * dflt);
      expect(scan(RESCORE(1))).toBe(1500 + K);
      expect(scan(ESTIMATES)).toBe(1500);
      // The graph walk keeps at least that many: ef is raised to ceil(k * oversampling).
      const wide = index.search(query, options({ ef: 10, quantization: RESCORE(30) }));
      expect(wide.ids.length).toBe(K);
      expect(wide.evaluations).toBeGreaterThan(300);
    }
  });

  it('serializes and loads binary and product indexes without rebuilding: same results', () => {
    const dim = 24;
    const { data, queries } = dataset(800, 4, dim, 'dot', 17);
    for (const quantization of [{ kind: 'binary', alwaysRam: true, encoding: 'two_bits' }, { kind: 'product', compression: 16, alwaysRam: true }] as DenseQuantization[]) {
      const index = buildDenseIndex(data, 800, params({ dim, metric: 'dot', quantization }), engine);
      const copy = loadDenseIndex(index.serialize(), engine);
      const opened = openDenseIndex(index.handle(), engine);
      for (let q = 0; q < 4; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim);
        for (const o of [options({ quantization: ESTIMATES }), options({ exact: true, quantization: ESTIMATES }), options()]) {
          const want = index.search(query, o);
          for (const other of [copy, opened]) {
            const got = other.search(query, o);
            expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
            expect(Array.from(got.keys)).toEqual(Array.from(want.keys));
          }
        }
      }
    }
  });

  it('builds product codes from fewer rows than centroids (every row its own centroid)', () => {
    const dim = 8;
    const { data, queries } = dataset(40, 2, dim, 'l2', 3);
    const index = buildDenseIndex(data, 40, params({ dim, quantization: { kind: 'product', compression: 8, alwaysRam: true } }), engine);
    const query = queries.subarray(0, dim);
    const got = index.search(query, options({ exact: true, quantization: ESTIMATES }));
    // Every sub-vector is a centroid exactly: estimates are the exact keys.
    got.ids.forEach((id, i) => expect(got.keys[i]).toBeCloseTo(refKey('l2', query, data.subarray(id * dim, (id + 1) * dim)), 4));
    expect(Array.from(got.ids)).toEqual(truth(data, dim, 'l2', query, K));
  });
});

describe('scalar int8 at quantile 0.99', () => {
  it.each(IMPLEMENTATIONS)('keeps recall@10 >= 0.95 with rescoring at the default oversampling on a 768-d mixture (%s)', (implementation) => {
    // The bench's 768-d set in small: 100 Gaussians (centres N(0, 1), spread 0.35), unit rows.
    // Neighbours differ by little, and 1% of the values are clipped by the quantile's range.
    // Before the rows' own error terms (quantize.ts) and the default oversampling of 2, recall
    // was 0.83 here; with the error terms alone, rescoring only k (oversampling 1) gets 0.94
    // (0.83 without them).
    const dim = 768;
    const all = gaussianMixture(2040, dim, 100, 77);
    normalizeRows(all, dim);
    const data = all.slice(0, 2000 * dim);
    const queries = all.slice(2000 * dim);
    const index = buildDenseIndex(data, 2000, params({ dim, metric: 'dot', m: 16, efConstruct: 100, quantization: { kind: 'int8', quantile: 0.99, alwaysRam: true } }), { implementation });
    expect(meanRecall(index, data, queries, options({ ef: 64, quantization: RESCORE(null) }))).toBeGreaterThanOrEqual(0.95);
    expect(meanRecall(index, data, queries, options({ ef: 64, quantization: null }))).toBeGreaterThanOrEqual(0.95);
    expect(meanRecall(index, data, queries, options({ ef: 64, quantization: RESCORE(1) }))).toBeGreaterThanOrEqual(0.9);
  });
});

describe('dense index memory', () => {
  it('sizes each memory to its data and scratch slots, so a process holds hundreds of indexes', () => {
    const dim = 8;
    const { data, queries } = dataset(64, 1, dim, 'dot', 1);
    const query = queries.subarray(0, dim);
    const held: DenseIndex[] = [];
    for (let i = 0; i < 300; i++) {
      const index = buildDenseIndex(data, 64, params({ dim, metric: 'dot', m: 4, efConstruct: 16, seed: i, quantization: i % 2 === 0 ? { kind: 'int8', quantile: 1, alwaysRam: true } : null }));
      expect(index.search(query, options()).ids.length).toBe(K);
      held.push(index);
    }
    const first = held[0] as DenseIndex;
    const L = planLayout({ params: first.params, count: 64, upperWords: 0, entry: 0, maxLevel: 0, qMid: 0, qScale: 1 });
    const pages = maxPages(L);
    expect(pages * 65536).toBeLessThan(L.dataEnd + (SEARCHERS_MAX + 1) * L.scratchBytes + 65536);
    // The memory cannot grow past its maximum.
    const memory = first.handle().memory;
    expect(() => memory.grow(pages - memory.buffer.byteLength / 65536 + 1)).toThrow(RangeError);
  });

  it('runs out of scratch slots with an overloaded error, not a crash', () => {
    const dim = 4;
    const { data, queries } = dataset(20, 1, dim, 'l2', 2);
    const index = buildDenseIndex(data, 20, params({ dim, m: 4, efConstruct: 8 }));
    const handle = index.handle();
    const searchers: DenseIndex[] = [index];
    const query = queries.subarray(0, dim);
    index.search(query, options());
    let error: unknown = null;
    try {
      for (let i = 0; i <= SEARCHERS_MAX; i++) {
        const s = openDenseIndex(handle);
        s.search(query, options());
        searchers.push(s);
      }
    } catch (e) {
      error = e;
    }
    expect(searchers.length).toBe(SEARCHERS_MAX);
    expect((error as { kind?: string }).kind).toBe('overloaded');
  });
});
