import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState, stateHash } from './codec.js';
import { collectionConfig } from './defaults.js';
import { TRANSFERS_IN_PER_PEER_MAX, TRANSFERS_OUT_PER_PEER_MAX } from './limits.js';
import type { ReplicaState } from './replicas.js';
import { apply, EMPTY_META_STATE, type MetaState } from './state.js';
import { transferLoad } from './transfers.js';
import type { MetaOperation } from './types.js';

const ring = { kind: 'ring', vnodes: 16, seed: 0 } as const;
const config = collectionConfig(4, 'Dot', { shardNumber: 2, replicationFactor: 2 });
const PEERS = [1, 2, 3, 4];

function step(state: MetaState, op: MetaOperation): { state: MetaState; ok: boolean } {
  const applied = apply(state, state.appliedIndex + 1, op);
  return { state: applied.state, ok: applied.outcome.ok };
}

function run(ops: readonly MetaOperation[], from: MetaState = EMPTY_META_STATE): { state: MetaState; outcomes: boolean[] } {
  let state = from;
  const outcomes: boolean[] = [];
  for (const op of ops) {
    const r = step(state, op);
    state = r.state;
    outcomes.push(r.ok);
  }
  return { state, outcomes };
}

/** Collection `a` (incarnation 1): shard 0 on peers 1, 2 and shard 1 on peers 2, 3, all Active. */
const BASE = run([{ kind: 'create_collection', name: 'a', config, routing: ring, placement: [[1, 2], [2, 3]], initialState: 'Active' }]).state;
const at = { collection: 'a', incarnation: 1 } as const;

function replica(state: MetaState, shard: number, peer: number) {
  return state.collections.get('a')?.shards.get(shard)?.replicas.find((r) => r.peer === peer);
}

function dead(state: MetaState, shard: number, peer: number): MetaOperation {
  const r = replica(state, shard, peer);
  return { kind: 'set_replica_states', ...at, changes: [{ shard, peer, expect: { state: r?.state ?? 'Active', generation: r?.generation ?? 0 }, state: 'Dead' }] };
}

