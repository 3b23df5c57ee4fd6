// A binary min-heap over two parallel typed arrays (keys, ids): no object per entry and no
// allocation per push once the capacity is reached. The graph uses it twice: results keyed by
// score (the worst result on top, to evict), candidates keyed by -score (the best on top).
// Among equal keys the larger id is on top, so equal scores leave the smaller ids in the results
// (as the WebAssembly search and the exact scans do).
import { assert } from '@shoal/common';

export class IdHeap {
  private keys: Float64Array;
  private ids: Uint32Array;
  size = 0;

  constructor(capacity: number) {
    assert(capacity > 0, 'heap capacity must be positive');
    this.keys = new Float64Array(capacity);
    this.ids = new Uint32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  topKey(): number {
    assert(this.size > 0, 'topKey of an empty heap');
    return this.keys[0] as number;
  }

  topId(): number {
    assert(this.size > 0, 'topId of an empty heap');
    return this.ids[0] as number;
  }

  push(key: number, id: number): void {
    if (this.size === this.keys.length) this.grow();
    siftUp(this.keys, this.ids, this.size, key, id);
    this.size++;
  }

  /** Removes the top entry; read it first with topKey()/topId(). */
  pop(): void {
    assert(this.size > 0, 'pop of an empty heap');
    this.size--;
    const n = this.size;
    if (n === 0) return;
    siftDown(this.keys, this.ids, n, this.keys[n] as number, this.ids[n] as number);
  }

  /** Replaces the top entry by (key, id) in one sift: cheaper than pop() then push(). */
  replaceTop(key: number, id: number): void {
    assert(this.size > 0, 'replaceTop of an empty heap');
    siftDown(this.keys, this.ids, this.size, key, id);
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    const ids = new Uint32Array(this.ids.length * 2);
    keys.set(this.keys);
    ids.set(this.ids);
    this.keys = keys;
    this.ids = ids;
  }
}

function siftUp(keys: Float64Array, ids: Uint32Array, hole: number, key: number, id: number): void {
  let i = hole;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pk = keys[parent] as number;
    if (pk < key || (pk === key && (ids[parent] as number) > id)) break;
    keys[i] = pk;
    ids[i] = ids[parent] as number;
    i = parent;
  }
  keys[i] = key;
  ids[i] = id;
}

function siftDown(keys: Float64Array, ids: Uint32Array, n: number, key: number, id: number): void {
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    const right = child + 1;
    if (right < n && below(keys[right] as number, ids[right] as number, keys[child] as number, ids[child] as number)) child = right;
    const ck = keys[child] as number;
    if (!below(ck, ids[child] as number, key, id)) break;
    keys[i] = ck;
    ids[i] = ids[child] as number;
    i = child;
  }
  keys[i] = key;
  ids[i] = id;
}

/** Whether entry (k1, i1) belongs above (k2, i2): a smaller key, or an equal key and a larger id. */
function below(k1: number, i1: number, k2: number, i2: number): boolean {
  return k1 < k2 || (k1 === k2 && i1 > i2);
}
