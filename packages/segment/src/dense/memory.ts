// The shared WebAssembly.Memory of a dense index and the per-thread scratch regions in it.
//
// Node 20 has no multi-memory, so the scratch a search needs (query, coded query, bitsets,
// visited stamps, heaps, outputs) lives in the same memory as the data, one region per searcher.
// Regions are slots above the data: a searcher claims a free slot with an atomic
// compare-exchange on its state word in the control block, on any thread; when the searcher is
// garbage-collected its slot is marked free again, so threads that come and go reuse slots.
//
// A built index never changes, so its memory's maximum is what it can ever need: the data and
// SEARCHERS_MAX scratch slots (at most 4 GiB). Slots are committed only when claimed.
import { ShoalError, assert } from '@shoal/common';
import { WASM32_BYTES_MAX, WASM32_PAGES_MAX, WASM_PAGE_BYTES } from '../wasm/arena.js';
import type { DenseLayout } from './layout.js';
import { SEARCHERS_MAX } from './limits.js';

/** A shared memory holding the data regions and the first scratch slot. */
export function createIndexMemory(layout: DenseLayout): WebAssembly.Memory {
  const bytes = layout.dataEnd + layout.scratchBytes;
  if (bytes > WASM32_BYTES_MAX) {
    throw new ShoalError(
      'overloaded',
      `a dense index of ${layout.count} x ${layout.dim} needs ${bytes} bytes, more than the 4 GiB one wasm32 memory holds: split the segment`,
    );
  }
  return new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE_BYTES), maximum: maxPages(layout), shared: true });
}

/**
 * Pages the memory may ever grow to: the data and every scratch slot, capped at 4 GiB (then the
 * last slots do not fit and claimSlot reports 'overloaded' when they would be needed).
 */
export function maxPages(layout: DenseLayout): number {
  const bytes = layout.dataEnd + SEARCHERS_MAX * layout.scratchBytes;
  return Math.min(WASM32_PAGES_MAX, Math.ceil(bytes / WASM_PAGE_BYTES));
}

/** Byte offset of scratch slot `slot`. */
export function slotPtr(layout: DenseLayout, slot: number): number {
  return layout.dataEnd + slot * layout.scratchBytes;
}

/** Claims a free scratch slot (committing its memory); throws 'overloaded' when none is left. */
export function claimSlot(memory: WebAssembly.Memory, layout: DenseLayout): number {
  const states = new Int32Array(memory.buffer, layout.controlPtr, SEARCHERS_MAX);
  const pages = maxPages(layout);
  for (let slot = 0; slot < SEARCHERS_MAX; slot++) {
    if (Atomics.load(states, slot) !== 0) continue;
    if (Atomics.compareExchange(states, slot, 0, 1) !== 0) continue;
    const end = slotPtr(layout, slot + 1);
    if (end > pages * WASM_PAGE_BYTES) {
      Atomics.store(states, slot, 0);
      break;
    }
    commit(memory, end, pages);
    return slot;
  }
  throw new ShoalError('overloaded', `no scratch left in this dense index's memory (${SEARCHERS_MAX} searchers at most, within the memory's maximum)`);
}

export function releaseSlot(memory: WebAssembly.Memory, layout: DenseLayout, slot: number): void {
  const states = new Int32Array(memory.buffer, layout.controlPtr, SEARCHERS_MAX);
  assert(Atomics.load(states, slot) === 1, `scratch slot ${slot} released twice`);
  Atomics.store(states, slot, 0);
}

/**
 * Grows the memory until it holds `end` bytes, at most `pages` pages; another thread may grow it
 * at the same time.
 */
function commit(memory: WebAssembly.Memory, end: number, pages: number): void {
  for (;;) {
    const have = memory.buffer.byteLength;
    if (have >= end) return;
    const want = Math.min(pages, Math.max(Math.ceil(end / WASM_PAGE_BYTES), (have / WASM_PAGE_BYTES) * 1.25));
    try {
      memory.grow(Math.ceil(want) - have / WASM_PAGE_BYTES);
    } catch (cause) {
      // Lost a race with another thread's grow, or really out of memory: look again.
      if (memory.buffer.byteLength > have) continue;
      throw new ShoalError('unavailable', `cannot grow a dense index's memory to ${end} bytes`, { cause });
    }
  }
}

/**
 * Runs `use` with `bytes` of zeroed memory at the start of the scratch slots (committing it),
 * then zeroes them again. Only while building, before any searcher exists: searchers expect
 * their scratch zeroed (visited stamps, epochs).
 */
export function withBuildScratch<T>(memory: WebAssembly.Memory, layout: DenseLayout, bytes: number, use: (ptr: number) => T): T {
  const ptr = slotPtr(layout, 0);
  const pages = maxPages(layout);
  if (ptr + bytes > pages * WASM_PAGE_BYTES) {
    throw new ShoalError('overloaded', `a dense index build needs ${bytes} bytes of scratch beyond its data, more than its memory holds`);
  }
  commit(memory, ptr + bytes, pages);
  try {
    return use(ptr);
  } finally {
    new Uint8Array(memory.buffer, ptr, bytes).fill(0);
  }
}
