import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PeerId } from './ids.js';
import type { Layout, ShardPlacement, TransferInfo } from './model.js';
import { planDrain, planRebalance, PlanError, type Plan, type Step } from './plan.js';

const p = (id: number | string): PeerId => String(id) as PeerId;

/** `{ 'docs/0': '1 2:Dead' }`: shard 0 of docs on peers 1 (Active) and 2 (Dead). */
function layout(peers: number[], shards: Record<string, string>, transfers: TransferInfo[] = []): Layout {
  return {
    peers: peers.map(p),
    shards: Object.entries(shards).map(([name, replicas]): ShardPlacement => {
      const [collection, shard] = name.split('/');
      return {
        collection: collection!,
        shardId: Number(shard),
        shardKey: null,
        replicas: replicas
          .split(' ')
          .filter((r) => r !== '')
          .map((r) => {
            const [peer, state] = r.split(':');
            return { peer: p(peer!), state: state ?? 'Active', points: null };
          }),
      };
    }),
    transfers,
  };
}

const move = (collection: string, shardId: number, from: number, to: number): Step => ({ kind: 'move', collection, shardId, from: p(from), to: p(to) });

/** Replays a plan on the layout, checking each step could run, and returns replicas per peer. */
function apply(l: Layout, plan: Plan): Map<string, Map<PeerId, string>> {
  const placement = new Map(l.shards.map((s) => [`${s.collection}/${s.shardId}`, new Map(s.replicas.map((r) => [r.peer, r.state]))]));
  for (const step of plan.steps) {
    const replicas = placement.get(`${step.collection}/${step.shardId}`)!;
    if (step.kind === 'drop') {
      expect(replicas.has(step.peer), `drop of a replica that is not there: ${JSON.stringify(step)}`).toBe(true);
      replicas.delete(step.peer);
      continue;
    }
    expect(replicas.get(step.from), `source must be Active: ${JSON.stringify(step)}`).toBe('Active');
    expect(replicas.has(step.to), `target already holds the shard: ${JSON.stringify(step)}`).toBe(false);
    expect(l.peers).toContain(step.to);
    replicas.set(step.to, 'Active');
    if (step.kind === 'move') replicas.delete(step.from);
  }
  return placement;
}

function loads(l: Layout, placement: Map<string, Map<PeerId, string>>): number[] {
  return l.peers.map((peer) => [...placement.values()].filter((r) => r.has(peer)).length);
}

