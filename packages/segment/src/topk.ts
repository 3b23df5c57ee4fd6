// A bounded top-k selection in typed arrays: a binary min-heap of (key, offset) whose root is the
// worst kept entry. Larger keys are better; on equal keys the smaller offset is better (or, when a
// tie order is given, the one that order puts first), so results do not depend on the order
// candidates arrive in.
import { assert } from '@shoal/common';

/** Whether offset `a` ranks after offset `b` among equal keys. */
export type TieAfter = (a: number, b: number) => boolean;

export class TopK {
  private readonly keys: Float64Array;
  private readonly offsets: Int32Array;
  private size = 0;

  /**
   * `tieAfter` orders equal keys (a segment passes its point-id order, so that results do not
   * depend on where a point sits inside a segment); it is only called on exact key ties.
   */
  constructor(
    readonly capacity: number,
    private readonly tieAfter: TieAfter | null = null,
  ) {
    assert(capacity > 0, 'top-k capacity must be positive');
    this.keys = new Float64Array(capacity);
    this.offsets = new Int32Array(capacity);
  }

  private after(a: number, b: number): boolean {
    return this.tieAfter === null ? a > b : this.tieAfter(a, b);
  }

  get length(): number {
    return this.size;
  }

  push(key: number, offset: number): void {
    if (this.size < this.capacity) {
      this.siftUp(this.size++, key, offset);
      return;
    }
    const rootKey = this.keys[0] as number;
    if (key < rootKey || (key === rootKey && this.after(offset, this.offsets[0] as number))) return;
    this.siftDown(key, offset);
  }

  /** The kept entries, best first. Empties the heap. */
  drain(): { keys: Float64Array; offsets: Int32Array } {
    const n = this.size;
    const keys = new Float64Array(n);
    const offsets = new Int32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      keys[i] = this.keys[0] as number;
      offsets[i] = this.offsets[0] as number;
      const lastKey = this.keys[this.size - 1] as number;
      const lastOffset = this.offsets[this.size - 1] as number;
      this.size--;
      if (this.size > 0) this.siftDown(lastKey, lastOffset);
    }
    return { keys, offsets };
  }

  private siftUp(at: number, key: number, offset: number): void {
    let i = at;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = this.keys[parent] as number;
      const po = this.offsets[parent] as number;
      if (!(key < pk || (key === pk && this.after(offset, po)))) break;
      this.keys[i] = pk;
      this.offsets[i] = po;
      i = parent;
    }
    this.keys[i] = key;
    this.offsets[i] = offset;
  }

  /** Place (key, offset) at the root and restore the heap. */
  private siftDown(key: number, offset: number): void {
    let i = 0;
    const n = this.size;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.worse(right, child)) child = right;
      const ck = this.keys[child] as number;
      const co = this.offsets[child] as number;
      if (!(ck < key || (ck === key && this.after(co, offset)))) break;
      this.keys[i] = ck;
      this.offsets[i] = co;
      i = child;
    }
    this.keys[i] = key;
    this.offsets[i] = offset;
  }

  private worse(a: number, b: number): boolean {
    const ka = this.keys[a] as number;
    const kb = this.keys[b] as number;
    return ka < kb || (ka === kb && this.after(this.offsets[a] as number, this.offsets[b] as number));
  }
}
