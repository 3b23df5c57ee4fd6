// Planning drain and rebalance: pure functions from a cluster layout to an ordered list of
// shard operations. A peer holds at most one replica of a shard, so a target is always a peer
// without one. Replica counts are the load: every replica costs its peer the same.
import { comparePeerIds, type PeerId } from './ids.js';
import type { Layout } from './model.js';

export type Step =
  | { readonly kind: 'move'; readonly collection: string; readonly shardId: number; readonly from: PeerId; readonly to: PeerId }
  | { readonly kind: 'replicate'; readonly collection: string; readonly shardId: number; readonly from: PeerId; readonly to: PeerId }
  | { readonly kind: 'drop'; readonly collection: string; readonly shardId: number; readonly peer: PeerId };

/** A replica the plan cannot relocate, and why. */
export interface Blocked {
  readonly collection: string;
  readonly shardId: number;
  readonly peer: PeerId;
  readonly reason: string;
}

export interface Plan {
  readonly steps: readonly Step[];
  readonly blocked: readonly Blocked[];
}

/** The request cannot be planned at all (e.g. the peer is not a member). */
export class PlanError extends Error {
  override readonly name = 'PlanError';
}

/** Replicas that may be the source of a move: only an Active replica serves a transfer. */
const MOVABLE_STATE = 'Active';
/** State the plan gives a replica it has placed: never moved again within the same plan. */
const PLANNED_STATE = 'Planned';

interface Shard {
  readonly collection: string;
  readonly shardId: number;
  /** peer -> replica state, updated as the plan places and removes replicas. */
  readonly replicas: Map<PeerId, string>;
  /** A transfer of this shard is running: the plan leaves it alone. */
  readonly busy: boolean;
}

/** The layout as the plan changes it, with the load counters it picks targets by. */
class Working {
  readonly shards: Shard[];
  readonly load = new Map<PeerId, number>();
  private readonly collectionLoad = new Map<string, number>();

  constructor(readonly members: readonly PeerId[], layout: Layout) {
    for (const peer of members) this.load.set(peer, 0);
    const busy = new Set(layout.transfers.map((t) => `${t.collection}\u0000${t.shardId}`));
    this.shards = layout.shards
      .map((s) => ({
        collection: s.collection,
        shardId: s.shardId,
        replicas: new Map(s.replicas.map((r) => [r.peer, r.state] as const)),
        busy: busy.has(`${s.collection}\u0000${s.shardId}`),
      }))
      .sort((a, b) => (a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : a.shardId - b.shardId));
    for (const shard of this.shards) for (const peer of shard.replicas.keys()) this.count(peer, shard.collection, 1);
  }

  loadOf(peer: PeerId): number {
    return this.load.get(peer) ?? 0;
  }

  collectionLoadOf(peer: PeerId, collection: string): number {
    return this.collectionLoad.get(`${peer}\u0000${collection}`) ?? 0;
  }

  place(shard: Shard, peer: PeerId): void {
    shard.replicas.set(peer, PLANNED_STATE);
    this.count(peer, shard.collection, 1);
  }

  remove(shard: Shard, peer: PeerId): void {
    shard.replicas.delete(peer);
    this.count(peer, shard.collection, -1);
  }

  /** The least-loaded member outside `exclude` without a replica of `shard`, or null. */
  target(shard: Shard, exclude: PeerId): PeerId | null {
    let best: PeerId | null = null;
    for (const peer of this.members) {
      if (peer === exclude || shard.replicas.has(peer)) continue;
      if (best === null || this.lighter(peer, best, shard.collection)) best = peer;
    }
    return best;
  }

  /** Fewer replicas in all, then fewer of this collection, then the lower id. */
  private lighter(a: PeerId, b: PeerId, collection: string): boolean {
    const byLoad = this.loadOf(a) - this.loadOf(b);
    if (byLoad !== 0) return byLoad < 0;
    const byCollection = this.collectionLoadOf(a, collection) - this.collectionLoadOf(b, collection);
    if (byCollection !== 0) return byCollection < 0;
    return comparePeerIds(a, b) < 0;
  }

  private count(peer: PeerId, collection: string, delta: number): void {
    if (!this.load.has(peer)) return; // a replica on a peer that is no longer a member
    this.load.set(peer, this.loadOf(peer) + delta);
    const key = `${peer}\u0000${collection}`;
    this.collectionLoad.set(key, (this.collectionLoad.get(key) ?? 0) + delta);
  }
}

