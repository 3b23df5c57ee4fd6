import { DEFAULT_LIMITS, ShoalError, assert, type AppendFile, type FileSystem } from '@shoal/common';
import { ensureDirDurable } from './dirs.js';
import { recordBytes, scanRecords, writeRecord } from './record.js';

const MIB = 1024 * 1024;

export interface WalOptions {
  /**
   * Roll to a new file once the current one would grow past this many bytes (Qdrant's
   * wal_capacity_mb, default 32 MiB). Smaller files are truncated sooner; more files cost opens.
   */
  readonly segmentBytes: number;
  /** Most appends waiting for a group commit; beyond it append() fails with 'overloaded'. */
  readonly queueMax: number;
  /** Most record bytes written by one fsync; bigger groups mean fewer fsyncs but more latency. */
  readonly groupBytesMax: number;
  /** Largest payload of one record, bytes; larger appends fail with 'too_large'. */
  readonly recordBytesMax: number;
  /** Records truncateBefore() keeps by default, for replicas that recover from the log. */
  readonly keepTailRecords: number;
  /**
   * Closed files truncateBefore() keeps even when everything in them is below the cut (Qdrant's
   * wal_retain_closed): more history for replicas catching up, at the cost of disk.
   */
  readonly retainClosedFiles: number;
}

export const DEFAULT_WAL_OPTIONS: WalOptions = {
  segmentBytes: 32 * MIB,
  queueMax: DEFAULT_LIMITS.walQueueMax,
  groupBytesMax: DEFAULT_LIMITS.walGroupBytesMax,
  recordBytesMax: 2 * DEFAULT_LIMITS.requestBytesMax,
  keepTailRecords: 0,
  retainClosedFiles: 0,
};

/** What open() found and repaired. */
export interface WalRecovery {
  readonly files: number;
  /** Bytes of a torn or corrupt tail cut from the last file (never returned by replay). */
  readonly truncatedBytes: number;
  readonly problem: string | null;
}

export type WalVisitor = (seq: number, payload: Uint8Array) => void | Promise<void>;

interface WalFile {
  readonly name: string;
  readonly firstSeq: number;
}

interface Pending {
  readonly payload: Uint8Array;
  readonly resolve: (seq: number) => void;
  readonly reject: (error: unknown) => void;
}

const FILE_PATTERN = /^wal-(\d{20})\.log$/;
const fileName = (firstSeq: number): string => `wal-${String(firstSeq).padStart(20, '0')}.log`;

/**
 * A write-ahead log in files of checksummed records with contiguous sequence numbers (from 1).
 * append() resolves only once its record is fsynced; appends that arrive while an fsync runs
 * are written and fsynced together by the next one (group commit).
 */
