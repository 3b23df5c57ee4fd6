// The segments of one shard: one appendable segment that takes every write, and frozen or sealed
// segments that take only deletes (tombstones). A point lives in exactly one segment. Updating a
// point that sits in a frozen or sealed segment copies it into the appendable segment first and
// tombstones the old copy (copy-on-write); an operation by filter resolves its matching ids in
// every segment before anything changes, so it is applied as one deterministic set of ids.
//
// Reads ask every segment and merge: search by score then point id, scroll by id, counts and
// facets by summing, so the answer does not depend on how points are spread over segments.
import {
  comparePointIds,
  pointKey,
  type FacetHit,
  type Filter,
  type PointId,
  type PointOperation,
  type Record_,
  type ScoredPoint,
  type WithPayload,
  type WithVector,
} from '@shoal/common';
import {
  DenseSpace,
  Segment,
  compareFacetHits,
  vectorKb,
  type ApplyResult,
  type FacetParams,
  type OrderedRecord,
  type OrderedScrollParams,
  type PayloadIndexInfo,
  type ScrollPage,
  type ScrollParams,
  type SearchParams,
  type SegmentOptions,
  type SegmentSchema,
  type SegmentStats,
} from '@shoal/segment';

/** A sealed segment's files, relative to the shard's segments directory. */
export interface SegmentFiles {
  /** Ids, payloads and which points hold each vector. */
  readonly points: string;
  /** One DenseIndex file per vector name. */
  readonly dense: ReadonlyMap<string, string>;
}

export interface SetEntry {
  /** Names the segment's files; unique within the shard, never reused. */
  readonly number: number;
  segment: Segment;
  /** frozen: a former appendable segment not yet written as a sealed one. */
  state: 'frozen' | 'sealed';
  files: SegmentFiles | null;
  /** Lists that collect the ids tombstoned here, one per job that copies this segment. */
  readonly recorders: Set<PointId[]>;
  /** A job reads this segment; no second job may take it. */
  busy: boolean;
}

export class SegmentSet {
  readonly entries: SetEntry[] = [];

  constructor(
    readonly schema: SegmentSchema,
    private readonly segmentOptions: SegmentOptions,
    public appendable: Segment = new Segment(schema, segmentOptions),
  ) {}

  /** Every segment, the appendable one last. */
  segments(): Segment[] {
    return [...this.entries.map((e) => e.segment), this.appendable];
  }

  /** Freeze the appendable segment into a new entry; a fresh appendable segment takes writes. */
  freeze(number: number): SetEntry {
    this.appendable.freeze();
    const entry: SetEntry = { number, segment: this.appendable, state: 'frozen', files: null, recorders: new Set(), busy: false };
    this.entries.push(entry);
    this.appendable = new Segment(this.schema, this.segmentOptions);
    for (const { field, params } of entry.segment.indexDefinitions()) this.appendable.apply({ kind: 'create_field_index', field, params });
    return entry;
  }

  // ---------------------------------------------------------------------------------------
  // Writes

  apply(op: PointOperation): ApplyResult {
    switch (op.kind) {
      case 'upsert':
        for (const point of op.points) this.tombstoneOutsideAppendable([point.id]);
        return this.appendable.apply(op);
      case 'delete_points': {
        const ids = op.selector.kind === 'ids' ? op.selector.ids : this.idsMatching(op.selector.filter);
        this.tombstoneOutsideAppendable(ids);
        return this.appendable.apply({ kind: 'delete_points', selector: { kind: 'ids', ids } });
      }
      case 'update_vectors':
        for (const point of op.points) this.moveToAppendable(point.id);
        return this.appendable.apply(op);
      case 'create_field_index':
      case 'delete_field_index':
        for (const segment of this.segments()) segment.apply(op);
        return { ok: true };
      default: {
        // Payload changes and vector deletes: copy the targets into the appendable segment,
        // then change them there.
        const selector = op.selector;
        const ids = selector.kind === 'ids' ? selector.ids : this.idsMatching(selector.filter);
        for (const id of ids) this.moveToAppendable(id);
        return this.appendable.apply(selector.kind === 'ids' ? op : { ...op, selector: { kind: 'ids', ids } });
      }
    }
  }

  /** Ids passing `filter` in every segment, resolved before anything changes. */
  private idsMatching(filter: Filter): PointId[] {
    return this.segments().flatMap((segment) => segment.idsMatching(filter));
  }

  private holder(id: PointId): { entry: SetEntry; offset: number } | null {
    for (const entry of this.entries) {
      const offset = entry.segment.offsetOfId(id);
      if (offset !== undefined) return { entry, offset };
    }
    return null;
  }

  private tombstoneOutsideAppendable(ids: readonly PointId[]): void {
    for (const entry of this.entries) {
      const present = ids.filter((id) => entry.segment.offsetOfId(id) !== undefined);
      if (present.length > 0) this.tombstone(entry, present);
    }
  }

