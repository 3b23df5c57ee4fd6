// Vector datatypes through the official client: float16 and uint8 named vectors store the
// converted values (binary16 rounding to nearest even; a truncating, saturating cast to 0..255),
// retrieve returns them, queries are converted the same way, and scores equal a brute-force scan
// of the converted values, before the segments are indexed and after (the same points and
// scores). Telemetry reports each named vector's memory as stored.
import { describe, expect, it } from 'vitest';
import { call, failureStatus, Rand, resultOf, sleep, useServer } from './support.js';

const shoal = useServer();
const DIM = 8;
const POINTS = 600;
// 8-d vectors are 32 bytes as f32: 2 KB is 64 of them, so 600 points seal and index.
const INDEXING_KB = 2;

type Distance = 'Dot' | 'Euclid' | 'Manhattan' | 'Cosine';
type Datatype = 'float16' | 'uint8';
const SPACES: Record<string, { distance: Distance; datatype: Datatype }> = {
  h_dot: { distance: 'Dot', datatype: 'float16' },
  h_cos: { distance: 'Cosine', datatype: 'float16' },
  h_l1: { distance: 'Manhattan', datatype: 'float16' },
  b_dot: { distance: 'Dot', datatype: 'uint8' },
  b_l2: { distance: 'Euclid', datatype: 'uint8' },
  b_l1: { distance: 'Manhattan', datatype: 'uint8' },
  b_cos: { distance: 'Cosine', datatype: 'uint8' },
};

const bits = new Float32Array(1);
const word = new Uint32Array(bits.buffer);

/** f32 -> binary16 -> number, round to nearest even, on the bit patterns. */
function f16(x: number): number {
  bits[0] = x;
  const b = word[0] as number;
  const sign = b >>> 31 === 1 ? -1 : 1;
  const e = ((b >>> 23) & 0xff) - 127 + 15;
  let m = b & 0x7fffff;
  let half: number;
  if (e <= 0) {
    if (e < -10) return sign * 0;
    m |= 0x800000;
    const shift = 14 - e;
    half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1) === 1)) half++;
  } else {
    half = (e << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  }
  const he = half >>> 10;
  const hm = half & 0x3ff;
  if (he >= 31) return sign * Infinity;
  return sign * (he === 0 ? hm * 2 ** -24 : (1 + hm / 1024) * 2 ** (he - 15));
}

function u8(x: number): number {
  return x <= 0 || Number.isNaN(x) ? 0 : x >= 255 ? 255 : Math.trunc(x);
}

function unit(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return n === 0 ? v : v.map((x) => Math.fround(x / n));
}

/** What Qdrant stores for `v` in a space (and scores a query as). */
function converted(name: string, v: number[]): number[] {
  const { distance, datatype } = SPACES[name] as { distance: Distance; datatype: Datatype };
  const f = v.map((x) => Math.fround(x));
  if (datatype === 'uint8') return f.map(u8);
  return (distance === 'Cosine' ? unit(f) : f).map(f16);
}

/** Qdrant's score of stored `a` against query `b` in f64 (uint8 Cosine on the integers with their norms). */
function score(name: string, a: number[], b: number[]): number {
  const { distance } = SPACES[name] as { distance: Distance };
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    s += distance === 'Euclid' ? (x - y) ** 2 : distance === 'Manhattan' ? Math.abs(x - y) : x * y;
    na += x * x;
    nb += y * y;
  }
  if (distance === 'Euclid') return Math.sqrt(s);
  if (name === 'b_cos') return na === 0 || nb === 0 ? 0 : s / Math.sqrt(na * nb);
  return s;
}

const rand = new Rand(77);
/** Fractions, negatives and values past 255, so that every conversion has work to do. */
const value = (): number => Math.round((rand.next() * 400 - 100) * 1000) / 1000;
const raw = new Map<number, Record<string, number[]>>();
const queries = Array.from({ length: 6 }, () => Array.from({ length: DIM }, value));

interface Hit {
  id: number;
  score: number;
}

async function searchAll(exact: boolean): Promise<Record<string, Hit[][]>> {
  const out: Record<string, Hit[][]> = {};
  for (const name of Object.keys(SPACES)) {
    out[name] = [];
    for (const query of queries) {
      const res = await shoal.client.query('dt', { query, using: name, limit: 10, params: exact ? { exact: true } : { hnsw_ef: POINTS } });
      (out[name] as Hit[][]).push(res.points.map((p) => ({ id: Number(p.id), score: p.score })));
    }
  }
  return out;
}

function expectBruteForce(found: Record<string, Hit[][]>): void {
  for (const [name, { distance }] of Object.entries(SPACES)) {
    const smaller = distance === 'Euclid' || distance === 'Manhattan';
    queries.forEach((query, q) => {
      const qc = converted(name, query);
      const truth = [...raw]
        .map(([id, vectors]) => ({ id, score: score(name, converted(name, vectors[name] as number[]), qc) }))
        .sort((a, b) => (smaller ? a.score - b.score : b.score - a.score) || a.id - b.id)
        .slice(0, 10);
      const got = (found[name] as Hit[][])[q] as Hit[];
      expect(got).toHaveLength(10);
      got.forEach((hit, i) => {
        const want = truth[i] as Hit;
        // Integers score exactly in f32; float16 values and Cosine within f32 rounding.
        const exact = name === 'b_dot' || name === 'b_l1' || name === 'b_l2';
        if (exact) expect([name, hit.id, hit.score]).toEqual([name, want.id, want.score]);
        else expect(Math.abs(hit.score - want.score)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want.score)));
      });
    });
  }
}

