// A bump allocator over one WebAssembly.Memory: the regions a sealed segment keeps for the
// kernels (vectors, quantized codes, graph links, offset lists, score buffers) are allocated
// once and never freed one by one; scratch space for one query is taken with mark() and
// given back with release(mark).
//
// wasm32 addresses are 32-bit, so one memory holds at most 4 GiB (65,536 pages of 64 KiB):
// a segment whose regions would not fit must be split before it is built (max_segment_size).
// Each memory also reserves address space beyond its size (V8 keeps guard regions, and a shared
// memory reserves its maximum up front) and V8 caps the total reserved for all wasm memories near
// 1 TiB, so keep to one memory per sealed segment (tens, not thousands, per process).
import { ShoalError, assert } from '@shoal/common';

/** Bytes in one WebAssembly page. */
export const WASM_PAGE_BYTES = 65_536;
/** Pages a wasm32 memory can address: 4 GiB in all. */
export const WASM32_PAGES_MAX = 65_536;
/** The wasm32 cap on one memory, bytes (4 GiB). */
export const WASM32_BYTES_MAX = WASM_PAGE_BYTES * WASM32_PAGES_MAX;
/** Default alignment, bytes: one v128, so SIMD loads of a region's start never split a line. */
export const ARENA_ALIGN_DEFAULT = 16;
/** Largest alignment alloc() accepts, bytes; more than a cache line buys nothing here. */
export const ARENA_ALIGN_MAX = 64;
/**
 * Bytes at the bottom of every arena that are never handed out, so that pointer 0 means "none"
 * and a stray null pointer reads zeros rather than someone's vector.
 */
export const ARENA_RESERVED_BYTES = 64;

export interface ArenaOptions {
  /** Bytes committed at creation, rounded up to whole pages. Default: one page. */
  readonly initialBytes?: number;
  /**
   * Most bytes the arena may grow to, rounded up to whole pages; at most WASM32_BYTES_MAX.
   * For a shared memory this much address space is reserved at creation (not committed).
   * Default: WASM32_BYTES_MAX.
   */
  readonly bytesMax?: number;
  /** Back the memory with a SharedArrayBuffer so worker threads can read it. Default false. */
  readonly shared?: boolean;
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** Most bytes this arena may hold, a whole number of pages. */
  readonly bytesMax: number;
  private top = ARENA_RESERVED_BYTES;

  constructor(options: ArenaOptions = {}) {
    const pagesMax = pagesFor(options.bytesMax ?? WASM32_BYTES_MAX);
    assert(pagesMax >= 1 && pagesMax <= WASM32_PAGES_MAX, `arena bytesMax must be 1 page .. 4 GiB, got ${options.bytesMax}`);
    const initial = Math.max(1, pagesFor(options.initialBytes ?? WASM_PAGE_BYTES));
    assert(initial <= pagesMax, 'arena initialBytes exceeds bytesMax');
    this.bytesMax = pagesMax * WASM_PAGE_BYTES;
    this.memory = new WebAssembly.Memory({ initial, maximum: pagesMax, shared: options.shared === true });
  }

  /** Bytes handed out so far, the reserved bottom included. */
  get bytesUsed(): number {
    return this.top;
  }

  /** Bytes the memory has committed (its current size). */
  get bytesCommitted(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * A zeroed region of `bytes` bytes aligned to `align` (a power of two up to ARENA_ALIGN_MAX).
   * Grows the memory when needed: an ordinary
   * (non-shared) memory's old ArrayBuffer is then detached, so typed-array views made before
   * must be made again. Throws ShoalError 'overloaded' past bytesMax.
   */
  alloc(bytes: number, align: number = ARENA_ALIGN_DEFAULT): number {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, `arena alloc of ${bytes} bytes`);
    assert(align > 0 && align <= ARENA_ALIGN_MAX && (align & (align - 1)) === 0, `arena alignment ${align}`);
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes;
    if (end > this.bytesMax) {
      throw new ShoalError('overloaded', `segment memory full: ${end} bytes needed, at most ${this.bytesMax} (wasm32 caps one memory at 4 GiB)`);
    }
    this.ensureCommitted(end);
    this.top = end;
    return ptr;
  }

  /** The current top, to give back everything allocated after it with release(). */
  mark(): number {
    return this.top;
  }

  /** Frees every region allocated since `mark` (stack order: scratch space of one query). */
  release(mark: number): void {
    assert(mark >= ARENA_RESERVED_BYTES && mark <= this.top, `arena release to ${mark} above top ${this.top}`);
    new Uint8Array(this.memory.buffer, mark, this.top - mark).fill(0);
    this.top = mark;
  }

  /** Views over a region; made fresh on each call because growth detaches old buffers. */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, length);
  }

  i8(ptr: number, length: number): Int8Array {
    return new Int8Array(this.memory.buffer, ptr, length);
  }

  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  private ensureCommitted(end: number): void {
    const committed = this.memory.buffer.byteLength;
    if (end <= committed) return;
    // Grow at least twofold so that a segment filled row by row grows O(log n) times.
    const have = committed / WASM_PAGE_BYTES;
    const want = Math.min(this.bytesMax / WASM_PAGE_BYTES, Math.max(pagesFor(end), have * 2));
    try {
      this.memory.grow(want - have);
    } catch (cause) {
      throw new ShoalError('unavailable', `cannot grow segment memory to ${want * WASM_PAGE_BYTES} bytes`, { cause });
    }
  }
}

function pagesFor(bytes: number): number {
  return Math.ceil(bytes / WASM_PAGE_BYTES);
}
