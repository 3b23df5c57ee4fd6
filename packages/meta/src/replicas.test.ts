import { describe, expect, it } from 'vitest';
import { apply, EMPTY_META_STATE, LEGACY_LOCAL_PEER, replicaCounts, shardKeysOf, type MetaState } from './state.js';
import { decodeState, encodeState, stateHash } from './codec.js';
import { collectionConfig } from './defaults.js';
import { balancedPlacement } from './placement.js';
import type { MetaOperation } from './types.js';
import type { ReplicaState } from './replicas.js';

function run(ops: MetaOperation[], from: MetaState = EMPTY_META_STATE): { state: MetaState; outcomes: boolean[] } {
  let state = from;
  const outcomes: boolean[] = [];
  for (const op of ops) {
    const applied = apply(state, state.appliedIndex + 1, op);
    state = applied.state;
    outcomes.push(applied.outcome.ok);
  }
  return { state, outcomes };
}

const ring = { kind: 'ring', vnodes: 16, seed: 0 } as const;
const auto3 = collectionConfig(4, 'Dot', { shardNumber: 3, replicationFactor: 2 });
const custom = collectionConfig(4, 'Dot', { shardingMethod: 'custom', shardNumber: 2 });

function replica(state: MetaState, name: string, shard: number, peer: number): { state: ReplicaState; generation: number } | undefined {
  return state.collections.get(name)?.shards.get(shard)?.replicas.find((r) => r.peer === peer);
}

describe('balanced placement', () => {
  it('puts replicas of one shard on distinct peers and evens the counts', () => {
    const placement = balancedPlacement([3, 1, 2], new Map(), 3, 2);
    expect(placement).toHaveLength(3);
    for (const peers of placement) expect(new Set(peers).size).toBe(2);
    const counts = new Map<number, number>();
    for (const p of placement.flat()) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2]);
    // The first replicas (leaders of strong writes) differ between shards.
    expect(new Set(placement.map((p) => p[0])).size).toBe(3);
  });

  it('fills the least loaded peers first and caps replicas at the number of peers', () => {
    expect(balancedPlacement([1, 2, 3], new Map([[1, 5], [2, 5]]), 1, 1)).toEqual([[3]]);
    expect(balancedPlacement([1, 2], new Map(), 1, 3)).toEqual([[1, 2]]);
    expect(balancedPlacement([], new Map(), 2, 1)).toEqual([]);
  });

  it('is the same for the same input', () => {
    const load = new Map([[7, 1]]);
    expect(balancedPlacement([7, 8, 9, 10], load, 5, 3)).toEqual(balancedPlacement([10, 9, 8, 7], load, 5, 3));
  });
});