describe('transfer transitions', () => {
  it('starts only from an Active source to a peer without a live replica, within the limits', () => {
    const { outcomes } = run([
      { kind: 'start_transfer', ...at, shard: 0, from: 1, to: 2, sync: true, method: 'stream_records' }, // 2 holds an Active replica
      { kind: 'start_transfer', ...at, shard: 0, from: 4, to: 3, sync: true, method: 'stream_records' }, // no replica on 4
      { kind: 'start_transfer', ...at, shard: 0, from: 1, to: 1, sync: true, method: 'stream_records' },
      { kind: 'start_transfer', ...at, shard: 0, from: 1, to: 3, sync: true, method: 'resharding_stream_records' },
      { kind: 'start_transfer', ...at, shard: 0, from: 1, to: 3, sync: true, method: 'stream_records' },
      { kind: 'start_transfer', ...at, shard: 1, from: 2, to: 3, sync: true, method: 'stream_records' }, // 3 receives one already
      { kind: 'start_transfer', ...at, shard: 1, from: 3, to: 4, sync: true, method: 'stream_records' }, // 3 is a target: cannot send
      { kind: 'start_transfer', ...at, shard: 1, from: 2, to: 4, sync: false, method: 'stream_records' },
    ], BASE);
    expect(outcomes).toEqual([false, false, false, false, true, false, false, true]);
  });

  it('runs wal_delta only into a replica that held every write but those it missed', () => {
    const delta = (to: number, shard = 0, from = 1): MetaOperation => ({ kind: 'start_transfer', ...at, shard, from, to, sync: true, method: 'wal_delta' });
    // No replica on peer 3: nothing to send a delta to.
    expect(run([delta(3)], BASE).outcomes).toEqual([false]);
    // peer 2's replica of shard 0 was Active, then Dead: a delta keeps its storage.
    const away = run([dead(BASE, 0, 2)], BASE).state;
    const started = run([delta(2)], away).state;
    expect(replica(started, 0, 2)).toEqual({ peer: 2, state: 'Partial', generation: started.appliedIndex });
    const finish: MetaOperation = { kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 2, transferId: started.appliedIndex };
    expect(replica(run([finish], started).state, 0, 2)).toEqual({ peer: 2, state: 'Active', generation: started.appliedIndex + 1 });
    // A stream into it that is aborted leaves it Dead on half-filled storage: no delta then, a stream again is fine.
    const streamed = run([{ kind: 'start_transfer', ...at, shard: 0, from: 1, to: 2, sync: true, method: 'stream_records' }], away).state;
    const aborted = run([{ kind: 'abort_transfer', ...at, shard: 0, from: 1, to: 2, transferId: streamed.appliedIndex }], streamed).state;
    expect(replica(aborted, 0, 2)).toMatchObject({ state: 'Dead', storage: streamed.appliedIndex, unfilled: true });
    expect(run([delta(2)], aborted).outcomes).toEqual([false]);
    const again = run([{ kind: 'start_transfer', ...at, shard: 0, from: 1, to: 2, sync: true, method: 'snapshot' }], aborted);
    expect(again.outcomes).toEqual([true]);
    // Restarting a stream as a delta is refused (its target is half-filled); a delta restarted as a stream goes to new storage.
    expect(run([{ kind: 'restart_transfer', ...at, shard: 0, from: 1, to: 2, method: 'wal_delta' }], again.state).outcomes).toEqual([false]);
    const toStream = run([{ kind: 'restart_transfer', ...at, shard: 0, from: 1, to: 2, method: 'stream_records' }], started).state;
    expect(replica(toStream, 0, 2)).toEqual({ peer: 2, state: 'Partial', generation: toStream.appliedIndex, storage: toStream.appliedIndex, unfilled: true });
    // A delta that ends unfinished (aborted, or its target marked Dead) leaves the target to a copy.
    const cut = run([{ kind: 'abort_transfer', ...at, shard: 0, from: 1, to: 2, transferId: started.appliedIndex }], started).state;
    expect(replica(cut, 0, 2)).toMatchObject({ state: 'Dead', unfilled: true });
    expect(run([delta(2)], cut).outcomes).toEqual([false]);
    expect(replica(run([dead(started, 0, 2)], started).state, 0, 2)).toMatchObject({ state: 'Dead', unfilled: true });
    // A running delta is not restarted as a delta (its target may hold part of the suffix).
    expect(run([{ kind: 'restart_transfer', ...at, shard: 0, from: 1, to: 2, method: 'wal_delta' }], started).outcomes).toEqual([false]);
    // A restart names the transfer it means: another id is refused.
    expect(run([{ kind: 'restart_transfer', ...at, shard: 0, from: 1, to: 2, method: 'stream_records', transferId: started.appliedIndex - 1 }], started).outcomes).toEqual([false]);
    // The flag survives the metadata's encoding.
    expect(replica(decodeState(encodeState(aborted)), 0, 2)).toMatchObject({ unfilled: true });
  });

  it('finishes only the transfer it names, with both ends unchanged', () => {
    const started = run([{ kind: 'start_transfer', ...at, shard: 0, from: 1, to: 3, sync: true, method: 'stream_records' }], BASE).state;
    const id = started.appliedIndex;
    expect(replica(started, 0, 3)).toEqual({ peer: 3, state: 'Partial', generation: id, storage: id, unfilled: true });
    expect(started.collections.get('a')?.shards.get(0)?.fence).toBe(id);
    const stale = { kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 3, transferId: id - 1 } as const;
    const wrongFrom = { kind: 'finish_transfer', ...at, shard: 0, from: 2, to: 3, transferId: id } as const;
    const good = { kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 3, transferId: id } as const;
    const { state, outcomes } = run([stale, wrongFrom, good, good], started);
    expect(outcomes).toEqual([false, false, true, false]);
    expect(replica(state, 0, 3)?.state).toBe('Active');
    expect(replica(state, 0, 1)?.state).toBe('Active');
  });

  it('a Dead mark of either end aborts the transfer in the same entry; a restarted transfer gets a new id', () => {
    const started = run([{ kind: 'start_transfer', ...at, shard: 0, from: 1, to: 3, sync: false, method: 'stream_records' }], BASE).state;
    const sourceDead = run([dead(started, 0, 1)], started).state;
    expect(sourceDead.collections.get('a')?.transfers).toEqual([]);
    expect(replica(sourceDead, 0, 3)).toBeUndefined(); // created by the start: removed
    const targetDead = run([dead(started, 0, 3)], started).state;
    expect(targetDead.collections.get('a')?.transfers).toEqual([]);
    expect(replica(targetDead, 0, 3)).toBeUndefined();

    const restarted = run([{ kind: 'restart_transfer', ...at, shard: 0, from: 1, to: 3, method: 'snapshot' }], started).state;
    const t = restarted.collections.get('a')!.transfers[0]!;
    expect(t.method).toBe('snapshot');
    expect(t.startedIndex).toBe(restarted.appliedIndex);
    expect(replica(restarted, 0, 3)).toEqual({ peer: 3, state: 'Partial', generation: t.startedIndex, storage: t.startedIndex, unfilled: true });
    const old = { kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 3, transferId: started.appliedIndex } as const;
    expect(run([old], restarted).outcomes).toEqual([false]);
    // A move ends with the target in the source's place.
    const moved = run([{ kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 3, transferId: t.startedIndex }], restarted).state;
    expect(moved.collections.get('a')?.shards.get(0)?.replicas.map((r) => [r.peer, r.state])).toEqual([[3, 'Active'], [2, 'Active']]);
  });

  it('aborting a recovery leaves the target Dead; aborting checks the source when given', () => {
    const withDead = run([dead(BASE, 0, 2)], BASE).state;
    const started = run([{ kind: 'start_transfer', ...at, shard: 0, from: 1, to: 2, sync: true, method: 'stream_records' }], withDead).state;
    expect(replica(started, 0, 2)?.state).toBe('Partial');
    const { state, outcomes } = run([
      { kind: 'abort_transfer', ...at, shard: 0, from: 3, to: 2 },
      { kind: 'abort_transfer', ...at, shard: 0, from: 1, to: 2 },
    ], started);
    expect(outcomes).toEqual([false, true]);
    expect(replica(state, 0, 2)?.state).toBe('Dead');
    // A Dead target cannot be revived by a state change, and a Partial one only goes Dead.
    const partialToActive: MetaOperation = {
      kind: 'set_replica_states', ...at, changes: [{ shard: 0, peer: 2, expect: { state: 'Partial', generation: started.appliedIndex }, state: 'Active' }],
    };
    expect(replica(run([partialToActive], started).state, 0, 2)?.state).toBe('Partial');
  });

  it('removes replicas and peers: never the only replica, the last Active one only by force', () => {
    const { state, outcomes } = run([
      { kind: 'remove_replica', ...at, shard: 0, peer: 4 },
      { kind: 'remove_peer', peer: 2, force: false },
      { kind: 'remove_replica', ...at, shard: 0, peer: 1 },
      { kind: 'remove_replica', ...at, shard: 0, peer: 2 }, // now the only replica
      { kind: 'remove_peer', peer: 2, force: true }, // holds shard 0's only replica
      { kind: 'remove_peer', peer: 3, force: true },
      { kind: 'remove_peer', peer: 4, force: false }, // holds nothing
    ], BASE);
    expect(outcomes).toEqual([false, false, true, false, false, true, true]);
    expect(state.collections.get('a')?.shards.get(1)?.replicas.map((r) => r.peer)).toEqual([2]);
  });

  it('a removed peer takes its transfers with it', () => {
    const started = run([{ kind: 'start_transfer', ...at, shard: 1, from: 3, to: 1, sync: true, method: 'stream_records' }], BASE).state;
    const { state } = run([{ kind: 'remove_peer', peer: 3, force: true }], started);
    const meta = state.collections.get('a')!;
    expect(meta.transfers).toEqual([]);
    expect(meta.shards.get(1)?.replicas.map((r) => r.peer)).toEqual([2]);
  });
});

