import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import type { Distance, PointId, ScoredPoint } from '@shoal/common';
import type { SearchParams } from './contract.js';
import { createSegment, loadSegment } from './load.js';
import type { Segment } from './segment.js';
import { must, point, rng, schemaOf, space } from './test-support.js';
import { storedForm, toFloat16 } from './datatype.js';
import { SCAN_CHUNK } from './vector-store.js';
import { wasmSimdSupported } from './wasm/load.js';
import type { KernelImplementation } from './wasm/types.js';

const DISTANCES: Distance[] = ['Cosine', 'Dot', 'Euclid', 'Manhattan'];
const IMPLEMENTATIONS: KernelImplementation[] = wasmSimdSupported() ? ['wasm-simd', 'js'] : ['js'];
/** More points than one kernel call scores, so that scans run over several chunks. */
const POINTS = 3 * SCAN_CHUNK + 17;

function params(vector: number[], extra: Partial<SearchParams> = {}): SearchParams {
  return {
    vectorName: 'v',
    vector: Float32Array.from(vector),
    filter: null,
    limit: 25,
    offset: 0,
    scoreThreshold: null,
    withPayload: { kind: 'none' },
    withVector: false,
    excludeIds: [],
    ...extra,
  };
}

/** Every point in f64: Cosine on normalised copies, as stored. Larger key is better. */
function naiveKeys(distance: Distance, rows: Map<PointId, number[]>, query: number[]): Map<PointId, number> {
  const unit = (v: number[]): number[] => {
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return n === 0 ? v : v.map((x) => Math.fround(x / n));
  };
  const q = distance === 'Cosine' ? unit(query) : query;
  const out = new Map<PointId, number>();
  for (const [id, raw] of rows) {
    const v = distance === 'Cosine' ? unit(raw) : raw;
    let s = 0;
    for (let j = 0; j < v.length; j++) {
      const a = v[j] as number;
      const b = q[j] as number;
      s += distance === 'Euclid' ? (a - b) ** 2 : distance === 'Manhattan' ? Math.abs(a - b) : a * b;
    }
    out.set(id, distance === 'Euclid' || distance === 'Manhattan' ? -s : s);
  }
  return out;
}

function keyOf(distance: Distance, score: number): number {
  return distance === 'Euclid' ? -(score * score) : distance === 'Manhattan' ? -score : score;
}

/** A segment of POINTS points, every 7th deleted (so scans see holes), payload group id % 3. */
function fill(distance: Distance, implementation: KernelImplementation, dim: number, value: () => number): { segment: Segment; rows: Map<PointId, number[]> } {
  const segment = createSegment(schemaOf({ v: space(dim, distance) }), { kernels: implementation });
  const rows = new Map<PointId, number[]>();
  for (let start = 0; start < POINTS; start += 500) {
    const points = [];
    for (let id = start; id < Math.min(POINTS, start + 500); id++) {
      const vector = Array.from({ length: dim }, value);
      rows.set(id, vector);
      points.push(point(id, vector, { group: id % 3 }, 'v'));
    }
    segment.apply({ kind: 'upsert', points });
  }
  const dead = [...rows.keys()].filter((id) => Number(id) % 7 === 3);
  segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: dead } });
  for (const id of dead) rows.delete(id);
  return { segment, rows };
}

