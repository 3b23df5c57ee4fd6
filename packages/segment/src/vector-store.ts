// One named vector space: rows in a growable row-major Float32Array (capacity doubles), and a
// presence bitset, because a point may lack a named vector. Cosine rows are stored unit length.
import { assert } from '@shoal/common';
import type { VectorParams } from '@shoal/common';
import { normalized } from './kernels.js';

const INITIAL_ROWS = 64;

export class VectorStore {
  data: Float32Array;
  private present: Uint32Array;
  private rows: number;
  private count = 0;

  constructor(readonly params: VectorParams) {
    this.rows = INITIAL_ROWS;
    this.data = new Float32Array(INITIAL_ROWS * params.size);
    this.present = new Uint32Array(INITIAL_ROWS >>> 5);
  }

  get dim(): number {
    return this.params.size;
  }

  /** Points that have this vector. */
  get size(): number {
    return this.count;
  }

  has(offset: number): boolean {
    return offset < this.rows && (((this.present[offset >>> 5] as number) >>> (offset & 31)) & 1) === 1;
  }

  /** Store a vector (normalised for Cosine) at offset. */
  set(offset: number, vector: Float32Array): void {
    assert(vector.length === this.dim, `vector length ${vector.length} != ${this.dim}`);
    this.ensureRows(offset + 1);
    const row = this.params.distance === 'Cosine' ? normalized(vector) : vector;
    this.data.set(row, offset * this.dim);
    if (!this.has(offset)) {
      this.present[offset >>> 5] = (this.present[offset >>> 5] as number) | (1 << (offset & 31));
      this.count++;
    }
  }

  /** Store an already-normalised row as is (loading an image). */
  setRaw(offset: number, row: Float32Array): void {
    this.ensureRows(offset + 1);
    this.data.set(row, offset * this.dim);
    if (!this.has(offset)) {
      this.present[offset >>> 5] = (this.present[offset >>> 5] as number) | (1 << (offset & 31));
      this.count++;
    }
  }

  remove(offset: number): void {
    if (!this.has(offset)) return;
    this.present[offset >>> 5] = (this.present[offset >>> 5] as number) & ~(1 << (offset & 31));
    this.data.fill(0, offset * this.dim, (offset + 1) * this.dim);
    this.count--;
  }

  /** A copy of the stored row. */
  get(offset: number): Float32Array {
    assert(this.has(offset), 'vector not present');
    return this.data.slice(offset * this.dim, (offset + 1) * this.dim);
  }

  private ensureRows(rows: number): void {
    if (rows <= this.rows) return;
    let next = this.rows;
    while (next < rows) next *= 2;
    const data = new Float32Array(next * this.dim);
    data.set(this.data);
    const present = new Uint32Array(next >>> 5);
    present.set(this.present);
    this.data = data;
    this.present = present;
    this.rows = next;
  }
}
