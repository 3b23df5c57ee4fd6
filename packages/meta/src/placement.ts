// Where new shards' replicas go. The proposer computes this once and puts the answer in the log
// entry, so every node applies the same placement whatever it knows about the peers' load.
import type { Placement } from './types.js';

/**
 * `shardCount` shards of `replicationFactor` replicas each (at most one per peer, so fewer when
 * there are fewer peers), spread so that replica counts per peer stay as even as possible:
 * each replica goes to the peer holding the fewest replicas (`load`: what peers hold already,
 * over all collections), ties broken by rotating from the shard's index, then by peer id. The
 * chosen peers are ordered so that the one that leads the fewest of these shards comes first
 * (first replicas lead `strong` writes). Deterministic for equal inputs.
 */
export function balancedPlacement(
  peers: readonly number[],
  load: ReadonlyMap<number, number>,
  shardCount: number,
  replicationFactor: number,
): Placement {
  const sorted = [...new Set(peers)].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const counts = new Map(sorted.map((p) => [p, load.get(p) ?? 0]));
  const replicas = Math.min(replicationFactor, sorted.length);
  const leads = new Map<number, number>();
  const out: number[][] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const rank = (peer: number): number => (sorted.indexOf(peer) - (shard % sorted.length) + sorted.length) % sorted.length;
    const chosen = [...sorted]
      .sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0) || rank(a) - rank(b))
      .slice(0, replicas)
      .sort((a, b) => (leads.get(a) ?? 0) - (leads.get(b) ?? 0) || rank(a) - rank(b));
    for (const peer of chosen) counts.set(peer, (counts.get(peer) ?? 0) + 1);
    leads.set(chosen[0]!, (leads.get(chosen[0]!) ?? 0) + 1);
    out.push(chosen);
  }
  return out;
}
