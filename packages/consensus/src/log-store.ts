import { ShoalError, assert, writeFileAtomic, type FileSystem } from '@shoal/common';
import {
  EMPTY_CONF_STATE,
  logIndex,
  payloadBytes,
  term as toTerm,
  type Entry,
  type HardState,
  type InitialState,
  type LogIndex,
  type ReadonlyLogStorage,
  type Snapshot,
  type Term,
} from '@shoal/raft';
import { crc32c } from '@shoal/common';
import { Wal, ensureDirDurable } from '@shoal/wal';
import {
  Reader,
  Writer,
  readEntries,
  readHardState,
  readSnapshotMeta,
  writeEntries,
  writeHardState,
  writeSnapshotMeta,
} from './raft-codec.js';

/** What one Ready asks the driver to make durable. */
export interface PersistBatch {
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly mustSync: boolean;
}

/**
 * The Raft log as the driver needs it: the core's synchronous read side (everything it returns
 * is durable) plus an asynchronous write side. RaftLogStore implements it on a FileSystem; the
 * simulator may bring its own.
 */
export interface DurableLogStorage extends ReadonlyLogStorage {
  /**
   * Makes one Ready's snapshot, entries and hard state durable, all or nothing (see RaftLogStore
   * for why a crash in the middle is safe). Resolves once they are fsynced; a failure leaves
   * this object unusable: reopen it from disk.
   */
  persist(batch: PersistBatch): Promise<void>;
  /** Keeps `snapshot` (of state the driver applied) and drops the entries it covers. */
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

export interface LogStoreOptions {
  /** WAL file size before rolling; smaller files let compaction free disk sooner. */
  readonly walSegmentBytes: number;
  /** Largest record (one Ready, or a checkpoint with the whole unsnapshotted tail). */
  readonly recordBytesMax: number;
}

export const DEFAULT_LOG_STORE_OPTIONS: LogStoreOptions = {
  walSegmentBytes: 4 * 1024 * 1024,
  recordBytesMax: 64 * 1024 * 1024,
};

const RECORD_READY = 1;
const RECORD_CHECKPOINT = 2;
const SNAP_MAGIC = 0x4e53_4853; // "SHSN"
const SNAP_PATTERN = /^snap-(\d{20})-(\d{20})\.snap$/;
const pad = (n: number): string => String(n).padStart(20, '0');
const snapName = (index: number, t: number): string => `snap-${pad(index)}-${pad(t)}.snap`;

const EMPTY_SNAPSHOT: Snapshot = {
  meta: { index: logIndex(0), term: toTerm(0), confState: EMPTY_CONF_STATE },
  data: new Uint8Array(0),
};
const EMPTY_HARD: HardState = { term: toTerm(0), vote: undefined, commit: logIndex(0) };

function corrupt(what: string, cause?: unknown): ShoalError {
  return new ShoalError('storage', `raft log: ${what}`, { cause });
}

/**
 * The durable Raft log on a FileSystem, in a directory holding:
 * - `wal/`: the project's checksummed WAL. One record per Ready: READY records (the Ready's
 *   entries, which replace stored entries from their first index on, and the full hard state) and
 *   CHECKPOINT records (a snapshot's index/term, the full hard state and the whole log tail after
 *   the snapshot). A record is one checksummed unit, so the entries and hard state of one Ready
 *   are durable together or not at all: no crash can leave a vote without its entries or the
 *   reverse.
 * - `snap-<index>-<term>.snap`: snapshots (meta + application bytes, checksummed), each written
 *   with writeFileAtomic.
 *
 * Order of a snapshot (installed from a leader, or taken for compaction): (1) the snapshot file,
 * atomically; (2) the CHECKPOINT record naming it; (3) removal of older snapshot files and WAL
 * files wholly before the checkpoint. A crash after (1) leaves an orphan file that open() deletes
 * (the log is the old one, the snapshot was never acknowledged); after (2) the new state holds
 * and (3) is redone at the next open.
 *
 * Recovery replays the WAL: a CHECKPOINT resets the log to its snapshot and tail, a READY
 * applies on top. Records before the first surviving checkpoint of a truncated WAL are superseded
 * by it and skipped.
 */
export class RaftLogStore implements DurableLogStorage {
  private closed = false;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly wal: Wal,
    private hard: HardState,
    private snap: Snapshot,
    /** Entries snap.meta.index + 1 … lastIndex. */
    private ents: Entry[],
  ) {}

