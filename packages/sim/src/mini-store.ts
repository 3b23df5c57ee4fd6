import { type AppendFile, type FileSystem } from '@shoal/common';
import { MemoryLogStorage, type Entry, type HardState, type PeerId, type Ready, type Snapshot, logIndex, term } from '@shoal/raft';
import { crc32c } from '@shoal/wal';
import { decodeJson, encodeJson } from './codec.js';

/**
 * The stand-in driver's durable Raft log: one append-only journal of framed records
 * (length, crc32c, JSON) holding hard states and appended entries, replayed on start. A torn or
 * garbled tail (a crash during a write) ends the replay and is cut off.
 */

type Rec = { readonly k: 'hs'; readonly hs: HardState } | { readonly k: 'ents'; readonly ents: readonly Entry[] };

const FILE = 'raft/journal';
const HEADER_BYTES = 8;

export function bootstrapSnapshot(voters: readonly PeerId[]): Snapshot {
  return {
    meta: { index: logIndex(1), term: term(1), confState: { voters, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } },
    data: new Uint8Array(0),
  };
}

export class MiniStore {
  private durable: HardState;

  private constructor(
    readonly storage: MemoryLogStorage,
    private readonly file: AppendFile,
  ) {
    this.durable = storage.initialState().hardState;
  }

  static async open(fs: FileSystem, voters: readonly PeerId[]): Promise<MiniStore> {
    await fs.mkdirp('raft');
    await fs.syncDir('.');
    const storage = MemoryLogStorage.fromSnapshot(bootstrapSnapshot(voters));
    const bytes = (await fs.readFile(FILE)) ?? new Uint8Array(0);
    const valid = replay(bytes, storage);
    const file = await fs.openAppend(FILE);
    await fs.syncDir('raft');
    if (valid < file.size) {
      await file.truncate(valid);
      await file.sync();
    }
    return new MiniStore(storage, file);
  }

  durableHardState(): HardState {
    return this.durable;
  }

  /** Writes the Ready's hard state and entries, synced when the Ready says so. */
  async persist(rd: Ready): Promise<void> {
    if (rd.entries.length > 0) await this.write({ k: 'ents', ents: rd.entries });
    if (rd.hardState !== undefined) await this.write({ k: 'hs', hs: rd.hardState });
    if (rd.mustSync) await this.file.sync();
    // Only now is it on disk; the in-memory view (read by Raft) follows the disk.
    this.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      this.storage.setHardState(rd.hardState);
      if (rd.mustSync) this.durable = rd.hardState;
    }
  }

  private async write(rec: Rec): Promise<void> {
    const body = encodeJson(rec);
    const frame = new Uint8Array(HEADER_BYTES + body.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, body.length, true);
    view.setUint32(4, crc32c(body), true);
    frame.set(body, HEADER_BYTES);
    await this.file.append(frame);
  }
}

/** Applies every intact record to `storage`; returns the length of the intact prefix. */
function replay(bytes: Uint8Array, storage: MemoryLogStorage): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + HEADER_BYTES <= bytes.length) {
    const len = view.getUint32(at, true);
    const end = at + HEADER_BYTES + len;
    // A zero-filled tail reads as an empty record with a valid checksum: no record is empty.
    if (len === 0 || end > bytes.length) break;
    const body = bytes.subarray(at + HEADER_BYTES, end);
    if (crc32c(body) !== view.getUint32(at + 4, true)) break;
    const rec = decodeJson<Rec>(body);
    if (rec.k === 'ents') storage.append(rec.ents);
    else storage.setHardState(rec.hs);
    at = end;
  }
  return at;
}
