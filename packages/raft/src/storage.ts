import { assert } from '@shoal/common';
import { EMPTY_CONF_STATE, limitBytes, payloadBytes } from './entries.js';
import type { ConfState, Entry, HardState, Snapshot } from './messages.js';
import { logIndex, term, type LogIndex, type Term } from './types.js';

export interface InitialState {
  readonly hardState: HardState;
  /** The membership at the latest snapshot; later conf changes are re-applied from the log. */
  readonly confState: ConfState;
}

/**
 * The persisted part of the log, as the Raft core reads it. The driver implements it over its
 * durable store; everything returned must already be durable.
 */
export interface ReadonlyLogStorage {
  initialState(): InitialState;
  /** Index of the first entry still available (the snapshot index + 1). */
  firstIndex(): LogIndex;
  lastIndex(): LogIndex;
  /** Term of entry i, also of i = firstIndex - 1 (the snapshot's); undefined when compacted or beyond lastIndex. */
  term(i: LogIndex): Term | undefined;
  /** Entries [lo, hi) with firstIndex <= lo <= hi <= lastIndex + 1, cut to payload bytesMax (at least one). */
  entries(lo: LogIndex, hi: LogIndex, bytesMax: number): readonly Entry[];
  /** The latest snapshot (its index may be 0 for an empty, fresh node). */
  snapshot(): Snapshot;
}

const EMPTY_SNAPSHOT: Snapshot = {
  meta: { index: logIndex(0), term: term(0), confState: EMPTY_CONF_STATE },
  data: new Uint8Array(0),
};

interface Dummy {
  readonly index: LogIndex;
  readonly term: Term;
}

/** An in-memory ReadonlyLogStorage with the write side a driver would have; for tests. */
export class MemoryLogStorage implements ReadonlyLogStorage {
  private hard: HardState = { term: term(0), vote: undefined, commit: logIndex(0) };
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** Entry at the compaction point (index/term only), then the entries after it. */
  private dummy: Dummy = { index: logIndex(0), term: term(0) };
  private ents: Entry[] = [];

  /** A storage bootstrapped from a snapshot (e.g. index 1 holding the initial membership). */
  static fromSnapshot(snapshot: Snapshot): MemoryLogStorage {
    const s = new MemoryLogStorage();
    s.applySnapshot(snapshot);
    s.hard = { term: snapshot.meta.term, vote: undefined, commit: snapshot.meta.index };
    return s;
  }

  initialState(): InitialState {
    return { hardState: this.hard, confState: this.snap.meta.confState };
  }

  firstIndex(): LogIndex {
    return logIndex(this.dummy.index + 1);
  }

  lastIndex(): LogIndex {
    return logIndex(this.dummy.index + this.ents.length);
  }

  term(i: LogIndex): Term | undefined {
    if (i === this.dummy.index) return this.dummy.term;
    if (i < this.dummy.index || i > this.lastIndex()) return undefined;
    return this.ents[i - this.dummy.index - 1]?.term;
  }

  entries(lo: LogIndex, hi: LogIndex, bytesMax: number): readonly Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi && hi <= this.lastIndex() + 1, `storage entries [${lo}, ${hi}) out of range`);
    const off = this.dummy.index + 1;
    return limitBytes(this.ents.slice(lo - off, hi - off), bytesMax, payloadBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hs: HardState): void {
    assert(hs.term >= this.hard.term, 'stored term went backwards');
    this.hard = hs;
  }

  /** Appends entries, replacing any stored entries at and after the first new index. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    const fresh = entries.filter((e) => e.index > this.dummy.index);
    const head = fresh[0];
    if (head === undefined) return;
    this.ents = this.ents.slice(0, head.index - this.dummy.index - 1).concat(fresh);
  }

  applySnapshot(snapshot: Snapshot): void {
    assert(snapshot.meta.index >= this.snap.meta.index, 'snapshot older than the stored one');
    this.snap = snapshot;
    this.dummy = { index: snapshot.meta.index, term: snapshot.meta.term };
    this.ents = [];
  }

  /** Records a snapshot of the application state at `index` (which the driver applied). */
  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): Snapshot {
    assert(index > this.snap.meta.index && index <= this.lastIndex(), `snapshot index ${index} out of range`);
    const t = this.term(index);
    assert(t !== undefined, 'snapshot of a compacted index');
    this.snap = { meta: { index, term: t, confState }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`; the snapshot must already cover them. */
  compact(index: LogIndex): void {
    if (index <= this.dummy.index) return;
    assert(index <= this.snap.meta.index, 'compacting past the latest snapshot');
    const t = this.term(index);
    assert(t !== undefined, 'compacting an unknown index');
    this.ents = this.ents.slice(index - this.dummy.index);
    this.dummy = { index, term: t };
  }
}