  static async open(fs: FileSystem, dir: string, options: Partial<LogStoreOptions> = {}): Promise<RaftLogStore> {
    const opts = { ...DEFAULT_LOG_STORE_OPTIONS, ...options };
    await ensureDirDurable(fs, dir);
    const wal = await Wal.open(fs, `${dir}/wal`, { segmentBytes: opts.walSegmentBytes, recordBytesMax: opts.recordBytesMax });
    try {
      const replayed = await replay(wal);
      const snap = replayed.base.index === 0 ? EMPTY_SNAPSHOT : await readSnapshotFile(fs, dir, replayed.base);
      const store = new RaftLogStore(fs, dir, wal, replayed.hard, snap, replayed.ents);
      store.checkRecovered();
      await store.removeStaleSnapshots();
      return store;
    } catch (error) {
      await wal.close();
      throw error;
    }
  }

  private checkRecovered(): void {
    const h = this.hard;
    if (h.commit > this.lastIndex()) throw corrupt(`commit ${h.commit} beyond the last entry ${this.lastIndex()}`);
    if (h.commit < this.snap.meta.index) throw corrupt(`commit ${h.commit} below the snapshot ${this.snap.meta.index}`);
  }

  // ------------------------------------------------------------ ReadonlyLogStorage

  initialState(): InitialState {
    return { hardState: this.hard, confState: this.snap.meta.confState };
  }

  firstIndex(): LogIndex {
    return logIndex(this.snap.meta.index + 1);
  }

  lastIndex(): LogIndex {
    return logIndex(this.snap.meta.index + this.ents.length);
  }

  term(i: LogIndex): Term | undefined {
    if (i === this.snap.meta.index) return this.snap.meta.term;
    if (i < this.snap.meta.index || i > this.lastIndex()) return undefined;
    return this.ents[i - this.snap.meta.index - 1]?.term;
  }

  entries(lo: LogIndex, hi: LogIndex, bytesMax: number): readonly Entry[] {
    assert(lo >= this.firstIndex() && lo <= hi && hi <= this.lastIndex() + 1, `log store entries [${lo}, ${hi}) out of range`);
    const off = this.snap.meta.index + 1;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - off] as Entry;
      bytes += payloadBytes(e);
      if (out.length > 0 && bytes > bytesMax) break; // at least one entry, so progress never stops
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ------------------------------------------------------------ write side

  async persist(batch: PersistBatch): Promise<void> {
    this.checkOpen();
    const hard = batch.hardState ?? this.hard;
    if (batch.snapshot !== undefined) {
      const s = batch.snapshot;
      assert(s.meta.index > this.snap.meta.index, `installing snapshot ${s.meta.index} over ${this.snap.meta.index}`);
      const tail = batch.entries.filter((e) => e.index > s.meta.index);
      assert(tail[0] === undefined || tail[0].index === s.meta.index + 1, 'entries after a snapshot leave a gap');
      await this.checkpoint(s, tail, { ...hard, commit: logIndex(Math.max(hard.commit, s.meta.index)) });
      return;
    }
    if (batch.entries.length > 0 || (batch.hardState !== undefined && batch.mustSync)) {
      const w = new Writer();
      w.u8(RECORD_READY);
      writeHardState(w, hard);
      writeEntries(w, batch.entries);
      await this.wal.append(w.finish());
      this.ents = appendTo(this.ents, this.snap.meta.index, batch.entries);
    }
    // A Ready that only moved the commit index is not synced on its own (Raft relearns commit
    // from the leader); it rides along with the next record.
    this.hard = hard;
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen();
    const { index, term } = snapshot.meta;
    if (index <= this.snap.meta.index) return;
    assert(index <= this.lastIndex() && this.term(index) === term, `snapshot ${index}/${term} does not match the log`);
    const tail = this.ents.slice(index - this.snap.meta.index);
    await this.checkpoint(snapshot, tail, this.hard);
  }

  private async checkpoint(s: Snapshot, tail: readonly Entry[], hard: HardState): Promise<void> {
    await writeSnapshotFile(this.fs, this.dir, s); // (1) must be durable before the record names it
    const w = new Writer();
    w.u8(RECORD_CHECKPOINT);
    writeHardState(w, hard);
    w.int(s.meta.index);
    w.int(s.meta.term);
    writeEntries(w, tail);
    const seq = await this.wal.append(w.finish()); // (2)
    this.snap = s;
    this.ents = tail.slice();
    this.hard = hard;
    await this.removeStaleSnapshots(); // (3)
    await this.wal.truncateBefore(seq, 0);
  }