// ----- model test: random operations from every proposer, invariants after each entry

const peerArb = fc.constantFrom(...PEERS);
const shardArb = fc.constantFrom(0, 1);
const stateArb = fc.constantFrom<ReplicaState>('Active', 'Dead', 'Partial', 'Initializing');

/** A proposer's move; CAS fields are read from the current state (or made stale). */
type Move =
  | { readonly kind: 'start'; readonly shard: number; readonly from: number; readonly to: number; readonly sync: boolean; readonly delta: boolean }
  | { readonly kind: 'finish'; readonly skew: number }
  | { readonly kind: 'abort'; readonly shard: number; readonly to: number }
  | { readonly kind: 'restart'; readonly shard: number; readonly from: number; readonly to: number; readonly delta: boolean }
  | { readonly kind: 'remove_replica'; readonly shard: number; readonly peer: number }
  | { readonly kind: 'remove_peer'; readonly peer: number; readonly force: boolean }
  | { readonly kind: 'set_state'; readonly shard: number; readonly peer: number; readonly to: ReplicaState; readonly stale: boolean };

const moveArb: fc.Arbitrary<Move> = fc.oneof(
  fc.record({ kind: fc.constant('start' as const), shard: shardArb, from: peerArb, to: peerArb, sync: fc.boolean(), delta: fc.boolean() }),
  fc.record({ kind: fc.constant('finish' as const), skew: fc.constantFrom(0, 0, 0, -1) }),
  fc.record({ kind: fc.constant('abort' as const), shard: shardArb, to: peerArb }),
  fc.record({ kind: fc.constant('restart' as const), shard: shardArb, from: peerArb, to: peerArb, delta: fc.boolean() }),
  fc.record({ kind: fc.constant('remove_replica' as const), shard: shardArb, peer: peerArb }),
  fc.record({ kind: fc.constant('remove_peer' as const), peer: peerArb, force: fc.boolean() }),
  fc.record({ kind: fc.constant('set_state' as const), shard: shardArb, peer: peerArb, to: stateArb, stale: fc.boolean() }),
);