async function settled(): Promise<Awaited<ReturnType<typeof shoal.client.getCollection>>> {
  for (let i = 0; i < 600; i++) {
    const info = await shoal.client.getCollection('dt');
    if (info.status === 'green') return info;
    await sleep(100);
  }
  throw new Error('the optimizer did not settle within a minute');
}

describe('vector datatypes', () => {
  let beforeIndexing: Record<string, Hit[][]> = {};

  it('stores, returns and scores converted values in an appendable segment', async () => {
    const vectors: Record<string, { size: number; distance: Distance; datatype: Datatype }> = {};
    for (const [name, s] of Object.entries(SPACES)) vectors[name] = { size: DIM, ...s };
    await shoal.client.createCollection('dt', {
      vectors,
      hnsw_config: { m: 8, ef_construct: 64, full_scan_threshold: 10 },
      optimizers_config: { indexing_threshold: 0, default_segment_number: 2 },
    });
    const info = await shoal.client.getCollection('dt');
    const config = info.config.params.vectors as Record<string, { datatype?: string | null }>;
    expect(config['h_dot']?.datatype).toBe('float16');
    expect(config['b_l2']?.datatype).toBe('uint8');
    for (let from = 0; from < POINTS; from += 200) {
      const points = [];
      for (let id = from; id < from + 200; id++) {
        const v: Record<string, number[]> = {};
        for (const name of Object.keys(SPACES)) v[name] = Array.from({ length: DIM }, value);
        raw.set(id, v);
        points.push({ id, vector: v });
      }
      await shoal.client.upsert('dt', { wait: true, points });
    }
    const got = await shoal.client.retrieve('dt', { ids: [0, 1, 599], with_vector: true });
    for (const record of got) {
      const vectors = record.vector as Record<string, number[]>;
      for (const name of Object.keys(SPACES)) {
        if (name === 'b_cos') continue; // stored as the unit-length direction of the integers here
        expect([name, vectors[name]]).toEqual([name, converted(name, (raw.get(Number(record.id)) as Record<string, number[]>)[name] as number[])]);
      }
    }
    expect((await settled()).indexed_vectors_count ?? 0).toBe(0);
    beforeIndexing = await searchAll(true);
    expectBruteForce(beforeIndexing);
  });

  it('gives the same points and scores once the segments are sealed and indexed', async () => {
    await shoal.client.updateCollection('dt', { optimizers_config: { indexing_threshold: INDEXING_KB } });
    const info = await settled();
    expect(info.indexed_vectors_count ?? 0).toBeGreaterThan(0);
    const exact = await searchAll(true);
    expect(exact).toEqual(beforeIndexing);
    // A graph search with ef at the collection size visits every point of these small graphs.
    const graph = await searchAll(false);
    for (const name of Object.keys(SPACES)) {
      expect([name, (graph[name] as Hit[][]).map((hits) => hits.map((h) => h.id))]).toEqual([name, (beforeIndexing[name] as Hit[][]).map((hits) => hits.map((h) => h.id))]);
    }
    const got = await shoal.client.retrieve('dt', { ids: [5], with_vector: true });
    expect((got[0]?.vector as Record<string, number[]>)['b_dot']).toEqual(converted('b_dot', (raw.get(5) as Record<string, number[]>)['b_dot'] as number[]));
  });

  it('refuses float16 values that would overflow to infinity, and takes any finite uint8 value', async () => {
    const vector = (name: string, x: number): Record<string, number[]> => ({ [name]: Array.from({ length: DIM }, () => x) });
    expect(await failureStatus(shoal.client.upsert('dt', { wait: true, points: [{ id: 9000, vector: vector('h_dot', 70000) }] }))).toBe(400);
    await shoal.client.upsert('dt', { wait: true, points: [{ id: 9001, vector: { ...vector('h_dot', 65504), ...vector('b_dot', 1e9) } }] });
    const [record] = await shoal.client.retrieve('dt', { ids: [9001], with_vector: true });
    const v = record?.vector as Record<string, number[]>;
    expect(v['h_dot']).toEqual(new Array<number>(DIM).fill(65504));
    expect(v['b_dot']).toEqual(new Array<number>(DIM).fill(255));
    await shoal.client.delete('dt', { wait: true, points: [9001] });
  });

  it('reports each named vector’s memory as stored in telemetry', async () => {
    const telemetry = resultOf<{ collections: { collections: { id: string; vector_memory: Record<string, Record<string, number | string>> }[] } }>(
      await call(shoal.server.url, 'GET', '/telemetry'),
    );
    const dt = telemetry.collections.collections.find((c) => c.id === 'dt');
    expect(dt).toBeDefined();
    for (const [name, { datatype }] of Object.entries(SPACES)) {
      const m = dt?.vector_memory[name] as Record<string, number | string>;
      expect(m['datatype']).toBe(datatype);
      expect(m['num_vectors']).toBe(POINTS);
      expect(m['stored_bytes_per_value']).toBe(4);
      expect(m['vectors_size_bytes']).toBe(POINTS * DIM * 4);
      expect(m['datatype_size_bytes']).toBe(POINTS * DIM * (datatype === 'uint8' ? 1 : 2));
      expect(m['ram_usage_bytes'] as number).toBeGreaterThanOrEqual(POINTS * DIM * 4);
    }
  });
});
