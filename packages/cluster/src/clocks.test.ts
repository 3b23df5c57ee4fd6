import { describe, expect, it } from 'vitest';
import { MemoryFileSystem, seededRng, ShoalError, type PointOperation } from '@shoal/common';
import type { ReplicaMeta } from '@shoal/meta';
import type { ApplyResult } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import { ClockPool } from './clocks.js';
import { bumpEpoch } from './node.js';
import { ReplicaSet, type ReplicaSetHost, type WritePolicy } from './replica-set.js';
import { ReplicaUnreachable, StaleView, type CallContext, type ShardReplica } from './shard-replica.js';

const OP: PointOperation = { kind: 'delete_points', selector: { kind: 'ids', ids: [1] } };
const policy: WritePolicy = { writeConsistencyFactor: 1, ordering: 'weak', wait: true };
const ctx = (): CallContext => ({ deadlineMs: performance.now() + 2000 });

type Answer = 'ok' | 'unreachable' | 'stale' | 'refuse';

/** Replicas that record the tag of every write and answer as told (per peer, next answers first). */
function fixture(peers: number) {
  const seen = new Map<number, Array<ClockTag | null>>();
  const script = new Map<number, Answer[]>();
  let staleOnce = false;
  const replicas: ReplicaMeta[] = Array.from({ length: peers }, (_, i) => ({ peer: i + 1, state: 'Active', generation: 1 }));
  const replica = (peer: number): ShardReplica =>
    ({
      peer,
      local: peer === 1,
      update: async (_op: PointOperation, _lead: unknown, _ctx: CallContext, tag: ClockTag | null = null): Promise<ApplyResult> => {
        seen.set(peer, [...(seen.get(peer) ?? []), tag]);
        const answer = script.get(peer)?.shift() ?? 'ok';
        if (answer === 'unreachable') throw new ReplicaUnreachable(peer, true, 'timeout');
        if (answer === 'refuse') throw new ShoalError('bad_request', 'Bad request: no');
        if (answer === 'stale' && !staleOnce) {
          staleOnce = true;
          throw new StaleView(2, 'stale');
        }
        return { ok: true };
      },
    }) as unknown as ShardReplica;
  const host: ReplicaSetHost = {
    isLocal: (peer) => peer === 1,
    shard: () => ({ id: 0, key: null, replicas }),
    transfers: () => [],
    metaIndex: () => 1,
    catchUpTo: async () => undefined,
    replica,
    markDead: async () => 'done',
    backgroundFailure: () => undefined,
    clockOrigin: () => ({ peer: 9, epoch: 4 }),
  };
  return { set: new ReplicaSet(0, host), seen, script };
}

describe('coordinator clocks', () => {
  it('a released clock carries the next tick; a retired one is never leased again', () => {
    const pool = new ClockPool({ peer: 1, epoch: 2 });
    const a = pool.lease();
    expect(a.tag).toEqual({ peer: 1, epoch: 2, clock: 1, tick: 1 });
    a.release();
    const b = pool.lease();
    expect(b.tag).toEqual({ peer: 1, epoch: 2, clock: 1, tick: 2 });
    // Two writes in flight: two clocks.
    const c = pool.lease();
    expect(c.tag.clock).toBe(2);
    b.retire();
    b.release(); // settled already: no effect
    c.release();
    const used = new Set<number>();
    const rng = seededRng(5);
    for (let i = 0; i < 500; i++) {
      const lease = pool.lease();
      expect(lease.tag.clock).not.toBe(1);
      used.add(lease.tag.clock);
      if (rng.int(4) === 0) lease.retire();
      else lease.release();
    }
    expect(pool.retired).toBeGreaterThan(50);
    // Every retired clock is gone for good: the ids in use are the survivors plus new ones.
    expect(pool.idleCount).toBe(1);
  });

  it('tags each write with a leased clock; all acknowledged: the clock carries the next write', async () => {
    const f = fixture(3);
    await f.set.write(OP, policy, ctx());
    await f.set.write(OP, policy, ctx());
    for (const peer of [1, 2, 3]) {
      expect(f.seen.get(peer)).toEqual([
        { peer: 9, epoch: 4, clock: 1, tick: 1 },
        { peer: 9, epoch: 4, clock: 1, tick: 2 },
      ]);
    }
  });

  it('retires the clock of a write a replica failed, refused, or that met a stale view', async () => {
    const f = fixture(3);
    await f.set.write(OP, policy, ctx());
    f.script.set(3, ['unreachable']);
    await f.set.write(OP, policy, ctx()); // clock 1, tick 2: peer 3 timed out (marked Dead)
    await f.set.write(OP, policy, ctx());
    expect(f.seen.get(1)!.map((t) => t && [t.clock, t.tick])).toEqual([[1, 1], [1, 2], [2, 1]]);
    f.script.set(2, ['refuse']);
    await f.set.write(OP, policy, ctx()); // clock 2 tick 2, refused by one replica
    f.script.set(2, ['stale']);
    await f.set.write(OP, policy, ctx()); // clock 3 tick 1 met a stale view; the round again on clock 4
    await f.set.write(OP, policy, ctx());
    expect(f.seen.get(1)!.map((t) => t && [t.clock, t.tick])).toEqual([[1, 1], [1, 2], [2, 1], [2, 2], [3, 1], [4, 1], [4, 2]]);
  });
});

describe('node epoch', () => {
  it('counts up at every start, durable before it is used (survives a power loss right after)', async () => {
    let fs = new MemoryFileSystem();
    expect(await bumpEpoch(fs, '/epoch')).toBe(1);
    expect(await bumpEpoch(fs, '/epoch')).toBe(2);
    fs = fs.crash(seededRng(1));
    expect(await bumpEpoch(fs, '/epoch')).toBe(3);
    fs = fs.crash(seededRng(2));
    expect(await bumpEpoch(fs, '/epoch')).toBe(4);
  });

  it('refuses a corrupt counter', async () => {
    const fs = new MemoryFileSystem();
    const file = await fs.openAppend('/epoch');
    await file.append(new TextEncoder().encode('12a\n'));
    await file.sync();
    await file.close();
    await expect(bumpEpoch(fs, '/epoch')).rejects.toThrow(/corrupt epoch/);
  });
});