export class Wal {
  private queue: Pending[] = [];
  private running: Promise<void> | null = null;
  private failure: ShoalError | null = null;
  private closed = false;
  private durableSeq: number;
  private nextSeq: number;
  private truncating: Promise<unknown> = Promise.resolve();
  /** Open readers: truncation keeps every file holding a seq at or after one's position. */
  private readonly readers = new Set<WalReader>();

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private readonly options: WalOptions,
    private readonly files: WalFile[],
    private active: AppendFile,
    lastSeq: number,
    readonly recovery: WalRecovery,
  ) {
    this.durableSeq = lastSeq;
    this.nextSeq = lastSeq + 1;
  }

  /**
   * Open (or create) the log in `dir`. A torn or corrupt tail of the last file is cut off; a
   * bad record anywhere else, or a gap between files, is a ShoalError('storage').
   */
  static async open(fs: FileSystem, dir: string, options: Partial<WalOptions> = {}): Promise<Wal> {
    const opts: WalOptions = { ...DEFAULT_WAL_OPTIONS, ...options };
    assert(opts.segmentBytes > 0 && opts.queueMax > 0 && opts.groupBytesMax > 0, 'WAL options must be positive');
    await ensureDirDurable(fs, dir);
    const files = (await fs.list(dir))
      .map((name) => ({ name, match: FILE_PATTERN.exec(name) }))
      .filter((entry) => entry.match !== null)
      .map((entry) => ({ name: entry.name, firstSeq: Number(entry.match?.[1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    if (files.length === 0) {
      const first = { name: fileName(1), firstSeq: 1 };
      const active = await fs.openAppend(`${dir}/${first.name}`);
      await fs.syncDir(dir);
      return new Wal(fs, dir, opts, [first], active, 0, { files: 1, truncatedBytes: 0, problem: null });
    }
    return Wal.recover(fs, dir, opts, files);
  }

  private static async recover(fs: FileSystem, dir: string, opts: WalOptions, files: WalFile[]): Promise<Wal> {
    let lastSeq = (files[0] as WalFile).firstSeq - 1;
    for (let i = 0; i < files.length - 1; i++) {
      const file = files[i] as WalFile;
      if (file.firstSeq !== lastSeq + 1) throw gapError(dir, file, lastSeq);
      const bytes = await readWalFile(fs, dir, file);
      const scan = scanRecords(bytes, file.firstSeq);
      if (scan.problem !== null) {
        throw new ShoalError('storage', `WAL ${dir}/${file.name} is corrupt ${scan.problem}`);
      }
      lastSeq = file.firstSeq + scan.records.length - 1;
    }
    const last = files[files.length - 1] as WalFile;
    if (last.firstSeq !== lastSeq + 1 && files.length > 1) throw gapError(dir, last, lastSeq);
    const bytes = await readWalFile(fs, dir, last);
    const scan = scanRecords(bytes, last.firstSeq);
    const active = await fs.openAppend(`${dir}/${last.name}`);
    if (scan.problem !== null) {
      // A torn write (or garbage after it) in the last file: these records were never
      // acknowledged, because an ack waits for the fsync that would have made them whole.
      await active.truncate(scan.validLength);
      await active.sync();
    }
    const truncatedBytes = bytes.length - scan.validLength;
    lastSeq = last.firstSeq + scan.records.length - 1;
    return new Wal(fs, dir, opts, files, active, lastSeq, { files: files.length, truncatedBytes, problem: scan.problem });
  }

  /** The last durable (fsynced) seq; 0 when the log has never held a record. */
  get lastSeq(): number {
    return this.durableSeq;
  }

  /** The first seq still in the log (lastSeq + 1 when it holds none). */
  get firstSeq(): number {
    return (this.files[0] as WalFile).firstSeq;
  }

  /** Number of files; each holds at most segmentBytes (unless one record is larger). */
  get fileCount(): number {
    return this.files.length;
  }

  /** Appends waiting for (or in) a group commit. */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves with the record's seq once it is durable. Seqs follow the order of append() calls. */
  append(payload: Uint8Array): Promise<number> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ShoalError('unavailable', `WAL ${this.dir} is closed`));
    if (payload.length > this.options.recordBytesMax) {
      return Promise.reject(new ShoalError('too_large', `WAL record of ${payload.length} bytes exceeds ${this.options.recordBytesMax}`));
    }
    if (this.queue.length >= this.options.queueMax) {
      return Promise.reject(new ShoalError('overloaded', `WAL ${this.dir}: ${this.queue.length} writes are already waiting`));
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ payload, resolve, reject });
      this.running ??= this.commitLoop();
    });
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const group = this.takeGroup();
        try {
          const firstSeq = this.nextSeq;
          await this.writeGroup(group);
          this.durableSeq = firstSeq + group.length - 1;
          group.forEach((entry, i) => entry.resolve(firstSeq + i));
        } catch (error) {
          this.fail(error);
          for (const entry of group) entry.reject(this.failure);
        }
      }
      if (this.failure !== null) for (const entry of this.queue.splice(0)) entry.reject(this.failure);
    } finally {
      this.running = null;
    }
  }

  /** Oldest queued appends up to groupBytesMax (always at least one). */
  private takeGroup(): Pending[] {
    let bytes = 0;
    let count = 0;
    for (const entry of this.queue) {
      const size = recordBytes(entry.payload.length);
      if (count > 0 && bytes + size > this.options.groupBytesMax) break;
      bytes += size;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async writeGroup(group: readonly Pending[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < group.length; i++) {
      const size = recordBytes((group[i] as Pending).payload.length);
      const fileBytes = this.active.size + bytes;
      if (fileBytes > 0 && fileBytes + size > this.options.segmentBytes) {
        await this.writeRecords(group.slice(start, i), bytes);
        // The full file is fsynced before the next one exists, so only the last file can
        // ever hold unsynced bytes (and a torn tail).
        await this.active.sync();
        await this.roll();
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    await this.writeRecords(group.slice(start), bytes);
    await this.active.sync();
  }

  private async writeRecords(entries: readonly Pending[], bytes: number): Promise<void> {
    if (entries.length === 0) return;
    const buffer = new Uint8Array(bytes);
    let offset = 0;
    for (const entry of entries) offset = writeRecord(buffer, offset, this.nextSeq++, entry.payload);
    assert(offset === bytes, 'WAL group size mismatch');
    await this.active.append(buffer);
  }

  private async roll(): Promise<void> {
    const file = { name: fileName(this.nextSeq), firstSeq: this.nextSeq };
    await this.active.close();
    this.active = await this.fs.openAppend(`${this.dir}/${file.name}`);
    await this.fs.syncDir(this.dir);
    this.files.push(file);
  }

  private fail(error: unknown): void {
    // After a failed write or fsync the file's state is unknown (the kernel may have dropped
    // dirty pages), so the log stops taking writes instead of retrying.
    this.failure ??=
      error instanceof ShoalError && error.kind === 'storage'
        ? error
        : new ShoalError('storage', `WAL ${this.dir} failed: ${String(error)}`, { cause: error });
  }

  /** The error that stopped this log, or null. */
  get failed(): ShoalError | null {
    return this.failure;
  }

  /**
   * Visit the durable records with seq >= fromSeq, in order (records appended during the
   * replay are not visited). Fails with 'not_found' if fromSeq was already truncated away, and
   * with 'storage' on any bad record.
   */
  async replay(fromSeq: number, visitor: WalVisitor): Promise<void> {
    const upTo = this.durableSeq;
    if (fromSeq > upTo) return;
    if (fromSeq < this.firstSeq) {
      throw new ShoalError('not_found', `WAL ${this.dir} starts at seq ${this.firstSeq}, not ${fromSeq}`);
    }
    const files = [...this.files];
    for (let i = 0; i < files.length; i++) {
      const file = files[i] as WalFile;
      const next = files[i + 1];
      if (next !== undefined && next.firstSeq <= fromSeq) continue;
      if (file.firstSeq > upTo) break;
      const bytes = await readWalFile(this.fs, this.dir, file);
      const scan = scanRecords(bytes, file.firstSeq);
      for (const record of scan.records) {
        if (record.seq > upTo) return;
        if (record.seq >= fromSeq) await visitor(record.seq, bytes.subarray(record.start, record.end));
      }
      const fileEnd = file.firstSeq + scan.records.length - 1;
      if (fileEnd < Math.min(upTo, (next?.firstSeq ?? Infinity) - 1)) {
        throw new ShoalError('storage', `WAL ${this.dir}/${file.name} is corrupt ${scan.problem ?? 'records missing'}`);
      }
    }
  }

  /**
   * Delete whole files whose records all lie below `seq`, but keep at least the last
   * `keepTail` records and always the file being written. Returns how many files went.
   */
  truncateBefore(seq: number, keepTail = this.options.keepTailRecords): Promise<number> {
    const run = this.truncating.then(() => this.removeFilesBelow(Math.min(seq, this.durableSeq - keepTail + 1)));
    this.truncating = run.catch(() => undefined);
    return run;
  }

  private async removeFilesBelow(wanted: number): Promise<number> {
    let removed = 0;
    // The readers' positions are read before each removal: one opened meanwhile keeps its files.
    while (this.closedFilesBelow(this.readersFloor(wanted)) > this.options.retainClosedFiles) {
      const victim = this.files.shift() as WalFile;
      // Oldest first, one directory sync each: after a crash the remaining files are always a
      // contiguous suffix of the log.
      await this.fs.remove(`${this.dir}/${victim.name}`);
      await this.fs.syncDir(this.dir);
      removed++;
    }
    return removed;
  }

  private readersFloor(cutoff: number): number {
    let floor = cutoff;
    for (const reader of this.readers) floor = Math.min(floor, reader.position);
    return floor;
  }

  /** Files (never the one being written) whose records all lie below `cutoff`. */
  private closedFilesBelow(cutoff: number): number {
    let count = 0;
    while (count + 1 < this.files.length && (this.files[count + 1] as WalFile).firstSeq <= cutoff) count++;
    return count;
  }

  /**
   * A reader of the durable records from `fromSeq` on, in pieces. While it is open, truncation
   * keeps the file holding its position and every later one. Fails with 'not_found' if
   * `fromSeq` was already truncated away.
   */
  reader(fromSeq: number): WalReader {
    if (fromSeq < this.firstSeq) throw new ShoalError('not_found', `WAL ${this.dir} starts at seq ${this.firstSeq}, not ${fromSeq}`);
    const reader = new WalReader(fromSeq, (r) => this.readers.delete(r), (from, maxBytes) => this.readPiece(from, maxBytes));
    this.readers.add(reader);
    return reader;
  }

  /** Durable records from `fromSeq` (which must still be in the log), within one file, up to about `maxBytes` of payload (at least one record). */
  private async readPiece(fromSeq: number, maxBytes: number): Promise<WalRecord[]> {
    const upTo = this.durableSeq;
    if (fromSeq > upTo) return [];
    let at = -1;
    for (let i = 0; i < this.files.length; i++) if ((this.files[i] as WalFile).firstSeq <= fromSeq) at = i;
    const file = this.files[at];
    if (file === undefined) throw new ShoalError('storage', `WAL ${this.dir}: seq ${fromSeq} is in no file`);
    const bytes = await readWalFile(this.fs, this.dir, file);
    const scan = scanRecords(bytes, file.firstSeq);
    const out: WalRecord[] = [];
    let taken = 0;
    for (const record of scan.records) {
      if (record.seq < fromSeq) continue;
      if (record.seq > upTo || (out.length > 0 && taken + (record.end - record.start) > maxBytes)) return out;
      out.push({ seq: record.seq, payload: bytes.subarray(record.start, record.end) });
      taken += record.end - record.start;
    }
    const next = out.length === 0 ? fromSeq : (out[out.length - 1] as WalRecord).seq + 1;
    const nextFile = this.files[at + 1];
    if (next <= upTo && (nextFile === undefined || nextFile.firstSeq !== next)) {
      throw new ShoalError('storage', `WAL ${this.dir}/${file.name} is corrupt ${scan.problem ?? 'records missing'}`);
    }
    return out;
  }

  /** Wait for queued appends, then close the file. Later appends fail with 'unavailable'. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.running !== null) await this.running;
    await this.truncating;
    await this.active.close();
  }
}

/** A durable record as a reader returns it. */
export interface WalRecord {
  readonly seq: number;
  readonly payload: Uint8Array;
}

/**
 * Reads a log forward in pieces (Wal.reader). Its position is the next seq it returns; the log
 * keeps the files from there on until the reader is closed.
 */
export class WalReader {
  private closed = false;

  constructor(
    private next: number,
    private readonly onClose: (reader: WalReader) => void,
    private readonly readPiece: (fromSeq: number, maxBytes: number) => Promise<WalRecord[]>,
  ) {}

  /** The next seq read() returns. */
  get position(): number {
    return this.next;
  }

  /** The next durable records in seq order, about `maxBytes` of payload (at least one); [] when it reached the last durable seq. */
  async read(maxBytes: number): Promise<WalRecord[]> {
    if (this.closed) throw new ShoalError('unavailable', 'the WAL reader is closed');
    const records = await this.readPiece(this.next, maxBytes);
    const last = records[records.length - 1];
    if (last !== undefined) this.next = last.seq + 1;
    return records;
  }

  /** Lets truncation take the files this reader kept. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

async function readWalFile(fs: FileSystem, dir: string, file: WalFile): Promise<Uint8Array> {
  const bytes = await fs.readFile(`${dir}/${file.name}`);
  if (bytes === null) throw new ShoalError('storage', `WAL file ${dir}/${file.name} disappeared`);
  return bytes;
}

function gapError(dir: string, file: WalFile, lastSeq: number): ShoalError {
  return new ShoalError('storage', `WAL ${dir}: ${file.name} starts at seq ${file.firstSeq} but the previous file ends at ${lastSeq}`);
}