describe('exact search on the distance kernels', () => {
  for (const implementation of IMPLEMENTATIONS) {
    for (const distance of DISTANCES) {
      it(`${implementation}, ${distance}: small integers score exactly; ties go to the earlier point`, () => {
        const r = rng(11);
        const dim = 19;
        const { segment, rows } = fill(distance, implementation, dim, () => Math.floor(r() * 5) - 2);
        for (let q = 0; q < 5; q++) {
          const query = Array.from({ length: dim }, () => Math.floor(r() * 5) - 2);
          const keys = naiveKeys(distance, rows, query);
          // Cosine divides, so only its order and scores within f32 rounding are exact here.
          const expected = [...keys].sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0])).slice(0, 25);
          const got = segment.search(params(query));
          if (distance !== 'Cosine') {
            const score = (key: number): number => (distance === 'Euclid' ? Math.sqrt(-key) : distance === 'Manhattan' ? -key : key);
            expect(got.map((p) => [p.id, p.score])).toEqual(expected.map(([id, key]) => [id, score(key)]));
          } else {
            got.forEach((p, i) => expect(p.score).toBeCloseTo((expected[i] as [PointId, number])[1], 5));
          }
        }
      });

      it(`${implementation}, ${distance}: Gaussian data, a true top-k within the f32 bound, with filters`, () => {
        const r = rng(DISTANCES.indexOf(distance) + 40);
        const dim = 37;
        const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
        const { segment, rows } = fill(distance, implementation, dim, gauss);
        for (const filter of [null, must({ kind: 'match', key: 'group', value: 1 })]) {
          const query = Array.from({ length: dim }, gauss);
          const wanted = new Map([...rows].filter(([id]) => filter === null || Number(id) % 3 === 1));
          const keys = naiveKeys(distance, wanted, query);
          const got = segment.search(params(query, { filter }));
          expect(got).toHaveLength(25);
          expectTopK(distance, got, keys, dim);
        }
      });
    }
  }

  it('the SIMD kernels and the JS fallback return the same points in the same order', () => {
    if (IMPLEMENTATIONS.length < 2) return;
    const r = rng(5);
    const dim = 64;
    const data = Array.from({ length: POINTS }, () => Array.from({ length: dim }, () => r() * 2 - 1));
    const fast = createSegment(schemaOf({ v: space(dim, 'Euclid') }), { kernels: 'wasm-simd' });
    const slow = createSegment(schemaOf({ v: space(dim, 'Euclid') }), { kernels: 'js' });
    for (const segment of [fast, slow]) segment.apply({ kind: 'upsert', points: data.map((v, id) => point(id, v, null, 'v')) });
    for (let q = 0; q < 10; q++) {
      const query = data[q * 100] as number[];
      expect(fast.search(params(query)).map((p) => p.id)).toEqual(slow.search(params(query)).map((p) => p.id));
    }
  });

  it('keeps rows across memory growth, compaction and an image round trip', () => {
    const r = rng(9);
    const dim = 33;
    const segment = createSegment(schemaOf({ v: space(dim, 'Dot') }));
    const rows = new Map<number, number[]>();
    for (let id = 0; id < 5000; id++) {
      const vector = Array.from({ length: dim }, () => Math.floor(r() * 200) - 100);
      rows.set(id, vector);
      segment.apply({ kind: 'upsert', points: [point(id, vector, null, 'v')] });
    }
    const query = Array.from({ length: dim }, () => Math.floor(r() * 200) - 100);
    const before = segment.search(params(query));
    const first = segment.retrieve([0, 4999], { kind: 'none' }, true);
    expect(first.map((p) => [...(p.vectors?.get('v') ?? [])])).toEqual([rows.get(0), rows.get(4999)]);
    const loaded = loadSegment(schemaOf({ v: space(dim, 'Dot') }), segment.serialize());
    expect(loaded.search(params(query))).toEqual(before);
    // Deleting more than half compacts into fresh memories; survivors score as before.
    segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: [...rows.keys()].filter((id) => id % 5 !== 0) } });
    const survivors = before.filter((p) => Number(p.id) % 5 === 0).map((p) => p.id);
    expect(segment.search(params(query, { limit: 5000 })).map((p) => p.id).filter((id) => survivors.includes(id))).toEqual(survivors);
  });

  it('reports the memory the vectors hold', () => {
    const segment = createSegment(schemaOf({ v: space(100, 'Dot'), w: space(8, 'Dot') }));
    expect(segment.stats().vectorBytes).toBe(0);
    segment.apply({ kind: 'upsert', points: Array.from({ length: 2000 }, (_, id) => point(id, new Array<number>(100).fill(1), null, 'v')) });
    const held = segment.stats().vectorBytes;
    expect(held).toBeGreaterThanOrEqual(2000 * 100 * 4);
    expect(held).toBeLessThan(2 * 2000 * 100 * 4 + 2 * 65_536);
  });
});

describe('the wasm32 memory cap', () => {
  it('refuses a batch that does not fit with a typed error naming the cap, and changes nothing', () => {
    const dim = 64;
    const segment = createSegment(schemaOf({ v: space(dim, 'Euclid'), w: space(4, 'Euclid') }), { bytesMax: 256 * 1024 });
    const batch = (from: number, n: number): ReturnType<typeof point>[] =>
      Array.from({ length: n }, (_, i) => {
        const p = point(from + i, new Array<number>(dim).fill(from + i), null, 'v');
        p.vectors.set('w', Float32Array.from([1, 2, 3, 4]));
        return p;
      });
    let stored = 0;
    let error: unknown;
    for (; stored < 10_000; stored += 100) {
      try {
        segment.apply({ kind: 'upsert', points: batch(stored, 100) });
      } catch (e) {
        error = e;
        break;
      }
    }
    expect(error).toBeInstanceOf(ShoalError);
    expect((error as ShoalError).kind).toBe('unsupported');
    expect((error as ShoalError).message).toMatch(/4 GiB/);
    expect(stored).toBeGreaterThan(500);
    expect(segment.count(null)).toBe(stored);
    expect(segment.stats().vectors.get('w')).toBe(stored);
    expect(segment.has(stored)).toBe(false);
    // Still serves reads and writes that fit.
    const hit = segment.search(params(new Array<number>(dim).fill(7), { limit: 1 }));
    expect(hit.map((p: ScoredPoint) => [p.id, p.score])).toEqual([[7, 0]]);
    segment.apply({ kind: 'upsert', points: batch(0, 1) });
    expect(segment.count(null)).toBe(stored);
  });
});

