import { assert } from '@shoal/common';
import { limitBytes, payloadBytes, wireBytes } from './entries.js';
import type { Entry, Snapshot } from './messages.js';
import type { RaftTestHooks } from './config.js';
import type { ReadonlyLogStorage } from './storage.js';
import { logIndex, maxIndex, minIndex, term, type LogIndex, type Term } from './types.js';

/** Entries (and possibly a snapshot) not yet persisted by the driver. */
class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of entries[0]. */
  offset: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
  }

  firstIndex(): LogIndex | undefined {
    return this.snapshot === undefined ? undefined : logIndex(this.snapshot.meta.index + 1);
  }

  lastIndex(): LogIndex | undefined {
    if (this.entries.length > 0) return logIndex(this.offset + this.entries.length - 1);
    return this.snapshot?.meta.index;
  }

  term(i: LogIndex): Term | undefined {
    if (i < this.offset) {
      return this.snapshot !== undefined && this.snapshot.meta.index === i ? this.snapshot.meta.term : undefined;
    }
    return this.entries[i - this.offset]?.term;
  }

  /** The driver persisted entries up to (i, t); forget them unless they were replaced since. */
  stableTo(i: LogIndex, t: Term): void {
    if (i < this.offset || this.term(i) !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = logIndex(i + 1);
  }

  stableSnapTo(i: LogIndex): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = logIndex(s.meta.index + 1);
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    assert(first !== undefined, 'truncateAndAppend of nothing');
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      // Replaces everything unstable; the driver's append also replaces stored entries >= after.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }
}

/**
 * The node's view of the log: the driver's persisted storage followed by the unstable tail.
 * Invariants (asserted): applied <= committed <= lastIndex; committed never decreases; no
 * committed entry is ever truncated.
 */
export class RaftLog {
  private readonly unstable: Unstable;
  committed: LogIndex;
  applied: LogIndex;

  constructor(
    private readonly storage: ReadonlyLogStorage,
    private readonly readyCommittedBytesMax: number,
    private readonly hooks: RaftTestHooks = {},
  ) {
    this.unstable = new Unstable(logIndex(storage.lastIndex() + 1));
    this.committed = logIndex(storage.firstIndex() - 1);
    this.applied = this.committed;
  }

  firstIndex(): LogIndex {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i; undefined when i is compacted (below firstIndex - 1) or beyond lastIndex. */
  term(i: LogIndex): Term | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.unstable.term(i) ?? this.storage.term(i);
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'the last entry has no term');
    return t;
  }

  matchTerm(i: LogIndex, t: Term): boolean {
    return this.term(i) === t;
  }

  /** Is a candidate whose last entry is (index, t) at least as up to date as this log (§5.4.1)? */
  isUpToDate(index: LogIndex, t: Term): boolean {
    const last = this.lastTerm();
    return t > last || (t === last && index >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries: if our log matches (index, logTerm), append `ents` (dropping
   * those we already have, truncating at the first conflict) and return the new last index.
   */
  maybeAppend(index: LogIndex, logTerm: Term, committed: LogIndex, ents: readonly Entry[]): LogIndex | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = logIndex(index + ents.length);
    const conflict = this.findConflict(ents);
    if (conflict !== undefined) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(this.hooks.applyUncommitted === true ? this.lastIndex() : minIndex(committed, lastNew));
    return lastNew;
  }

  /** Index of the first entry of `ents` that is missing or has another term here. */
  private findConflict(ents: readonly Entry[]): LogIndex | undefined {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return undefined;
  }

  /**
   * The largest (index', term') with index' <= index and term' <= t: where a follower's log may
   * still match a leader's entry of term t. Skips whole terms, so back-off costs one round per term.
   */
  findConflictByTerm(index: LogIndex, t: Term): { index: LogIndex; term: Term } {
    if (index > this.lastIndex()) return { index, term: term(0) };
    for (let i = index; i > 0; i--) {
      const ti = this.term(logIndex(i));
      if (ti === undefined) return { index: logIndex(i), term: term(0) };
      if (ti <= t) return { index: logIndex(i), term: ti };
    }
    return { index: logIndex(0), term: term(0) };
  }

  append(ents: readonly Entry[]): LogIndex {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index - 1 >= this.committed, `append after ${first.index - 1} would truncate committed ${this.committed}`);
    assert(first.index <= this.lastIndex() + 1, 'append leaves a gap');
    for (let k = 1; k < ents.length; k++) assert(ents[k]!.index === first.index + k, 'entries not contiguous');
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Entries [lo, hi) cut to `bytesMax` of wire size; undefined if lo is compacted. */
  slice(lo: LogIndex, hi: LogIndex, bytesMax: number, size: (e: Entry) => number = wireBytes): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    assert(lo <= hi && hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) beyond last ${this.lastIndex()}`);
    if (lo === hi) return [];
    const out: Entry[] = [];
    const stableHi = minIndex(hi, this.unstable.offset);
    if (lo < stableHi) {
      out.push(...this.storage.entries(lo, stableHi, bytesMax));
      if (out.length < stableHi - lo) return limitBytes(out, bytesMax, size);
    }
    const uLo = maxIndex(lo, this.unstable.offset);
    if (uLo < hi) out.push(...this.unstable.entries.slice(uLo - this.unstable.offset, hi - this.unstable.offset));
    return limitBytes(out, bytesMax, size);
  }

  /** Entries from lo to the end, cut to `bytesMax` of wire size; undefined if lo is compacted. */
  entriesFrom(lo: LogIndex, bytesMax: number): Entry[] | undefined {
    return this.slice(lo, logIndex(this.lastIndex() + 1), bytesMax);
  }

  commitTo(toCommit: LogIndex): void {
    if (toCommit <= this.committed) return; // commit never decreases
    assert(toCommit <= this.lastIndex(), `commit ${toCommit} beyond last index ${this.lastIndex()}`);
    this.committed = toCommit;
  }

  /** Leader side: commit `index` only if it is of the current term (the Figure 8 rule). */
  maybeCommit(index: LogIndex, currentTerm: Term): boolean {
    if (index <= this.committed) return false;
    if (this.term(index) !== currentTerm && this.hooks.commitEarlierTerms !== true) return false;
    this.commitTo(index);
    return true;
  }

  appliedTo(i: LogIndex): void {
    assert(i >= this.applied && i <= this.committed, `applied ${i} outside [${this.applied}, ${this.committed}]`);
    this.applied = i;
  }

  hasNextCommittedEntries(): boolean {
    return maxIndex(logIndex(this.applied + 1), this.firstIndex()) <= this.committed;
  }

  nextCommittedEntries(): Entry[] {
    const lo = maxIndex(logIndex(this.applied + 1), this.firstIndex());
    if (lo > this.committed) return [];
    const ents = this.slice(lo, logIndex(this.committed + 1), this.readyCommittedBytesMax, payloadBytes);
    assert(ents !== undefined, 'committed entries compacted before they were applied');
    return ents;
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  unstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  stableTo(i: LogIndex, t: Term): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: LogIndex): void {
    this.unstable.stableSnapTo(i);
  }

  /** Replace the whole log by a snapshot (the follower's log did not contain its last entry). */
  restore(s: Snapshot): void {
    assert(s.meta.index > this.committed, 'restoring a snapshot behind the commit index');
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }
}
