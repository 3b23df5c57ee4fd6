// The receiving end of transfers, against a fake node: each message applied once and in order,
// gaps, other runs of the same transfer and messages of an earlier transfer refused.
import { describe, expect, it } from 'vitest';
import { ShoalError, type PointOperation } from '@shoal/common';
import { apply, collectionConfig, EMPTY_META_STATE, type MetaOperation, type MetaState } from '@shoal/meta';
import type { ShardRequest } from '@shoal/consensus';
import { encodeOperation, type ClockTag, type ShardArchiveHeader } from '@shoal/shard';
import { TRANSFER_TIMING } from './limits.js';
import { ReplicaAdapter } from './replica-adapter.js';
import type { Replica } from './replica-set.js';
import { TransferManager } from './transfer-manager.js';
import type { TransferHost } from './transfer-source.js';
import * as wire from './wire.js';

const ME = 2;

/** What the fake node's restore saw, and how it ends. */
interface FakeRestore {
  /** Bytes the restore read, in order. */
  readonly read: number[];
  /** Set when the restore read its end; it then resolves with `ticks` in the header. */
  finished: boolean;
  /** Set when the restore failed (its feed failed). */
  failure: string | null;
  /** Events on the replica, in order: 'restored', 'ticks', 'op <id>'. */
  readonly events: string[];
}

function node(options: { method?: 'stream_records' | 'snapshot'; bufferBytesMax?: number } = {}) {
  const method = options.method ?? 'stream_records';
  let state: MetaState = EMPTY_META_STATE;
  const run = (op: MetaOperation): void => {
    const r = apply(state, state.appliedIndex + 1, op);
    expect(r.outcome.ok).toBe(true);
    state = r.state;
  };
  run({ kind: 'create_collection', name: 'c', config: collectionConfig(2), routing: { kind: 'ring', vnodes: 4, seed: 0 }, placement: [[1]], initialState: 'Active' });
  const applied: PointOperation[] = [];
  const restore: FakeRestore = { read: [], finished: false, failure: null, events: [] };
  const idOf = (op: PointOperation): string => (op.kind === 'delete_points' && op.selector.kind === 'ids' ? String(op.selector.ids[0]) : op.kind);
  const replica = { update: async (op: PointOperation) => (applied.push(op), { seq: applied.length, result: { ok: true } as const }) } as unknown as Replica;
  const restored = {
    update: async (op: PointOperation) => {
      restore.events.push(`op ${idOf(op)}`);
      applied.push(op);
      return { seq: applied.length, result: { ok: true } as const };
    },
    installTicks: async (ticks: readonly ClockTag[]) => {
      restore.events.push(`ticks ${ticks.map((t) => t.tick).join(',')}`);
    },
  } as unknown as Replica;
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
    restoreReplica: async (_c, _i, _s, _storage, chunks) => {
      try {
        for await (const piece of chunks) restore.read.push(...piece);
      } catch (error) {
        restore.failure = String(error);
        throw error;
      }
      restore.finished = true;
      await adapter!.replaceReplica(async () => {
        restore.events.push('restored');
        return restored;
      });
      return { appliedTicks: [{ peer: 1, epoch: 1, clock: 0, tick: 9 }] } as unknown as ShardArchiveHeader;
    },
    log: () => undefined,
  };
  const timing = { ...TRANSFER_TIMING, snapshotBufferBytesMax: options.bufferBytesMax ?? TRANSFER_TIMING.snapshotBufferBytesMax };
  const manager = new TransferManager({ host, timing, beforeBatch: null });
  const startTransfer = (): number => {
    run({ kind: 'start_transfer', collection: 'c', incarnation: 1, shard: 0, from: 1, to: ME, sync: true, method });
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
  return { manager, applied, startTransfer, restart, restore };
}

const del = (id: number): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });

function call(transferId: number, run: number, firstSeq: number, ids: number[]): ShardRequest {
  return callOf(transferId, run, firstSeq, ids.map((id) => encodeOperation(del(id))));
}

function callOf(transferId: number, run: number, firstSeq: number, records: Uint8Array[]): ShardRequest {
  const body = wire.encodeTransferBatch({ transferId, run, firstSeq, records });
  return { clusterId: '', collection: 'c', incarnation: 1, shardId: 0, fromPeer: 1, body, clockTag: null, metaIndex: 0 };
}

const piece = (...bytes: number[]): Uint8Array => wire.encodeArchiveMessage(Uint8Array.from(bytes));
const op = (id: number): Uint8Array => encodeOperation(del(id));

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

describe('the target of a snapshot transfer', () => {
  it('restores the archive, then installs its ticks and applies the writes forwarded meanwhile in order, before it acknowledges the end', async () => {
    const n = node({ method: 'snapshot' });
    const id = n.startTransfer();
    // A write forwarded before any of the archive, pieces and writes interleaved, then the end and a write after it.
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 1, [op(1), piece(1, 2, 3)])))).toBe(2);
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 3, [op(2), piece(4), op(3)])))).toBe(5);
    // Held, not applied: nothing reached a replica yet.
    expect(n.applied).toEqual([]);
    expect(n.restore.finished).toBe(false);
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 6, [wire.encodeArchiveEndMessage(4), op(4)])))).toBe(7);
    expect(n.restore.read).toEqual([1, 2, 3, 4]);
    expect(n.restore.events).toEqual(['restored', 'ticks 9', 'op 1', 'op 2', 'op 3', 'op 4']);
    // A call sent again after a timeout: nothing applies twice.
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 6, [wire.encodeArchiveEndMessage(4), op(4)])))).toBe(7);
    expect(n.applied).toHaveLength(4);
    n.manager.close();
  });

  it('fails the transfer when the writes held during the restore pass their bound; the restore fails with it', async () => {
    const size = op(1).length;
    const n = node({ method: 'snapshot', bufferBytesMax: 3 * size });
    const id = n.startTransfer();
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 1, [piece(1), op(1), op(2), op(3)])))).toBe(4);
    expect(await refusal(n.manager.receive(address, callOf(id, 7, 5, [op(4)])))).toBe('conflict');
    // The restore was told, and nothing was applied; the session stays failed.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(n.restore.failure).not.toBeNull();
    expect(n.applied).toEqual([]);
    expect(await refusal(n.manager.receive(address, callOf(id, 7, 5, [wire.encodeArchiveEndMessage(1)])))).toBe('conflict');
    n.manager.close();
  });

  it('refuses an end naming another size than arrived, and a snapshot message outside a snapshot transfer', async () => {
    const n = node({ method: 'snapshot' });
    const id = n.startTransfer();
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 1, [piece(1, 2)])))).toBe(1);
    expect(await refusal(n.manager.receive(address, callOf(id, 7, 2, [wire.encodeArchiveEndMessage(3)])))).toBe('conflict');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(n.restore.failure).not.toBeNull();
    n.manager.close();
    const s = node();
    const sid = s.startTransfer();
    expect(await refusal(s.manager.receive(address, callOf(sid, 7, 1, [piece(1)])))).toBe('conflict');
    s.manager.close();
  });

  it('an aborted transfer fails a restore that is still running', async () => {
    const n = node({ method: 'snapshot' });
    const id = n.startTransfer();
    expect(wire.decodeNumber(await n.manager.receive(address, callOf(id, 7, 1, [piece(1, 2)])))).toBe(1);
    n.manager.close();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(n.restore.failure).not.toBeNull();
    expect(n.restore.finished).toBe(false);
  });
});
