import { assert } from '@shoal/common';
import type { TransportLimits } from './limits.js';
import type { SendError, TransportPeerId, TransportStats } from './transport.js';

/** Why a batch did not arrive. */
export interface BatchFailure {
  readonly message: string;
  /**
   * true: the peer may take it later (down, unreachable, too slow): keep the batch and retry.
   * false: the receiver refused it (wrong peer id, other cluster, malformed): retrying cannot
   * help, so the batch is dropped and the messages behind it go on.
   */
  readonly retry: boolean;
}

/** Hands one batch to the peer and calls `done` exactly once with the outcome. */
export type Deliver = (batch: readonly Uint8Array[], done: (failure: BatchFailure | null) => void) => void;

/** Wait before attempt number `failures + 1`: doubling from the minimum, capped. */
export function backoffMs(limits: TransportLimits, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(limits.backoffMsMax, limits.backoffMsMin * 2 ** Math.min(failures - 1, 30));
}

/**
 * The outgoing side of one peer: a bounded queue, at most one batch in flight (so messages
 * arrive in the order they were sent), whatever queued meanwhile goes in the next batch, and
 * capped exponential back-off after a failure. Messages stay in the queue while in flight and
 * leave it only when acknowledged or refused, so the bound counts everything held for the peer.
 */
export class PeerLink {
  private readonly messages: Uint8Array[] = [];
  private bytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  failures = 0;
  dropped = 0;
  latestError: SendError | null = null;

  constructor(
    private readonly limits: TransportLimits,
    private readonly deliver: Deliver,
    private readonly nowMs: () => number,
  ) {}

  get held(): number {
    return this.messages.length;
  }

  /** Queues a message; false (and counted as dropped) when it does not fit. */
  offer(message: Uint8Array): boolean {
    assert(!this.closed, 'offer on a closed peer link');
    const fits =
      message.byteLength <= this.limits.batchBytesMax &&
      this.messages.length < this.limits.queueMessagesMax &&
      this.bytes + message.byteLength <= this.limits.queueBytesMax;
    if (!fits) {
      this.dropped += 1;
      return false;
    }
    this.messages.push(message);
    this.bytes += message.byteLength;
    this.schedule();
    return true;
  }

  /** The peer has a new address: a retry waiting out its back-off goes now. */
  retryNow(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.schedule();
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.messages.length = 0;
    this.bytes = 0;
  }

  // Deferred to a microtask so that the messages of one Raft Ready, sent in one synchronous
  // loop, travel in one batch.
  private schedule(): void {
    if (this.scheduled || this.inFlight > 0 || this.retryTimer !== null || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed || this.inFlight > 0 || this.retryTimer !== null || this.messages.length === 0) return;
    const batch = this.nextBatch();
    this.inFlight = batch.length;
    let settled = false;
    this.deliver(batch, (failure) => {
      assert(!settled, 'a batch settled twice');
      settled = true;
      this.settle(batch.length, failure);
    });
  }

  private nextBatch(): Uint8Array[] {
    const batch: Uint8Array[] = [];
    let bytes = 0;
    for (const message of this.messages) {
      if (batch.length === this.limits.batchMessagesMax) break;
      if (batch.length > 0 && bytes + message.byteLength > this.limits.batchBytesMax) break;
      batch.push(message);
      bytes += message.byteLength;
    }
    assert(batch.length > 0, 'an empty batch');
    return batch;
  }

  private settle(count: number, failure: BatchFailure | null): void {
    if (this.closed) return;
    this.inFlight = 0;
    if (failure === null) {
      this.remove(count);
      this.failures = 0;
      this.latestError = null;
      this.schedule();
      return;
    }
    this.failures += 1;
    this.latestError = { message: failure.message, atMs: this.nowMs() };
    if (!failure.retry) {
      this.remove(count);
      this.dropped += count;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, backoffMs(this.limits, this.failures));
  }

  private remove(count: number): void {
    for (const message of this.messages.splice(0, count)) this.bytes -= message.byteLength;
    assert(this.bytes >= 0, 'negative queued bytes');
  }
}

/** The transport's stats from its links, as Transport.stats() reports them. */
export function linkStats(links: Iterable<readonly [TransportPeerId, PeerLink]>): TransportStats {
  const stats: TransportStats = { sendFailures: new Map(), latestErrors: new Map(), queued: new Map(), dropped: new Map() };
  for (const [id, link] of links) {
    if (link.failures > 0) stats.sendFailures.set(id, link.failures);
    if (link.failures > 0 && link.latestError !== null) stats.latestErrors.set(id, link.latestError);
    stats.queued.set(id, link.held);
    stats.dropped.set(id, link.dropped);
  }
  return stats;
}
