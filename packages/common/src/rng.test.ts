import { describe, it, expect } from 'vitest';
import { seededRng } from './rng.js';

describe('seededRng', () => {
  it('replays the same sequence for the same seed and differs for another', () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const c = seededRng(43);
    const seqA = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(seqA);
  });

  it('spreads int(n) over [0, n)', () => {
    const rng = seededRng(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const value = rng.int(10);
      counts[value] = (counts[value] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(10_000);
  });
});
