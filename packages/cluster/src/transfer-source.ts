// One transfer, run by the node holding its source replica (stream_records): forward every write
// the source applies from now on, copy the shard's points in id order, then finish with a fence.
//
// 1. Wait (bounded) until the nodes of the shard's other replicas applied the start: from then
//    on they refuse writes decided before the shard's fence, so no write decided on an older
//    view lands on them without passing through this source.
// 2. Start forwarding (under the update lock: every write applied before is in the copy).
// 3. Copy: under the lock, read the next batch by point id and queue it; wait for the target's
//    acknowledgement outside the lock, then the next batch.
// 4. Finish: under the lock, flush the queue (the target holds every write applied here), propose
//    finish_transfer naming this transfer, and keep the lock until the entry is applied here.
//    Writes that waited meanwhile meet the new fence (StaleView) and their coordinators send
//    them to the replicas they then see, the target among them. Forwarding is synchronous, so no
//    forwarded message can still be in flight after the flush: no end-of-stream message is
//    needed for the target to take direct writes in order.
// Any failure (target unreachable, refused, a storage error) aborts the transfer by its id.
//
// `snapshot` differs in steps 2 and 3: in one step under the update lock the shard is captured
// (LocalShard.captureForExport, files pinned) and forwarding starts, so every write is in the
// archive or forwarded after it. The archive then streams on the same ordered queue in pieces of
// `snapshotChunkBytes`, at most SNAPSHOT_WINDOW of them unacknowledged: a forwarded write waits
// behind a few pieces, not behind the whole archive. The target restores the archive, applies
// the writes forwarded meanwhile in order, and only then acknowledges the archive's end message;
// step 4's flush waits for that acknowledgement, so finish_transfer follows the buffered writes.
import type { PointId, PointStruct } from '@shoal/common';
import type { ApplyOutcome, MetaOperation, MetaState, ShardTransfer } from '@shoal/meta';
import { encodeOperation, prepareShardArchive, type ClockTag, type ShardArchiveHeader } from '@shoal/shard';
import type { WalReader } from '@shoal/wal';
import type { TransferTiming } from './limits.js';
import type { ReplicaAdapter } from './replica-adapter.js';
import type { PointsCaller } from './remote-replica.js';
import { captureAndForward } from './shard-export.js';
import { TransferChannel, TransferRefused, type EncodedOp } from './transfer-channel.js';
import * as wire from './wire.js';

/** What a transfer needs from its node. */
export interface TransferHost {
  readonly peerId: number;
  state(): MetaState;
  /** Proposes and resolves once applied on this node. */
  propose(op: MetaOperation): Promise<ApplyOutcome>;
  /** Resolves true once this node acted on `index` (its listener finished), false at the deadline. */
  waitActed(index: number, deadlineMs: number): Promise<boolean>;
  peerApplied(peer: number, index: number, deadlineMs: number): Promise<boolean>;
  peerAlive(peer: number, timeoutMs: number): Promise<boolean>;
  isLeader(): boolean;
  readonly callPoints: PointsCaller;
  /** This node's open replica of the shard, if any. */
  adapter(collection: string, incarnation: number, shardId: number): ReplicaAdapter | undefined;
  /**
   * A `snapshot` target: restores the archive read from `chunks` into a directory beside that of
   * the (empty) replica opened for transfer `storage`, then, holding the replica's update lock,
   * drops the empty replica, moves the restored directory in its place and opens it in the same
   * adapter; resolves with the archive's header. A failure leaves nothing of the archive behind.
   */
  restoreReplica(collection: string, incarnation: number, shardId: number, storage: number, chunks: AsyncIterable<Uint8Array>): Promise<ShardArchiveHeader>;
  log(level: 'info' | 'warn', message: string, detail: Record<string, unknown>): void;
}

/**
 * A test hook: called before a call carrying the `n`-th copied batch (1-based) of a transfer is
 * sent. For a `snapshot` transfer each archive message counts as a batch (the pieces, then the
 * end), `ids` is empty and `bytes` is the message as it will be sent (a test may change it).
 */
export type BeforeBatchHook = (info: {
  readonly collection: string;
  readonly shard: number;
  readonly transferId: number;
  readonly batch: number;
  readonly ids: readonly PointId[];
  readonly bytes?: Uint8Array;
}) => Promise<void>;

/** Archive messages of a `snapshot` transfer the target may not have acknowledged yet. */
const SNAPSHOT_WINDOW = 2;

