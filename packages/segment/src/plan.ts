// Turning a filter into the set of points it selects, once per request: `must` conditions that a
// payload index (or the id map, for has_id) answers exactly become sorted offset lists, which are
// intersected; what is left is compiled into a predicate checked per candidate.
import type { Condition, Filter } from '@shoal/common';
import { compileFilter } from './filter.js';
import type { PointFacts, Predicate } from './filter.js';
import type { FieldIndex } from './payload-index.js';
import { intersectSorted } from './sorted.js';

export interface Plan {
  /** Offsets that may match, ascending; null: every live point may. */
  readonly candidates: Uint32Array | null;
  /** Checked on each candidate; null: nothing left to check. */
  readonly residual: Predicate | null;
  /** The part of the filter `residual` checks (for estimating its cardinality); null: none. */
  readonly rest: Filter | null;
}

export interface PlanSources extends PointFacts {
  index(field: string): FieldIndex | undefined;
  /** Sorted offsets of the ids that exist. */
  offsetsOfIds(ids: Condition & { kind: 'has_id' }): Uint32Array;
}

export const EVERYTHING: Plan = { candidates: null, residual: null, rest: null };

export function planFilter(filter: Filter | null, sources: PlanSources): Plan {
  if (filter === null) return EVERYTHING;
  let candidates: Uint32Array | null = null;
  const rest: Condition[] = [];
  for (const condition of filter.must) {
    const served = fromIndex(condition, sources);
    if (served === null) rest.push(condition);
    else candidates = candidates === null ? served : intersectSorted(candidates, served);
  }
  const residualFilter: Filter = { ...filter, must: rest };
  const empty =
    rest.length === 0 && filter.should.length === 0 && filter.mustNot.length === 0 && filter.minShould === null;
  return { candidates, residual: empty ? null : compileFilter(residualFilter, sources), rest: empty ? null : residualFilter };
}

function fromIndex(condition: Condition, sources: PlanSources): Uint32Array | null {
  switch (condition.kind) {
    case 'has_id':
      return sources.offsetsOfIds(condition);
    case 'match':
      return sources.index(condition.key)?.lookupMatch(condition.value) ?? null;
    case 'match_any':
      return sources.index(condition.key)?.lookupAny(condition.values) ?? null;
    case 'range':
      return sources.index(condition.key)?.lookupRange(condition.range, false) ?? null;
    case 'datetime_range':
      return sources.index(condition.key)?.lookupRange(condition.range, true) ?? null;
    default:
      return null;
  }
}
