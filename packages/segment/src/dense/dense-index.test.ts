import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ShoalError, seededRng } from '@shoal/common';
import { gaussian, gaussianMixture, normalizeRows } from '../hnsw/test-data.js';
import { wasmSimdSupported } from '../wasm/load.js';
import type { KernelImplementation } from '../wasm/types.js';
import type { DenseIndex, DenseIndexParams, DenseMetric, DenseSearchOptions } from './contract.js';
import { buildDenseIndex, loadDenseIndex, openDenseIndex } from './dense-index.js';

const K = 10;
const IMPLEMENTATIONS: KernelImplementation[] = wasmSimdSupported() ? ['wasm-simd', 'js'] : ['js'];

function params(over: Partial<DenseIndexParams> = {}): DenseIndexParams {
  return { dim: 24, metric: 'l2', m: 12, efConstruct: 64, quantization: null, seed: 7, ...over };
}

function options(over: Partial<DenseSearchOptions> = {}): DenseSearchOptions {
  return { k: K, ef: 64, exact: false, allowed: null, deleted: null, quantization: null, ...over };
}

/** Data and queries from one mixture (queries look like the data), unit rows for dot. */
function dataset(rows: number, queries: number, dim: number, metric: DenseMetric, seed: number): { data: Float32Array; queries: Float32Array } {
  const all = gaussianMixture(rows + queries, dim, 20, seed);
  if (metric === 'dot') normalizeRows(all, dim);
  return { data: all.slice(0, rows * dim), queries: all.slice(rows * dim) };
}

/** Keys in double precision, larger is better, as the contract defines them. */
function refKey(metric: DenseMetric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j] as number;
    const y = b[j] as number;
    s += metric === 'dot' ? x * y : metric === 'l2' ? (x - y) ** 2 : Math.abs(x - y);
  }
  return metric === 'dot' ? s : -s;
}

function bruteForce(data: Float32Array, dim: number, metric: DenseMetric, query: Float32Array, k: number, accept: (id: number) => boolean = () => true): { ids: number[]; keys: number[] } {
  const scored: [number, number][] = [];
  for (let id = 0; id < data.length / dim; id++) {
    if (accept(id)) scored.push([id, refKey(metric, query, data.subarray(id * dim, (id + 1) * dim))]);
  }
  scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = scored.slice(0, k);
  return { ids: top.map((e) => e[0]), keys: top.map((e) => e[1]) };
}

function recall(found: Uint32Array, truth: number[]): number {
  const want = new Set(truth);
  let hits = 0;
  for (const id of found) if (want.has(id)) hits++;
  return hits / truth.length;
}

function randomBits(count: number, density: number, seed: number): Uint8Array {
  const rng = seededRng(seed);
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (let id = 0; id < count; id++) if (rng.next() < density) bits[id >>> 3]! |= 1 << (id & 7);
  return bits;
}

const has = (bits: Uint8Array, id: number): boolean => ((bits[id >>> 3] as number) & (1 << (id & 7))) !== 0;

function meanRecall(index: DenseIndex, data: Float32Array, queries: Float32Array, metric: DenseMetric, o: DenseSearchOptions): number {
  const dim = index.params.dim;
  let total = 0;
  const n = queries.length / dim;
  for (let q = 0; q < n; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim);
    total += recall(index.search(query, o).ids, bruteForce(data, dim, metric, query, o.k).ids);
  }
  return total / n;
}

function sameBytes(a: Uint8Array[], b: Uint8Array[]): boolean {
  return Buffer.compare(Buffer.concat(a), Buffer.concat(b)) === 0;
}

