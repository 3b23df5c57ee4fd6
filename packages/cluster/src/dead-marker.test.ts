import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import { apply, collectionConfig, EMPTY_META_STATE, type MetaOperation, type MetaState } from '@shoal/meta';
import { DeadMarker } from './dead-marker.js';

/** A metadata log of one node: proposals apply in order after `delayMs`; `fail` rejects the next ones. */
function log(delayMs: number) {
  let state: MetaState = EMPTY_META_STATE;
  const proposed: MetaOperation[] = [];
  let failNext = 0;
  const applyNow = (op: MetaOperation) => {
    const r = apply(state, state.appliedIndex + 1, op);
    state = r.state;
    return r.outcome;
  };
  applyNow({
    kind: 'create_collection', name: 'c', config: collectionConfig(2, 'Dot', { shardNumber: 2, replicationFactor: 2 }),
    routing: { kind: 'ring', vnodes: 4, seed: 0 }, placement: [[1, 2], [2, 3]], initialState: 'Active',
  });
  return {
    state: () => state,
    proposed,
    applyNow,
    failNext: (n: number) => void (failNext = n),
    propose: async (op: MetaOperation) => {
      proposed.push(op);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (failNext > 0) {
        failNext -= 1;
        throw new ShoalError('unavailable', 'no leader');
      }
      return applyNow(op);
    },
  };
}

const replica = (peer: number, generation = 1) => ({ peer, replica: { peer, state: 'Active' as const, generation } });

describe('DeadMarker', () => {
  it('batches marks of one collection into one proposal at a time', async () => {
    const l = log(20);
    const marker = new DeadMarker({ propose: l.propose, state: l.state, retryPauseMs: 5, retryPauseMsMax: 20, onError: () => undefined });
    const deadline = performance.now() + 2000;
    const first = marker.mark('c', 1, 0, [replica(2)], deadline);
    // These arrive while the first proposal is in flight: they share the next one.
    const more = [marker.mark('c', 1, 1, [replica(3)], deadline), marker.mark('c', 1, 0, [replica(2)], deadline), marker.mark('c', 1, 1, [replica(2)], deadline)];
    expect(await first).toBe('done');
    expect(await Promise.all(more)).toEqual(['done', 'done', 'refused']);
    expect(l.proposed).toHaveLength(2);
    const shard1 = l.state().collections.get('c')!.shards.get(1)!.replicas;
    // Both replicas of shard 1 were to be marked: the last Active one stays.
    expect(shard1.map((r) => [r.peer, r.state])).toEqual([[2, 'Active'], [3, 'Dead']]);
  });

  it('retries a proposal that failed, beyond the caller deadline, until the replica is Dead', async () => {
    const l = log(1);
    l.failNext(3);
    const errors: unknown[] = [];
    const marker = new DeadMarker({ propose: l.propose, state: l.state, retryPauseMs: 5, retryPauseMsMax: 10, onError: (e) => errors.push(e) });
    expect(await marker.mark('c', 1, 0, [replica(1)], performance.now() + 1)).toBe('timeout');
    const deadline = Date.now() + 2000;
    while (l.state().collections.get('c')!.shards.get(0)!.replicas[0]!.state !== 'Dead' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(l.state().collections.get('c')!.shards.get(0)!.replicas[0]!.state).toBe('Dead');
    expect(errors).toHaveLength(3);
  });

  it('a mark decided on an older generation leaves a re-activated replica alone, and the write is not acknowledged', async () => {
    const l = log(1);
    l.applyNow({ kind: 'set_replica_states', collection: 'c', incarnation: 1, changes: [{ shard: 0, peer: 1, expect: { state: 'Active', generation: 1 }, state: 'Dead' }] });
    l.applyNow({ kind: 'start_transfer', collection: 'c', incarnation: 1, shard: 0, from: 2, to: 1, sync: true, method: 'stream_records' });
    l.applyNow({ kind: 'finish_transfer', collection: 'c', incarnation: 1, shard: 0, from: 2, to: 1, transferId: 3 });
    const marker = new DeadMarker({ propose: l.propose, state: l.state, retryPauseMs: 5, retryPauseMsMax: 10, onError: () => undefined });
    // The recovery's copy may have been read before the write reached its source: nothing proves
    // the recovered replica holds the write, so the write fails instead of being acknowledged.
    expect(await marker.mark('c', 1, 0, [replica(1, 1)], performance.now() + 1000)).toBe('refused');
    expect(l.proposed).toEqual([]);
    expect(l.state().collections.get('c')!.shards.get(0)!.replicas[0]).toEqual({ peer: 1, state: 'Active', generation: 4, storage: 3 });
  });

  it('a replica already Dead at a newer generation settles the mark as done', async () => {
    const l = log(1);
    l.applyNow({ kind: 'set_replica_states', collection: 'c', incarnation: 1, changes: [{ shard: 0, peer: 1, expect: { state: 'Active', generation: 1 }, state: 'Dead' }] });
    const marker = new DeadMarker({ propose: l.propose, state: l.state, retryPauseMs: 5, retryPauseMsMax: 10, onError: () => undefined });
    expect(await marker.mark('c', 1, 0, [replica(1, 1)], performance.now() + 1000)).toBe('done');
    expect(l.proposed).toEqual([]);
  });
});