function toOp(move: Move, s: MetaState): MetaOperation {
  switch (move.kind) {
    case 'start':
      return { kind: 'start_transfer', ...at, shard: move.shard, from: move.from, to: move.to, sync: move.sync, method: move.delta ? 'wal_delta' : 'stream_records' };
    case 'finish': {
      const t = s.collections.get('a')?.transfers[0];
      return t === undefined
        ? { kind: 'finish_transfer', ...at, shard: 0, from: 1, to: 3, transferId: 1 }
        : { kind: 'finish_transfer', ...at, shard: t.shard, from: t.from, to: t.to, transferId: t.startedIndex + move.skew };
    }
    case 'abort':
      return { kind: 'abort_transfer', ...at, shard: move.shard, to: move.to };
    case 'restart':
      return { kind: 'restart_transfer', ...at, shard: move.shard, from: move.from, to: move.to, method: move.delta ? 'wal_delta' : 'stream_records' };
    case 'remove_replica':
      return { kind: 'remove_replica', ...at, shard: move.shard, peer: move.peer };
    case 'remove_peer':
      return { kind: 'remove_peer', peer: move.peer, force: move.force };
    case 'set_state': {
      const r = replica(s, move.shard, move.peer);
      const expect = { state: r?.state ?? 'Active', generation: (r?.generation ?? 0) - (move.stale ? 1 : 0) };
      return { kind: 'set_replica_states', ...at, changes: [{ shard: move.shard, peer: move.peer, expect, state: move.to }] };
    }
  }
}