  /** Snapshot files other than the current one: older ones, or orphans of a crashed checkpoint. */
  private async removeStaleSnapshots(): Promise<void> {
    const keep = snapName(this.snap.meta.index, this.snap.meta.term);
    let removed = false;
    for (const name of await this.fs.list(this.dir)) {
      if ((SNAP_PATTERN.test(name) && name !== keep) || name.endsWith('.snap.tmp')) {
        await this.fs.remove(`${this.dir}/${name}`);
        removed = true;
      }
    }
    if (removed) await this.fs.syncDir(this.dir);
  }

  private checkOpen(): void {
    if (this.closed) throw new ShoalError('unavailable', 'raft log store is closed');
    if (this.wal.failed !== null) throw this.wal.failed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wal.close();
  }
}

/** `ents` (starting at base + 1) with `batch` appended, replacing entries from batch[0].index on. */
function appendTo(ents: Entry[], base: number, batch: readonly Entry[]): Entry[] {
  const fresh = batch.filter((e) => e.index > base);
  const first = fresh[0];
  if (first === undefined) return ents;
  const keep = first.index - base - 1;
  if (keep > ents.length) throw corrupt(`entry ${first.index} leaves a gap after ${base + ents.length}`);
  return ents.slice(0, keep).concat(fresh);
}

interface Replayed {
  base: { index: LogIndex; term: Term };
  hard: HardState;
  ents: Entry[];
}

async function replay(wal: Wal): Promise<Replayed> {
  // A WAL that was never truncated starts from the empty log; a truncated one from its first
  // surviving checkpoint (truncation happens only after a checkpoint is durable, and keeps it).
  let state: Replayed | undefined = wal.firstSeq === 1 ? { base: { index: logIndex(0), term: toTerm(0) }, hard: EMPTY_HARD, ents: [] } : undefined;
  await wal.replay(wal.firstSeq, (seq, payload) => {
    const r = new Reader(payload, `raft log record ${seq}`);
    try {
      const kind = r.u8();
      const hard = readHardState(r);
      if (kind === RECORD_CHECKPOINT) {
        const base = { index: r.index(), term: r.term() };
        state = { base, hard, ents: readEntries(r) };
      } else if (kind === RECORD_READY) {
        const ents = readEntries(r);
        if (state !== undefined) {
          if (hard.term < state.hard.term) throw corrupt(`record ${seq}: term went back from ${state.hard.term} to ${hard.term}`);
          state = { ...state, hard, ents: appendTo(state.ents, state.base.index, ents) };
        }
      } else {
        r.fail(`record kind ${kind}`);
      }
      r.done();
    } catch (error) {
      throw error instanceof ShoalError && error.kind === 'storage' ? error : corrupt(`record ${seq} is unreadable`, error);
    }
  });
  if (state === undefined) throw corrupt(`the WAL starts at seq ${wal.firstSeq} without a checkpoint`);
  return state;
}

async function writeSnapshotFile(fs: FileSystem, dir: string, s: Snapshot): Promise<void> {
  const w = new Writer();
  writeSnapshotMeta(w, s.meta);
  w.bytes(s.data);
  const body = w.finish();
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, SNAP_MAGIC, true);
  view.setUint32(4, crc32c(body, 0, body.length), true);
  await writeFileAtomic(fs, `${dir}/${snapName(s.meta.index, s.meta.term)}`, [head, body]);
}

async function readSnapshotFile(fs: FileSystem, dir: string, base: { index: LogIndex; term: Term }): Promise<Snapshot> {
  const name = snapName(base.index, base.term);
  const bytes = await fs.readFile(`${dir}/${name}`);
  if (bytes === null) throw corrupt(`snapshot ${name} named by the log is missing`);
  if (bytes.length < 8) throw corrupt(`snapshot ${name} is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const body = bytes.subarray(8);
  if (view.getUint32(0, true) !== SNAP_MAGIC || view.getUint32(4, true) !== crc32c(body, 0, body.length)) {
    throw corrupt(`snapshot ${name} fails its checksum`);
  }
  try {
    const r = new Reader(body, `snapshot ${name}`);
    const meta = readSnapshotMeta(r);
    const data = r.bytes();
    r.done();
    if (meta.index !== base.index || meta.term !== base.term) throw corrupt(`snapshot ${name} holds ${meta.index}/${meta.term}`);
    return { meta, data };
  } catch (error) {
    throw error instanceof ShoalError && error.kind === 'storage' ? error : corrupt(`snapshot ${name} is unreadable`, error);
  }
}
