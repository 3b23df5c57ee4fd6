import { describe, expect, it } from 'vitest';
import { seededRng } from '@shoal/common';
import { IdHeap } from './heap.js';
import { VisitedSet } from './visited.js';

describe('IdHeap', () => {
  it('pops keys in ascending order past its initial capacity, replaceTop included', () => {
    const rng = seededRng(5);
    const heap = new IdHeap(4);
    const keys: number[] = [];
    for (let i = 0; i < 200; i++) {
      const key = rng.next();
      keys.push(key);
      heap.push(key, i);
    }
    heap.replaceTop(2, 999);
    keys.sort((a, b) => a - b);
    keys.shift();
    keys.push(2);
    const popped: number[] = [];
    while (heap.size > 0) {
      popped.push(heap.topKey());
      if (heap.topKey() === 2) expect(heap.topId()).toBe(999);
      heap.pop();
    }
    expect(popped).toEqual(keys);
  });
});

describe('VisitedSet', () => {
  it('forgets every mark at reset, also when the 16-bit epoch wraps', () => {
    const set = new VisitedSet(8);
    set.reset(8);
    set.marks[3] = set.current;
    for (let i = 0; i < 0x10000; i++) {
      set.reset(8);
      expect(set.marks[3] === set.current).toBe(false);
    }
  });
});
