// One payload index on one key path. Lookup types (keyword, integer with lookup, bool) keep
// value -> set of offsets (with a sorted copy cached per value until it changes); range types
// (integer with range, float, datetime) keep a NumericRange. Values whose type does not fit the
// index are not indexed. Every index answer is exact for the conditions it serves, so the filter
// planner may use it in place of checking those conditions per point.
import type { JsonObject, JsonValue, MatchValue, MatchValues, PayloadIndexParams, RangeBounds } from '@shoal/common';
import { parseDatetimeMicros } from './datetime.js';
import { normalizeScalar } from './filter.js';
import { NumericRange } from './numeric-index.js';
import type { OrderedEntries } from './numeric-index.js';
import { getValues, parseJsonPath } from './path.js';
import type { JsonPath } from './path.js';
import { sortUnique, unionSorted } from './sorted.js';

/** A lookup key: 's…' keywords, numbers / 'n…' integers, booleans (see normalizeScalar). */
export type LookupKey = string | number | boolean;
export type FacetValue = string | number | bigint | boolean;

export class FieldIndex {
  readonly path: JsonPath;
  private readonly postings: Map<LookupKey, Set<number>> | null;
  private readonly sortedCache = new Map<LookupKey, Uint32Array>();
  private readonly numeric: NumericRange | null;
  private readonly keysAt: (readonly LookupKey[] | undefined)[] = [];
  private readonly indexedAt: Uint8Array[] = [];
  private pointCount = 0;
  /** Non-integer numbers seen by an integer index: while any exist, its ranges are not exact. */
  private fractionalNumbers = 0;
  private readonly fractionalAt = new Map<number, number>();

  constructor(
    readonly field: string,
    readonly params: PayloadIndexParams,
  ) {
    this.path = parseJsonPath(field);
    const type = params.type;
    const lookup = type === 'keyword' || type === 'bool' || (type === 'integer' && params.lookup !== false);
    const range = type === 'float' || type === 'datetime' || (type === 'integer' && params.range !== false);
    this.postings = lookup ? new Map() : null;
    this.numeric = range ? new NumericRange() : null;
  }

  get points(): number {
    return this.pointCount;
  }

  get supportsRange(): boolean {
    return this.numeric !== null;
  }

  get supportsFacet(): boolean {
    return this.postings !== null;
  }

  /** Re-index one offset from its new payload (undefined: the point is gone). */
  update(offset: number, payload: JsonObject | undefined): void {
    const scalars = payload === undefined ? [] : flatValues(payload, this.path);
    this.updateLookup(offset, scalars);
    const numbers = this.numbersOf(scalars);
    this.numeric?.set(offset, numbers);
    this.updateFractional(offset, scalars);
    const indexed = this.isIndexed(offset) ? 1 : 0;
    const now = numbers.length > 0 || (this.keysAt[offset]?.length ?? 0) > 0 ? 1 : 0;
    this.pointCount += now - indexed;
    this.setIndexed(offset, now);
  }

  /** Drop everything (compaction renumbers offsets and refills). */
  clear(): void {
    this.postings?.clear();
    this.sortedCache.clear();
    this.numeric?.clear();
    this.keysAt.length = 0;
    this.indexedAt.length = 0;
    this.pointCount = 0;
    this.fractionalNumbers = 0;
    this.fractionalAt.clear();
  }

  /** Offsets matching `match` on this key, or null when this index does not serve it. */
  lookupMatch(value: MatchValue): Uint32Array | null {
    const key = this.lookupKeyOf(value);
    return key === null ? null : this.sortedPostings(key);
  }

  /** The lookup key of a match value, or null when this index does not serve it. */
  matchKey(value: MatchValue): LookupKey | null {
    return this.lookupKeyOf(value);
  }

  /**
   * Keyword and integer values held by at least `minPoints` points, with those points' offsets
   * (ascending): the payload blocks that get subset graphs (payload_m). Other types: none.
   */
  blocks(minPoints: number): { key: LookupKey; offsets: Uint32Array }[] {
    if (this.postings === null || this.params.type === 'bool') return [];
    const out: { key: LookupKey; offsets: Uint32Array }[] = [];
    for (const [key, set] of this.postings) if (set.size >= minPoints) out.push({ key, offsets: this.sortedPostings(key) });
    return out;
  }

  lookupAny(values: MatchValues): Uint32Array | null {
    let out: Uint32Array = new Uint32Array(0);
    for (const value of values) {
      const one = this.lookupMatch(value);
      if (one === null) return null;
      out = unionSorted(out, one);
    }
    return out;
  }

