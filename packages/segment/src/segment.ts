// One segment of a shard: the appendable one that takes writes, a frozen one (a former appendable
// segment waiting to be sealed) or a sealed one (vectors in DenseIndexes, built by the optimizer).
//
// Points live at internal offsets (0, 1, 2, … in order of first insertion). Upserting an existing
// id rewrites its offset in place. Deleting marks the offset dead; dead offsets are not reused, and
// once they outnumber the live ones (and there are at least COMPACT_DEAD_MIN) the segment compacts:
// live points move down preserving their order, and indexes are rebuilt. Order is what breaks score
// ties, and compaction (like a serialise / load round trip) keeps it, so results never depend on
// when compaction ran.
//
// Stored payloads are never mutated after they are stored (updates build a new object), so reads
// hand them out without copying; callers must not mutate what they receive.
//
// A frozen or sealed segment takes only deletes and payload-index changes (the shard moves a point
// it updates into the appendable segment). A delete there is a tombstone: the offset stops being
// live, but its row and payload stay as they were, because the optimizer may still be copying the
// segment, and offsets are never renumbered (no compaction), so tombstones recorded by offset or
// by id stay valid until the segment is replaced.
//
// Score ties are broken by point id everywhere: sealed segments hold their points in id order, and
// the appendable one ranks equal scores by id, so a result never depends on which segment a point
// sits in.
import { ShoalError, assert, comparePointIds, pointKey, unreachable } from '@shoal/common';
import type { DenseSearchOptions } from './dense/contract.js';
import { DenseSpace } from './dense-space.js';
import type { AllowedIds } from './dense-space.js';
import type {
  FacetHit,
  Condition,
  Filter,
  JsonObject,
  NamedVectors,
  Payload,
  PayloadIndexParams,
  PointId,
  PointKey,
  PointOperation,
  PointsSelector,
  PointStruct,
  PointVectors,
  Record_,
  ScoredPoint,
  WithPayload,
  WithVector,
} from '@shoal/common';
import type {
  ApplyResult,
  FacetParams,
  OrderedRecord,
  OrderedScrollParams,
  PayloadIndexInfo,
  ScrollPage,
  ScrollParams,
  SearchParams,
  SegmentContract,
  SegmentSchema,
  SegmentImageCapture,
  SegmentStats,
} from './contract.js';
import { encodeImage, encodeImageInSteps } from './image.js';
import type { ImageContent, ImageVectors } from './image.js';
import { approxJsonBytes, cloneJson } from './json.js';
import { passesThreshold, scoreOfKey } from './kernels.js';
import { storedForm } from './datatype.js';
import { parseJsonPath, projectPayload, removeAtPath, setAtPath } from './path.js';
import { FieldIndex } from './payload-index.js';
import type { FacetValue } from './payload-index.js';
import { EVERYTHING, planFilter } from './plan.js';
import type { Plan, PlanSources } from './plan.js';
import { allOf, estimateFilter, exactly } from './cardinality.js';
import type { Cardinality, CardinalitySources } from './cardinality.js';
import type { DenseSubset } from './dense/contract.js';
import { ALLOWED_CACHE_POINTS_MIN } from './limits.js';
import { subsetKey, subsetsOfIndexes } from './payload-subsets.js';
import { chooseSearchPath } from './search-plan.js';
import type { SearchChoice } from './search-plan.js';
import { sortUnique } from './sorted.js';
import { TopK } from './topk.js';
import type { TieAfter } from './topk.js';
import { VectorStore } from './vector-store.js';
import type { VectorStoreOptions } from './vector-store.js';

/** Dead offsets tolerated before compaction is considered (below this, compaction is not worth it). */
export const COMPACT_DEAD_MIN = 4096;
/** Qdrant's default hnsw_config.full_scan_threshold, KB, used when a search does not say. */
const FULL_SCAN_THRESHOLD_KB_DEFAULT = 10_000;
const EMPTY_PAYLOAD: Payload = Object.freeze({}) as Payload;

/** How a segment keeps its vectors; the defaults are what a server runs with. */
export type SegmentOptions = VectorStoreOptions;

/** A named vector's storage: rows in a VectorStore (appendable, frozen) or a DenseIndex (sealed). */
export type SegmentSpace = VectorStore | DenseSpace;

/** Results of one segment's search: keys (larger is better) and offsets, best first. */
interface Found {
  readonly keys: ArrayLike<number>;
  readonly offsets: ArrayLike<number>;
}

/** What the planner chose for one search over a sealed space, and from what. */
export interface SearchExplanation extends SearchChoice {
  /** The filter's cardinality as the planner saw it (min = max once counted); null: no filter. */
  readonly cardinality: Cardinality | null;
}

export class Segment implements SegmentContract {
  private readonly stores = new Map<string, SegmentSpace>();
  /** Takes only deletes (tombstones) and payload-index changes; never compacts. */
  private frozen = false;
  /** Rows a frozen VectorStore still holds for tombstoned points, per vector name. */
  private readonly deadRows = new Map<string, number>();
  /** Equal scores rank by point id. */
  private readonly tieAfter: TieAfter = (a, b) => comparePointIds(this.ids[a] as PointId, this.ids[b] as PointId) > 0;
  private ids: PointId[] = [];
  private live = new Uint8Array(64);
  private used = 0;
  private liveCount = 0;
  private readonly offsetOf = new Map<PointKey, number>();
  private payloads: Payload[] = [];
  private readonly indexes = new Map<string, FieldIndex>();
  /** Offsets in id order (may include dead ones, skipped on read); null until next needed. */
  private idOrder: number[] | null = [];
  private payloadBytes = 0;
  private readonly sources: PlanSources;
  private readonly countCondition: CardinalitySources['count'];