/** `wal_delta`: payload bytes of WAL records read per piece, and pieces sent but not acknowledged at once. */
const DELTA_PIECE_BYTES = 4 * 1024 * 1024;
const DELTA_WINDOW_PIECES = 2;
/**
 * `wal_delta`: records left to send, at most, before the step under the update lock reserves
 * their places and starts forwarding (they are read after the lock is released, while forwarded
 * writes wait behind them); rounds outside the lock before that step is taken anyway.
 */
const DELTA_TAIL_RECORDS = 256;
const DELTA_ROUNDS_MAX = 8;

export interface TransferKey {
  readonly collection: string;
  readonly incarnation: number;
  readonly transfer: ShardTransfer;
}

export function transferKey(collection: string, incarnation: number, shard: number, transferId: number): string {
  return `${collection}@${incarnation}/${shard}#${transferId}`;
}

/** Whether `key`'s transfer still runs, with the same id, in `state`. */
export function transferCurrent(state: MetaState, key: TransferKey): boolean {
  const meta = state.collections.get(key.collection);
  if (meta === undefined || meta.createdIndex !== key.incarnation) return false;
  const t = key.transfer;
  return meta.transfers.some((x) => x.shard === t.shard && x.from === t.from && x.to === t.to && x.startedIndex === t.startedIndex);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class TransferSource {
  private cancelled = false;
  private channel: TransferChannel | null = null;
  private copiedPoints = 0;
  private totalPoints = 0;
  private copiedBatches = 0;
  /** `snapshot`: archive bytes sent so far, and the archive's size. */
  private sentBytes = 0;
  private archiveBytes = 0;
  private readonly startedMs = performance.now();
  private finishing = false;
  /** `wal_delta`: WAL records sent so far, and the seqs of the first one the target lacked and of the last one to send as last seen. */
  private deltaSent = 0;
  private deltaFirst = 0;
  private deltaLast = -1;
  /** Names this run to the target (see TransferBatchCall.run). */
  private readonly run32 = Math.floor(Math.random() * 2 ** 32);

  constructor(
    private readonly key: TransferKey,
    private readonly host: TransferHost,
    private readonly timing: TransferTiming,
    private readonly beforeBatch: BeforeBatchHook | null,
  ) {}

  /** Messages the target acknowledged: the watchdog's measure of progress. */
  get acked(): number {
    return this.channel?.acked ?? 0;
  }

  /** Qdrant's transfer comment, as the source reports it. */
  comment(): string {
    const seconds = Math.round((performance.now() - this.startedMs) / 1000);
    if (this.key.transfer.method === 'wal_delta') {
      if (this.finishing) return `Finishing: ${this.deltaSent} WAL records sent, started ${seconds}s ago`;
      const total = Math.max(0, this.deltaLast - this.deltaFirst + 1);
      return `Transferring WAL delta (${this.deltaSent}/${Math.max(total, this.deltaSent)} records), started ${seconds}s ago`;
    }
    if (this.key.transfer.method === 'snapshot') {
      if (this.finishing) return `Finishing: snapshot of ${this.archiveBytes} bytes restored, started ${seconds}s ago`;
      return `Transferring snapshot (${this.sentBytes}/${this.archiveBytes} bytes), started ${seconds}s ago`;
    }
    if (this.finishing) return `Finishing: all ${this.copiedPoints} points sent, started ${seconds}s ago`;
    const total = Math.max(this.totalPoints, this.copiedPoints);
    return `Transferring records (${this.copiedPoints}/${total}), started ${seconds}s ago`;
  }

  /** The transfer ended in the metadata (finished, aborted, restarted): stop, release waiting writes. */
  cancel(): void {
    this.cancelled = true;
    this.channel?.end();
  }

  async run(): Promise<void> {
    const { collection, incarnation, transfer } = this.key;
    const adapter = this.host.adapter(collection, incarnation, transfer.shard);
    if (adapter === undefined) return this.abort(new Error('the source replica is not open on this node'));
    const channel = new TransferChannel({
      send: (firstSeq, ops) => this.send(firstSeq, ops),
      encode: (op, tag) => encodeOperation(op, tag),
      encodeTicks: wire.encodeTicksMessage,
      callBytesMax: this.timing.callBytesMax,
      callMessagesMax: this.timing.callMessagesMax,
      callAttemptsMax: this.timing.callAttemptsMax,
      retryPauseMs: this.timing.callRetryPauseMs,
      beforeSend: (ops) => this.beforeSend(ops),
    });
    this.channel = channel;
    try {
      await this.waitForReplicas();
      if (this.cancelled) return;
      if (transfer.method === 'snapshot') {
        await this.sendSnapshot(adapter, channel);
      } else if (transfer.method === 'wal_delta') {
        if (!(await this.sendDelta(adapter, channel))) return;
      } else {
        // The first message: the source's applied ticks as of the step forwarding starts in, so
        // the forwarded writes (tagged) continue each clock on the target.
        await adapter.startForwarding(channel, () => {
          void channel.enqueueTicks(adapter.replica.appliedTicks?.() ?? []);
        });
        this.totalPoints = adapter.replica.stats().points;
        await this.copy(adapter, channel);
      }
      if (this.cancelled) return;
      this.finishing = true;
      await adapter.exclusive(async () => {
        await channel.flush();
        await this.finish();
      });
    } catch (error) {
      // Writes waiting for their forwarded copies are released before the abort's retries.
      adapter.stopForwarding(channel);
      channel.end();
      if (!this.cancelled) await this.abort(error);
    } finally {
      adapter.stopForwarding(channel);
      channel.end();
    }
  }

  private async waitForReplicas(): Promise<void> {
    const { collection, transfer } = this.key;
    const shard = this.host.state().collections.get(collection)?.shards.get(transfer.shard);
    const peers = (shard?.replicas ?? []).map((r) => r.peer).filter((p) => p !== this.host.peerId && p !== transfer.to);
    const deadline = performance.now() + this.timing.peersAppliedWaitMs;
    await Promise.all(peers.map((p) => this.host.peerApplied(p, transfer.startedIndex, deadline)));
  }

  /** Batches by point id, each read and queued under the update lock, acknowledged before the next. */
  private async copy(adapter: ReplicaAdapter, channel: TransferChannel): Promise<void> {
    let offset: PointId | null = null;
    for (;;) {
      if (this.cancelled) return;
      const step = await adapter.exclusive(async () => {
        const page = adapter.replica.scroll({ filter: null, offset, limit: this.timing.batchPoints, withPayload: { kind: 'all' }, withVector: true });
        const points: PointStruct[] = page.points.map((r) => ({ id: r.id, vectors: r.vectors ?? new Map(), payload: r.payload }));
        const acked = points.length === 0 ? null : channel.enqueueCopy({ kind: 'upsert', points });
        return { acked, next: page.nextOffset, count: points.length };
      });
      if (step.acked !== null) await step.acked;
      this.copiedPoints += step.count;
      if (step.next === null) return;
      offset = step.next;
    }
  }

  /**
   * `snapshot`: captures the shard and starts forwarding in one locked step, then streams the
   * archive (its applied ticks in its header) in pieces on the queue, a few unacknowledged at a
   * time, and its end; resolves once the target acknowledged the end (restored, writes forwarded
   * meanwhile applied). The capture's pin goes when the stream ends or fails.
   */
  private async sendSnapshot(adapter: ReplicaAdapter, channel: TransferChannel): Promise<void> {
    const { collection, incarnation, transfer } = this.key;
    const capture = await captureAndForward(adapter, channel);
    const archive = await prepareShardArchive(capture, { collection, incarnation, shardId: transfer.shard });
    this.archiveBytes = archive.size;
    this.totalPoints = adapter.replica.stats().points;
    const chunkBytes = Math.max(1, this.timing.snapshotChunkBytes);
    const unacked: Promise<void>[] = [];
    const send = async (message: Uint8Array, bytes: number): Promise<void> => {
      unacked.push(channel.enqueueArchive(message));
      this.sentBytes += bytes;
      while (unacked.length > SNAPSHOT_WINDOW) await unacked.shift();
    };
    try {
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const pieceOut = async (): Promise<void> => {
        const piece = new Uint8Array(pendingBytes);
        let at = 0;
        for (const p of pending) {
          piece.set(p, at);
          at += p.length;
        }
        pending = [];
        pendingBytes = 0;
        await send(wire.encodeArchiveMessage(piece), piece.length);
      };
      for await (const chunk of archive.chunks()) {
        if (this.cancelled) return;
        for (let at = 0; at < chunk.length;) {
          const take = Math.min(chunk.length - at, chunkBytes - pendingBytes);
          pending.push(chunk.subarray(at, at + take));
          pendingBytes += take;
          at += take;
          if (pendingBytes === chunkBytes) await pieceOut();
        }
      }
      if (pendingBytes > 0) await pieceOut();
      if (this.cancelled) return;
      await send(wire.encodeArchiveEndMessage(archive.size), 0);
      await Promise.all(unacked);
    } finally {
      archive.release();
    }
  }

  /**
   * `wal_delta`: asks the target for its replica's applied ticks and sends the records of this
   * replica's WAL from the first one it lacks (LocalShard.deltaFor), to be redone there in this
   * order. Rounds outside the update lock send what the WAL holds until at most
   * DELTA_TAIL_RECORDS remain; then, in one step under the lock, the rest up to the last applied
   * seq gets its places in the queue and forwarding starts; the rest is read after the lock is
   * released and fills its places piece by piece (forwarded writes wait in the queue behind it,
   * in order). No applied-ticks seed: once the records are redone the target holds every tick
   * this replica applied, each with its write. Resolves false when the delta cannot be told (or
   * the WAL grows faster than it is sent) and the transfer was restarted as `stream_records`.
   */
  private async sendDelta(adapter: ReplicaAdapter, channel: TransferChannel): Promise<boolean> {
    const shard = adapter.replica;
    if (shard.deltaFor === undefined || shard.lastAppliedSeq === undefined) return this.fallBack('the source replica keeps no WAL to send from');
    const lastSeq = shard.lastAppliedSeq.bind(shard);
    const theirs = await this.targetTicks();
    if (typeof theirs === 'string') return this.fallBack(theirs);
    const delta = await shard.deltaFor(theirs);
    if ('refused' in delta) return this.fallBack(delta.refused);
    const reader = delta.reader;
    try {
      this.deltaFirst = reader.position;
      for (let round = 0; ; round++) {
        if (this.cancelled) return true;
        this.deltaLast = lastSeq();
        const behind = this.deltaLast - reader.position + 1;
        if (behind > DELTA_TAIL_RECORDS) {
          if (round >= DELTA_ROUNDS_MAX) return this.fallBack(`the WAL grows faster than it is sent: ${behind} records behind after ${round} rounds`);
          await this.sendRecords(reader, channel, this.deltaLast);
          continue;
        }
        const tail = await adapter.tryStartForwarding(channel, () => {
          this.deltaLast = lastSeq();
          const count = Math.max(0, this.deltaLast - reader.position + 1);
          return count > DELTA_TAIL_RECORDS ? null : { count, places: channel.reserveEncoded(count) };
        }, (t) => t !== null);
        if (tail === null) continue;
        let filled = 0;
        while (filled < tail.count) {
          const piece = await reader.read(DELTA_PIECE_BYTES);
          if (piece.length === 0) throw new Error(`the WAL ended ${tail.count - filled} records before seq ${this.deltaLast}`);
          const take = piece.slice(0, tail.count - filled);
          tail.places.fill(take.map((record) => wire.encodeRedoMessage(record.payload)));
          filled += take.length;
          this.deltaSent += take.length;
        }
        await tail.places.done;
        return true;
      }
    } finally {
      reader.close();
    }
  }

  /** Sends the records from the reader's position to `upTo` (or a little past it), a few pieces unacknowledged at a time. */
  private async sendRecords(reader: WalReader, channel: TransferChannel, upTo: number): Promise<void> {
    const unacked: Promise<unknown>[] = [];
    while (reader.position <= upTo && !this.cancelled) {
      const piece = await reader.read(DELTA_PIECE_BYTES);
      if (piece.length === 0) break;
      unacked.push(Promise.all(piece.map((record) => channel.enqueueEncoded(wire.encodeRedoMessage(record.payload)))));
      this.deltaSent += piece.length;
      while (unacked.length > DELTA_WINDOW_PIECES) await unacked.shift();
    }
    await Promise.all(unacked);
  }

  /** The target's applied ticks, or why the delta cannot be sent to it (its replica takes no writes). */
  private async targetTicks(): Promise<readonly ClockTag[] | string> {
    const { collection, incarnation, transfer } = this.key;
    const request = {
      clusterId: '', collection, incarnation, shardId: transfer.shard, fromPeer: this.host.peerId,
      body: wire.encodeTransferTicksCall(transfer.startedIndex), clockTag: null, metaIndex: this.host.state().appliedIndex,
    };
    const result = await this.host.callPoints(transfer.to, 'TransferTicks', request, { timeoutMs: this.timing.callTimeoutMs });
    if (result.outcome === 'failed') throw new Error(`peer ${transfer.to} did not answer: ${result.message}`);
    if (!result.reply.ok) {
      if (result.reply.kind === 'storage') return `the target replica cannot take writes: ${result.reply.message}`;
      throw new Error(`peer ${transfer.to} refused to name its applied ticks: ${result.reply.message}`);
    }
    return wire.decodeTicksReply(result.reply.body);
  }

  /**
   * The delta cannot be told (or sent): the transfer starts over as `stream_records`, the target
   * on new storage. Resolves false once that is proposed (this run is cancelled when it applies).
   */
  private async fallBack(reason: string): Promise<false> {
    const { collection, incarnation, transfer } = this.key;
    this.host.log('info', 'wal_delta cannot send what the target missed; copying the shard instead', { collection, shard: transfer.shard, from: transfer.from, to: transfer.to, reason });
    if (!transferCurrent(this.host.state(), this.key)) return false;
    const outcome = await this.host.propose({ kind: 'restart_transfer', collection, incarnation, shard: transfer.shard, from: transfer.from, to: transfer.to, method: 'stream_records', transferId: transfer.startedIndex });
    if (!outcome.ok && transferCurrent(this.host.state(), this.key)) throw new Error(`restarting the transfer as stream_records was refused: ${JSON.stringify(outcome.refusal)}`);
    return false;
  }

  /** Proposes the finish until the transfer is gone here (finished, or aborted by someone else). */
  private async finish(): Promise<void> {
    const { collection, incarnation, transfer } = this.key;
    const op: MetaOperation = {
      kind: 'finish_transfer', collection, incarnation, shard: transfer.shard, from: transfer.from, to: transfer.to, transferId: transfer.startedIndex,
    };
    let pause = this.timing.callRetryPauseMs;
    while (!this.cancelled && transferCurrent(this.host.state(), this.key)) {
      try {
        const outcome = await this.host.propose(op);
        if (!outcome.ok && transferCurrent(this.host.state(), this.key)) throw new Error(`finish refused: ${JSON.stringify(outcome.refusal)}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('finish refused')) throw error;
        // No leader, or not applied in time: the entry may still commit; ask again (a second
        // finish of the same id is refused once the first applied).
        this.host.log('warn', 'finishing a shard transfer failed; retrying', { collection, shard: transfer.shard, err: String(error) });
        await sleep(pause);
        pause = Math.min(pause * 2, 2_000);
      }
    }
    this.host.log('info', 'shard transfer finished', { collection, shard: transfer.shard, from: transfer.from, to: transfer.to, points: this.copiedPoints, ms: Math.round(performance.now() - this.startedMs) });
  }

  /** Aborts this transfer by its id (a few attempts; the leader's watchdog catches what is left). */
  private async abort(cause: unknown): Promise<void> {
    const { collection, incarnation, transfer } = this.key;
    this.host.log('warn', 'shard transfer failed; aborting it', { collection, shard: transfer.shard, from: transfer.from, to: transfer.to, err: String(cause) });
    const op: MetaOperation = { kind: 'abort_transfer', collection, incarnation, shard: transfer.shard, from: transfer.from, to: transfer.to, transferId: transfer.startedIndex };
    for (let attempt = 0; attempt < 5 && !this.cancelled && transferCurrent(this.host.state(), this.key); attempt++) {
      try {
        await this.host.propose(op);
      } catch {
        await sleep(this.timing.callRetryPauseMs * 2 ** attempt);
      }
    }
  }

  private async beforeSend(ops: readonly EncodedOp[]): Promise<void> {
    for (const m of ops) {
      const { collection, transfer } = this.key;
      if (m.archive === true) {
        this.copiedBatches += 1;
        await this.beforeBatch?.({ collection, shard: transfer.shard, transferId: transfer.startedIndex, batch: this.copiedBatches, ids: [], bytes: m.bytes });
        continue;
      }
      if (!m.copied || m.op?.kind !== 'upsert') continue;
      this.copiedBatches += 1;
      if (this.beforeBatch === null) continue;
      await this.beforeBatch({ collection, shard: transfer.shard, transferId: transfer.startedIndex, batch: this.copiedBatches, ids: m.op.points.map((p) => p.id) });
    }
  }

  private async send(firstSeq: number, ops: readonly EncodedOp[]): Promise<void> {
    const { collection, incarnation, transfer } = this.key;
    const body = wire.encodeTransferBatch({ transferId: transfer.startedIndex, run: this.run32, firstSeq, records: ops.map((o) => o.bytes) });
    const request = {
      clusterId: '', collection, incarnation, shardId: transfer.shard, fromPeer: this.host.peerId, body, clockTag: null, metaIndex: this.host.state().appliedIndex,
    };
    const result = await this.host.callPoints(transfer.to, 'TransferBatch', request, { timeoutMs: this.timing.callTimeoutMs });
    if (result.outcome === 'failed') throw new Error(`peer ${transfer.to} did not answer: ${result.message}`);
    if (result.reply.ok) return;
    // The target does not run this transfer (restarted, aborted) or saw a gap: sending again cannot help.
    if (result.reply.kind === 'conflict') throw new TransferRefused(result.reply.message);
    throw new Error(`peer ${transfer.to} refused: ${result.reply.message}`);
  }
}
