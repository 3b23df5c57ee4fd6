import { describe, expect, it } from 'vitest';
import { MemoryFileSystem, ShoalError, seededRng, type Rng } from '@shoal/common';
import { EMPTY_CONF_STATE, logIndex, peerId, term, type Entry, type HardState, type Snapshot } from '@shoal/raft';
import { RaftLogStore, type PersistBatch } from './log-store.js';

const DIR = 'data/raft';
const OPTIONS = { walSegmentBytes: 512 };

/** What a reader of the store can observe; compared with what was acknowledged. */
interface View {
  term: number;
  vote: number | undefined;
  snap: string;
  entries: string[];
}

function view(s: RaftLogStore): View {
  const { hardState } = s.initialState();
  const snap = s.snapshot();
  const entries = s.entries(s.firstIndex(), logIndex(s.lastIndex() + 1), Infinity).map(fmt);
  return { term: hardState.term, vote: hardState.vote, snap: `${snap.meta.index}/${snap.meta.term}:${Buffer.from(snap.data).toString('hex')}`, entries };
}

const fmt = (e: Entry): string => `${e.index}/${e.term}:${e.kind === 'normal' ? Buffer.from(e.data).toString('hex') : 'conf'}`;

/**
 * A random but valid stream of what a Raft node asks its storage to do: new terms and votes,
 * appends, overwrites of the uncommitted tail, commit moves, compactions, installed snapshots.
 */
class Workload {
  hard: HardState = { term: term(0), vote: undefined, commit: logIndex(0) };
  snap = { index: 0, term: 0 };
  ents: Entry[] = [];

  constructor(private readonly rng: Rng) {}

  last(): number {
    return this.snap.index + this.ents.length;
  }

  termAt(i: number): number {
    return i === this.snap.index ? this.snap.term : (this.ents[i - this.snap.index - 1]?.term ?? 0);
  }

  private entries(from: number, n: number): Entry[] {
    return Array.from({ length: n }, (_, k) => ({
      kind: 'normal' as const,
      term: this.hard.term,
      index: logIndex(from + k),
      data: Uint8Array.from({ length: this.rng.int(40) }, () => this.rng.int(256)),
    }));
  }

  /** The next operation, applied to the model; returns how to run it on a store. */
  next(): (s: RaftLogStore) => Promise<void> {
    const roll = this.rng.int(10);
    if (roll === 0 || this.hard.term === 0) {
      this.hard = { ...this.hard, term: term(this.hard.term + 1), vote: peerId(1 + this.rng.int(3)) };
      return this.persist({ hardState: this.hard, entries: [], snapshot: undefined, mustSync: true });
    }
    if (roll <= 4 || this.last() === this.hard.commit) {
      const ents = this.entries(this.last() + 1, 1 + this.rng.int(4));
      this.ents.push(...ents);
      return this.persist({ hardState: undefined, entries: ents, snapshot: undefined, mustSync: true });
    }
    if (roll === 5) {
      const from = this.hard.commit + 1 + this.rng.int(this.last() - this.hard.commit);
      const ents = this.entries(from, 1 + this.rng.int(3));
      this.ents = this.ents.slice(0, from - this.snap.index - 1).concat(ents);
      return this.persist({ hardState: undefined, entries: ents, snapshot: undefined, mustSync: true });
    }
    if (roll === 6) {
      this.hard = { ...this.hard, commit: logIndex(this.hard.commit + 1 + this.rng.int(this.last() - this.hard.commit)) };
      return this.persist({ hardState: this.hard, entries: [], snapshot: undefined, mustSync: false });
    }
    if (roll <= 8 && this.hard.commit > this.snap.index) return this.compact();
    return this.install();
  }

  private persist(batch: PersistBatch): (s: RaftLogStore) => Promise<void> {
    return (s) => s.persist(batch);
  }

  private compact(): (s: RaftLogStore) => Promise<void> {
    const index = this.snap.index + 1 + this.rng.int(this.hard.commit - this.snap.index);
    const snapshot = this.snapshotAt(index, this.termAt(index));
    this.ents = this.ents.slice(index - this.snap.index);
    this.snap = { index, term: snapshot.meta.term };
    return (s) => s.compact(snapshot);
  }

