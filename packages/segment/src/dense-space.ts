// One named vector of a sealed segment: its rows live in a DenseIndex (with or without an HNSW
// graph), and this maps the segment's point offsets to the index's ids. Points that lack the
// vector have no id. A deleted point keeps its row (the graph still routes through it) and is
// marked in a bitset over ids that every search passes to the index as `deleted`, until a vacuum
// rebuilds the segment without it.
import { assert } from '@shoal/common';
import type { Distance, VectorParams } from '@shoal/common';
import type { DenseIndex, DenseIndexParams, DenseMetric } from './dense/contract.js';
import { ALLOWED_CACHE_FILTERS } from './limits.js';

/** Ids a search may return (bit per index id) and how many they are. */
export interface AllowedIds {
  readonly bits: Uint8Array;
  readonly count: number;
}

/** How an index scores a distance: Cosine rows are unit length, so it is a dot product. */
export function denseMetric(distance: Distance): DenseMetric {
  switch (distance) {
    case 'Cosine':
    case 'Dot':
      return 'dot';
    case 'Euclid':
      return 'l2';
    case 'Manhattan':
      return 'l1';
  }
}

export class DenseSpace {
  private readonly deleted: Uint8Array;
  private liveCount: number;
  private subsets: ReadonlySet<string> | null = null;
  /** Allowed ids of recent filters, least recently used first (Map order). */
  private readonly allowedCache = new Map<string, AllowedIds>();

  /**
   * `idOf[offset]` is the index id of the point at `offset` (-1: the point has no such vector);
   * `offsetOfId[id]` the way back. `deleted` (bit per id) carries tombstones over from the
   * space this one replaces; it is copied.
   */
  constructor(
    readonly params: VectorParams,
    readonly index: DenseIndex,
    readonly idOf: Int32Array,
    readonly offsetOfId: Uint32Array,
    deleted: Uint8Array | null = null,
  ) {
    assert(offsetOfId.length === index.count, 'one offset per index id');
    assert(index.params.dim === params.size, 'index dimension matches the vector space');
    this.deleted = new Uint8Array((index.count + 7) >>> 3);
    if (deleted !== null) this.deleted.set(deleted.subarray(0, this.deleted.length));
    let dead = 0;
    for (let id = 0; id < index.count; id++) if (this.isDeletedId(id)) dead++;
    this.liveCount = index.count - dead;
  }

  get dim(): number {
    return this.params.size;
  }

  /** Live points that have this vector. */
  get size(): number {
    return this.liveCount;
  }

  /** Whether the index holds an HNSW graph (false: every search scans). */
  get indexed(): boolean {
    return this.index.indexed;
  }

  get indexParams(): DenseIndexParams {
    return this.index.params;
  }

  /** Names of the payload values whose points have a subset graph in the index (payload_m). */
  get subsetKeys(): ReadonlySet<string> {
    this.subsets ??= new Set(this.index.subsetKeys);
    return this.subsets;
  }

  get bytesHeld(): number {
    return this.index.memory().memoryBytes + this.idOf.byteLength + this.offsetOfId.byteLength + this.deleted.byteLength;
  }

  /** Whether the point at `offset` has a row (deleted or not: the segment's live flags say that). */
  has(offset: number): boolean {
    return offset < this.idOf.length && (this.idOf[offset] as number) >= 0;
  }

  /** A copy of the stored row (unit length for Cosine). */
  get(offset: number): Float32Array {
    const id = this.idOf[offset] as number;
    assert(id >= 0, 'vector not present');
    return this.index.row(id);
  }

  row(offset: number): Float32Array {
    return this.get(offset);
  }

  /** Tombstone the point at `offset`: searches stop returning it; its row stays. */
  remove(offset: number): void {
    const id = this.idOf[offset] as number;
    if (id < 0 || this.isDeletedId(id)) return;
    this.deleted[id >>> 3] = (this.deleted[id >>> 3] as number) | (1 << (id & 7));
    this.liveCount--;
  }

  isDeletedId(id: number): boolean {
    return (((this.deleted[id >>> 3] as number) >>> (id & 7)) & 1) === 1;
  }

  /** The tombstones as a bitset over ids; read-only for callers (searches pass it to the index). */
  deletedBits(): Uint8Array {
    return this.deleted;
  }

  /**
   * The allowed ids of a filter named by `key`, made once and kept for the next searches with the
   * same filter (ALLOWED_CACHE_FILTERS of them). The filter's points must not change while the
   * key names them: in a sealed segment only deletes happen, and the deleted bitset excludes
   * those anyway. Callers must not modify the bits.
   */
  cachedAllowed(key: string, make: () => AllowedIds): AllowedIds {
    const hit = this.allowedCache.get(key);
    if (hit !== undefined) {
      this.allowedCache.delete(key);
      this.allowedCache.set(key, hit);
      return hit;
    }
    const made = make();
    this.allowedCache.set(key, made);
    if (this.allowedCache.size > ALLOWED_CACHE_FILTERS) this.allowedCache.delete(this.allowedCache.keys().next().value as string);
    return made;
  }

  /** The same points over another index of the same rows (a graph built later); tombstones carry over. */
  withIndex(index: DenseIndex): DenseSpace {
    assert(index.count === this.index.count, 'a replacement index holds the same rows');
    return new DenseSpace(this.params, index, this.idOf, this.offsetOfId, this.deleted);
  }
}
