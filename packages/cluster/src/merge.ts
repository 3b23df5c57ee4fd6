// Merging the answers of several shards into one.
import { comparePointIds, pointKey, type FacetHit, type OrderDirection, type PointId, type Record_ } from '@shoal/common';
import type { OrderedRecord, ScrollPage } from '@shoal/segment';
import type { ScrollResult } from './contract.js';

/** Pages of the same scroll from each shard -> one page in id order with the global next offset. */
export function mergeScroll(pages: readonly ScrollPage[], limit: number): ScrollResult {
  if (pages.length === 1) return { points: pages[0]!.points, nextPageOffset: pages[0]!.nextOffset };
  // A point id can live under several shard keys (custom sharding): each id once, as Qdrant answers.
  const all = pages.flatMap((page) => page.points).sort((a, b) => comparePointIds(a.id, b.id)).filter((p, i, sorted) => i === 0 || comparePointIds(sorted[i - 1]!.id, p.id) !== 0);
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



// ----- answers of several replicas of one shard (read consistency above 1)

/**
 * Records present in at least `threshold` of the replicas' answers, in the order of the first
 * answer that has them (taken from that answer). With threshold = answers this is "present on all
 * of them"; with a majority, Qdrant's quorum.
 */
export function resolveById<T extends Record_>(answers: readonly (readonly T[])[], threshold: number): T[] {
  const seen = new Map<number | string, { item: T; count: number }>();
  const order: (number | string)[] = [];
  for (const answer of answers) {
    const inThis = new Set<number | string>();
    for (const item of answer) {
      const key = pointKey(item.id);
      if (inThis.has(key)) continue;
      inThis.add(key);
      const entry = seen.get(key);
      if (entry === undefined) {
        seen.set(key, { item, count: 1 });
        order.push(key);
      } else entry.count += 1;
    }
  }
  return order.map((k) => seen.get(k)!).filter((e) => e.count >= threshold).map((e) => e.item);
}

/** Scroll pages of one shard from several replicas: the agreed points, and the earliest next offset. */
export function resolveScrollPages(pages: readonly ScrollPage[], threshold: number): ScrollPage {
  let next: PointId | null = null;
  for (const page of pages) {
    if (page.nextOffset !== null && (next === null || comparePointIds(page.nextOffset, next) < 0)) next = page.nextOffset;
  }
  const points = resolveById(pages.map((p) => p.points), threshold).sort((a, b) => comparePointIds(a.id, b.id));
  return { points, nextOffset: next };
}

/** The count that at least `threshold` replicas reach (the smallest one when all must agree). */
export function resolveCount(counts: readonly number[], threshold: number): number {
  const sorted = [...counts].sort((a, b) => b - a);
  return sorted[Math.min(threshold, sorted.length) - 1] ?? 0;
}

/** Per value, the count that at least `threshold` replicas reach. */
export function resolveFacets(answers: readonly (readonly FacetHit[])[], threshold: number): FacetHit[] {
  const byValue = new Map<string, { value: FacetHit['value']; counts: number[] }>();
  for (const answer of answers) {
    for (const hit of answer) {
      const key = `${typeof hit.value}:${String(hit.value)}`;
      const entry = byValue.get(key) ?? { value: hit.value, counts: [] };
      entry.counts.push(hit.count);
      byValue.set(key, entry);
    }
  }
  const out: FacetHit[] = [];
  for (const { value, counts } of byValue.values()) {
    if (counts.length < threshold) continue;
    out.push({ value, count: resolveCount(counts, threshold) });
  }
  return out.sort((a, b) => b.count - a.count || compareFacetValues(a.value, b.value));
}
export { pointKey };
