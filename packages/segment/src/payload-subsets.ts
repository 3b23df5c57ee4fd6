// Which points get a subset graph (Qdrant's payload_m): the payload blocks of the keyword and
// integer indexes, one per value held by at least a minimum number of points (Qdrant builds them
// for values at or above full_scan_threshold: smaller ones are scanned, never walked). A block
// becomes a DenseSubset of index ids named by subsetKey(field, value); the index keeps the names,
// and a search whose filter selects one linked value walks its links only (search-plan.ts).
import type { Payload, PayloadIndexParams } from '@shoal/common';
import type { DenseSubset } from './dense/contract.js';
import { PAYLOAD_SUBSET_POINTS_MIN, PAYLOAD_SUBSETS_MAX } from './limits.js';
import { FieldIndex } from './payload-index.js';
import type { LookupKey } from './payload-index.js';

/** The name of one payload value's subset: stable across versions (it is stored in index files). */
export function subsetKey(field: string, key: LookupKey): string {
  return JSON.stringify([field, key]);
}

/** Smallest block that gets a subset graph, points: the full-scan threshold, at least the floor. */
export function subsetPointsMin(fullScanPoints: number): number {
  return Math.max(PAYLOAD_SUBSET_POINTS_MIN, fullScanPoints);
}

/**
 * The blocks of `indexes` of at least `minPoints` points that have the vector, as index ids
 * (`idOf[offset]`, -1: no vector), ascending; the largest PAYLOAD_SUBSETS_MAX of them, in key
 * order.
 */
export function subsetsOfIndexes(indexes: Iterable<FieldIndex>, idOf: Int32Array, minPoints: number): DenseSubset[] {
  const out: DenseSubset[] = [];
  for (const index of indexes) {
    for (const block of index.blocks(minPoints)) {
      const ids: number[] = [];
      for (const offset of block.offsets) {
        const id = offset < idOf.length ? (idOf[offset] as number) : -1;
        if (id >= 0) ids.push(id);
      }
      if (ids.length < minPoints) continue;
      out.push({ key: subsetKey(index.field, block.key), ids: Uint32Array.from(ids).sort() });
    }
  }
  out.sort((a, b) => b.ids.length - a.ids.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const kept = out.slice(0, PAYLOAD_SUBSETS_MAX);
  return kept.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The same blocks computed from payloads (`payloads[i]` is the point at offset i), for a build
 * that has the points but no payload indexes over them yet.
 */
export function payloadSubsets(
  payloads: readonly Payload[],
  idOf: Int32Array,
  definitions: readonly { readonly field: string; readonly params: PayloadIndexParams }[],
  minPoints: number,
): DenseSubset[] {
  const indexes = definitions
    .filter((d) => d.params.type === 'keyword' || (d.params.type === 'integer' && d.params.lookup !== false))
    .map((d) => new FieldIndex(d.field, d.params));
  if (indexes.length === 0) return [];
  payloads.forEach((payload, offset) => {
    for (const index of indexes) index.update(offset, payload);
  });
  return subsetsOfIndexes(indexes, idOf, minPoints);
}
