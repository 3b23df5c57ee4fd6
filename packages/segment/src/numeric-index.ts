// The range part of a payload index: every (value, offset) pair in one sorted array, so a range
// is a binary search plus a walk and order_by is a walk from a start value. Writes do not re-sort:
// a written offset is marked dirty (its old entries in the sorted array are skipped, its current
// values are checked directly) and the array is rebuilt once the dirty set grows past a fraction of
// the array, which keeps the rebuild cost amortised to O(log n) per write.
import { assert } from '@shoal/common';
import type { RangeBounds } from '@shoal/common';
import { inRange } from './filter.js';
import { sortUnique } from './sorted.js';

/** Dirty offsets tolerated before a rebuild: this many plus 1/16 of the entries. */
const DIRTY_BASE_MAX = 256;

export interface OrderedEntries {
  readonly values: number[];
  readonly offsets: number[];
}

export class NumericRange {
  private valuesAt: (readonly number[] | undefined)[] = [];
  private vals = new Float64Array(0);
  private offs = new Uint32Array(0);
  private readonly dirty = new Set<number>();

  set(offset: number, values: readonly number[] | undefined): void {
    this.valuesAt[offset] = values !== undefined && values.length > 0 ? values : undefined;
    this.dirty.add(offset);
  }

  /** Offsets having a value within the bounds, ascending. */
  query(range: RangeBounds): Uint32Array {
    this.maybeRebuild();
    const out: number[] = [];
    const start = this.startIndex(range);
    for (let i = start; i < this.vals.length; i++) {
      const v = this.vals[i] as number;
      if ((range.lt !== null && v >= range.lt) || (range.lte !== null && v > range.lte)) break;
      const offset = this.offs[i] as number;
      if (inRange(v, range) && !this.dirty.has(offset)) out.push(offset);
    }
    for (const offset of this.dirty) {
      const values = this.valuesAt[offset];
      if (values !== undefined && values.some((v) => inRange(v, range))) out.push(offset);
    }
    return sortUnique(out);
  }

  /**
   * Entries from `startFrom` (inclusive) in the direction, for offsets `accept` lets through: at
   * least `limit` of them when there are that many, and always whole groups of equal values, so
   * the caller can order ties (by id) and cut at `limit` exactly.
   */
  ordered(desc: boolean, startFrom: number | null, limit: number, accept: (offset: number) => boolean): OrderedEntries {
    this.maybeRebuild();
    const values: number[] = [];
    const offsets: number[] = [];
    const step = desc ? -1 : 1;
    let i = desc ? (startFrom === null ? this.vals.length - 1 : this.upperBound(startFrom) - 1) : startFrom === null ? 0 : this.lowerBound(startFrom);
    for (; i >= 0 && i < this.vals.length; i += step) {
      const v = this.vals[i] as number;
      if (values.length >= limit && v !== values[values.length - 1]) break;
      const offset = this.offs[i] as number;
      if (this.dirty.has(offset) || !accept(offset)) continue;
      values.push(v);
      offsets.push(offset);
    }
    for (const offset of this.dirty) {
      for (const v of this.valuesAt[offset] ?? []) {
        const inBound = startFrom === null || (desc ? v <= startFrom : v >= startFrom);
        if (inBound && accept(offset)) {
          values.push(v);
          offsets.push(offset);
        }
      }
    }
    return { values, offsets };
  }

  /** Forget every offset (before a compaction refills the index). */
  clear(): void {
    this.valuesAt = [];
    this.vals = new Float64Array(0);
    this.offs = new Uint32Array(0);
    this.dirty.clear();
  }

  private maybeRebuild(): void {
    if (this.dirty.size > DIRTY_BASE_MAX + this.vals.length / 16) this.rebuild();
  }

  private rebuild(): void {
    let total = 0;
    for (const values of this.valuesAt) total += values?.length ?? 0;
    const order = new Uint32Array(total);
    const vals = new Float64Array(total);
    const offs = new Uint32Array(total);
    let n = 0;
    this.valuesAt.forEach((values, offset) => {
      for (const v of values ?? []) {
        vals[n] = v;
        offs[n] = offset;
        order[n] = n;
        n++;
      }
    });
    assert(n === total, 'numeric index entry count');
    order.sort((a, b) => (vals[a] as number) - (vals[b] as number) || (offs[a] as number) - (offs[b] as number));
    this.vals = Float64Array.from(order, (k) => vals[k] as number);
    this.offs = Uint32Array.from(order, (k) => offs[k] as number);
    this.dirty.clear();
  }

  private startIndex(range: RangeBounds): number {
    const a = range.gte === null ? 0 : this.lowerBound(range.gte);
    const b = range.gt === null ? 0 : this.upperBound(range.gt);
    return Math.max(a, b);
  }

  /** First index whose value is >= x. */
  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.vals.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.vals[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose value is > x. */
  private upperBound(x: number): number {
    let lo = 0;
    let hi = this.vals.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.vals[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