function checkInvariants(before: MetaState, after: MetaState, op: MetaOperation, ok: boolean): void {
  const meta = after.collections.get('a')!;
  for (const shard of meta.shards.values()) {
    expect(shard.replicas.length).toBeGreaterThan(0);
    expect(new Set(shard.replicas.map((r) => r.peer)).size).toBe(shard.replicas.length);
    expect(shard.fence ?? 0).toBeLessThanOrEqual(after.appliedIndex);
    expect(shard.fence ?? 0).toBeGreaterThanOrEqual(before.collections.get('a')?.shards.get(shard.id)?.fence ?? 0);
    const transfers = meta.transfers.filter((t) => t.shard === shard.id);
    expect(transfers.length).toBeLessThanOrEqual(1);
    for (const r of shard.replicas) {
      // A Partial replica is always the target of its shard's transfer, at the transfer's id.
      if (r.state === 'Partial') expect(transfers.some((t) => t.to === r.peer && t.startedIndex === r.generation)).toBe(true);
      // A Dead replica comes back only through a finished transfer.
      const was = before.collections.get('a')?.shards.get(shard.id)?.replicas.find((x) => x.peer === r.peer);
      if (was?.state === 'Dead' && r.state === 'Active') expect(op.kind).toBe('finish_transfer');
      // Half-filled storage is never Active, and never the target of a delta.
      if (r.unfilled === true) expect(r.state === 'Active' || transfers.some((t) => t.to === r.peer && t.method === 'wal_delta')).toBe(false);
      // A delta keeps its target's storage: the one it had before.
      if (transfers.some((t) => t.to === r.peer && t.method === 'wal_delta') && was !== undefined) expect(r.storage).toBe(was.storage);
    }
    // Only a forced peer removal takes a shard's last Active replica.
    const hadActive = before.collections.get('a')?.shards.get(shard.id)?.replicas.some((r) => r.state === 'Active') ?? false;
    if (hadActive && !shard.replicas.some((r) => r.state === 'Active')) expect(op).toMatchObject({ kind: 'remove_peer', force: true });
  }
  for (const t of meta.transfers) {
    const shard = meta.shards.get(t.shard)!;
    const source = shard.replicas.find((r) => r.peer === t.from);
    const target = shard.replicas.find((r) => r.peer === t.to);
    expect(source).toMatchObject({ state: 'Active', generation: t.sourceGeneration });
    expect(target).toMatchObject({ state: 'Partial', generation: t.startedIndex });
    if (t.method !== 'wal_delta') expect(target).toMatchObject({ storage: t.startedIndex, unfilled: true });
  }
  const load = transferLoad(after);
  for (const peer of PEERS) {
    expect(load.incoming.get(peer) ?? 0).toBeLessThanOrEqual(TRANSFERS_IN_PER_PEER_MAX);
    expect(load.outgoing.get(peer) ?? 0).toBeLessThanOrEqual(TRANSFERS_OUT_PER_PEER_MAX);
    expect((load.incoming.get(peer) ?? 0) > 0 && (load.outgoing.get(peer) ?? 0) > 0).toBe(false);
  }
  // The model of a finish: accepted exactly when it names the running transfer; then the target is Active.
  if (op.kind === 'finish_transfer') {
    const named = before.collections.get('a')!.transfers.some((t) => t.shard === op.shard && t.from === op.from && t.to === op.to && t.startedIndex === op.transferId);
    expect(ok).toBe(named);
    if (ok) {
      expect(replica(after, op.shard, op.to)?.state).toBe('Active');
      const moved = !before.collections.get('a')!.transfers.find((t) => t.shard === op.shard)!.sync;
      expect(replica(after, op.shard, op.from) === undefined).toBe(moved);
    }
  }
  if (!ok) expect(after.collections).toBe(before.collections);
  // Deterministic encoding: the state survives a round trip with the same hash.
  expect(stateHash(decodeState(encodeState(after)))).toBe(stateHash(after));
}

describe('transfer transitions, model test', () => {
  it('keeps the invariants under any order of operations from any proposer', () => {
    fc.assert(
      fc.property(fc.array(moveArb, { minLength: 1, maxLength: 40 }), (moves) => {
        let state = BASE;
        for (const move of moves) {
          const op = toOp(move, state);
          const next = step(state, op);
          checkInvariants(state, next.state, op, next.ok);
          state = next.state;
        }
      }),
      { numRuns: 300 },
    );
  });
});