  constructor(
    readonly schema: SegmentSchema,
    private readonly options: SegmentOptions = {},
  ) {
    for (const [name, params] of schema.vectors) this.stores.set(name, new VectorStore(params, options));
    this.sources = {
      idKeyAt: (offset) => pointKey(this.ids[offset] as PointId),
      hasVector: (name, offset) => this.stores.get(name)?.has(offset) ?? false,
      index: (field) => this.indexes.get(field),
      offsetsOfIds: (condition) => this.offsetsOf(condition.ids),
    };
    this.countCondition = (condition) => this.countByIndex(condition);
  }

  /**
   * A sealed segment over prepared dense spaces (one per vector name of the schema, each mapping
   * offsets 0..n-1); points are then added in ascending id order with appendSealedPoint().
   */
  static sealed(schema: SegmentSchema, spaces: ReadonlyMap<string, DenseSpace>, options: SegmentOptions = {}): Segment {
    const segment = new Segment(schema, options);
    assert(spaces.size === schema.vectors.size, 'a sealed segment has a space per vector name');
    for (const name of schema.vectors.keys()) {
      const space = spaces.get(name);
      assert(space !== undefined, `no dense space for vector ${JSON.stringify(name)}`);
      segment.stores.set(name, space);
    }
    segment.frozen = true;
    return segment;
  }

  // ------------------------------------------------------------------------------------------
  // Writes

