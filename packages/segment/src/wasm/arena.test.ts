import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ShoalError } from '@shoal/common';
import { Arena, ARENA_RESERVED_BYTES, WASM_PAGE_BYTES } from './arena.js';

describe('Arena', () => {
  it('hands out aligned, zeroed, non-overlapping regions and never pointer 0', () => {
    const arena = new Arena();
    const a = arena.alloc(3, 1);
    const b = arena.alloc(100, 64);
    const c = arena.alloc(8, 8);
    expect(a).toBeGreaterThanOrEqual(ARENA_RESERVED_BYTES);
    expect(b % 64).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 3);
    expect(c).toBeGreaterThanOrEqual(b + 100);
    expect(c % 8).toBe(0);
    expect([...arena.u8(b, 100)].every((x) => x === 0)).toBe(true);
  });

  it('grows the memory and keeps earlier data', () => {
    const arena = new Arena({ bytesMax: 8 << 20 });
    const a = arena.alloc(16);
    arena.f32(a, 4).set([1, 2, 3, 4]);
    const big = arena.alloc(3 * WASM_PAGE_BYTES);
    expect(arena.bytesCommitted).toBeGreaterThanOrEqual(big + 3 * WASM_PAGE_BYTES);
    expect([...arena.f32(a, 4)]).toEqual([1, 2, 3, 4]);
  });

  it('refuses an allocation past bytesMax with an overloaded error and stays usable', () => {
    const arena = new Arena({ bytesMax: 2 * WASM_PAGE_BYTES });
    arena.alloc(WASM_PAGE_BYTES);
    let error: unknown;
    try {
      arena.alloc(WASM_PAGE_BYTES);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShoalError);
    expect((error as ShoalError).kind).toBe('overloaded');
    expect(arena.alloc(1000)).toBeGreaterThan(0);
  });

  it('release gives back scratch space, zeroed for the next user', () => {
    const arena = new Arena();
    arena.alloc(100);
    const mark = arena.mark();
    const scratch = arena.alloc(64);
    arena.u8(scratch, 64).fill(7);
    arena.release(mark);
    expect(arena.bytesUsed).toBe(mark);
    const again = arena.alloc(64);
    expect(again).toBe(scratch);
    expect([...arena.u8(again, 64)].every((x) => x === 0)).toBe(true);
  });

  it('makes a shared memory that other threads can map', () => {
    const arena = new Arena({ shared: true, initialBytes: 1 << 20, bytesMax: 4 << 20 });
    expect(arena.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(arena.bytesMax).toBe(4 << 20);
  });
});

describe('build', () => {
  it('the compiled kernels are up to date with kernels.wat', () => {
    const script = fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url));
    // Exits 1 (and execFileSync throws) when dist/wasm is missing or older than the source.
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