describe('placement and replica states in the metadata', () => {
  it('creates the placed shards in the given state, with the ring scheme', () => {
    const placement = [[1, 2], [2, 3], [3, 1]];
    const { state, outcomes } = run([{ kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement, initialState: 'Initializing' }]);
    expect(outcomes).toEqual([true]);
    const meta = state.collections.get('a')!;
    expect(meta.routing).toEqual(ring);
    expect([...meta.shards.keys()]).toEqual([0, 1, 2]);
    expect(meta.shards.get(1)?.replicas).toEqual([{ peer: 2, state: 'Initializing', generation: 1 }, { peer: 3, state: 'Initializing', generation: 1 }]);
    expect(replicaCounts(state)).toEqual(new Map([[1, 2], [2, 2], [3, 2]]));
  });

  it('refuses placements that do not fit the config', () => {
    const { outcomes } = run([
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [2]] },
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1, 1], [2], [3]] },
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [], [3]] },
      { kind: 'create_collection', name: 'a', config: auto3, routing: { kind: 'ring', vnodes: 0, seed: 0 }, placement: [[1], [2], [3]] },
      { kind: 'create_collection', name: 'c', config: custom, routing: ring, placement: [[1]] },
      { kind: 'create_collection', name: 'c', config: custom, routing: ring, placement: [] },
    ]);
    expect(outcomes).toEqual([false, false, false, false, false, true]);
  });

  it('changes a replica state only from the expected state and generation', () => {
    const created = run([{ kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1, 2], [2, 3], [3, 1]], initialState: 'Initializing' }]).state;
    const activate = (peer: number, shard: number): MetaOperation => ({
      kind: 'set_replica_states', collection: 'a', incarnation: 1, changes: [{ shard, peer, expect: { state: 'Initializing', generation: 1 }, state: 'Active' }],
    });
    const { state } = run([activate(1, 0), activate(2, 0), activate(1, 0)], created);
    expect(replica(state, 'a', 0, 1)).toEqual({ peer: 1, state: 'Active', generation: 2 });
    expect(replica(state, 'a', 0, 2)).toEqual({ peer: 2, state: 'Active', generation: 3 });
    // A Dead mark decided on generation 2 applies once; a Dead replica is never made Active by a
    // state change (only a finished transfer brings it back), and the same stale mark sent again
    // after a recovery must not kill it.
    const dead: MetaOperation = { kind: 'set_replica_states', collection: 'a', incarnation: 1, changes: [{ shard: 0, peer: 1, expect: { state: 'Active', generation: 2 }, state: 'Dead' }] };
    const afterDead = run([dead], state).state;
    expect(replica(afterDead, 'a', 0, 1)?.state).toBe('Dead');
    const revive: MetaOperation = { kind: 'set_replica_states', collection: 'a', incarnation: 1, changes: [{ shard: 0, peer: 1, expect: { state: 'Dead', generation: 5 }, state: 'Active' }] };
    expect(replica(run([revive], afterDead).state, 'a', 0, 1)).toEqual({ peer: 1, state: 'Dead', generation: 5 });
    const recovered = run([
      { kind: 'start_transfer', collection: 'a', incarnation: 1, shard: 0, from: 2, to: 1, sync: true, method: 'stream_records' },
      { kind: 'finish_transfer', collection: 'a', incarnation: 1, shard: 0, from: 2, to: 1, transferId: 6 },
      dead,
    ], afterDead).state;
    expect(replica(recovered, 'a', 0, 1)).toEqual({ peer: 1, state: 'Active', generation: 7, storage: 6 });
  });

  it('never takes the last Active replica of a shard away', () => {
    const base = run([{ kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1, 2], [2, 3], [3, 1]], initialState: 'Active' }]).state;
    const bothDead: MetaOperation = {
      kind: 'set_replica_states', collection: 'a', incarnation: 1,
      changes: [
        { shard: 0, peer: 1, expect: { state: 'Active', generation: 1 }, state: 'Dead' },
        { shard: 0, peer: 2, expect: { state: 'Active', generation: 1 }, state: 'Dead' },
      ],
    };
    const { state } = run([bothDead], base);
    expect(replica(state, 'a', 0, 1)?.state).toBe('Dead');
    expect(replica(state, 'a', 0, 2)?.state).toBe('Active');
  });

  it('refuses state changes for another incarnation of the collection', () => {
    const { outcomes } = run([
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [2], [3]], initialState: 'Active' },
      { kind: 'delete_collection', name: 'a' },
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [2], [3]], initialState: 'Active' },
      { kind: 'set_replica_states', collection: 'a', incarnation: 1, changes: [] },
      { kind: 'set_replica_states', collection: 'a', incarnation: 3, changes: [] },
    ]);
    expect(outcomes).toEqual([true, true, true, false, true]);
  });

  it('creates and deletes shard keys with their own shards', () => {
    const { state, outcomes } = run([
      { kind: 'create_collection', name: 'c', config: custom, routing: ring, placement: [] },
      { kind: 'create_shard_key', collection: 'c', incarnation: 1, key: 'eu', placement: [[1, 2], [2, 3]], initialState: 'Active' },
      { kind: 'create_shard_key', collection: 'c', incarnation: 1, key: 'eu', placement: [[1]], initialState: 'Active' },
      { kind: 'create_shard_key', collection: 'c', incarnation: 1, key: 7, placement: [[3]], initialState: 'Active' },
      { kind: 'delete_shard_key', collection: 'c', incarnation: 1, key: 'eu' },
      { kind: 'delete_shard_key', collection: 'c', incarnation: 1, key: 'eu' },
      { kind: 'create_shard_key', collection: 'c', incarnation: 1, key: 'eu', placement: [[1]], initialState: 'Active' },
    ]);
    expect(outcomes).toEqual([true, true, false, true, true, false, true]);
    const meta = state.collections.get('c')!;
    // Ids are never reused: eu's first shards were 0 and 1, 7 got 2, eu again gets 3.
    expect([...meta.shards.keys()].sort()).toEqual([2, 3]);
    expect(shardKeysOf(meta)).toEqual([7, 'eu']);
    const auto = run([
      { kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [2], [3]] },
      { kind: 'create_shard_key', collection: 'a', incarnation: 1, key: 'eu', placement: [[1]], initialState: 'Active' },
    ]);
    expect(auto.outcomes).toEqual([true, false]);
  });

  it('records transfers: the receiver is Partial, then Active (and a move drops the source) or removed', () => {
    const base = run([{ kind: 'create_collection', name: 'a', config: auto3, routing: ring, placement: [[1], [2], [3]], initialState: 'Active' }]).state;
    const { state, outcomes } = run([
      { kind: 'start_transfer', collection: 'a', incarnation: 1, shard: 0, from: 1, to: 2, sync: false, method: 'stream_records' },
      { kind: 'start_transfer', collection: 'a', incarnation: 1, shard: 0, from: 1, to: 3, sync: false, method: 'stream_records' },
      { kind: 'start_transfer', collection: 'a', incarnation: 1, shard: 2, from: 3, to: 1, sync: true, method: 'snapshot' },
      { kind: 'finish_transfer', collection: 'a', incarnation: 1, shard: 0, from: 1, to: 2, transferId: 2 },
      { kind: 'start_transfer', collection: 'a', incarnation: 1, shard: 1, from: 2, to: 3, sync: true, method: 'snapshot' },
      { kind: 'abort_transfer', collection: 'a', incarnation: 1, shard: 1, to: 3 },
      { kind: 'abort_transfer', collection: 'a', incarnation: 1, shard: 1, to: 3 },
    ], base);
    // The second start: one transfer per shard; the third: peer 1 sends one already.
    expect(outcomes).toEqual([true, false, false, true, true, true, false]);
    const meta = state.collections.get('a')!;
    expect(meta.transfers).toEqual([]);
    expect(meta.shards.get(0)?.replicas).toEqual([{ peer: 2, state: 'Active', generation: 5, storage: 2 }]);
    expect(meta.shards.get(1)?.replicas.map((r) => [r.peer, r.state])).toEqual([[2, 'Active']]);
  });

  it('decodes a state stored before placement as modulo routing with local Active replicas', () => {
    const legacy = {
      collections: { $map: [['old', { name: 'old', config: { ...auto3, vectors: { $map: [['', auto3.vectors.get('')]] }, vectorOverrides: { $map: [] } }, payloadIndexes: { $map: [] }, version: 1, createdIndex: 4 }]] },
      aliases: { $map: [] },
      appliedIndex: 9,
    };
    const state = decodeState(new TextEncoder().encode(JSON.stringify(legacy)));
    const meta = state.collections.get('old')!;
    expect(meta.routing).toEqual({ kind: 'modulo' });
    expect([...meta.shards.values()].map((s) => s.replicas)).toEqual([0, 1, 2].map(() => [{ peer: LEGACY_LOCAL_PEER, state: 'Active', generation: 4 }]));
    // Re-encoding is stable: the upgraded state hashes the same after another round trip.
    expect(stateHash(decodeState(encodeState(state)))).toBe(stateHash(state));
  });

  it('reads an entry written before placement as modulo with one local replica per shard', () => {
    const { state } = run([{ kind: 'create_collection', name: 'a', config: auto3 }]);
    const meta = state.collections.get('a')!;
    expect(meta.routing).toEqual({ kind: 'modulo' });
    expect(meta.shards.get(2)?.replicas).toEqual([{ peer: LEGACY_LOCAL_PEER, state: 'Active', generation: 1 }]);
  });
});
