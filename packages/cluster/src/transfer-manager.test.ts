// The receiving end of transfers, against a fake node: each message applied once and in order,
// gaps, other runs of the same transfer and messages of an earlier transfer refused.
import { describe, expect, it } from 'vitest';
import { ShoalError, type PointOperation } from '@shoal/common';
import { apply, collectionConfig, EMPTY_META_STATE, type MetaOperation, type MetaState } from '@shoal/meta';
import type { ShardRequest } from '@shoal/consensus';
import { encodeOperation } from '@shoal/shard';
import { TRANSFER_TIMING } from './limits.js';
import { ReplicaAdapter } from './replica-adapter.js';
import type { Replica } from './replica-set.js';
import { TransferManager } from './transfer-manager.js';
import type { TransferHost } from './transfer-source.js';
import * as wire from './wire.js';

const ME = 2;

function node() {
  let state: MetaState = EMPTY_META_STATE;
  const run = (op: MetaOperation): void => {
    const r = apply(state, state.appliedIndex + 1, op);
    expect(r.outcome.ok).toBe(true);
    state = r.state;
  };
  run({ kind: 'create_collection', name: 'c', config: collectionConfig(2), routing: { kind: 'ring', vnodes: 4, seed: 0 }, placement: [[1]], initialState: 'Active' });
  const applied: PointOperation[] = [];
  const replica = { update: async (op: PointOperation) => (applied.push(op), { seq: applied.length, result: { ok: true } as const }) } as unknown as Replica;
  let adapter: ReplicaAdapter | undefined;
  const host: TransferHost = {
    peerId: ME,
    state: () => state,
    propose: async () => ({ ok: true }),
    waitActed: async () => true,
    peerApplied: async () => true,
    peerAlive: async () => true,
    isLeader: () => false,
    callPoints: async () => ({ outcome: 'failed', timeout: false, message: 'no peers here' }),
    adapter: () => adapter,
    log: () => undefined,
  };
  const manager = new TransferManager({ host, timing: TRANSFER_TIMING, beforeBatch: null });
  const startTransfer = (): number => {
    run({ kind: 'start_transfer', collection: 'c', incarnation: 1, shard: 0, from: 1, to: ME, sync: true, method: 'stream_records' });
    adapter = new ReplicaAdapter(replica, () => null, state.appliedIndex);
    manager.reconcile(state);
    return state.appliedIndex;
  };
  const restart = (): number => {
    run({ kind: 'restart_transfer', collection: 'c', incarnation: 1, shard: 0, from: 1, to: ME, method: 'stream_records' });
    adapter = new ReplicaAdapter(replica, () => null, state.appliedIndex);
    manager.reconcile(state);
    return state.appliedIndex;
  };
  return { manager, applied, startTransfer, restart };
}

const del = (id: number): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });

function call(transferId: number, run: number, firstSeq: number, ids: number[]): ShardRequest {
  const body = wire.encodeTransferBatch({ transferId, run, firstSeq, records: ids.map((id) => encodeOperation(del(id))) });
  return { clusterId: '', collection: 'c', incarnation: 1, shardId: 0, fromPeer: 1, body, clockTag: null, metaIndex: 0 };
}

const address = { collection: 'c', incarnation: 1, shardId: 0 };

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (error) {
    return error instanceof ShoalError ? error.kind : String(error);
  }
}

describe('the target of a transfer', () => {
  it('applies each message once, in order; refuses gaps, other runs and earlier transfers', async () => {
    const n = node();
    expect(await refusal(n.manager.receive(address, call(99, 7, 1, [1])))).toBe('conflict'); // no such transfer here
    const id = n.startTransfer();
    expect(wire.decodeNumber(await n.manager.receive(address, call(id, 7, 1, [1, 2, 3])))).toBe(3);
    // A call sent again after a timeout, overlapping what arrived: only the new message applies.
    expect(wire.decodeNumber(await n.manager.receive(address, call(id, 7, 2, [2, 3, 4])))).toBe(4);
    expect(n.applied.map((op) => (op.kind === 'delete_points' && op.selector.kind === 'ids' ? op.selector.ids[0] : null))).toEqual([1, 2, 3, 4]);
    expect(await refusal(n.manager.receive(address, call(id, 7, 6, [6])))).toBe('conflict'); // 5 is missing
    expect(await refusal(n.manager.receive(address, call(id, 8, 5, [5])))).toBe('conflict'); // another run of the source
    // Restarted (one entry: a new id, the target on empty storage again): the old run's late batch is refused.
    const next = n.restart();
    expect(await refusal(n.manager.receive(address, call(id, 7, 5, [5])))).toBe('conflict');
    expect(wire.decodeNumber(await n.manager.receive(address, call(next, 9, 1, [10])))).toBe(1);
    expect(n.applied).toHaveLength(5);
    n.manager.close();
  });
});
