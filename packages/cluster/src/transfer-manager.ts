// A node's part in shard transfers: it runs the transfers it is the source of, receives those it
// is the target of, recovers its own Dead replicas, and, while it leads Raft, aborts transfers
// nobody runs any more.
//
// Ownership of a transfer that stopped: a node that starts up aborts every transfer it is an
// end of (it ran or received it before the restart and lost that state); the leader's watchdog
// asks each transfer's source how it goes and aborts one whose source stays silent, does not
// run it, or makes no progress; removing a peer or a replica aborts its transfers in the same
// metadata entry.
import { ShoalError } from '@shoal/common';
import { transferLoad, TRANSFERS_IN_PER_PEER_MAX, TRANSFERS_OUT_PER_PEER_MAX, type MetaOperation, type MetaState, type ShardTransfer, type TransferMethod } from '@shoal/meta';
import type { ShardRequest } from '@shoal/consensus';
import type { ClockTag, ShardArchiveHeader } from '@shoal/shard';
import { TRANSFER_TIMING, type TransferTiming } from './limits.js';
import type { ReplicaAdapter } from './replica-adapter.js';
import type { Replica } from './replica-set.js';
import type { ShardAddress } from './remote-replica.js';
import { transferCurrent, transferKey, TransferSource, type BeforeBatchHook, type TransferHost, type TransferKey } from './transfer-source.js';
import * as wire from './wire.js';

/**
 * Pieces of a shard archive on their way from a transfer's messages to the restore
 * (restoreShardArchive reads it as an async iterable): one piece offered at a time, and `push`
 * resolves once the restore took it, so the target holds at most one piece beyond what the
 * restore has written.
 */
export class ArchiveFeed implements AsyncIterable<Uint8Array> {
  private offered: { readonly bytes: Uint8Array; readonly taken: () => void; readonly failed: (error: unknown) => void } | null = null;
  private puller: { readonly resolve: (r: IteratorResult<Uint8Array>) => void; readonly reject: (error: unknown) => void } | null = null;
  private ended = false;
  private failure: unknown = null;