/**
 * `got` is a top-k of `keys` up to f32 rounding: each score within the bound of its exact value,
 * best first, and no point left out whose exact key beats the worst kept one by more than the bound.
 */
function expectTopK(distance: Distance, got: ScoredPoint[], keys: Map<PointId, number>, dim: number): void {
  // The kernels' documented bound, (dim + 4) * 2^-24 * sum(|terms|), with sum(|terms|) well under
  // 40 * dim for these Gaussian vectors; Euclid scores are square roots of the kernel's result.
  const bound = (dim + 4) * 2 ** -24 * 40 * dim;
  let previous = Infinity;
  for (const p of got) {
    const key = keyOf(distance, p.score);
    expect(Math.abs(key - (keys.get(p.id) as number))).toBeLessThanOrEqual(bound);
    expect(key).toBeLessThanOrEqual(previous);
    previous = key;
  }
  const kept = new Set(got.map((p) => p.id));
  const worst = Math.min(...got.map((p) => keys.get(p.id) as number));
  for (const [id, key] of keys) if (!kept.has(id)) expect(key).toBeLessThanOrEqual(worst + 2 * bound);
}

describe('vector datatypes', () => {
  const DATATYPES = ['float16', 'uint8'] as const;
  const dim = 6;
  /** Values that exercise the conversions: fractions, negatives, above 255, f16 ties. */
  const value = (r: () => number): number => Math.fround((r() - 0.3) * 400);

  for (const datatype of DATATYPES) {
    for (const distance of DISTANCES) {
      it(`${datatype}, ${distance}: rows, retrieve and scores are on the converted values, also after an image round trip`, () => {
        const r = rng(DISTANCES.indexOf(distance) * 7 + datatype.length);
        const params_ = { size: dim, distance, onDisk: null, datatype };
        const schema = schemaOf({ v: params_ });
        const segment = createSegment(schema);
        const raw = new Map<number, Float32Array>();
        for (let id = 0; id < 300; id++) raw.set(id, Float32Array.from({ length: dim }, () => value(r)));
        segment.apply({ kind: 'upsert', points: [...raw].map(([id, v]) => point(id, [...v], null, 'v')) });
        const stored = new Map([...raw].map(([id, v]) => [id, storedForm(params_, v)]));
        for (const row of stored.values()) {
          for (const x of row) {
            if (datatype === 'float16') expect(toFloat16(x)).toBe(x);
            else if (distance !== 'Cosine') expect(Number.isInteger(x) && x >= 0 && x <= 255).toBe(true);
          }
        }
        const got = segment.retrieve([0, 1, 299], { kind: 'none' }, true);
        expect(got.map((p) => [...(p.vectors?.get('v') ?? [])])).toEqual([0, 1, 299].map((id) => [...(stored.get(id) as Float32Array)]));
        const query = Float32Array.from({ length: dim }, () => value(r));
        const q = storedForm(params_, query);
        const brute = [...stored].map(([id, v]) => {
          let s = 0;
          for (let j = 0; j < dim; j++) {
            const a = v[j] as number;
            const b = q[j] as number;
            s += distance === 'Euclid' ? (a - b) ** 2 : distance === 'Manhattan' ? Math.abs(a - b) : a * b;
          }
          return { id, score: distance === 'Euclid' ? Math.sqrt(s) : s };
        });
        const better = distance === 'Euclid' || distance === 'Manhattan' ? 1 : -1;
        brute.sort((a, b) => better * (a.score - b.score) || a.id - b.id);
        const found = segment.search(params([...query], { limit: 20 }));
        const exact = datatype === 'uint8' && distance !== 'Cosine';
        found.forEach((p, i) => {
          const want = brute[i] as { id: number; score: number };
          if (exact) expect([p.id, p.score]).toEqual([want.id, want.score]);
          else expect(p.score).toBeCloseTo(want.score, distance === 'Cosine' ? 5 : 0);
        });
        const loaded = loadSegment(schema, segment.serialize());
        expect(loaded.search(params([...query], { limit: 20 }))).toEqual(found);
        expect(loaded.retrieve([0, 1, 299], { kind: 'none' }, true)).toEqual(got);
      });
    }
  }

  it('replays the same write to the same row: converting a converted vector changes nothing', () => {
    for (const datatype of DATATYPES) {
      const p = { size: 3, distance: 'Dot' as const, onDisk: null, datatype };
      const once = storedForm(p, Float32Array.from([0.1, 300.7, -5.5]));
      expect([...storedForm(p, once)]).toEqual([...once]);
    }
  });
});
