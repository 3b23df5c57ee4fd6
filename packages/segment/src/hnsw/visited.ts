// Which nodes a search has seen, reset in O(1): a node is visited when its stamp equals the
// current epoch. Only when the 16-bit epoch wraps (every 65,535 searches) is the array cleared.
export class VisitedSet {
  private stamps: Uint16Array;
  private epoch = 0;

  constructor(capacity: number) {
    this.stamps = new Uint16Array(capacity);
  }

  /** Starts a new search: everything becomes unvisited. */
  reset(capacity: number): void {
    if (this.stamps.length < capacity) {
      this.stamps = new Uint16Array(capacity);
      this.epoch = 0;
    }
    this.epoch++;
    if (this.epoch === 0x10000) {
      this.stamps.fill(0);
      this.epoch = 1;
    }
  }

  get marks(): Uint16Array {
    return this.stamps;
  }

  get current(): number {
    return this.epoch;
  }
}