  /** Offsets with a value in range, or null when not served (or not exact) here. */
  lookupRange(range: RangeBounds, datetime: boolean): Uint32Array | null {
    if (this.numeric === null || datetime !== (this.params.type === 'datetime')) return null;
    if (this.params.type === 'integer' && this.fractionalNumbers > 0) return null;
    return this.numeric.query(range);
  }

  ordered(desc: boolean, startFrom: number | null, limit: number, accept: (o: number) => boolean): OrderedEntries {
    if (this.numeric === null) return { values: [], offsets: [] };
    return this.numeric.ordered(desc, startFrom, limit, accept);
  }

  /** Points per value; `offsets` restricts the count to those points (null: all). */
  facetCounts(offsets: Uint32Array | null): Map<FacetValue, number> {
    const counts = new Map<FacetValue, number>();
    if (this.postings === null) return counts;
    if (offsets === null) {
      for (const [key, set] of this.postings) if (set.size > 0) counts.set(facetValueOf(key), set.size);
      return counts;
    }
    const byKey = new Map<LookupKey, number>();
    for (const offset of offsets) {
      for (const key of this.keysAt[offset] ?? []) byKey.set(key, (byKey.get(key) ?? 0) + 1);
    }
    for (const [key, n] of byKey) counts.set(facetValueOf(key), n);
    return counts;
  }

  private updateLookup(offset: number, scalars: readonly JsonValue[]): void {
    if (this.postings === null) return;
    const next = [...new Set(scalars.map((v) => this.lookupKeyOfValue(v)).filter((k) => k !== null))];
    for (const key of this.keysAt[offset] ?? []) {
      this.postings.get(key)?.delete(offset);
      this.sortedCache.delete(key);
    }
    for (const key of next) {
      let set = this.postings.get(key);
      if (set === undefined) this.postings.set(key, (set = new Set()));
      set.add(offset);
      this.sortedCache.delete(key);
    }
    this.keysAt[offset] = next.length > 0 ? next : undefined;
  }

  private updateFractional(offset: number, scalars: readonly JsonValue[]): void {
    if (this.params.type !== 'integer') return;
    const n = scalars.filter((v) => typeof v === 'number' && !Number.isInteger(v)).length;
    this.fractionalNumbers += n - (this.fractionalAt.get(offset) ?? 0);
    if (n > 0) this.fractionalAt.set(offset, n);
    else this.fractionalAt.delete(offset);
  }

  private sortedPostings(key: LookupKey): Uint32Array {
    let sorted = this.sortedCache.get(key);
    if (sorted === undefined) {
      sorted = sortUnique([...(this.postings?.get(key) ?? [])]);
      this.sortedCache.set(key, sorted);
    }
    return sorted;
  }

  private lookupKeyOf(value: MatchValue): LookupKey | null {
    if (this.postings === null) return null;
    return this.lookupKeyOfValue(value);
  }

  private lookupKeyOfValue(value: JsonValue): LookupKey | null {
    switch (this.params.type) {
      case 'keyword':
        return typeof value === 'string' ? normalizeScalar(value) : null;
      case 'integer':
        return isInteger(value) ? normalizeScalar(value) : null;
      case 'bool':
        return typeof value === 'boolean' ? value : null;
      default:
        return null;
    }
  }

  private numbersOf(scalars: readonly JsonValue[]): number[] {
    const out: number[] = [];
    if (this.numeric === null) return out;
    for (const v of scalars) {
      const type = this.params.type;
      if (type === 'datetime') {
        const micros = typeof v === 'string' ? parseDatetimeMicros(v) : null;
        if (micros !== null) out.push(micros);
      } else if (type === 'float' ? typeof v === 'number' || typeof v === 'bigint' : isInteger(v)) {
        out.push(Number(v));
      }
    }
    return out;
  }

  private isIndexed(offset: number): boolean {
    const page = this.indexedAt[offset >>> 16];
    return page !== undefined && page[offset & 0xffff] === 1;
  }

  private setIndexed(offset: number, flag: number): void {
    let page = this.indexedAt[offset >>> 16];
    if (page === undefined) {
      if (flag === 0) return;
      while (this.indexedAt.length <= offset >>> 16) this.indexedAt.push(new Uint8Array(0x10000));
      page = this.indexedAt[offset >>> 16] as Uint8Array;
    }
    page[offset & 0xffff] = flag;
  }
}

/** The values at the path with a leaf array flattened one level (what indexes and facets see). */
export function flatValues(payload: JsonObject, path: JsonPath): JsonValue[] {
  const out: JsonValue[] = [];
  for (const v of getValues(payload, path)) {
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

function isInteger(v: JsonValue): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

function facetValueOf(key: LookupKey): FacetValue {
  if (typeof key !== 'string') return key;
  return key.startsWith('s') ? key.slice(1) : BigInt(key.slice(1));
}