  private install(): (s: RaftLogStore) => Promise<void> {
    const index = this.last() + 1 + this.rng.int(5);
    const snapshot = this.snapshotAt(index, this.hard.term);
    this.snap = { index, term: snapshot.meta.term };
    this.ents = this.entries(index + 1, this.rng.int(3));
    this.hard = { ...this.hard, commit: logIndex(index) };
    const batch = { hardState: this.hard, entries: this.ents.slice(), snapshot, mustSync: true };
    return (s) => s.persist(batch);
  }

  private snapshotAt(index: number, t: number): Snapshot {
    return { meta: { index: logIndex(index), term: term(t), confState: EMPTY_CONF_STATE }, data: Uint8Array.of(index % 256, t % 256) };
  }

  view(): View {
    const snap = this.snap.index === 0 ? '0/0:' : `${this.snap.index}/${this.snap.term}:${Buffer.from([this.snap.index % 256, this.snap.term % 256]).toString('hex')}`;
    return { term: this.hard.term, vote: this.hard.vote, snap, entries: this.ents.map(fmt) };
  }
}

describe('RaftLogStore', () => {
  it('gives back after reopening what was persisted, and compaction frees WAL files', async () => {
    const fs = new MemoryFileSystem();
    const w = new Workload(seededRng(7));
    let store = await RaftLogStore.open(fs, DIR, OPTIONS);
    let walFilesMax = 0;
    for (let i = 0; i < 300; i++) {
      await w.next()(store);
      walFilesMax = Math.max(walFilesMax, (await fs.list(`${DIR}/wal`)).length);
    }
    expect(view(store)).toEqual(w.view());
    await store.close();
    store = await RaftLogStore.open(fs, DIR, OPTIONS);
    expect(view(store)).toEqual(w.view());
    expect(walFilesMax).toBeGreaterThan(2);
    // Only the current snapshot file is kept.
    expect((await fs.list(DIR)).filter((n) => n.endsWith('.snap'))).toHaveLength(1);
    await store.close();
  });

  it('after a crash at any point holds the acknowledged state or the one being written, never less', async () => {
    let crashedInFlight = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rng = seededRng(seed);
      const crashAt = 1 + rng.int(400);
      let ops = 0;
      let image: MemoryFileSystem | undefined;
      const fs: MemoryFileSystem = new MemoryFileSystem({
        beforeOp: () => {
          if (++ops === crashAt) image = fs.crash(rng);
        },
      });
      const w = new Workload(seededRng(seed * 31));
      const store = await RaftLogStore.open(fs, DIR, OPTIONS).catch(() => undefined);
      let acked: View = w.view();
      let target: View = acked;
      if (store !== undefined) {
        for (let i = 0; i < 60 && image === undefined; i++) {
          const op = w.next();
          target = w.view();
          const ok = await op(store).then(() => true, () => false);
          if (ok) acked = target;
        }
      }
      image ??= fs.crash(rng);
      const recovered = await RaftLogStore.open(image, DIR, OPTIONS);
      const got = view(recovered);
      const commit = recovered.initialState().hardState.commit;
      expect(commit).toBeGreaterThanOrEqual(recovered.snapshot().meta.index);
      expect(commit).toBeLessThanOrEqual(recovered.lastIndex());
      if (JSON.stringify(got) !== JSON.stringify(acked)) {
        expect(got, `seed ${seed}`).toEqual(target);
        crashedInFlight += 1;
      }
      await recovered.close();
    }
    // The crash landed inside a write often enough for the second branch to matter.
    expect(crashedInFlight).toBeGreaterThan(5);
  });

  it('refuses to open a log whose middle is corrupt, naming the storage failure', async () => {
    const fs = new MemoryFileSystem();
    const w = new Workload(seededRng(3));
    const store = await RaftLogStore.open(fs, DIR, OPTIONS);
    for (let i = 0; i < 40; i++) {
      const op = w.next();
      // Appends only, so no compaction removes the first WAL file.
      if (w.view().snap === '0/0:') await op(store);
    }
    await store.close();
    const files = await fs.list(`${DIR}/wal`);
    expect(files.length).toBeGreaterThan(1);
    const first = `${DIR}/wal/${files[0]}`;
    const bytes = (await fs.readFile(first))!;
    bytes[30] = (bytes[30] ?? 0) ^ 0xff;
    await fs.remove(first);
    const f = await fs.openAppend(first);
    await f.append(bytes);
    await f.sync();
    await expect(RaftLogStore.open(fs, DIR, OPTIONS)).rejects.toBeInstanceOf(ShoalError);
  });
});
