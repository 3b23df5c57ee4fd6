import { describe, expect, it } from 'vitest';
import type { PointOperation } from '@shoal/common';
import { TransferChannel, TransferRefused, type EncodedOp } from './transfer-channel.js';
import { UpdateGate } from './replica-adapter.js';
import * as wire from './wire.js';
import { encodeOperation } from '@shoal/shard';

const del = (id: number): PointOperation => ({ kind: 'delete_points', selector: { kind: 'ids', ids: [id] } });
const idOf = (m: EncodedOp): number => ((m.op as Extract<PointOperation, { kind: 'delete_points' }>).selector as unknown as { ids: number[] }).ids[0]!;

function channel(send: (firstSeq: number, ops: readonly EncodedOp[]) => Promise<void>, attempts = 3) {
  return new TransferChannel({ send, encode: encodeOperation, callBytesMax: 1 << 20, callMessagesMax: 2, callAttemptsMax: attempts, retryPauseMs: 1 });
}

describe('TransferChannel', () => {
  it('sends in reservation order whatever order writes complete in, skips failed ones, numbers messages from 1', async () => {
    const calls: Array<[number, number[]]> = [];
    const c = channel(async (firstSeq, ops) => void calls.push([firstSeq, ops.map(idOf)]));
    const a = c.reserve();
    const b = c.reserve();
    const d = c.reserve();
    const e = c.reserve();
    const done = [e.fill(del(5)), b.fill(del(2))];
    d.skip();
    expect(calls).toEqual([]); // the first place is still reserved: nothing may overtake it
    done.push(a.fill(del(1)));
    await Promise.all(done);
    await c.flush();
    expect(calls).toEqual([[1, [1, 2]], [3, [5]]]);
    expect(c.acked).toBe(3);
  });

  it('resends a failed call with the same numbers; fails on a refusal or after its attempts, and end() releases waiting writes', async () => {
    let failures = 2;
    const seen: number[] = [];
    const c = channel(async (firstSeq) => {
      seen.push(firstSeq);
      if (failures-- > 0) throw new Error('timeout');
    });
    await c.enqueueCopy(del(1));
    expect(seen).toEqual([1, 1, 1]);

    const refused = channel(async () => {
      throw new TransferRefused('no such transfer');
    });
    const failed: unknown[] = [];
    refused.onFailed((error) => failed.push(error));
    const write = refused.reserve().fill(del(1));
    await expect(refused.enqueueCopy(del(2))).rejects.toBeInstanceOf(TransferRefused);
    await expect(refused.flush()).rejects.toBeInstanceOf(TransferRefused);
    expect(failed).toHaveLength(1);
    // The write stays applied on the source; it returns once the transfer has ended.
    let returned = false;
    void write.then(() => (returned = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(returned).toBe(false);
    refused.end();
    await write;
  });
});

describe('UpdateGate', () => {
  it('lets shared holders run together and an exclusive one alone, in arrival order', async () => {
    const gate = new UpdateGate();
    const order: string[] = [];
    expect(gate.acquireShared()).toBeNull();
    const exclusive = gate.withExclusive(async () => void order.push('exclusive'));
    const later = gate.acquireShared(); // behind the waiting exclusive holder
    expect(later).not.toBeNull();
    void later!.then(() => order.push('shared after'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(order).toEqual([]);
    gate.releaseShared();
    await exclusive;
    await later;
    expect(order).toEqual(['exclusive', 'shared after']);
    gate.releaseShared();
  });
});

describe('transfer call bodies', () => {
  it('carry the transfer id, the first number and the operations exactly; refuse malformed ones', () => {
    const ops: PointOperation[] = [del(1), { kind: 'upsert', points: [{ id: 2n ** 63n, vectors: new Map([['', Float32Array.from([0.5])]]), payload: { a: 1 } }] }];
    const back = wire.decodeTransferBatch(wire.encodeTransferBatch({ transferId: 2 ** 40, run: 9, firstSeq: 7, records: ops.map((op) => encodeOperation(op)) }));
    expect(back).toEqual({ transferId: 2 ** 40, run: 9, firstSeq: 7, messages: ops.map((op) => ({ kind: 'op', op, tag: null, size: encodeOperation(op).length })) });
    // The applied-ticks seed and a forwarded write with its clock tag.
    const tag = { peer: 3, epoch: 2 ** 35, clock: 4, tick: 17 };
    const ticks = [tag, { peer: 5, epoch: 1, clock: 1, tick: 1 }];
    const seeded = wire.decodeTransferBatch(
      wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 1, records: [wire.encodeTicksMessage(ticks), encodeOperation(del(3), tag)] }),
    );
    expect(seeded.messages).toEqual([{ kind: 'ticks', ticks }, { kind: 'op', op: del(3), tag, size: encodeOperation(del(3), tag).length }]);
    // Pieces of a shard archive as they are, and its end with the archive's size.
    const piece = Uint8Array.from([0xf1, 0, 255, 7]);
    const archive = wire.decodeTransferBatch(
      wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 1, records: [wire.encodeArchiveMessage(piece), wire.encodeArchiveMessage(new Uint8Array(0)), wire.encodeArchiveEndMessage(4)] }),
    );
    expect(archive.messages).toEqual([{ kind: 'archive', bytes: piece }, { kind: 'archive', bytes: new Uint8Array(0) }, { kind: 'archive_end', size: 4 }]);
    const badEnd = wire.encodeArchiveEndMessage(4);
    badEnd[badEnd.length - 2] = 0x2d;
    expect(() => wire.decodeTransferBatch(wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 1, records: [badEnd] }))).toThrow(/malformed/);
    const badTicks = wire.encodeTicksMessage(ticks);
    badTicks[badTicks.length - 2] = 0x2d; // a negative tick
    expect(() => wire.decodeTransferBatch(wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 1, records: [badTicks] }))).toThrow(/malformed/);
    const bytes = wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 1, records: ops.map((op) => encodeOperation(op)) });
    expect(() => wire.decodeTransferBatch(bytes.subarray(0, bytes.length - 1))).toThrow(/malformed transfer batch/);
    expect(() => wire.decodeTransferBatch(wire.encodeTransferBatch({ transferId: 1, run: 1, firstSeq: 0, records: [] }))).toThrow(/malformed/);
  });
});