describe.each(IMPLEMENTATIONS)('DenseIndex (%s)', (implementation) => {
  const engine = { implementation };

  describe.each(['dot', 'l2', 'l1'] as DenseMetric[])('metric %s', (metric) => {
    const { data, queries } = dataset(3000, 40, 24, metric, 11);
    const f32 = buildDenseIndex(data, 3000, params({ metric }), engine);
    const int8 = buildDenseIndex(data, 3000, params({ metric, quantization: { kind: 'int8', quantile: 0.99, alwaysRam: true } }), engine);
    // The whole range: no value clipped, so every estimate is within rounding of the real key.
    const int8Full = buildDenseIndex(data, 3000, params({ metric, quantization: { kind: 'int8', quantile: 1, alwaysRam: true } }), engine);

    it('exact search returns the brute-force ids and keys', () => {
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * 24, (q + 1) * 24);
        const want = bruteForce(data, 24, metric, query, K);
        for (const index of [f32, int8]) {
          const got = index.search(query, options({ exact: true, quantization: { ignore: true, rescore: true, oversampling: 1 } }));
          expect(Array.from(got.ids)).toEqual(want.ids);
          got.keys.forEach((key, i) => expect(key).toBeCloseTo(want.keys[i] as number, 3));
          expect(got.evaluations).toBe(3000);
        }
      }
    });

    it('graph search with ef = count finds what exact search finds, with the same keys', () => {
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * 24, (q + 1) * 24);
        const exact = f32.search(query, options({ exact: true }));
        const graph = f32.search(query, options({ ef: 3000 }));
        expect(Array.from(graph.ids)).toEqual(Array.from(exact.ids));
        expect(Array.from(graph.keys)).toEqual(Array.from(exact.keys));
        expect(graph.evaluations).toBeLessThanOrEqual(3000 + 24 * 40);
      }
    });

    it('reaches high recall on a clustered set, f32 and int8 with rescoring', () => {
      expect(meanRecall(f32, data, queries, metric, options({ ef: 64 }))).toBeGreaterThanOrEqual(0.95);
      const q = { ignore: false, rescore: true, oversampling: 3 };
      expect(meanRecall(int8, data, queries, metric, options({ ef: 64, quantization: q }))).toBeGreaterThanOrEqual(0.9);
      // Rescored keys are the full-precision ones.
      const query = queries.subarray(0, 24);
      const got = int8.search(query, options({ quantization: q }));
      got.ids.forEach((id, i) => expect(got.keys[i]).toBeCloseTo(refKey(metric, query, data.subarray(id * 24, (id + 1) * 24)), 3));
    });

    it('int8 without rescoring returns estimated keys close to the real ones', () => {
      const query = queries.subarray(0, 24);
      const got = int8Full.search(query, options({ quantization: { ignore: false, rescore: false, oversampling: 1 } }));
      expect(got.ids.length).toBe(K);
      got.ids.forEach((id, i) => {
        const real = refKey(metric, query, data.subarray(id * 24, (id + 1) * 24));
        expect(Math.abs((got.keys[i] as number) - real)).toBeLessThan(0.03 * Math.abs(real) + 0.03);
      });
    });
  });

  it('never returns a row outside `allowed` or inside `deleted`, on every path', () => {
    const { data, queries } = dataset(2000, 20, 24, 'l2', 5);
    const allowed = randomBits(2000, 0.3, 1);
    const deleted = randomBits(2000, 0.2, 2);
    const accept = (id: number): boolean => has(allowed, id) && !has(deleted, id);
    const plain = buildDenseIndex(data, 2000, params(), engine);
    const coded = buildDenseIndex(data, 2000, params({ quantization: { kind: 'int8', quantile: 0.99, alwaysRam: false } }), engine);
    const noGraph = buildDenseIndex(data, 2000, params({ m: 0 }), engine);
    expect(noGraph.indexed).toBe(false);
    for (let q = 0; q < 20; q++) {
      const query = queries.subarray(q * 24, (q + 1) * 24);
      const truth = bruteForce(data, 24, 'l2', query, K, accept).ids;
      for (const index of [plain, coded, noGraph]) {
        for (const exact of [false, true]) {
          const got = index.search(query, options({ exact, allowed, deleted }));
          for (const id of got.ids) expect(accept(id)).toBe(true);
          expect(got.ids.length).toBe(K);
          if (exact && index !== coded) expect(Array.from(got.ids)).toEqual(truth);
        }
        const onlyDeleted = index.search(query, options({ deleted }));
        for (const id of onlyDeleted.ids) expect(has(deleted, id)).toBe(false);
      }
    }
    // Nothing acceptable: nothing returned, however the search runs.
    const none = new Uint8Array(250);
    for (const index of [plain, coded, noGraph]) {
      expect(index.search(queries.subarray(0, 24), options({ allowed: none })).ids.length).toBe(0);
      expect(index.search(queries.subarray(0, 24), options({ allowed: none, exact: true })).ids.length).toBe(0);
    }
  });

  it('serializes and loads back without rebuilding: same bytes, same results', () => {
    const { data, queries } = dataset(1500, 10, 24, 'dot', 9);
    for (const quantization of [null, { kind: 'int8', quantile: 0.98, alwaysRam: true } as const]) {
      const built = buildDenseIndex(data, 1500, params({ metric: 'dot', quantization }), engine);
      const bytes = built.serialize();
      // Any chunking of the same bytes loads.
      const whole = Buffer.concat(bytes);
      const split = [whole.subarray(0, 5), whole.subarray(5, 100), whole.subarray(100)];
      for (const input of [bytes, new Uint8Array(whole), split]) {
        const loaded = loadDenseIndex(input, engine);
        expect(sameBytes(loaded.serialize(), bytes)).toBe(true);
        expect(loaded.count).toBe(1500);
        for (let q = 0; q < 10; q++) {
          const query = queries.subarray(q * 24, (q + 1) * 24);
          const a = built.search(query, options());
          const b = loaded.search(query, options());
          expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
          expect(Array.from(b.keys)).toEqual(Array.from(a.keys));
          expect(b.evaluations).toBe(a.evaluations);
        }
        expect(Array.from(loaded.row(7))).toEqual(Array.from(built.row(7)));
      }
    }
  });

  it('refuses damaged bytes with a storage error', () => {
    const { data } = dataset(500, 0, 24, 'l2', 3);
    const whole = Buffer.concat(buildDenseIndex(data, 500, params(), engine).serialize());
    const storage = (bytes: Uint8Array): void => {
      let error: unknown = null;
      try {
        loadDenseIndex(bytes, engine);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ShoalError);
      expect((error as ShoalError).kind).toBe('storage');
    };
    for (const at of [0, 9, 20, 300, whole.length >> 1, whole.length - 10, whole.length - 1]) {
      const damaged = new Uint8Array(whole);
      damaged[at]! ^= 0x10;
      storage(damaged);
    }
    storage(whole.subarray(0, whole.length - 1));
    storage(whole.subarray(0, 10));
    storage(new Uint8Array(0));
    storage(Buffer.concat([whole, Buffer.alloc(4)]));
  });

  it('gives the same bytes for the same rows and seed, other bytes for another seed', () => {
    const { data } = dataset(800, 0, 24, 'l2', 4);
    const a = buildDenseIndex(data, 800, params(), engine).serialize();
    const b = buildDenseIndex(data, 800, params(), engine).serialize();
    const c = buildDenseIndex(data, 800, params({ seed: 8 }), engine).serialize();
    expect(sameBytes(a, b)).toBe(true);
    expect(sameBytes(a, c)).toBe(false);
  });

  it('handles an empty index, one row, and k above the row count', () => {
    const empty = buildDenseIndex(new Float32Array(0), 0, params(), engine);
    expect(empty.search(new Float32Array(24), options()).ids.length).toBe(0);
    expect(loadDenseIndex(empty.serialize(), engine).count).toBe(0);
    const { data, queries } = dataset(30, 1, 24, 'l2', 6);
    const one = buildDenseIndex(data, 1, params(), engine);
    expect(Array.from(one.search(queries, options()).ids)).toEqual([0]);
    const small = buildDenseIndex(data, 30, params(), engine);
    const all = small.search(queries, options({ k: 50 }));
    expect(Array.from(all.ids).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('breaks ties on the smaller id, graph and exact alike', () => {
    const dim = 8;
    const rows = new Float32Array(200 * dim);
    for (let id = 0; id < 200; id++) rows.fill(id < 100 ? 1 : 2, id * dim, (id + 1) * dim);
    for (const quantization of [null, { kind: 'int8', quantile: 1, alwaysRam: true } as const]) {
      const index = buildDenseIndex(rows, 200, params({ dim, m: 4, quantization }), engine);
      const query = new Float32Array(dim).fill(1);
      for (const exact of [true, false]) {
        const got = index.search(query, options({ exact, ef: 200 }));
        expect(Array.from(got.ids)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        // -0 or +0: both are the zero distance.
        expect(Array.from(got.keys).every((key) => key === 0)).toBe(true);
      }
    }
  });

  it('reports its memory', () => {
    const { data } = dataset(1000, 0, 24, 'l2', 6);
    const plain = buildDenseIndex(data, 1000, params(), engine).memory();
    expect(plain.vectorBytes).toBe(1000 * 24 * 4);
    expect(plain.quantizedBytes).toBe(0);
    expect(plain.graphBytes).toBeGreaterThan(1000 * 25 * 4);
    expect(plain.memoryBytes).toBeGreaterThan(plain.vectorBytes + plain.graphBytes);
    const coded = buildDenseIndex(data, 1000, params({ quantization: { kind: 'int8', quantile: 0.99, alwaysRam: true } }), engine).memory();
    expect(coded.quantizedBytes).toBe(1000 * 28);
    // One 64-bit word per row (24 bits padded), its f32 norm; 16 bytes of band threshold.
    const binary = buildDenseIndex(data, 1000, params({ quantization: { kind: 'binary', alwaysRam: true } }), engine).memory();
    expect(binary.quantizedBytes).toBe(1000 * 12 + 16);
    // x8: 2 dimensions per byte, 12 bytes per row; codebook 256 x 24 f32.
    const product = buildDenseIndex(data, 1000, params({ quantization: { kind: 'product', compression: 8, alwaysRam: true } }), engine).memory();
    expect(product.quantizedBytes).toBe(1000 * 16 + 256 * 24 * 4);
  });
});

describe('DenseIndex parameters', () => {
  it('refuses parameters it cannot build as bad requests', () => {
    const data = gaussian(10, 8, 1);
    const kind = (p: Partial<DenseIndexParams>): string => {
      try {
        buildDenseIndex(data, 10, params({ dim: 8, ...p }));
      } catch (e) {
        return e instanceof ShoalError ? e.kind : 'other';
      }
      return 'none';
    };
    expect(kind({ quantization: { kind: 'binary', alwaysRam: true } })).toBe('none');
    expect(kind({ quantization: { kind: 'product', compression: 16, alwaysRam: true } })).toBe('none');
    expect(kind({ quantization: { kind: 'product', compression: 12 as 16, alwaysRam: true } })).toBe('bad_request');
    expect(kind({ quantization: { kind: 'binary', alwaysRam: true, encoding: 'one_and_half_bits' as 'two_bits' } })).toBe('bad_request');
    expect(kind({ quantization: { kind: 'int8', quantile: 0.2, alwaysRam: true } })).toBe('bad_request');
    expect(kind({ m: 1 })).toBe('bad_request');
    expect(kind({ dim: 0 })).toBe('bad_request');
    expect(kind({})).toBe('none');
    const index = buildDenseIndex(data, 10, params({ dim: 8 }));
    expect(() => index.search(new Float32Array(7), options())).toThrow(ShoalError);
    expect(() => index.search(new Float32Array(8), options({ k: 0 }))).toThrow(ShoalError);
  });
});

describe('DenseIndex across threads', () => {
  it('a worker opens the handle over the same memory and finds the same results', async () => {
    const dim = 24;
    const { data, queries } = dataset(2000, 8, dim, 'dot', 13);
    const index = buildDenseIndex(data, 2000, params({ metric: 'dot', quantization: { kind: 'int8', quantile: 0.99, alwaysRam: true } }));
    const handle = index.handle();
    const o = options({ quantization: { ignore: false, rescore: true, oversampling: 2 } });
    const here = Array.from({ length: 8 }, (_, q) => Array.from(index.search(queries.subarray(q * dim, (q + 1) * dim), o).ids));
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(dist)}).then(({ openDenseIndex }) => {
        const { handle, queries, dim, o } = workerData;
        const index = openDenseIndex(handle);
        const before = handle.memory.buffer.byteLength;
        const ids = [];
        for (let q = 0; q < queries.length / dim; q++) ids.push(Array.from(index.search(queries.subarray(q * dim, (q + 1) * dim), o).ids));
        // The worker's scratch slot grew the shared memory; the data was never copied.
        parentPort.postMessage({ ids, row: Array.from(index.row(5)), grew: handle.memory.buffer.byteLength >= before });
      }, (e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
    `;
    const worker = new Worker(code, { eval: true, workerData: { handle, queries, dim, o } });
    const reply = await new Promise<{ ids?: number[][]; row?: number[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reply.error).toBeUndefined();
    expect(reply.ids).toEqual(here);
    expect(reply.row).toEqual(Array.from(index.row(5)));
    // Reopened on this thread too: a second searcher with its own scratch.
    const again = openDenseIndex(handle);
    expect(Array.from(again.search(queries.subarray(0, dim), o).ids)).toEqual(here[0]);
  });
});

describe('DenseIndex engines agree', () => {
  it.runIf(wasmSimdSupported())('WebAssembly and JS return the same exact results and equally good graph results', () => {
    for (const metric of ['dot', 'l2', 'l1'] as DenseMetric[]) {
      const { data, queries } = dataset(2000, 20, 24, metric, 21);
      const p = params({ metric, quantization: { kind: 'int8', quantile: 0.99, alwaysRam: true } });
      const wasm = buildDenseIndex(data, 2000, p, { implementation: 'wasm-simd' });
      const js = buildDenseIndex(data, 2000, p, { implementation: 'js' });
      let wasmRecall = 0;
      let jsRecall = 0;
      for (let q = 0; q < 20; q++) {
        const query = queries.subarray(q * 24, (q + 1) * 24);
        for (const quantization of [{ ignore: true, rescore: true, oversampling: 1 }, { ignore: false, rescore: true, oversampling: 3 }]) {
          const a = wasm.search(query, options({ exact: true, quantization }));
          const b = js.search(query, options({ exact: true, quantization }));
          expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
          a.keys.forEach((key, i) => expect(key).toBeCloseTo(b.keys[i] as number, 4));
        }
        const truth = bruteForce(data, 24, metric, query, K).ids;
        wasmRecall += recall(wasm.search(query, options({ ef: 32 })).ids, truth) / 20;
        jsRecall += recall(js.search(query, options({ ef: 32 })).ids, truth) / 20;
      }
      expect(Math.abs(wasmRecall - jsRecall)).toBeLessThan(0.05);
      expect(wasmRecall).toBeGreaterThan(0.85);
    }
  });

  it.runIf(wasmSimdSupported())('the int8 L1 kernel counts exactly, at every length', async () => {
    const { instantiateKernelsModule } = await import('../wasm/load.js');
    const { l1I8 } = await import('./quantize.js');
    const memory = new WebAssembly.Memory({ initial: 1 });
    const l1 = instantiateKernelsModule(memory).l1_i8 as (a: number, b: number, dim: number) => number;
    const i8 = new Int8Array(memory.buffer);
    const rng = seededRng(3);
    for (let i = 0; i < 4096; i++) i8[i] = rng.int(255) - 127;
    for (let dim = 0; dim <= 70; dim++) {
      let want = 0;
      for (let j = 0; j < dim; j++) want += Math.abs((i8[100 + j] as number) - (i8[1000 + j] as number));
      expect(l1(100, 1000, dim)).toBe(want);
      expect(l1I8(i8, 100, 1000, dim)).toBe(want);
    }
    i8.fill(127, 0, 64);
    i8.fill(-127, 64, 128);
    expect(l1(0, 64, 64)).toBe(254 * 64);
  });
});
