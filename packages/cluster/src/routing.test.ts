import { describe, expect, it } from 'vitest';
import { HashRing, shardForId, shardRouter } from './routing.js';

const ids = Array.from({ length: 20_000 }, (_, i) => i * 7 + 1);

describe('routing', () => {
  it('modulo over shards 0..n-1 is what collections stored before the ring use', () => {
    const router = shardRouter({ kind: 'modulo' }, [0, 1, 2]);
    for (const id of ids.slice(0, 500)) expect(router.shardFor(id)).toBe(shardForId(id, 3));
  });

  it('a ring spreads ids evenly over its shards', () => {
    const router = shardRouter({ kind: 'ring', vnodes: 128, seed: 0 }, [0, 1, 2]);
    const counts = [0, 0, 0];
    for (const id of ids) counts[router.shardFor(id)]! += 1;
    for (const c of counts) expect(c / ids.length).toBeGreaterThan(0.25);
  });

  it('adding a shard to a ring moves only the ids that now belong to it', () => {
    const before = new HashRing([0, 1, 2], 128, 0);
    const after = new HashRing([0, 1, 2, 3], 128, 0);
    let moved = 0;
    for (const id of ids) {
      const a = before.shardFor(id);
      const b = after.shardFor(id);
      if (a !== b) {
        expect(b).toBe(3);
        moved += 1;
      }
    }
    expect(moved / ids.length).toBeGreaterThan(0.1);
    expect(moved / ids.length).toBeLessThan(0.4);
  });

  it('routes UUIDs and ids beyond 2^53, and only to the given shards', () => {
    const router = shardRouter({ kind: 'ring', vnodes: 16, seed: 9 }, [5, 9]);
    expect([5, 9]).toContain(router.shardFor('8f5f3c9e-1d2b-4c3a-9e8f-0a1b2c3d4e5f'));
    expect([5, 9]).toContain(router.shardFor(2n ** 63n));
    expect(shardRouter({ kind: 'ring', vnodes: 16, seed: 9 }, [4]).shardFor(1)).toBe(4);
  });
});
