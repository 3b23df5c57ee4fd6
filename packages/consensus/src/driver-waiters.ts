import type { MetaState } from '@shoal/meta';
import type { LogIndex, PeerId, Term } from '@shoal/raft';
import type { EntryOutcome } from './applied-state.js';

/**
 * Typed outcomes of the driver's asynchronous calls: every promise settles with one of these,
 * never hangs (each call has a deadline) and never rejects for an operating condition.
 */
export type ProposalResult =
  /** Applied at `index`; `result` is the state machine's verdict (a refusal is still applied). */
  | { readonly outcome: 'applied'; readonly index: LogIndex; readonly term: Term; readonly result: EntryOutcome }
  /** Only the leader accepts proposals; forward to `leader` (undefined while there is none). */
  | { readonly outcome: 'not_leader'; readonly leader: PeerId | undefined }
  /** Refused before entering the log (a bound was reached, a change is pending, …): retry later. */
  | { readonly outcome: 'dropped'; readonly reason: string }
  /** Another leader's entry was committed at `index`: this proposal was not and will not be applied. */
  | { readonly outcome: 'overwritten'; readonly index: LogIndex; readonly term: Term }
  /** The deadline passed first; the entry may still be applied later. */
  | { readonly outcome: 'timeout' }
  /** The outcome cannot be known here (covered by an installed snapshot, storage error): it may or may not be applied. */
  | { readonly outcome: 'unknown'; readonly reason: string }
  /** The driver is stopped (storage error being recovered, or closed); nothing was proposed. */
  | { readonly outcome: 'unavailable'; readonly reason: string };

export type ReadResult =
  /** `state` reflects every write committed before the read started (linearizable). */
  | { readonly outcome: 'ok'; readonly index: LogIndex; readonly state: MetaState }
  | { readonly outcome: 'not_leader'; readonly leader: PeerId | undefined }
  | { readonly outcome: 'dropped'; readonly reason: string }
  | { readonly outcome: 'timeout' }
  | { readonly outcome: 'unavailable'; readonly reason: string };

interface Deadline {
  readonly deadlineMs: number;
}

export interface ProposalWaiter extends Deadline {
  readonly index: LogIndex;
  readonly term: Term;
  readonly resolve: (r: ProposalResult) => void;
}

export interface ReadWaiter extends Deadline {
  /** Known once the ReadState arrived; the read is served when applied reaches it. */
  index: LogIndex | undefined;
  readonly resolve: (r: ReadResult) => void;
}

/** A wait for a condition over the driver's state (a leader change, leaving a joint config). */
export interface ConditionWaiter extends Deadline {
  /** true when the wait is over. */
  readonly test: () => boolean;
  readonly resolve: (timedOut: boolean) => void;
}

/** Every waiter of the driver, keyed so that applying entries finds them at once. */
export class Waiters {
  readonly proposals = new Map<LogIndex, ProposalWaiter>();
  readonly reads = new Map<string, ReadWaiter>();
  readonly conditions = new Set<ConditionWaiter>();

  get size(): number {
    return this.proposals.size + this.reads.size + this.conditions.size;
  }

  /** The entry (index, term) was applied with `result`. */
  applied(index: LogIndex, term: Term, result: EntryOutcome): void {
    const w = this.proposals.get(index);
    if (w === undefined) return;
    this.proposals.delete(index);
    w.resolve(w.term === term ? { outcome: 'applied', index, term, result } : { outcome: 'overwritten', index, term });
  }

  /** A snapshot replaced the log up to `index`: proposals at or below it have unknown fate. */
  coveredBySnapshot(index: LogIndex): void {
    for (const [i, w] of this.proposals) {
      if (i > index) continue;
      this.proposals.delete(i);
      w.resolve({ outcome: 'unknown', reason: `replaced by a snapshot at ${index}` });
    }
  }

  /** Serves the reads whose index the state machine has reached. */
  serveReads(applied: LogIndex, state: MetaState): void {
    for (const [ctx, w] of this.reads) {
      if (w.index === undefined || w.index > applied) continue;
      this.reads.delete(ctx);
      w.resolve({ outcome: 'ok', index: w.index, state });
    }
  }

  checkConditions(): void {
    for (const w of this.conditions) {
      if (!w.test()) continue;
      this.conditions.delete(w);
      w.resolve(false);
    }
  }

  /** Settles every waiter whose deadline is at or before nowMs. */
  expire(nowMs: number): void {
    for (const [i, w] of this.proposals) {
      if (w.deadlineMs > nowMs) continue;
      this.proposals.delete(i);
      w.resolve({ outcome: 'timeout' });
    }
    for (const [ctx, w] of this.reads) {
      if (w.deadlineMs > nowMs) continue;
      this.reads.delete(ctx);
      w.resolve({ outcome: 'timeout' });
    }
    for (const w of this.conditions) {
      if (w.deadlineMs > nowMs) continue;
      this.conditions.delete(w);
      w.resolve(true);
    }
  }

  /** The driver stopped: settle everything now. */
  stopAll(reason: string): void {
    for (const w of this.proposals.values()) w.resolve({ outcome: 'unknown', reason });
    for (const w of this.reads.values()) w.resolve({ outcome: 'unavailable', reason });
    for (const w of this.conditions) w.resolve(true);
    this.proposals.clear();
    this.reads.clear();
    this.conditions.clear();
  }
}
