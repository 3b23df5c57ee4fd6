// The graph's memory: flat typed arrays, no object per node.
//   levels      Uint8Array[capacity]          top level of each node, LEVEL_ABSENT if not inserted
//   deleted     Uint8Array[capacity]          1 for a tombstone: never returned, still traversed
//   level0      Uint32Array[capacity*stride0] per node: link count, then up to m0 ids (m0 = 2m by
//                                             default; more leaves room for payload_m links); stride0
//                                             is 1 + m0 unless the caller's records carry more (a
//                                             dense index keeps each node's vector after its links)
//   upperStart  Uint32Array[capacity]         per node with level >= 1: where its blocks start
//   upper       Uint32Array pool              per such node, one block of 1+m per level 1..L
// Only about 1/(m-1) of the nodes have upper levels, so the pool stays small and compact: a
// node's upper levels sit side by side, the way a greedy descent reads them.
import { assert } from '@shoal/common';
import { LEVEL_ABSENT, NO_NODE } from './limits.js';

/** Arrays read back from bytes, adopted instead of allocated (see codec.ts). */
export interface StoreArrays {
  readonly levels: Uint8Array;
  readonly deleted: Uint8Array;
  readonly level0: Uint32Array;
  readonly upperStart: Uint32Array;
  readonly upper: Uint32Array;
  readonly upperUsed: number;
}

export class GraphStore {
  readonly m0: number;
  readonly stride0: number;
  readonly strideUpper: number;
  levels: Uint8Array;
  deleted: Uint8Array;
  level0: Uint32Array;
  upperStart: Uint32Array;
  upper: Uint32Array;
  upperUsed = 0;
  entry = NO_NODE;
  maxLevel = 0;
  count = 0;

  /** stride0: u32 words per level-0 record, at least 1 + m0 (default). */
  constructor(readonly capacity: number, readonly m: number, m0: number, arrays?: StoreArrays, stride0?: number) {
    this.m0 = m0;
    this.stride0 = stride0 ?? 1 + this.m0;
    assert(Number.isInteger(this.stride0) && this.stride0 >= 1 + m0, 'level-0 stride must hold the count and m0 links');
    this.strideUpper = 1 + m;
    if (arrays !== undefined) {
      assert(arrays.levels.length === capacity && arrays.level0.length >= capacity * this.stride0, 'arrays do not fit');
      this.levels = arrays.levels;
      this.deleted = arrays.deleted;
      this.level0 = arrays.level0;
      this.upperStart = arrays.upperStart;
      this.upper = arrays.upper;
      this.upperUsed = arrays.upperUsed;
      return;
    }
    this.levels = new Uint8Array(capacity).fill(LEVEL_ABSENT);
    this.deleted = new Uint8Array(capacity);
    this.level0 = new Uint32Array(capacity * this.stride0);
    this.upperStart = new Uint32Array(capacity);
    // Expected upper blocks: capacity * (1/m + 1/m^2 + ...) = capacity / (m - 1).
    this.upper = new Uint32Array(Math.max(64, Math.ceil((capacity / (m - 1)) * 1.25) * this.strideUpper));
  }

  /** Index in level0 (level 0) or upper (level >= 1) of the node's count word on that level. */
  linkBase(id: number, level: number): number {
    return level === 0 ? id * this.stride0 : (this.upperStart[id] as number) + (level - 1) * this.strideUpper;
  }

  links(level: number): Uint32Array {
    return level === 0 ? this.level0 : this.upper;
  }

  /** Link slots per node on a level: the most links a list can hold. */
  capOf(level: number): number {
    return level === 0 ? this.m0 : this.m;
  }

  /** Links an insert keeps per list (2m on level 0, m above); capOf(0) may leave room beyond. */
  degreeOf(level: number): number {
    return level === 0 ? 2 * this.m : this.m;
  }

  /** Makes room for a new node with the given top level; its link lists start empty. */
  allocate(id: number, level: number): void {
    assert(id >= 0 && id < this.capacity, `node ${id} outside the graph's capacity ${this.capacity}`);
    assert(this.levels[id] === LEVEL_ABSENT, `node ${id} is already in the graph`);
    this.levels[id] = level;
    this.count++;
    if (level === 0) return;
    const need = level * this.strideUpper;
    if (this.upperUsed + need > this.upper.length) {
      const grown = new Uint32Array(Math.max(this.upper.length * 2, this.upperUsed + need));
      grown.set(this.upper.subarray(0, this.upperUsed));
      this.upper = grown;
    }
    this.upperStart[id] = this.upperUsed;
    this.upperUsed += need;
  }

  setLinks(id: number, level: number, ids: Uint32Array, count: number): void {
    assert(count <= this.capOf(level), 'link list longer than its cap');
    const links = this.links(level);
    const base = this.linkBase(id, level);
    links[base] = count;
    for (let i = 0; i < count; i++) links[base + 1 + i] = ids[i] as number;
  }

  /** A copy of the node's links on a level (tests, invariants, tools; not the search path). */
  neighbours(id: number, level: number): Uint32Array {
    const top = this.levels[id] as number;
    if (top === LEVEL_ABSENT || level > top) return new Uint32Array(0);
    const links = this.links(level);
    const base = this.linkBase(id, level);
    return links.slice(base + 1, base + 1 + (links[base] as number));
  }
}