  /** From now on only deletes (as tombstones) and payload-index changes apply. */
  freeze(): void {
    this.frozen = true;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  apply(op: PointOperation): ApplyResult {
    if (this.frozen) return this.applyFrozen(op);
    switch (op.kind) {
      case 'upsert':
        this.reserveRows(op.points);
        for (const point of op.points) this.upsertPoint(point);
        return OK;
      case 'delete_points':
        for (const offset of this.selectForDelete(op.selector)) this.removeOffset(offset);
        this.maybeCompact();
        return OK;
      case 'set_payload': {
        const path = op.key === null ? null : parseJsonPath(op.key);
        return this.updatePayloads(op.selector, (old) => {
          const next = path === null ? { ...old } : cloneJson(old);
          setAtPath(next, path, op.payload);
          return next;
        });
      }
      case 'overwrite_payload':
        return this.updatePayloads(op.selector, () => cloneJson(op.payload));
      case 'delete_payload': {
        const paths = op.keys.map(parseJsonPath);
        return this.updatePayloads(op.selector, (old) => {
          const next = cloneJson(old);
          for (const path of paths) removeAtPath(next, path);
          return next;
        });
      }
      case 'clear_payload':
        return this.updatePayloads(op.selector, () => EMPTY_PAYLOAD);
      case 'update_vectors':
        return this.updateVectors(op.points);
      case 'delete_vectors':
        return this.deleteVectors(op.selector, op.vectorNames);
      case 'create_field_index':
        this.createIndex(op.field, op.params);
        return OK;
      case 'delete_field_index':
        this.indexes.delete(op.field);
        return OK;
      default:
        return unreachable(op, 'unknown point operation');
    }
  }

  private applyFrozen(op: PointOperation): ApplyResult {
    switch (op.kind) {
      case 'delete_points':
        for (const offset of this.selectForDelete(op.selector)) this.tombstone(offset);
        return OK;
      case 'create_field_index':
        this.createIndex(op.field, op.params);
        return OK;
      case 'delete_field_index':
        this.indexes.delete(op.field);
        return OK;
      default:
        return assert(false, `a frozen segment takes no ${op.kind}`) as never;
    }
  }

  /** Delete in a frozen segment: the offset stops being live; its row and payload stay. */
  private tombstone(offset: number): void {
    if (this.live[offset] !== 1) return;
    this.live[offset] = 0;
    this.liveCount--;
    this.offsetOf.delete(pointKey(this.ids[offset] as PointId));
    for (const [name, space] of this.stores) {
      if (!space.has(offset)) continue;
      if (space instanceof DenseSpace) space.remove(offset);
      else this.deadRows.set(name, (this.deadRows.get(name) ?? 0) + 1);
    }
    const old = this.payloads[offset];
    if (old !== undefined && old !== EMPTY_PAYLOAD) this.payloadBytes -= approxJsonBytes(old);
    for (const index of this.indexes.values()) index.update(offset, undefined);
  }

  /** The VectorStore of an appendable segment (writes never reach a sealed space). */
  private writable(name: string): VectorStore | undefined {
    const space = this.stores.get(name);
    assert(space === undefined || space instanceof VectorStore, 'vectors are only written to an appendable segment');
    return space;
  }

  /**
   * Room in every vector space for the points about to be written, so that a batch over the
   * wasm32 memory cap fails as a whole, before anything changes.
   */
  private reserveRows(points: readonly PointStruct[]): void {
    let fresh = 0;
    const names = new Set<string>();
    for (const point of points) {
      if (!this.offsetOf.has(pointKey(point.id))) fresh++;
      for (const name of point.vectors.keys()) names.add(name);
    }
    for (const name of names) this.writable(name)?.reserve(this.used + fresh);
  }

  private upsertPoint(point: PointStruct): void {
    for (const [name, vector] of point.vectors) {
      assert(this.stores.get(name)?.dim === vector.length, `vector ${JSON.stringify(name)} does not fit the schema`);
    }
    const key = pointKey(point.id);
    let offset = this.offsetOf.get(key);
    if (offset === undefined) offset = this.allocate(point.id, key);
    for (const name of this.stores.keys()) {
      const store = this.writable(name) as VectorStore;
      const vector = point.vectors.get(name);
      if (vector === undefined) store.remove(offset);
      else store.set(offset, vector);
    }
    this.setPayload(offset, point.payload === null ? EMPTY_PAYLOAD : cloneJson(point.payload));
  }

  private allocate(id: PointId, key: PointKey): number {
    const offset = this.used++;
    if (offset >= this.live.length) {
      const live = new Uint8Array(this.live.length * 2);
      live.set(this.live);
      this.live = live;
    }
    this.live[offset] = 1;
    this.liveCount++;
    this.ids[offset] = id;
    this.payloads[offset] = EMPTY_PAYLOAD;
    this.offsetOf.set(key, offset);
    this.noteNewId(offset);
    return offset;
  }

  /** Keep the id order cache when ids arrive ascending (the common case), else drop it. */
  private noteNewId(offset: number): void {
    if (this.idOrder === null) return;
    const last = this.idOrder[this.idOrder.length - 1];
    if (last === undefined || comparePointIds(this.ids[last] as PointId, this.ids[offset] as PointId) < 0) {
      this.idOrder.push(offset);
    } else {
      this.idOrder = null;
    }
  }

  private setPayload(offset: number, payload: Payload): void {
    const old = this.payloads[offset];
    if (old !== undefined && old !== EMPTY_PAYLOAD) this.payloadBytes -= approxJsonBytes(old);
    if (payload !== EMPTY_PAYLOAD) this.payloadBytes += approxJsonBytes(payload);
    this.payloads[offset] = payload;
    for (const index of this.indexes.values()) index.update(offset, payload);
  }

  private removeOffset(offset: number): void {
    if (this.live[offset] !== 1) return;
    this.live[offset] = 0;
    this.liveCount--;
    this.offsetOf.delete(pointKey(this.ids[offset] as PointId));
    for (const store of this.stores.values()) store.remove(offset);
    const old = this.payloads[offset];
    if (old !== undefined && old !== EMPTY_PAYLOAD) this.payloadBytes -= approxJsonBytes(old);
    this.payloads[offset] = EMPTY_PAYLOAD;
    for (const index of this.indexes.values()) index.update(offset, undefined);
  }

  private selectForDelete(selector: PointsSelector): number[] {
    if (selector.kind === 'filter') return this.matchingOffsets(selector.filter);
    const out: number[] = [];
    for (const id of selector.ids) {
      const offset = this.offsetOf.get(pointKey(id));
      if (offset !== undefined) out.push(offset);
    }
    return out;
  }

  /**
   * Offsets a selector names, and the listed ids that do not exist. As in Qdrant, an update
   * changes the points that exist and then reports the missing ones.
   */
  private resolve(selector: PointsSelector): { offsets: number[]; missing: PointId[] } {
    if (selector.kind === 'filter') return { offsets: this.matchingOffsets(selector.filter), missing: [] };
    const offsets: number[] = [];
    const missing: PointId[] = [];
    for (const id of selector.ids) {
      const offset = this.offsetOf.get(pointKey(id));
      if (offset === undefined) missing.push(id);
      else offsets.push(offset);
    }
    return { offsets, missing };
  }

  private updatePayloads(selector: PointsSelector, next: (old: Payload) => Payload): ApplyResult {
    const { offsets, missing } = this.resolve(selector);
    for (const offset of offsets) this.setPayload(offset, next(this.payloads[offset] as Payload));
    return missing.length > 0 ? { ok: false, missing } : OK;
  }

  private updateVectors(points: readonly PointVectors[]): ApplyResult {
    for (const point of points) for (const name of point.vectors.keys()) this.writable(name)?.reserve(this.used);
    const missing: PointId[] = [];
    for (const point of points) {
      const offset = this.offsetOf.get(pointKey(point.id));
      if (offset === undefined) {
        missing.push(point.id);
        continue;
      }
      for (const [name, vector] of point.vectors) {
        const store = this.writable(name);
        assert(store !== undefined, `unknown vector name ${name}`);
        store.set(offset, vector);
      }
    }
    return missing.length > 0 ? { ok: false, missing } : OK;
  }

  private deleteVectors(selector: PointsSelector, names: readonly string[]): ApplyResult {
    const { offsets, missing } = this.resolve(selector);
    for (const offset of offsets) {
      for (const name of names) this.stores.get(name)?.remove(offset);
    }
    return missing.length > 0 ? { ok: false, missing } : OK;
  }

  private createIndex(field: string, params: PayloadIndexParams): void {
    const index = new FieldIndex(field, params);
    for (let offset = 0; offset < this.used; offset++) {
      if (this.live[offset] === 1) index.update(offset, this.payloads[offset]);
    }
    this.indexes.set(field, index);
  }

  private maybeCompact(): void {
    if (this.frozen) return;
    const dead = this.used - this.liveCount;
    if (dead >= COMPACT_DEAD_MIN && dead >= this.liveCount) this.compact();
  }

  /** Move live points down over dead offsets, keeping their order; rebuild what offsets key. */
  private compact(): void {
    const offsets = this.liveOffsets();
    const points = offsets.map((o) => this.snapshotPoint(o));
    const indexDefs = [...this.indexes.values()].map((i) => [i.field, i.params] as const);
    this.resetStorage();
    for (const point of points) this.restorePoint(point.id, point.rows, point.payload);
    for (const [field, params] of indexDefs) this.createIndex(field, params);
  }

  private resetStorage(): void {
    for (const [name, params] of this.schema.vectors) this.stores.set(name, new VectorStore(params, this.options));
    this.ids = [];
    this.live = new Uint8Array(64);
    this.used = 0;
    this.liveCount = 0;
    this.offsetOf.clear();
    this.payloads = [];
    this.indexes.clear();
    this.idOrder = [];
    this.payloadBytes = 0;
  }

  /** Stored rows (already normalised) and payload of one point. */
  snapshotPoint(offset: number): { id: PointId; rows: Map<string, Float32Array>; payload: Payload } {
    const rows = new Map<string, Float32Array>();
    for (const [name, store] of this.stores) if (store.has(offset)) rows.set(name, store.get(offset));
    return { id: this.ids[offset] as PointId, rows, payload: this.payloads[offset] as Payload };
  }

  /** Append a point whose rows are stored as given (images and compaction). */
  restorePoint(id: PointId, rows: ReadonlyMap<string, Float32Array>, payload: Payload): void {
    const key = pointKey(id);
    assert(!this.offsetOf.has(key), 'duplicate id in segment image');
    const offset = this.allocate(id, key);
    for (const [name, row] of rows) {
      const store = this.writable(name);
      assert(store !== undefined, `unknown vector name ${name}`);
      store.setRaw(offset, row);
    }
    this.setPayload(offset, Object.keys(payload).length === 0 ? EMPTY_PAYLOAD : payload);
  }

  /** Add the next point of a sealed segment under construction (ids strictly ascending). */
  appendSealedPoint(id: PointId, payload: Payload): void {
    assert(this.frozen && this.indexes.size === 0, 'sealed points are added before payload indexes');
    const last = this.used === 0 ? undefined : (this.ids[this.used - 1] as PointId);
    assert(last === undefined || comparePointIds(last, id) < 0, 'a sealed segment holds its points in id order');
    const offset = this.allocate(id, pointKey(id));
    this.setPayload(offset, Object.keys(payload).length === 0 ? EMPTY_PAYLOAD : payload);
  }

  /**
   * Build a payload index in steps (a sealed segment under construction, not yet searched):
   * each step() indexes up to `points` more offsets; the index is installed when it returns true.
   */
  startIndex(field: string, params: PayloadIndexParams): { step(points: number): boolean } {
    const index = new FieldIndex(field, params);
    let next = 0;
    return {
      step: (points: number): boolean => {
        const end = Math.min(this.used, next + points);
        for (; next < end; next++) if (this.live[next] === 1) index.update(next, this.payloads[next]);
        if (next < this.used) return false;
        this.indexes.set(field, index);
        return true;
      },
    };
  }

  /** Swap a sealed vector space for one over a new index of the same rows (tombstones carry over). */
  replaceSpace(name: string, space: DenseSpace): void {
    const old = this.stores.get(name);
    assert(old instanceof DenseSpace && old.idOf === space.idOf, 'a replacement space maps the same points');
    this.stores.set(name, space);
  }

  /** Offsets allocated so far (live and tombstoned). */
  get offsetCount(): number {
    return this.used;
  }

  /** Tombstoned or deleted offsets not yet reclaimed. */
  get deadCount(): number {
    return this.used - this.liveCount;
  }

  isLive(offset: number): boolean {
    return this.live[offset] === 1;
  }

  idAt(offset: number): PointId {
    return this.ids[offset] as PointId;
  }

  payloadAt(offset: number): Payload {
    return this.payloads[offset] as Payload;
  }

  offsetOfId(id: PointId): number | undefined {
    return this.offsetOf.get(pointKey(id));
  }

  space(name: string): SegmentSpace | undefined {
    return this.stores.get(name);
  }

  /** Live offsets in internal order. */
  liveOffsets(): number[] {
    const out: number[] = [];
    for (let offset = 0; offset < this.used; offset++) if (this.live[offset] === 1) out.push(offset);
    return out;
  }

  indexDefinitions(): { field: string; params: PayloadIndexParams }[] {
    return [...this.indexes.values()].map((i) => ({ field: i.field, params: i.params }));
  }

  restoreIndex(field: string, params: PayloadIndexParams): void {
    this.createIndex(field, params);
  }

  // ------------------------------------------------------------------------------------------
  // Reads

  has(id: PointId): boolean {
    return this.offsetOf.has(pointKey(id));
  }

  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[] {
    const seen = new Set<number>();
    const out: Record_[] = [];
    for (const id of ids) {
      const offset = this.offsetOf.get(pointKey(id));
      if (offset === undefined || seen.has(offset)) continue;
      seen.add(offset);
      out.push(this.record(offset, withPayload, withVector));
    }
    return out;
  }

  search(params: SearchParams): ScoredPoint[] {
    const store = this.stores.get(params.vectorName);
    if (store === undefined) {
      throw new ShoalError('bad_request', `Wrong input: Not existing vector name error: ${params.vectorName}`);
    }
    const k = params.limit + params.offset;
    if (k <= 0) return [];
    const distance = store.params.distance;
    // As Qdrant does: the query is normalised for Cosine and converted to the datatype, like a row.
    const query = storedForm(store.params, params.vector);
    assert(query.length === store.dim, 'query vector length');
    const { keys, offsets } = store instanceof DenseSpace ? this.searchDense(store, query, k, params) : this.searchScan(store, query, k, params);
    const out: ScoredPoint[] = [];
    for (let i = params.offset; i < keys.length; i++) {
      const score = scoreOfKey(distance, keys[i] as number);
      if (!passesThreshold(distance, score, params.scoreThreshold)) break;
      const record = this.record(offsets[i] as number, params.withPayload, params.withVector);
      out.push({ ...record, score });
    }
    return out;
  }

  /** Exact scan of a VectorStore's candidates; equal keys rank by point id. */
  private searchScan(store: VectorStore, query: Float32Array, k: number, params: SearchParams): Found {
    const candidates = this.searchCandidates(store, params.filter, params.excludeIds);
    if (candidates.length === 0) return { keys: [], offsets: [] };
    const top = new TopK(Math.min(k, candidates.length), this.tieAfter);
    store.scan(query, candidates, top);
    return top.drain();
  }

  /**
   * Search through a sealed space's index: the planner picks the graph or an exact scan; a filter
   * (and excluded ids) become the bitset of allowed ids, tombstones the deleted one. Index ids
   * follow offsets, which follow point ids, so the index's tie order is point-id order too.
   */
  private searchDense(space: DenseSpace, query: Float32Array, k: number, params: SearchParams): Found {
    if (space.size === 0) return { keys: [], offsets: [] };
    const { choice, allowed } = this.planDense(space, params);
    if (allowed !== null && allowed.count === 0) return { keys: [], offsets: [] };
    const exact = choice.path === 'exact';
    const options: DenseSearchOptions = {
      k,
      ef: params.hnswEf ?? space.indexParams.efConstruct,
      exact,
      allowed: allowed === null ? null : allowed.bits,
      deleted: space.deletedBits(),
      // An exact search scores the float32 rows: quantized codes would make it approximate.
      quantization: exact ? EXACT_QUANTIZATION : (params.quantization ?? null),
      traversal: choice.traversal,
    };
    const result = space.index.search(query, options);
    const offsets = new Uint32Array(result.ids.length);
    for (let i = 0; i < offsets.length; i++) offsets[i] = space.offsetOfId[result.ids[i] as number] as number;
    return { keys: result.keys, offsets };
  }

  /**
   * What a search of `params` does in this segment: exact scan or graph walk, and why. Only
   * sealed spaces have a choice; appendable and frozen ones always scan.
   */
  explainSearch(params: SearchParams): SearchExplanation {
    const store = this.stores.get(params.vectorName);
    if (!(store instanceof DenseSpace)) {
      return { path: 'exact', traversal: 'all', reason: 'no-graph', cardinality: params.filter === null ? null : this.filterCardinality(params.filter, this.plan(params.filter)) };
    }
    const { choice, cardinality } = this.planDense(store, params);
    return { ...choice, cardinality };
  }

  /**
   * The planner's choice for a sealed space, from the filter's estimated cardinality (counted
   * exactly when the estimate straddles the threshold), and the ids the search may return as a
   * bitset (live points with the vector that pass the filter and are not excluded) with their
   * count, when there is a filter or an exclusion.
   */
  private planDense(space: DenseSpace, params: SearchParams): { choice: SearchChoice; cardinality: Cardinality | null; allowed: AllowedIds | null } {
    const filter = params.filter;
    const plan = this.plan(filter);
    let cardinality = filter === null ? null : this.filterCardinality(filter, plan);
    const input = {
      exact: params.exact === true,
      indexed: space.indexed,
      linked: filter !== null && cardinality !== null && this.coveredBySubset(space, filter, cardinality),
      vectors: space.size,
      dim: space.dim,
      fullScanThresholdKb: params.fullScanThresholdKb ?? FULL_SCAN_THRESHOLD_KB_DEFAULT,
    };
    const allowed = filter === null && params.excludeIds.length === 0 ? null : this.allowedIds(space, filter, plan, params.excludeIds);
    let choice = chooseSearchPath({ ...input, filterCardinality: cardinality });
    if (choice === 'count') {
      assert(allowed !== null, 'only a filter is counted');
      cardinality = exactly(allowed.count);
      choice = chooseSearchPath({ ...input, filterCardinality: cardinality });
      assert(choice !== 'count', 'a counted filter decides the path');
    }
    return { choice, cardinality, allowed };
  }

  /**
   * The index ids a search may return, as a bitset, and how many; null: every id. When the
   * payload indexes answer the whole filter, their (live) offsets map straight to ids in one
   * pass over typed arrays, kept by the space for the next searches with that filter when they
   * are many; otherwise each candidate is checked.
   */
  private allowedIds(space: DenseSpace, filter: Filter | null, plan: Plan, excludeIds: readonly PointId[]): AllowedIds | null {
    if (plan.residual === null && excludeIds.length === 0) {
      const offsets = plan.candidates;
      if (offsets === null || filter === null) return null;
      if (offsets.length < ALLOWED_CACHE_POINTS_MIN) return idBitsOf(space, offsets);
      return space.cachedAllowed(`${this.used}:${filterKey(filter)}`, () => idBitsOf(space, offsets));
    }
    const bits = new Uint8Array((space.index.count + 7) >>> 3);
    const idOf = space.idOf;
    let count = 0;
    for (const offset of this.searchCandidatesOf(space, plan, excludeIds)) {
      const id = idOf[offset] as number;
      bits[id >>> 3] = (bits[id >>> 3] as number) | (1 << (id & 7));
      count++;
    }
    return { bits, count };
  }

  /**
   * The filter's cardinality from the plan: the must conditions the indexes answer are already
   * intersected (an exact count), the rest is estimated (cardinality.ts).
   */
  private filterCardinality(filter: Filter, plan: Plan): Cardinality {
    if (plan.rest === null) return exactly(plan.candidates === null ? this.liveCount : plan.candidates.length);
    const rest = estimateFilter(plan.rest, { total: this.liveCount, count: this.countCondition });
    return plan.candidates === null ? rest : allOf([exactly(plan.candidates.length), rest], this.liveCount);
  }

  /** Live points satisfying one condition, counted by a payload index or the id map; null: neither answers. */
  private countByIndex(condition: Condition): number | null {
    switch (condition.kind) {
      case 'has_id':
        return this.offsetsOf(condition.ids).length;
      case 'match':
        return this.indexes.get(condition.key)?.lookupMatch(condition.value)?.length ?? null;
      case 'match_any':
        return this.indexes.get(condition.key)?.lookupAny(condition.values)?.length ?? null;
      case 'range':
        return this.indexes.get(condition.key)?.lookupRange(condition.range, false)?.length ?? null;
      case 'datetime_range':
        return this.indexes.get(condition.key)?.lookupRange(condition.range, true)?.length ?? null;
      default:
        return null;
    }
  }

  /**
   * Whether a subset graph of the space links the filter's points: a must condition matches one
   * linked keyword or integer value, and the filter keeps at least half of that value's points
   * (a narrower filter would leave the walk too few links among its points).
   */
  private coveredBySubset(space: DenseSpace, filter: Filter, cardinality: Cardinality): boolean {
    const keys = space.subsetKeys;
    if (keys.size === 0) return false;
    for (const condition of filter.must) {
      if (condition.kind !== 'match') continue;
      const index = this.indexes.get(condition.key);
      const key = index?.matchKey(condition.value) ?? null;
      if (index === undefined || key === null || !keys.has(subsetKey(condition.key, key))) continue;
      const block = index.lookupMatch(condition.value)?.length ?? 0;
      if (cardinality.exp * 2 >= block) return true;
    }
    return false;
  }

  /**
   * The payload blocks of this sealed segment's keyword and integer indexes with at least
   * `minPoints` points having vector `name`, as subsets of its index ids (the graph build of an
   * optimizer job links each one: payload_m).
   */
  payloadSubsets(name: string, minPoints: number): DenseSubset[] {
    const space = this.stores.get(name);
    assert(space instanceof DenseSpace, 'payload subsets come from a sealed space');
    return subsetsOfIndexes(this.indexes.values(), space.idOf, minPoints);
  }

  /** Live offsets that have the vector, pass the filter and are not excluded, ascending. */
  private searchCandidates(store: SegmentSpace, filter: Filter | null, excludeIds: readonly PointId[]): Uint32Array {
    return this.searchCandidatesOf(store, this.plan(filter), excludeIds);
  }

  private searchCandidatesOf(store: SegmentSpace, plan: Plan, excludeIds: readonly PointId[]): Uint32Array {
    const excluded = new Set<number>();
    for (const id of excludeIds) {
      const offset = this.offsetOf.get(pointKey(id));
      if (offset !== undefined) excluded.add(offset);
    }
    const out = new Uint32Array(plan.candidates === null ? this.used : plan.candidates.length);
    let n = 0;
    if (plan.candidates === null && plan.residual === null && excluded.size === 0) {
      // No filter: a plain pass that the range kernel then reads as runs of rows.
      for (let o = 0; o < this.used; o++) if (this.live[o] === 1 && store.has(o)) out[n++] = o;
      return out.subarray(0, n);
    }
    const visit = (offset: number): void => {
      if (store.has(offset) && !excluded.has(offset) && this.passes(plan, offset)) out[n++] = offset;
    };
    if (plan.candidates === null) for (let o = 0; o < this.used; o++) visit(o);
    else for (const o of plan.candidates) visit(o);
    return out.subarray(0, n);
  }

  scroll(params: ScrollParams): ScrollPage {
    const plan = this.plan(params.filter);
    const member = this.membership(plan);
    const order = this.sortedIdOrder();
    let i = params.offset === null ? 0 : this.firstAtOrAfter(order, params.offset);
    const points: Record_[] = [];
    for (; i < order.length; i++) {
      const offset = order[i] as number;
      if (!this.passesWith(plan, member, offset)) continue;
      if (points.length >= params.limit) return { points, nextOffset: this.ids[offset] as PointId };
      points.push(this.record(offset, params.withPayload, params.withVector));
    }
    return { points, nextOffset: null };
  }

  scrollOrdered(params: OrderedScrollParams): OrderedRecord[] {
    const { key, direction, startFrom } = params.orderBy;
    const index = this.indexes.get(key);
    if (index === undefined || !index.supportsRange) {
      throw new ShoalError(
        'bad_request',
        `Wrong input: No range index for \`order_by\` key: \`${key}\`. Please create one to use \`order_by\`. ` +
          'Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions',
      );
    }
    if (params.limit <= 0) return [];
    const plan = this.plan(params.filter);
    const member = this.membership(plan);
    const desc = direction === 'desc';
    const entries = index.ordered(desc, startFrom, params.limit, (o) => this.passesWith(plan, member, o));
    const order = entries.values.map((_, i) => i);
    order.sort((a, b) => {
      const va = entries.values[a] as number;
      const vb = entries.values[b] as number;
      if (va !== vb) return desc ? vb - va : va - vb;
      const ia = this.ids[entries.offsets[a] as number] as PointId;
      return comparePointIds(ia, this.ids[entries.offsets[b] as number] as PointId);
    });
    return order.slice(0, params.limit).map((i) => ({
      ...this.record(entries.offsets[i] as number, params.withPayload, params.withVector),
      orderValue: entries.values[i] as number,
    }));
  }

  count(filter: Filter | null): number {
    if (filter === null) return this.liveCount;
    return this.matchingOffsets(filter).length;
  }

  /** Ids of the live points passing `filter`, in offset order (resolving a filter before a write). */
  idsMatching(filter: Filter): PointId[] {
    return this.matchingOffsets(filter).map((offset) => this.ids[offset] as PointId);
  }

  facet(params: FacetParams): FacetHit[] {
    const index = this.indexes.get(params.key);
    if (index === undefined || !index.supportsFacet) {
      throw new ShoalError(
        'bad_request',
        `Wrong input: No appropriate index for faceting: \`${params.key}\`. Please create one to facet on this field. ` +
          'Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Match conditions',
      );
    }
    const offsets = params.filter === null ? null : Uint32Array.from(this.matchingOffsets(params.filter));
    const hits: FacetHit[] = [...index.facetCounts(offsets)].map(([value, count]) => ({ value, count }));
    hits.sort(compareFacetHits);
    return hits.slice(0, Math.max(0, params.limit));
  }

  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo> {
    const out = new Map<string, PayloadIndexInfo>();
    for (const [field, index] of this.indexes) out.set(field, { params: index.params, points: index.points });
    return out;
  }

  stats(): SegmentStats {
    const vectors = new Map<string, number>();
    const vectorBytesByName = new Map<string, number>();
    let vectorBytes = 0;
    for (const [name, store] of this.stores) {
      vectors.set(name, store.size - (this.deadRows.get(name) ?? 0));
      vectorBytes += store.bytesHeld;
      vectorBytesByName.set(name, store.bytesHeld);
    }
    return { points: this.liveCount, vectors, payloadBytesApprox: this.payloadBytes, vectorBytes, vectorBytesByName };
  }

  serialize(): Uint8Array[] {
    return encodeImage(this.imageContent());
  }

  captureImage(): SegmentImageCapture {
    const content = this.imageContent();
    return { encode: (pause) => encodeImageInSteps(content, pause) };
  }

  /**
   * The image's content as of now, sharing nothing that later updates change: ids are
   * primitives; payload objects are shared, which is safe because a stored payload is replaced on
   * every change, never changed in place (setPayload); vector rows are copied, those of a
   * writable space on demand (ImageVectors.ensureRows) and, before any later write to a row
   * captured here, all at once (VectorStore.beforeWriteBelow), so the copy is of this moment.
   */
  private imageContent(): ImageContent {
    const offsets = this.liveOffsets();
    const used = this.used;
    const vectors = [...this.stores].map(([name, store]): ImageVectors => {
      const present = new Uint8Array(offsets.length);
      let rows = 0;
      for (let i = 0; i < offsets.length; i++) {
        if (store.has(offsets[i] as number)) {
          present[i] = 1;
          rows++;
        }
      }
      const dim = store.dim;
      const data = new Float32Array(rows * dim);
      const ensureRows = rowCopier(store, offsets, present, data);
      const vectors = { name, size: dim, distance: store.params.distance, present, data };
      if (!(store instanceof VectorStore)) {
        ensureRows(rows);
        return vectors;
      }
      let forget: (() => void) | null = null;
      const ensure = (wanted: number): void => {
        if (ensureRows(wanted) === rows && forget !== null) {
          forget();
          forget = null;
        }
      };
      if (rows > 0) forget = store.beforeWriteBelow(used, () => {
        forget = null;
        ensureRows(rows);
      });
      return { ...vectors, ensureRows: ensure };
    });
    const ids = new Array<PointId>(offsets.length);
    const payloads = new Array<Payload>(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const offset = offsets[i] as number;
      ids[i] = this.ids[offset] as PointId;
      payloads[i] = this.payloads[offset] as Payload;
    }
    return { ids, payloads, vectors, indexes: this.indexDefinitions() };
  }

  // ------------------------------------------------------------------------------------------
  // Helpers

  private plan(filter: Filter | null): Plan {
    return filter === null ? EVERYTHING : planFilter(filter, this.sources);
  }

  private passes(plan: Plan, offset: number): boolean {
    if (this.live[offset] !== 1) return false;
    return plan.residual === null || plan.residual(this.payloads[offset] as JsonObject, offset);
  }

  /** For walks that are not in offset order: a membership table of the plan's candidates. */
  private membership(plan: Plan): Uint8Array | null {
    if (plan.candidates === null) return null;
    const member = new Uint8Array(this.used);
    for (const offset of plan.candidates) member[offset] = 1;
    return member;
  }

  private passesWith(plan: Plan, member: Uint8Array | null, offset: number): boolean {
    return (member === null || member[offset] === 1) && this.passes(plan, offset);
  }

  private matchingOffsets(filter: Filter): number[] {
    const plan = this.plan(filter);
    const out: number[] = [];
    if (plan.candidates === null) {
      for (let o = 0; o < this.used; o++) if (this.passes(plan, o)) out.push(o);
    } else {
      for (const o of plan.candidates) if (this.passes(plan, o)) out.push(o);
    }
    return out;
  }

  private offsetsOf(ids: readonly PointId[]): Uint32Array {
    const out: number[] = [];
    for (const id of ids) {
      const offset = this.offsetOf.get(pointKey(id));
      if (offset !== undefined) out.push(offset);
    }
    return sortUnique(out);
  }

  private sortedIdOrder(): number[] {
    if (this.idOrder === null) {
      const order = this.liveOffsets();
      order.sort((a, b) => comparePointIds(this.ids[a] as PointId, this.ids[b] as PointId));
      this.idOrder = order;
    }
    return this.idOrder;
  }

  private firstAtOrAfter(order: readonly number[], id: PointId): number {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePointIds(this.ids[order[mid] as number] as PointId, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private record(offset: number, withPayload: WithPayload, withVector: WithVector): Record_ {
    return {
      id: this.ids[offset] as PointId,
      payload: selectPayload(this.payloads[offset] as Payload, withPayload),
      vectors: this.selectVectors(offset, withVector),
    };
  }

  private selectVectors(offset: number, withVector: WithVector): NamedVectors | null {
    if (withVector === false) return null;
    const names = withVector === true ? [...this.stores.keys()] : withVector;
    const out: NamedVectors = new Map();
    for (const name of names) {
      const store = this.stores.get(name);
      if (store !== undefined && store.has(offset)) out.set(name, store.get(offset));
    }
    return out;
  }
}

const OK: ApplyResult = Object.freeze({ ok: true });
const EXACT_QUANTIZATION = Object.freeze({ ignore: true, rescore: true, oversampling: 1 });

function selectPayload(payload: Payload, withPayload: WithPayload): Payload | null {
  switch (withPayload.kind) {
    case 'none':
      return null;
    case 'all':
      return payload;
    case 'include':
      return projectPayload(payload, withPayload.keys.map(parseJsonPath));
    case 'exclude': {
      const out = cloneJson(payload);
      for (const key of withPayload.keys) removeAtPath(out, parseJsonPath(key));
      return out;
    }
    default:
      return unreachable(withPayload, 'unknown with_payload');
  }
}

/** The index ids of live offsets (ascending) as a bitset, skipping points without the vector. */
function idBitsOf(space: DenseSpace, offsets: Uint32Array): AllowedIds {
  const bits = new Uint8Array((space.index.count + 7) >>> 3);
  const idOf = space.idOf;
  let count = 0;
  for (let i = 0; i < offsets.length; i++) {
    const id = idOf[offsets[i] as number] as number;
    if (id < 0) continue;
    bits[id >>> 3] = (bits[id >>> 3] as number) | (1 << (id & 7));
    count++;
  }
  return { bits, count };
}

/** A filter as a string naming it exactly (bigints tagged, so no string value reads the same). */
function filterKey(filter: Filter): string {
  return JSON.stringify(filter, (_key, value: unknown) => (typeof value === 'bigint' ? { bigint: value.toString() } : value));
}

/** Facet order: larger counts first, then by value (booleans, integers, strings). */
export function compareFacetHits(a: FacetHit, b: FacetHit): number {
  return b.count - a.count || compareFacetValues(a.value, b.value);
}

function compareFacetValues(a: FacetValue, b: FacetValue): number {
  if (typeof a !== typeof b && !(isIntegerLike(a) && isIntegerLike(b))) return typeRank(a) - typeRank(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function isIntegerLike(v: FacetValue): boolean {
  return typeof v === 'number' || typeof v === 'bigint';
}

function typeRank(v: FacetValue): number {
  return typeof v === 'boolean' ? 0 : isIntegerLike(v) ? 1 : 2;
}

/**
 * Copies the rows of `offsets` whose `present` flag is set into `data`, packed in that order, up
 * to a wanted row count per call, runs of consecutive offsets in one go; returns the rows copied
 * so far. Without deletes a whole segment is one run.
 */
function rowCopier(store: SegmentSpace, offsets: readonly number[], present: Uint8Array, data: Float32Array): (wanted: number) => number {
  const dim = store.dim;
  let i = 0;
  let row = 0;
  return (wanted) => {
    while (row < wanted && i < offsets.length) {
      if (present[i] !== 1) {
        i++;
        continue;
      }
      const first = offsets[i] as number;
      let j = i + 1;
      while (j < offsets.length && present[j] === 1 && offsets[j] === first + (j - i) && row + (j - i) < wanted) j++;
      if (store instanceof VectorStore) store.copyRows(first, j - i, data, row * dim);
      else for (let k = 0; k < j - i; k++) data.set(store.row(first + k), (row + k) * dim);
      row += j - i;
      i = j;
    }
    return row;
  };
}
