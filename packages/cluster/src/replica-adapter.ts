// A local replica as the node writes to it. The adapter owns the shard's update lock:
//
// - A direct write holds the lock shared from its fence check to the moment its operation is
//   handed to a running transfer (if any): check the shard's fence (a write decided on metadata
//   older than it is refused, see StaleView), append to the WAL (LocalShard.update appends in call
//   order, so that order is the apply order), reserve its place in the transfer's queue in the
//   same synchronous step, wait until it is durable and applied, then fill the reserved place.
//   A write that failed (refused, WAL error) is never forwarded: its place is given up.
// - The transfer's copy holds the lock exclusively while it reads the next batch of points (a
//   scroll by point id, which sees the shard as of every write applied so far, whatever the
//   optimizer merged meanwhile) and queues it: every write applied before the read is in the
//   batch or queued before it, every write applied after is queued after it. The target applies
//   the queue in order, so a point deleted after its batch was read is deleted after the batch
//   is applied, and a point deleted before is not in the batch: no deleted point comes back.
// - Finishing holds it exclusively from flushing the queue until the finish entry is applied
//   here: writes that arrive meanwhile wait, then meet the new fence and are sent again by their
//   coordinator to the replicas it then sees.
//
// The write returns once the target acknowledged its forwarded copy (or the transfer ended): the
// queue is bounded by the writes in flight, and a write the source acknowledged is on the target.
import type { PointOperation } from '@shoal/common';
import type { ApplyResult } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import type { Replica } from './replica-set.js';
import { StaleView, type DirectWrites } from './shard-replica.js';

/** A running transfer's queue, as the adapter feeds it (TransferChannel). */
export interface Forwarder {
  /** Reserves the next place in the queue, synchronously, in WAL order. */
  reserve(): ForwardSlot;
}

export interface ForwardSlot {
  /** The write was applied here: queue it (with its clock tag); resolves once the target has it or the transfer ended. */
  fill(op: PointOperation, tag?: ClockTag | null): Promise<void>;
  /** The write failed here: it is not forwarded. */
  skip(): void;
}

/** Where the shard's fence stands for a write decided at `metaIndex`: null if it may go ahead. */
export type FenceCheck = (metaIndex: number) => StaleView | null;

/** Shared holders (writes) run together; an exclusive holder waits for them and keeps new ones out. */
export class UpdateGate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: Array<{ readonly exclusive: boolean; readonly resolve: () => void }> = [];

  /** Resolves when a shared hold is granted (at once unless an exclusive holder holds or waits). */
  acquireShared(): Promise<void> | null {
    if (!this.exclusive && this.waiting.length === 0) {
      this.shared += 1;
      return null;
    }
    return new Promise((resolve) => this.waiting.push({ exclusive: false, resolve }));
  }

  releaseShared(): void {
    this.shared -= 1;
    this.grant();
  }

  async withExclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.exclusive || this.shared > 0 || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.waiting.push({ exclusive: true, resolve }));
    } else {
      this.exclusive = true;
    }
    try {
      return await run();
    } finally {
      this.exclusive = false;
      this.grant();
    }
  }

  /** Grants waiters in arrival order: shared ones together, an exclusive one alone. */
  private grant(): void {
    while (this.waiting.length > 0 && !this.exclusive) {
      const next = this.waiting[0]!;
      if (next.exclusive) {
        if (this.shared > 0) return;
        this.waiting.shift();
        this.exclusive = true;
        next.resolve();
        return;
      }
      this.waiting.shift();
      this.shared += 1;
      next.resolve();
    }
  }
}

export class ReplicaAdapter implements DirectWrites {
  private readonly gate = new UpdateGate();
  private forwarder: Forwarder | null = null;
  private closed = false;

  constructor(
    private current: Replica,
    /** The shard's fence as this node knows it now. */
    private readonly fence: FenceCheck,
    /** The storage key (ReplicaMeta.storage) this replica was opened for. */
    readonly storage: number | undefined,
  ) {}

  /** The replica written to (another one once a `snapshot` transfer's target restored its archive). */
  get replica(): Replica {
    return this.current;
  }

  /** A direct write: fenced (unless `metaIndex` is null), applied, and forwarded to a running transfer. */
  async update(op: PointOperation, metaIndex: number | null, tag: ClockTag | null = null): Promise<ApplyResult> {
    const wait = this.gate.acquireShared();
    if (wait !== null) await wait;
    let forwarded: Promise<void> | null = null;
    let result: ApplyResult;
    try {
      if (metaIndex !== null || this.closed) {
        const stale = this.fence(metaIndex ?? 0);
        if (stale !== null) throw stale;
      }
      const pending = this.replica.update(op, tag);
      const slot = this.forwarder?.reserve() ?? null;
      try {
        result = (await pending).result;
      } catch (error) {
        slot?.skip();
        throw error;
      }
      forwarded = slot?.fill(op, tag) ?? null;
    } finally {
      this.gate.releaseShared();
    }
    if (forwarded !== null) await forwarded;
    return result;
  }

  /** Runs `fn` holding the update lock alone: no write is between its fence check and its place in the queue. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.withExclusive(fn);
  }

  /**
   * From now on every applied write is queued on `forwarder` (taken under the lock, so none is
   * missed). `first` runs in the same locked step, before any write is queued: what it reads of
   * the replica (its applied ticks) is exactly what the writes after it continue from.
   */
  startForwarding(forwarder: Forwarder, first?: () => void): Promise<void> {
    return this.exclusive(async () => {
      first?.();
      this.forwarder = forwarder;
    });
  }

  /**
   * Runs `first` under the lock held exclusively; when `start(value)` says so, writes are queued
   * on `forwarder` from this same step on. A `snapshot` source captures the shard here: every
   * write is in the capture or forwarded after it, none in both or neither.
   */
  tryStartForwarding<T>(forwarder: Forwarder, first: () => T, start: (value: T) => boolean): Promise<T> {
    return this.exclusive(async () => {
      const value = first();
      if (start(value)) this.forwarder = forwarder;
      return value;
    });
  }

  /**
   * Replaces the replica (a `snapshot` target: the empty replica opened when the transfer
   * started gives way to the restored one), holding the lock exclusively while `swap` runs.
   */
  replaceReplica(swap: (old: Replica) => Promise<Replica>): Promise<void> {
    return this.exclusive(async () => {
      this.current = await swap(this.current);
    });
  }

  /** Stops queueing writes on `forwarder` (if it is still the one). Takes no lock: a transfer ends while writes wait for it. */
  stopForwarding(forwarder: Forwarder): void {
    if (this.forwarder === forwarder) this.forwarder = null;
  }

  get forwarding(): boolean {
    return this.forwarder !== null;
  }

  /**
   * The replica leaves this node: writes waiting for the lock meet the fence (the replica is no
   * longer placed here) instead of the closed shard.
   */
  markClosed(): void {
    this.closed = true;
  }

  /** The replica left this node (markClosed). */
  get isClosed(): boolean {
    return this.closed;
  }
}