describe('planDrain', () => {
  it('moves each replica to a peer that does not hold the shard yet', () => {
    const l = layout([1, 2, 3], { 'docs/0': '1 2', 'docs/1': '1 3', 'docs/2': '2 3' });
    expect(planDrain(l, p(1))).toEqual({ steps: [move('docs', 0, 1, 3), move('docs', 1, 1, 2)], blocked: [] });
  });

  it('picks the least-loaded target and counts the replicas it has already placed', () => {
    // Loads before: 1:3 2:2 3:1 4:1. a/0 goes to 4 (as light as 3, with fewer `a` replicas);
    // then 3 is the lightest for a/1; a/2 (on 3 already) goes to 4, lighter in `a` than 2.
    const l = layout([1, 2, 3, 4], { 'a/0': '1 2', 'a/1': '1 2', 'a/2': '1 3', 'b/0': '4' });
    const plan = planDrain(l, p(1));
    expect(plan.steps).toEqual([move('a', 0, 1, 4), move('a', 1, 1, 3), move('a', 2, 1, 4)]);
    expect(loads(l, apply(l, plan))).toEqual([0, 2, 2, 3]);
  });

  it('breaks a tie in load by the replicas of the same collection', () => {
    // Peers 3 and 4 both hold one replica; 3's is of `a`, so a/0 goes to 4.
    const l = layout([1, 2, 3, 4], { 'a/0': '1', 'a/1': '3', 'b/0': '4', 'b/1': '2' });
    expect(planDrain(l, p(1)).steps).toEqual([move('a', 0, 1, 2)]);
    const tied = layout([1, 3, 4], { 'a/0': '1', 'a/1': '3', 'b/0': '4' });
    expect(planDrain(tied, p(1)).steps).toEqual([move('a', 0, 1, 4)]);
  });

  it('reports a shard every other peer already holds, and moves the rest', () => {
    const l = layout([1, 2, 3], { 'docs/0': '1 2 3', 'docs/1': '1 2' });
    const plan = planDrain(l, p(1));
    expect(plan.steps).toEqual([move('docs', 1, 1, 3)]);
    expect(plan.blocked).toEqual([{ collection: 'docs', shardId: 0, peer: p(1), reason: 'every other peer already holds a replica of this shard' }]);
  });

  it('copies a Dead replica from an Active one elsewhere and drops the stale copy', () => {
    const l = layout([1, 2, 3], { 'docs/0': '1:Dead 2' });
    expect(planDrain(l, p(1)).steps).toEqual([
      { kind: 'replicate', collection: 'docs', shardId: 0, from: p(2), to: p(3) },
      { kind: 'drop', collection: 'docs', shardId: 0, peer: p(1) },
    ]);
  });

  it('blocks a non-Active replica with no Active copy to start from', () => {
    const plan = planDrain(layout([1, 2, 3], { 'docs/0': '1:Dead 2:Dead' }), p(1));
    expect(plan.steps).toEqual([]);
    expect(plan.blocked[0]?.reason).toMatch(/Dead and no other peer holds an Active replica/);
  });

  it('leaves shards with a running transfer alone', () => {
    const transfer: TransferInfo = { collection: 'docs', shardId: 0, toShardId: null, from: p(2), to: p(3), sync: true, method: null, comment: null };
    const plan = planDrain(layout([1, 2, 3], { 'docs/0': '1 2 3:Partial', 'docs/1': '1 2' }, [transfer]), p(1));
    expect(plan.steps).toEqual([move('docs', 1, 1, 3)]);
    expect(plan.blocked.map((b) => b.shardId)).toEqual([0]);
  });

  it('refuses a peer that is not a member', () => {
    expect(() => planDrain(layout([1, 2], { 'docs/0': '1' }), p(9))).toThrow(PlanError);
  });

  it('on any layout, empties the peer except for shards it reports, without ever placing two replicas of a shard on one peer', () => {
    fc.assert(
      fc.property(arbitraryLayout(), fc.nat(), ({ layout: l }, pick) => {
        const peer = l.peers[pick % l.peers.length]!;
        const plan = planDrain(l, peer);
        const after = apply(l, plan);
        const blocked = new Set(plan.blocked.map((b) => `${b.collection}/${b.shardId}`));
        for (const [shard, replicas] of after) expect(replicas.has(peer)).toBe(blocked.has(shard));
        for (const b of plan.blocked) {
          const replicas = after.get(`${b.collection}/${b.shardId}`)!;
          const others = l.peers.filter((x) => x !== peer);
          // Blocked only when it had to be: no free peer, or no Active copy to start from.
          expect(others.every((x) => replicas.has(x)) || ![...replicas.values()].includes('Active') || replicas.get(peer) !== 'Active').toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('planRebalance', () => {
  it('fills a new empty peer until no two peers differ by more than one replica', () => {
    const l = layout([1, 2, 3, 4], { 'a/0': '1 2', 'a/1': '2 3', 'a/2': '3 1', 'b/0': '1 2', 'b/1': '2 3', 'b/2': '3 1' });
    const plan = planRebalance(l);
    expect(plan.steps).toHaveLength(3);
    const counts = loads(l, apply(l, plan));
    expect(counts).toEqual([3, 3, 3, 3]);
  });

  it('plans nothing for a balanced cluster', () => {
    expect(planRebalance(layout([1, 2, 3], { 'a/0': '1 2', 'a/1': '2 3', 'a/2': '3 1' }))).toEqual({ steps: [], blocked: [] });
  });

  it('moves a replica of the collection most over-represented on the source', () => {
    // Peer 1 holds a/0, a/1 and b/0; peer 2 already has a b replica, so an `a` shard moves.
    const l = layout([1, 2], { 'a/0': '1', 'a/1': '1', 'b/0': '1', 'b/1': '2' });
    const plan = planRebalance(l);
    expect(plan.steps).toEqual([move('a', 0, 1, 2)]);
  });

  it('never moves a replica that is not Active', () => {
    const l = layout([1, 2], { 'a/0': '1:Dead', 'a/1': '1:Partial', 'a/2': '1:Dead' });
    expect(planRebalance(l).steps).toEqual([]);
  });

  it('on any layout of Active replicas without transfers, ends within one replica of even', () => {
    fc.assert(
      fc.property(arbitraryLayout(), ({ layout: l }) => {
        const plan = planRebalance(l);
        const counts = loads(l, apply(l, plan));
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(l.shards.reduce((n, s) => n + s.replicas.length, 0));
      }),
      { numRuns: 300 },
    );
  });
});

/** 1-6 peers, 1-3 collections of 1-6 shards, each shard on 1..min(3, peers) distinct peers, all Active. */
function arbitraryLayout(): fc.Arbitrary<{ layout: Layout }> {
  return fc
    .record({
      peers: fc.integer({ min: 1, max: 6 }),
      collections: fc.array(fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
    })
    .map(({ peers, collections }) => {
      const ids = Array.from({ length: peers }, (_, i) => (i + 1) * 7);
      const shards: Record<string, string> = {};
      collections.forEach((shardList, c) =>
        shardList.forEach((picks, s) => {
          const chosen = [...new Set(picks.map((x) => ids[x % peers]!))];
          shards[`c${c}/${s}`] = chosen.join(' ');
        }),
      );
      return { layout: layout(ids, shards) };
    });
}