  /** Tombstone `ids` (all present) in a frozen or sealed segment, telling the jobs that copy it. */
  private tombstone(entry: SetEntry, ids: readonly PointId[]): void {
    entry.segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids } });
    for (const recorder of entry.recorders) recorder.push(...ids);
  }

  /** Copy-on-write: a point held by a frozen or sealed segment moves to the appendable one. */
  private moveToAppendable(id: PointId): void {
    const found = this.holder(id);
    if (found === null) return;
    const { entry, offset } = found;
    const segment = entry.segment;
    const rows = new Map<string, Float32Array>();
    for (const name of this.schema.vectors.keys()) {
      const space = segment.space(name);
      if (space !== undefined && space.has(offset)) rows.set(name, space.get(offset));
    }
    const payload = segment.payloadAt(offset);
    this.tombstone(entry, [id]);
    this.appendable.restorePoint(id, rows, payload);
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  has(id: PointId): boolean {
    return this.segments().some((segment) => segment.has(id));
  }

  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[] {
    const found = new Map<number | string, Record_>();
    for (const segment of this.segments()) {
      for (const record of segment.retrieve(ids, withPayload, withVector)) found.set(pointKey(record.id), record);
    }
    const out: Record_[] = [];
    for (const id of ids) {
      const key = pointKey(id);
      const record = found.get(key);
      if (record === undefined) continue;
      found.delete(key);
      out.push(record);
    }
    return out;
  }

  /**
   * Top (offset + limit) of every segment, merged by score then point id. `indexedOnly` skips
   * segments that should have a graph for this vector (at least `indexingThresholdKb`) but do
   * not have one yet (Qdrant's search_params.indexed_only).
   */
  search(params: SearchParams, indexingThresholdKb: number): ScoredPoint[] {
    const depth = params.limit + params.offset;
    if (depth <= 0) return [];
    const lists: ScoredPoint[][] = [];
    for (const segment of this.segments()) {
      if (params.indexedOnly === true && !searchableWhenIndexedOnly(segment, params.vectorName, indexingThresholdKb)) continue;
      lists.push(segment.search({ ...params, offset: 0, limit: depth }));
    }
    const distance = this.schema.vectors.get(params.vectorName)?.distance;
    const ascending = distance === 'Euclid' || distance === 'Manhattan';
    const merged = lists.flat();
    merged.sort((a, b) => (ascending ? a.score - b.score : b.score - a.score) || comparePointIds(a.id, b.id));
    return merged.slice(params.offset, depth);
  }

  scroll(params: ScrollParams): ScrollPage {
    const pages = this.segments().map((segment) => segment.scroll(params));
    const points = pages.flatMap((page) => page.points).sort((a, b) => comparePointIds(a.id, b.id));
    let next: PointId | null = points[params.limit]?.id ?? null;
    for (const page of pages) {
      if (page.nextOffset !== null && (next === null || comparePointIds(page.nextOffset, next) < 0)) next = page.nextOffset;
    }
    return { points: points.slice(0, params.limit), nextOffset: next };
  }

  scrollOrdered(params: OrderedScrollParams): OrderedRecord[] {
    const desc = params.orderBy.direction === 'desc';
    const records = this.segments().flatMap((segment) => segment.scrollOrdered(params));
    records.sort((a, b) => (desc ? b.orderValue - a.orderValue : a.orderValue - b.orderValue) || comparePointIds(a.id, b.id));
    return records.slice(0, Math.max(0, params.limit));
  }

  count(filter: Filter | null): number {
    let total = 0;
    for (const segment of this.segments()) total += segment.count(filter);
    return total;
  }

  facet(params: FacetParams): FacetHit[] {
    const counts = new Map<string, FacetHit>();
    for (const segment of this.segments()) {
      for (const hit of segment.facet({ ...params, limit: Number.MAX_SAFE_INTEGER })) {
        const key = `${typeof hit.value === 'bigint' ? 'number' : typeof hit.value}:${String(hit.value)}`;
        const seen = counts.get(key);
        counts.set(key, { value: seen?.value ?? hit.value, count: (seen?.count ?? 0) + hit.count });
      }
    }
    return [...counts.values()].sort(compareFacetHits).slice(0, Math.max(0, params.limit));
  }

  /** Every segment holds the same index definitions; points are summed. */
  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo> {
    const out = new Map<string, PayloadIndexInfo>();
    for (const segment of this.segments()) {
      for (const [field, info] of segment.payloadIndexes()) {
        out.set(field, { params: info.params, points: (out.get(field)?.points ?? 0) + info.points });
      }
    }
    return out;
  }

  stats(): SegmentStats & { readonly segments: number; readonly indexedVectors: number } {
    let points = 0;
    let payloadBytesApprox = 0;
    let vectorBytes = 0;
    let indexedVectors = 0;
    const vectors = new Map<string, number>();
    const vectorBytesByName = new Map<string, number>();
    for (const segment of this.segments()) {
      const stats = segment.stats();
      points += stats.points;
      payloadBytesApprox += stats.payloadBytesApprox;
      vectorBytes += stats.vectorBytes;
      for (const [name, count] of stats.vectors) vectors.set(name, (vectors.get(name) ?? 0) + count);
      for (const [name, bytes] of stats.vectorBytesByName ?? []) vectorBytesByName.set(name, (vectorBytesByName.get(name) ?? 0) + bytes);
      indexedVectors += indexedVectorCount(segment);
    }
    return { points, vectors, payloadBytesApprox, vectorBytes, vectorBytesByName, segments: this.entries.length + 1, indexedVectors };
  }
}

/** Live vectors of `segment` that sit in an HNSW graph. */
export function indexedVectorCount(segment: Segment): number {
  let count = 0;
  for (const name of segment.schema.vectors.keys()) {
    const space = segment.space(name);
    if (space instanceof DenseSpace && space.indexed) count += space.size;
  }
  return count;
}

/** The largest of a segment's named vectors, KB (Qdrant sizes segments by their largest vector). */
export function segmentVectorKb(segment: Segment): number {
  let kb = 0;
  for (const [name, params] of segment.schema.vectors) {
    kb = Math.max(kb, vectorKb(segment.space(name)?.size ?? 0, params.size));
  }
  return kb;
}

function searchableWhenIndexedOnly(segment: Segment, vectorName: string, indexingThresholdKb: number): boolean {
  const space = segment.space(vectorName);
  if (space === undefined || indexingThresholdKb === 0) return true;
  if (space instanceof DenseSpace && space.indexed) return true;
  return vectorKb(space.size, space.dim) < indexingThresholdKb;
}
