// How many of a segment's live points a filter keeps, estimated from what the payload indexes
// (and the id map) know, without checking any point. The search planner picks an exact scan or
// a graph walk from it. Each estimate is a range with a guess inside: `min` and `max` are bounds
// that hold for any data (given exact counts for the conditions an index answers), `exp` is what
// the combination gives when the conditions are independent.
//
//   a condition an index answers: its exact count (min = exp = max)
//   any other condition: nothing known (0, total / 2, total)
//   must (all of n): min = max(0, sum of mins - (n - 1) x total), exp = total x product of
//     fractions, max = smallest max
//   should (any of n): min = largest min, exp = total x (1 - product of (1 - fraction)),
//     max = min(total, sum of maxes)
//   must_not: each condition's complement (total - max, total - exp, total - min), then as must
//   min_should (at least k of n): min = 0 unless k = 1 (then as should), max = min(total,
//     floor(sum of maxes / k)), exp = the should guess, within the bounds
import type { Condition, Filter } from '@shoal/common';

export interface Cardinality {
  /** No fewer points pass. */
  readonly min: number;
  /** The guess, min <= exp <= max. */
  readonly exp: number;
  /** No more points pass. */
  readonly max: number;
}

export interface CardinalitySources {
  /** Live points of the segment. */
  readonly total: number;
  /** Exact count of live points satisfying the condition, or null when no index answers it. */
  count(condition: Condition): number | null;
}

export function exactly(n: number): Cardinality {
  return { min: n, exp: n, max: n };
}

export function estimateFilter(filter: Filter, sources: CardinalitySources): Cardinality {
  const total = sources.total;
  const parts: Cardinality[] = filter.must.map((c) => estimateCondition(c, sources));
  for (const c of filter.mustNot) parts.push(complement(estimateCondition(c, sources), total));
  if (filter.should.length > 0) parts.push(anyOf(filter.should.map((c) => estimateCondition(c, sources)), total));
  if (filter.minShould !== null) {
    const { conditions, minCount } = filter.minShould;
    parts.push(atLeast(conditions.map((c) => estimateCondition(c, sources)), minCount, total));
  }
  return allOf(parts, total);
}

function estimateCondition(condition: Condition, sources: CardinalitySources): Cardinality {
  if (condition.kind === 'filter') return estimateFilter(condition.filter, sources);
  const n = sources.count(condition);
  return n === null ? unknown(sources.total) : exactly(Math.min(n, sources.total));
}

function unknown(total: number): Cardinality {
  return { min: 0, exp: total / 2, max: total };
}

function complement(c: Cardinality, total: number): Cardinality {
  return { min: total - c.max, exp: total - c.exp, max: total - c.min };
}

/** Every part holds (no parts: every point). */
export function allOf(parts: readonly Cardinality[], total: number): Cardinality {
  if (parts.length === 0) return exactly(total);
  if (total === 0) return exactly(0);
  let sumMin = 0;
  let fraction = 1;
  let max = total;
  for (const p of parts) {
    sumMin += p.min;
    fraction *= p.exp / total;
    max = Math.min(max, p.max);
  }
  const min = Math.max(0, sumMin - (parts.length - 1) * total);
  return bounded(min, total * fraction, max);
}

/** At least one part holds (the parts are not empty). */
export function anyOf(parts: readonly Cardinality[], total: number): Cardinality {
  if (total === 0) return exactly(0);
  let min = 0;
  let sumMax = 0;
  let missed = 1;
  for (const p of parts) {
    min = Math.max(min, p.min);
    sumMax += p.max;
    missed *= 1 - p.exp / total;
  }
  return bounded(min, total * (1 - missed), Math.min(total, sumMax));
}

function atLeast(parts: readonly Cardinality[], k: number, total: number): Cardinality {
  if (k <= 0) return exactly(total);
  if (k > parts.length) return exactly(0);
  if (k === 1) return anyOf(parts, total);
  const sumMax = parts.reduce((sum, p) => sum + p.max, 0);
  const max = Math.min(total, Math.floor(sumMax / k));
  return bounded(0, anyOf(parts, total).exp, max);
}

/** The guess clamped into [min, max]. */
function bounded(min: number, exp: number, max: number): Cardinality {
  return { min, exp: Math.min(max, Math.max(min, exp)), max };
}
