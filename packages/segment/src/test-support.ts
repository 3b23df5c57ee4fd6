// Helpers shared by this package's tests: a seeded generator and shorthand constructors.
import type { Condition, Filter, PayloadIndexParams, PointStruct, VectorParams, Distance, Payload, PointId } from '@shoal/common';
import type { SegmentSchema } from './contract.js';

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)] as T;
}

export function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function space(size: number, distance: Distance): VectorParams {
  return { size, distance, onDisk: null, datatype: null };
}

export function schemaOf(entries: Record<string, VectorParams>): SegmentSchema {
  return { vectors: new Map(Object.entries(entries)) };
}

export function filterOf(parts: Partial<Filter>): Filter {
  return { must: [], should: [], mustNot: [], minShould: null, ...parts };
}

export function must(...conditions: Condition[]): Filter {
  return filterOf({ must: conditions });
}

export function indexParams(type: PayloadIndexParams['type'], extra: Partial<PayloadIndexParams> = {}): PayloadIndexParams {
  return { type, lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null, ...extra };
}

export function point(id: PointId, vector: number[] | null, payload: Payload | null = null, name = ''): PointStruct {
  const vectors = new Map<string, Float32Array>();
  if (vector !== null) vectors.set(name, Float32Array.from(vector));
  return { id, vectors, payload };
}

export const NO_BOUNDS = { gt: null, gte: null, lt: null, lte: null };
