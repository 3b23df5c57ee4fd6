import { assert } from './assert.js';
import type { Rng } from './fs.js';

/**
 * A small seeded generator (mulberry32): 32 bits of state, fast, and good enough for tests and
 * simulations. Not for anything that must be unpredictable.
 */
export function seededRng(seed: number): Rng {
  assert(Number.isInteger(seed), 'seed must be an integer');
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(n: number): number {
      assert(Number.isInteger(n) && n > 0, 'int(n) needs a positive integer');
      return Math.floor(next() * n);
    },
  };
}