  push(bytes: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended || this.offered !== null) return Promise.reject(new Error('archive feed: a piece after the end, or two at once'));
    if (this.puller !== null) {
      const puller = this.puller;
      this.puller = null;
      puller.resolve({ value: bytes, done: false });
      return Promise.resolve();
    }
    return new Promise((taken, failed) => (this.offered = { bytes, taken, failed }));
  }

  /** Every piece was pushed. */
  end(): void {
    this.ended = true;
    const puller = this.puller;
    this.puller = null;
    puller?.resolve({ value: undefined, done: true });
  }

  /** The restore fails with `error` (and a push waiting for it too). */
  fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.offered?.failed(error);
    this.offered = null;
    this.puller?.reject(error);
    this.puller = null;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.offered !== null) {
          const offered = this.offered;
          this.offered = null;
          offered.taken();
          return Promise.resolve({ value: offered.bytes, done: false });
        }
        if (this.failure !== null) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.puller = { resolve, reject }));
      },
      return: () => {
        this.fail(new Error('archive feed: the restore stopped reading'));
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** A `snapshot` target until its archive's end message: the restore, and the forwarded writes held for after it. */
interface Restoring {
  feed: ArchiveFeed | null;
  done: Promise<ShardArchiveHeader> | null;
  /** Archive bytes received. */
  received: number;
  /** Forwarded writes (and any seed) received before the restore completed, in order. */
  readonly held: wire.TransferMessage[];
  heldBytes: number;
}

/** A ticks message's share of the buffer bound (per entry; its encoded size is not kept). */
const TICK_ENTRY_BYTES = 64;

/**
 * The receiving end of one transfer: applies its messages once each, in order.
 *
 * A `snapshot` transfer's target first receives the archive: its pieces go to the restore as
 * they arrive (into a directory beside the replica's, see TransferHost.restoreReplica), and the
 * writes forwarded meanwhile are held in memory, in order, up to `snapshotBufferBytesMax` bytes
 * (past it the transfer fails and is aborted rather than grow). At the archive's end message the
 * restore completes (every CRC checked, fsynced), the restored replica replaces the empty one,
 * the archive's applied ticks are installed, the held writes are applied in order, and only then
 * is the end message acknowledged. Messages after it are applied as they come.
 *
 * Held writes are acknowledged when they arrive, before they are durable here. That loses no
 * acknowledged write: the source applied each one durably before forwarding it, and its
 * coordinator counted only Active replicas toward write_consistency_factor; this target is
 * Partial, takes no direct writes and counts for none. If this node crashes, the held writes are
 * gone with its transfer state, but the transfer is not resumed: the node aborts every transfer it
 * was an end of when it starts (or the leader's watchdog does), the half-filled replica is removed
 * (or Dead again), and a new transfer starts from an empty replica. The only step that makes this
 * replica count, finish_transfer, is proposed after the source's flush, which waits for the end
 * message's acknowledgement, i.e. for the held writes to be applied and durable.
 */
export class TargetSession {
  private lastSeq = 0;
  /** The source run this target takes messages from: the first it heard from. */
  private run: number | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private failed: string | null = null;
  private restoring: Restoring | null;

  /** The storage key of the replica this transfer fills: its own for a copy, the one it had for `wal_delta`. */
  private readonly storage: number | undefined;

  constructor(
    readonly key: TransferKey,
    private readonly host: TransferHost,
    private readonly bufferBytesMax: number = TRANSFER_TIMING.snapshotBufferBytesMax,
  ) {
    this.restoring = key.transfer.method === 'snapshot' ? { feed: null, done: null, received: 0, held: [], heldBytes: 0 } : null;
    const t = key.transfer;
    this.storage = t.method === 'wal_delta'
      ? host.state().collections.get(key.collection)?.shards.get(t.shard)?.replicas.find((r) => r.peer === t.to)?.storage
      : t.startedIndex;
  }

  /**
   * `wal_delta`: the applied ticks of the replica this transfer fills, for its source to tell
   * what it missed. Refused when the replica takes no writes (its storage failed): the source
   * then copies the shard onto new storage instead.
   */
  async ticks(): Promise<readonly ClockTag[]> {
    if (this.key.transfer.method !== 'wal_delta') throw new ShoalError('bad_request', 'Bad request: only a wal_delta transfer asks for its target\'s ticks');
    await this.tail;
    if (this.lastSeq > 0) throw new ShoalError('conflict', 'Conflict: this transfer already received messages; its target must start over');
    const adapter = this.openAdapter();
    // Under the update lock, once nothing is in flight: a write that passed the fence before the
    // transfer started, or a message of an earlier transfer into this storage, is in the ticks.
    return adapter.exclusive(async () => {
      const replica = adapter.replica;
      await replica.settled?.();
      const failure = replica.writeFailure?.() ?? null;
      if (failure !== null) throw new ShoalError('storage', `the replica cannot take the writes it missed: ${failure.message}`);
      // A gap means a clock's ticks here are not 1..t: the ticks cannot tell what it lacks.
      const gaps = replica.clockGapsSeen?.() ?? 0;
      if (gaps > 0) throw new ShoalError('storage', `the replica applied ${gaps} write(s) past a missing tick of their clock`);
      if (replica.appliedTicks === undefined || replica.redo === undefined) throw new ShoalError('storage', 'the replica keeps no applied ticks');
      return replica.appliedTicks();
    });
  }

  /**
   * The transfer ended here: no message of it is applied from now on (a `wal_delta` target keeps
   * its storage for the next transfer, which must not meet this one's records), and a restore
   * still running fails (and leaves nothing behind).
   */
  cancel(): void {
    this.failed ??= 'the transfer ended';
    this.restoring?.feed?.fail(new Error('the transfer ended'));
  }

  apply(sourceRun: number, firstSeq: number, ops: readonly wire.TransferMessage[]): Promise<number> {
    const run = async (): Promise<number> => {
      if (this.failed !== null) throw new ShoalError('conflict', `Conflict: this transfer failed on its target: ${this.failed}`);
      // Another run of the same transfer (its source restarted): what this target holds came from the earlier one.
      if (this.run !== null && this.run !== sourceRun) throw new ShoalError('conflict', 'Conflict: the transfer restarted on its source; its target must start over');
      this.run = sourceRun;
      if (firstSeq > this.lastSeq + 1) throw new ShoalError('conflict', `Conflict: transfer message ${firstSeq} arrived, ${this.lastSeq + 1} was expected`);
      const fresh = ops.slice(this.lastSeq + 1 - firstSeq);
      const adapter = this.openAdapter();
      try {
        // Appended in call order, applied in that order; a forwarded write naming points not
        // copied yet changes nothing for them (their batch brings them as they are now). The
        // source's applied ticks (its first message) are taken before the writes that follow
        // them, so forwarded writes continue their clocks here.
        const applying: Promise<void>[] = [];
        for (const m of fresh) {
          if (this.failed !== null) throw new Error(this.failed);
          if (this.restoring !== null) await this.takeDuringRestore(this.restoring, m);
          else applying.push(applyMessage(adapter.replica, m));
        }
        await Promise.all(applying);
      } catch (error) {
        // Part of the messages may be applied: the transfer cannot go on from here.
        this.failed = error instanceof Error ? error.message : String(error);
        this.restoring?.feed?.fail(error);
        throw new ShoalError('conflict', `Conflict: applying transfer messages failed: ${this.failed}`);
      }
      this.lastSeq = Math.max(this.lastSeq, firstSeq + ops.length - 1);
      return this.lastSeq;
    };
    // A call sent again after a timeout may overlap the first: one at a time, numbers decide.
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private openAdapter(): ReplicaAdapter {
    const { collection, incarnation, transfer } = this.key;
    const adapter = this.host.adapter(collection, incarnation, transfer.shard);
    if (adapter === undefined || adapter.storage !== this.storage) {
      throw new ShoalError('conflict', `Conflict: the target replica of transfer ${transfer.startedIndex} is not open on peer ${this.host.peerId}`);
    }
    return adapter;
  }

  /** A message of a `snapshot` transfer before its archive is restored. */
  private async takeDuringRestore(r: Restoring, m: wire.TransferMessage): Promise<void> {
    switch (m.kind) {
      case 'archive': {
        if (r.feed === null) {
          const { collection, incarnation, transfer } = this.key;
          const feed = new ArchiveFeed();
          r.feed = feed;
          r.done = this.host.restoreReplica(collection, incarnation, transfer.shard, transfer.startedIndex, feed);
          // A failed restore fails the piece waiting for it (and the calls after it).
          r.done.catch((error: unknown) => feed.fail(error));
        }
        r.received += m.bytes.length;
        await Promise.race([r.feed.push(m.bytes), r.done!.then(() => undefined)]);
        return;
      }
      case 'redo':
        throw new Error('a record of the source WAL in a snapshot transfer');
      case 'op':
      case 'ticks': {
        r.heldBytes += m.kind === 'op' ? m.size : TICK_ENTRY_BYTES * (m.ticks.length + 1);
        if (r.heldBytes > this.bufferBytesMax) {
          throw new Error(`writes forwarded while the snapshot is restored exceed ${this.bufferBytesMax} bytes; the transfer is given up`);
        }
        r.held.push(m);
        return;
      }
      case 'archive_end': {
        if (r.feed === null || r.done === null) throw new Error('the snapshot ended before any of it arrived');
        if (m.size !== r.received) throw new Error(`the snapshot's end names ${m.size} bytes, ${r.received} arrived`);
        r.feed.end();
        const header = await r.done;
        // The restored replica replaced the empty one (same adapter, same storage key).
        const replica = this.openAdapter().replica;
        if (header.appliedTicks !== null && header.appliedTicks.length > 0) await replica.installTicks?.(header.appliedTicks);
        await Promise.all(r.held.map((held) => applyMessage(replica, held)));
        this.restoring = null;
        return;
      }
    }
  }
}

function applyMessage(replica: Replica, m: wire.TransferMessage): Promise<void> {
  switch (m.kind) {
    case 'op':
      return replica.update(m.op, m.tag).then(() => undefined);
    case 'ticks':
      return replica.installTicks === undefined ? Promise.resolve() : replica.installTicks(m.ticks);
    case 'redo':
      // Payload indexes follow the metadata (the node reconciles them), not the source's history.
      if (m.op.kind === 'create_field_index' || m.op.kind === 'delete_field_index') return Promise.resolve();
      if (replica.redo === undefined) return Promise.reject(new Error('the replica cannot redo records of another WAL'));
      return replica.redo(m.op, m.tag).then(() => undefined);
    case 'archive':
    case 'archive_end':
      return Promise.reject(new Error('a snapshot message in a transfer that is not receiving one'));
  }
}

/**
 * Pause before looking for replicas to recover after start-up or after a transfer to this node
 * ended, ms: long enough for the entry that ended it to be applied everywhere, short against the
 * recovery tick, so the Dead replicas of a restarted node recover one after the other without
 * waiting a tick each.
 */
const RECOVERY_KICK_MS = 50;

interface Watched {
  readonly sinceMs: number;
  lastAnswerMs: number;
  lastProgressMs: number;
  acked: number;
  notRunning: number;
}

interface RecoveryCandidate {
  readonly collection: string;
  readonly incarnation: number;
  readonly shard: number;
  /** Peers with an Active replica that may send now. */
  readonly sources: number[];
  readonly method: TransferMethod;
}

interface RecoveryPause {
  untilMs: number;
  pauseMs: number;
}

export interface TransferManagerOptions {
  readonly host: TransferHost;
  readonly timing: TransferTiming;
  readonly beforeBatch: BeforeBatchHook | null;
}

export class TransferManager {
  private readonly sources = new Map<string, TransferSource>();
  private readonly targets = new Map<string, TargetSession>();
  /** Transfers this node was an end of when it started: aborted, never resumed. */
  private readonly inherited = new Set<string>();
  private readonly watched = new Map<string, Watched>();
  private readonly recoveryPauses = new Map<string, RecoveryPause>();
  /** Dead replicas here whose Active copies were all unreachable at the last try ("collection@incarnation/shard"). */
  private readonly sourceless = new Set<string>();
  private recoveryTimer: ReturnType<typeof setInterval> | undefined;
  private watchdogTimer: ReturnType<typeof setInterval> | undefined;
  private recovering = false;
  private watching = false;
  private closed = false;

  constructor(private readonly options: TransferManagerOptions) {}

  private get host(): TransferHost {
    return this.options.host;
  }

  /** The node opened its replicas: abort what it was an end of, then act on every change. */
  start(): void {
    const state = this.host.state();
    for (const { key } of this.myTransfers(state)) this.inherited.add(this.idOf(key));
    void this.abortInherited();
    this.recoveryTimer = setInterval(() => void this.recoveryTick(), this.options.timing.recoveryTickMs);
    this.watchdogTimer = setInterval(() => void this.watchdogTick(), this.options.timing.watchdogTickMs);
    this.recoveryTimer.unref();
    this.watchdogTimer.unref();
    this.reconcile(state);
    this.kickRecovery();
  }

  /** Looks for replicas to recover soon, not at the next tick: at start, and when a transfer to this node ended. */
  private kickRecovery(): void {
    setTimeout(() => void this.recoveryTick(), RECOVERY_KICK_MS).unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.recoveryTimer);
    clearInterval(this.watchdogTimer);
    for (const source of this.sources.values()) source.cancel();
    this.sources.clear();
    for (const session of this.targets.values()) session.cancel();
    this.targets.clear();
  }

  /** After every applied metadata change (and at start): start, stop, open and close ends of transfers. */
  reconcile(state: MetaState): void {
    if (this.closed) return;
    const live = new Set<string>();
    for (const { key, role } of this.myTransfers(state)) {
      const id = this.idOf(key);
      live.add(id);
      if (this.inherited.has(id)) continue;
      if (role === 'source' && !this.sources.has(id)) {
        const source = new TransferSource(key, this.host, this.options.timing, this.options.beforeBatch);
        this.sources.set(id, source);
        void source.run().finally(() => {
          if (this.sources.get(id) === source) this.sources.delete(id);
        });
      }
      if (role === 'target' && !this.targets.has(id)) this.targets.set(id, new TargetSession(key, this.host, this.options.timing.snapshotBufferBytesMax));
    }
    for (const [id, source] of this.sources) {
      if (live.has(id)) continue;
      source.cancel();
      this.sources.delete(id);
    }
    let received = false;
    for (const [id, session] of [...this.targets]) {
      if (live.has(id)) continue;
      session.cancel();
      this.targets.delete(id);
      received = true;
    }
    // The next Dead replica here may start recovering (one incoming transfer per peer at a time).
    if (received) this.kickRecovery();
    for (const id of [...this.inherited]) if (!live.has(id)) this.inherited.delete(id);
  }

  /** The comment of a transfer this node is the source of (Qdrant reports it on the source only). */
  comment(collection: string, incarnation: number, transfer: ShardTransfer): string | null {
    return this.sources.get(transferKey(collection, incarnation, transfer.shard, transfer.startedIndex))?.comment() ?? null;
  }

  // ----- the Points calls of transfers

  async receive(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    const call = wire.decodeTransferBatch(request.body);
    const session = await this.session(address, request.metaIndex, call.transferId);
    const lastSeq = await session.apply(call.run, call.firstSeq, call.messages);
    return wire.encodeNumber(lastSeq);
  }

  async ticks(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    const session = await this.session(address, request.metaIndex, wire.decodeTransferTicksCall(request.body));
    return wire.encodeTicksReply(await session.ticks());
  }

  /** The receiving end of transfer `transferId` here, once this node acted on `metaIndex`. */
  private async session(address: ShardAddress, metaIndex: number, transferId: number): Promise<TargetSession> {
    await this.catchUp(metaIndex);
    const session = this.targets.get(transferKey(address.collection, address.incarnation, address.shardId, transferId));
    if (session === undefined) {
      throw new ShoalError('conflict', `Conflict: peer ${this.host.peerId} receives no transfer ${transferId} of shard ${address.shardId} of \`${address.collection}\``);
    }
    return session;
  }

  async status(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    const transferId = wire.decodeTransferStatusCall(request.body);
    const source = this.sources.get(transferKey(address.collection, address.incarnation, address.shardId, transferId));
    return wire.encodeTransferStatus({ running: source !== undefined, applied: this.host.state().appliedIndex, acked: source?.acked ?? 0 });
  }

  private async catchUp(index: number): Promise<void> {
    // Acted on, not only applied: the target's replica for the transfer is open by then.
    if (index <= 0) return;
    if (!(await this.host.waitActed(index, performance.now() + this.options.timing.callTimeoutMs / 2))) {
      throw new ShoalError('unavailable', `Service unavailable: peer ${this.host.peerId} has not applied metadata index ${index} yet`);
    }
  }

  // ----- bookkeeping

  private myTransfers(state: MetaState): Array<{ key: TransferKey; role: 'source' | 'target' }> {
    const out: Array<{ key: TransferKey; role: 'source' | 'target' }> = [];
    const me = this.host.peerId;
    for (const meta of state.collections.values()) {
      for (const transfer of meta.transfers) {
        const key = { collection: meta.name, incarnation: meta.createdIndex, transfer };
        if (transfer.from === me) out.push({ key, role: 'source' });
        else if (transfer.to === me) out.push({ key, role: 'target' });
      }
    }
    return out;
  }

  private idOf(key: TransferKey): string {
    return transferKey(key.collection, key.incarnation, key.transfer.shard, key.transfer.startedIndex);
  }

  /** Transfers this node was an end of before it restarted: their state here is gone, abort them. */
  private async abortInherited(): Promise<void> {
    let pause = this.options.timing.callRetryPauseMs;
    while (!this.closed && this.inherited.size > 0) {
      for (const { key } of this.myTransfers(this.host.state())) {
        if (!this.inherited.has(this.idOf(key))) continue;
        await this.abort(key, 'this node restarted while it was an end of the transfer');
      }
      if (this.inherited.size === 0) return;
      this.reconcile(this.host.state());
      await new Promise((resolve) => setTimeout(resolve, pause).unref());
      pause = Math.min(pause * 2, this.options.timing.recoveryPauseMsMax);
    }
  }

  private async abort(key: TransferKey, why: string): Promise<void> {
    if (!transferCurrent(this.host.state(), key)) return;
    const t = key.transfer;
    this.host.log('warn', 'aborting a shard transfer', { collection: key.collection, shard: t.shard, from: t.from, to: t.to, why });
    try {
      await this.host.propose({
        kind: 'abort_transfer', collection: key.collection, incarnation: key.incarnation, shard: t.shard, from: t.from, to: t.to, transferId: t.startedIndex,
      });
    } catch (error) {
      this.host.log('warn', 'aborting a shard transfer failed; will retry', { collection: key.collection, shard: t.shard, err: String(error) });
    }
  }

  // ----- recovery of this node's Dead replicas

  /**
   * Proposes a recovery transfer for the first Dead replica of this node whose shard has a live
   * Active replica (one at a time: a peer receives one transfer at once); the next one starts
   * when this one ended (kickRecovery) or at a later tick.
   */
  private async recoveryTick(): Promise<void> {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    try {
      const tried = new Set<string>();
      for (;;) {
        const next = this.recoveryCandidates(this.host.state()).find((c) => !tried.has(`${c.collection}/${c.shard}`));
        if (next === undefined || this.closed) return;
        tried.add(`${next.collection}/${next.shard}`);
        if (await this.recover(next)) return;
      }
    } catch (error) {
      this.host.log('warn', 'looking for replicas to recover failed', { err: String(error) });
    } finally {
      this.recovering = false;
    }
  }

  /** Resets the pauses between recoveries: the next tick tries every Dead replica again (POST /cluster/recover). */
  recoverNow(): void {
    this.recoveryPauses.clear();
    void this.recoveryTick();
  }

  /**
   * This node's Dead or Partial replicas that an Active replica elsewhere can recover (a Dead one
   * whose Active copies were all unreachable at the last try does not count): readiness waits
   * for them.
   */
  pendingRecoveries(state: MetaState): number {
    let n = 0;
    for (const meta of state.collections.values()) {
      for (const shard of meta.shards.values()) {
        const own = shard.replicas.find((r) => r.peer === this.host.peerId);
        if (own === undefined || (own.state !== 'Dead' && own.state !== 'Partial')) continue;
        if (own.state === 'Dead' && this.sourceless.has(`${meta.name}@${meta.createdIndex}/${shard.id}`)) continue;
        if (shard.replicas.some((r) => r.peer !== this.host.peerId && r.state === 'Active')) n += 1;
      }
    }
    return n;
  }

  private recoveryCandidates(state: MetaState): RecoveryCandidate[] {
    const me = this.host.peerId;
    const load = transferLoad(state);
    if ((load.incoming.get(me) ?? 0) >= TRANSFERS_IN_PER_PEER_MAX || (load.outgoing.get(me) ?? 0) > 0) return [];
    const out: RecoveryCandidate[] = [];
    const now = performance.now();
    for (const meta of state.collections.values()) {
      for (const shard of meta.shards.values()) {
        const own = shard.replicas.find((r) => r.peer === me);
        if (own?.state !== 'Dead' || meta.transfers.some((t) => t.shard === shard.id)) continue;
        const pause = this.recoveryPauses.get(`${meta.name}@${meta.createdIndex}/${shard.id}`);
        if (pause !== undefined && pause.untilMs > now) continue;
        const sources = shard.replicas
          .filter((r) => r.peer !== me && r.state === 'Active')
          .filter((r) => (load.outgoing.get(r.peer) ?? 0) < TRANSFERS_OUT_PER_PEER_MAX && (load.incoming.get(r.peer) ?? 0) === 0)
          .map((r) => r.peer);
        if (sources.length === 0) continue;
        // The writes it missed, when it held all the others (Qdrant's preferred recovery of a
        // replica that was away); a copy when a transfer into it (a delta too) ended unfinished.
        const method = own.unfilled !== true ? 'wal_delta' : 'stream_records';
        out.push({ collection: meta.name, incarnation: meta.createdIndex, shard: shard.id, sources, method });
      }
    }
    return out;
  }

  /** true once a recovery of the replica started. */
  private async recover(c: RecoveryCandidate): Promise<boolean> {
    const id = `${c.collection}@${c.incarnation}/${c.shard}`;
    const alive: number[] = [];
    for (const from of c.sources) if (await this.host.peerAlive(from, this.options.timing.callTimeoutMs / 10)) alive.push(from);
    // Readiness does not wait for a replica nobody reachable can recover.
    if (alive.length === 0) this.sourceless.add(id);
    else this.sourceless.delete(id);
    for (const from of alive) {
      const op: MetaOperation = { kind: 'start_transfer', collection: c.collection, incarnation: c.incarnation, shard: c.shard, from, to: this.host.peerId, sync: true, method: c.method };
      try {
        const outcome = await this.host.propose(op);
        if (outcome.ok) {
          this.host.log('info', 'recovering a Dead replica', { collection: c.collection, shard: c.shard, from, method: c.method });
          this.pauseRecovery(id, false);
          return true;
        }
        // Refused: another transfer got there first (the limits are checked when the entry applies).
        if (this.recoveryCandidates(this.host.state()).length === 0) return false;
      } catch (error) {
        this.host.log('warn', 'proposing a recovery failed', { collection: c.collection, shard: c.shard, err: String(error) });
      }
      break;
    }
    this.pauseRecovery(id, true);
    return false;
  }

  /** After a recovery started the shard waits a little (it may fail at once); after a failure, twice as long as last time. */
  private pauseRecovery(id: string, failed: boolean): void {
    const { recoveryPauseMsMin, recoveryPauseMsMax } = this.options.timing;
    const last = this.recoveryPauses.get(id)?.pauseMs ?? recoveryPauseMsMin / 2;
    const pauseMs = failed ? Math.min(recoveryPauseMsMax, last * 2) : recoveryPauseMsMin;
    this.recoveryPauses.set(id, { untilMs: performance.now() + pauseMs, pauseMs });
  }

  // ----- the leader's watchdog

  private async watchdogTick(): Promise<void> {
    if (this.watching || this.closed) return;
    if (!this.host.isLeader()) {
      this.watched.clear();
      return;
    }
    this.watching = true;
    try {
      const state = this.host.state();
      const seen = new Set<string>();
      const checks: Promise<void>[] = [];
      for (const meta of state.collections.values()) {
        for (const transfer of meta.transfers) {
          const key = { collection: meta.name, incarnation: meta.createdIndex, transfer };
          seen.add(this.idOf(key));
          checks.push(this.check(key));
        }
      }
      await Promise.all(checks);
      for (const id of [...this.watched.keys()]) if (!seen.has(id)) this.watched.delete(id);
    } finally {
      this.watching = false;
    }
  }

  private async check(key: TransferKey): Promise<void> {
    const id = this.idOf(key);
    const now = performance.now();
    let w = this.watched.get(id);
    if (w === undefined) {
      w = { sinceMs: now, lastAnswerMs: now, lastProgressMs: now, acked: 0, notRunning: 0 };
      this.watched.set(id, w);
    }
    const t = key.transfer;
    const status = await this.askSource(key);
    const { sourceSilentMsMax, progressStallMsMax } = this.options.timing;
    if (status === null) {
      if (now - w.lastAnswerMs > sourceSilentMsMax) await this.abort(key, `its source (peer ${t.from}) has not answered for ${Math.round((now - w.lastAnswerMs) / 1000)} s`);
      return;
    }
    w.lastAnswerMs = now;
    if (!status.running) {
      // The source has applied the start but runs nothing: it restarted, or its run ended without an entry.
      if (status.applied >= t.startedIndex) w.notRunning += 1;
      if (w.notRunning >= 2) await this.abort(key, `its source (peer ${t.from}) does not run it`);
      return;
    }
    w.notRunning = 0;
    if (status.acked !== w.acked) {
      w.acked = status.acked;
      w.lastProgressMs = now;
    } else if (now - w.lastProgressMs > progressStallMsMax) {
      await this.abort(key, `no progress for ${Math.round((now - w.lastProgressMs) / 1000)} s`);
    }
  }

  private async askSource(key: TransferKey): Promise<wire.TransferStatus | null> {
    const t = key.transfer;
    const request: ShardRequest = {
      clusterId: '', collection: key.collection, incarnation: key.incarnation, shardId: t.shard, fromPeer: this.host.peerId,
      body: wire.encodeTransferStatusCall(t.startedIndex), clockTag: null, metaIndex: this.host.state().appliedIndex,
    };
    const result = await this.host.callPoints(t.from, 'TransferStatus', request, { timeoutMs: this.options.timing.watchdogTickMs });
    if (result.outcome === 'failed' || !result.reply.ok) return null;
    try {
      return wire.decodeTransferStatus(result.reply.body);
    } catch {
      return null;
    }
  }
}
