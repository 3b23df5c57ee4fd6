import { assert } from '@shoal/common';
import { logIndex, maxIndex, minIndex, type LogIndex } from './types.js';

/**
 * The last indexes of append messages sent to one follower and not yet acknowledged, in order.
 * Bounded by inflightMsgsMax: a full window pauses replication to that follower.
 */
export class Inflights {
  private readonly items: LogIndex[] = [];

  constructor(readonly capacity: number) {}

  get count(): number {
    return this.items.length;
  }

  full(): boolean {
    return this.items.length >= this.capacity;
  }

  add(last: LogIndex): void {
    assert(!this.full(), 'inflight window overflow');
    const prev = this.items[this.items.length - 1];
    assert(prev === undefined || last > prev, 'inflight indexes must increase');
    this.items.push(last);
  }

  /** Frees every message whose last index is <= `to` (acknowledged). */
  freeLE(to: LogIndex): void {
    let n = 0;
    while (n < this.items.length && this.items[n]! <= to) n += 1;
    this.items.splice(0, n);
  }

  freeFirstOne(): void {
    this.items.shift();
  }

  reset(): void {
    this.items.length = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * The leader's view of one peer. probe: one message at a time until we find where the logs
 * match; replicate: stream optimistically within the inflight window; snapshot: waiting for a
 * snapshot to be installed.
 */
export class Progress {
  match: LogIndex = logIndex(0);
  next: LogIndex;
  state: ProgressState = 'probe';
  /** In probe state: a message is out, wait for its answer (or a heartbeat answer) before the next. */
  probeSent = false;
  pendingSnapshot: LogIndex = logIndex(0);
  /** Ticks spent in the snapshot state; a snapshot that never completes is retried. */
  snapshotTicks = 0;
  /** Heard from within the current check-quorum period. */
  recentActive = true;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: LogIndex, inflightMsgsMax: number, isLearner: boolean) {
    assert(next >= 1, 'progress next must be >= 1');
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = logIndex(0);
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, probe from after it: the follower most likely installed it.
    const from = this.state === 'snapshot' ? maxIndex(this.match, this.pendingSnapshot) : this.match;
    this.resetState('probe');
    this.next = logIndex(from + 1);
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = logIndex(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to n; returns whether match moved. */
  maybeUpdate(n: LogIndex): boolean {
    const updated = this.match < n;
    if (updated) {
      this.match = n;
      this.probeSent = false;
    }
    this.next = maxIndex(this.next, logIndex(n + 1));
    return updated;
  }

  /**
   * A rejection of the append after `rejected`; `matchHint` is the follower's guess of the
   * last index that may match. Returns false for stale rejections.
   */
  maybeDecrTo(rejected: LogIndex, matchHint: LogIndex): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false; // stale: we already know it matches there
      this.next = logIndex(this.match + 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false; // answer to an older probe
    this.next = maxIndex(minIndex(rejected, logIndex(matchHint + 1)), logIndex(this.match + 1));
    this.probeSent = false;
    return true;
  }

  /** The leader sent entries up to `last` (or nothing new when last is undefined). */
  sentEntries(last: LogIndex | undefined): void {
    if (this.state === 'replicate') {
      if (last !== undefined) {
        this.next = logIndex(last + 1);
        this.inflights.add(last);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, 'sending entries in snapshot state');
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