/**
 * Moves every replica off `peer` onto the least-loaded other members, one shard at a time. An
 * Active replica moves; a replica in another state cannot serve a transfer, so the shard is
 * copied from an Active replica elsewhere and the stale one dropped. Shards with a running
 * transfer, or with no member left to take them, are reported as blocked.
 */
export function planDrain(layout: Layout, peer: PeerId): Plan {
  if (!layout.peers.includes(peer)) throw new PlanError(`peer ${peer} is not a member of the cluster (members: ${[...layout.peers].sort(comparePeerIds).join(', ')})`);
  const work = new Working(layout.peers, layout);
  const steps: Step[] = [];
  const blocked: Blocked[] = [];
  for (const shard of work.shards) {
    const state = shard.replicas.get(peer);
    if (state === undefined) continue;
    const where = { collection: shard.collection, shardId: shard.shardId, peer };
    if (shard.busy) {
      blocked.push({ ...where, reason: 'a transfer of this shard is running: wait for it to finish or abort it, then drain again' });
      continue;
    }
    const target = work.target(shard, peer);
    if (target === null) {
      blocked.push({ ...where, reason: layout.peers.length === 1 ? 'there is no other peer' : 'every other peer already holds a replica of this shard' });
      continue;
    }
    if (state === MOVABLE_STATE) {
      steps.push({ kind: 'move', collection: shard.collection, shardId: shard.shardId, from: peer, to: target });
    } else {
      const source = activeSource(shard, peer);
      if (source === null) {
        blocked.push({ ...where, reason: `its replica here is ${state} and no other peer holds an Active replica to copy from` });
        continue;
      }
      steps.push({ kind: 'replicate', collection: shard.collection, shardId: shard.shardId, from: source, to: target });
      steps.push({ kind: 'drop', collection: shard.collection, shardId: shard.shardId, peer });
    }
    work.remove(shard, peer);
    work.place(shard, target);
  }
  return { steps, blocked };
}

/** The lowest-id peer other than `exclude` holding an Active replica of `shard`, or null. */
function activeSource(shard: Shard, exclude: PeerId): PeerId | null {
  const sources = [...shard.replicas].filter(([p, s]) => p !== exclude && s === MOVABLE_STATE).map(([p]) => p);
  return sources.sort(comparePeerIds)[0] ?? null;
}

/**
 * Moves replicas from the most- to the least-loaded members until no two members differ by
 * more than one replica, or no remaining move can narrow the gap (every replica on the heavier
 * peer is not Active, busy, or already present on the lighter one). Each move lowers the sum of
 * squared loads by at least 2, so the loop ends; the cap only guards that argument.
 */
export function planRebalance(layout: Layout): Plan {
  const work = new Working(layout.peers, layout);
  const steps: Step[] = [];
  const movesMax = work.shards.reduce((n, s) => n + s.replicas.size, 0) * Math.max(1, layout.peers.length);
  while (steps.length <= movesMax) {
    const step = nextRebalanceMove(work);
    if (step === null) return { steps, blocked: [] };
    steps.push(step);
  }
  throw new Error(`rebalance planning did not converge after ${movesMax} moves`);
}

function nextRebalanceMove(work: Working): Step | null {
  const byLoad = [...work.members].sort((a, b) => work.loadOf(a) - work.loadOf(b) || comparePeerIds(a, b));
  for (let s = byLoad.length - 1; s >= 0; s--) {
    const source = byLoad[s]!;
    for (const target of byLoad) {
      if (work.loadOf(source) - work.loadOf(target) < 2) break;
      const shard = bestReplicaToMove(work, source, target);
      if (shard === null) continue;
      work.remove(shard, source);
      work.place(shard, target);
      return { kind: 'move', collection: shard.collection, shardId: shard.shardId, from: source, to: target };
    }
  }
  return null;
}

/** The Active replica on `source` whose collection is most over-represented there relative to `target`. */
function bestReplicaToMove(work: Working, source: PeerId, target: PeerId): Shard | null {
  let best: Shard | null = null;
  let bestGap = -Infinity;
  for (const shard of work.shards) {
    if (shard.busy || shard.replicas.get(source) !== MOVABLE_STATE || shard.replicas.has(target)) continue;
    const gap = work.collectionLoadOf(source, shard.collection) - work.collectionLoadOf(target, shard.collection);
    if (gap > bestGap) {
      best = shard;
      bestGap = gap;
    }
  }
  return best;
}
