// Merging the answers of several shards into one.
import { comparePointIds, pointKey, type FacetHit, type OrderDirection, type PointId, type Record_ } from '@shoal/common';
import type { OrderedRecord, ScrollPage } from '@shoal/segment';
import type { ScrollResult } from './contract.js';

/** Pages of the same scroll from each shard -> one page in id order with the global next offset. */
export function mergeScroll(pages: readonly ScrollPage[], limit: number): ScrollResult {
  if (pages.length === 1) return { points: pages[0]!.points, nextPageOffset: pages[0]!.nextOffset };
  const all = pages.flatMap((page) => page.points).sort((a, b) => comparePointIds(a.id, b.id));
  let next: PointId | null = all[limit]?.id ?? null;
  for (const page of pages) {
    if (page.nextOffset !== null && (next === null || comparePointIds(page.nextOffset, next) < 0)) next = page.nextOffset;
  }
  return { points: all.slice(0, limit), nextPageOffset: next };
}

export function mergeOrdered(lists: readonly (readonly OrderedRecord[])[], direction: OrderDirection, limit: number): Record_[] {
  const sign = direction === 'asc' ? 1 : -1;
  const all = lists.flat();
  if (lists.length > 1) all.sort((a, b) => sign * (a.orderValue - b.orderValue) || comparePointIds(a.id, b.id));
  return all.slice(0, limit);
}

/** Counts per value summed over shards; largest first, then by value. */
export function mergeFacets(lists: readonly (readonly FacetHit[])[], limit: number): FacetHit[] {
  if (lists.length === 1) return lists[0]!.slice(0, limit);
  const counts = new Map<string, FacetHit>();
  for (const hit of lists.flat()) {
    const key = `${typeof hit.value}:${String(hit.value)}`;
    const prev = counts.get(key);
    counts.set(key, { value: hit.value, count: (prev?.count ?? 0) + hit.count });
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || compareFacetValues(a.value, b.value)).slice(0, limit);
}

function compareFacetValues(a: FacetHit['value'], b: FacetHit['value']): number {
  if (typeof a === typeof b || (typeof a !== 'string' && typeof b !== 'string' && typeof a !== 'boolean' && typeof b !== 'boolean')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return String(a) < String(b) ? -1 : 1;
}

export { pointKey };
