// A shard archive: one local shard as of one seq, as a plain ustar stream (see the README,
// "Shard archives"). Entries, in this order:
//   shoal-shard.json     header: format, version, collection, incarnation, shard id, source seq,
//                        applied ticks, and per file its path, length and CRC-32C
//   segment.img          the image at the source seq (manifest, tombstones, appendable segment)
//   segments/<file>      each sealed segment file the image names
//   shoal-archive.crc32c {"crc32c": "<8 hex digits>"}: the CRC-32C of every archive byte before this entry
// then two zero blocks. Restoring checks every CRC before anything is visible at the target.
import { ShoalError, crc32c, type FileSystem } from '@shoal/common';
import { ensureDirDurable, parentDir } from '@shoal/wal';
import { BLOCK, paddingOf, parseTarHeader, tarHeader } from './archive-tar.js';
import { decodeImage, encodeImage } from './image.js';
import type { ShardCapture } from './shard.js';

export const ARCHIVE_FORMAT = 'shoal-shard-archive';
/** Version 1. `appliedTicks` null would mean a source that keeps no applied-ticks map. */
export const ARCHIVE_VERSION = 1;
export const ARCHIVE_HEADER_ENTRY = 'shoal-shard.json';
export const ARCHIVE_IMAGE_ENTRY = 'segment.img';
export const ARCHIVE_CRC_ENTRY = 'shoal-archive.crc32c';
const SEGMENTS_PREFIX = 'segments/';
/** A header larger than this is not one this code wrote. */
const HEADER_BYTES_MAX = 16 * 1024 * 1024;
/** The image is rewritten on restore, so it is held whole; a larger one is refused. */
const IMAGE_BYTES_MAX = 2 ** 32;

export interface ArchiveFile {
  /** Path in the archive and in the shard's directory. */
  readonly path: string;
  readonly length: number;
  readonly crc32c: number;
}

export interface ShardArchiveHeader {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly version: number;
  readonly collection: string;
  /** The creation index of the collection's incarnation. */
  readonly incarnation: number;
  readonly shardId: number;
  /** The source replica's WAL seq the archive is as of (seqs are local to a replica). */
  readonly seq: number;
  /** Per (peer, epoch, clock) the highest tick applied at `seq`; null: the source recorded none. */
  readonly appliedTicks: ShardCapture['appliedTicks'];
  readonly files: readonly ArchiveFile[];
}

export interface ShardArchiveIdentity {
  readonly collection: string;
  readonly incarnation: number;
  readonly shardId: number;
}

/** A prepared archive: its bytes are produced by `chunks()`, once; the capture's pin goes when they end or fail, or on `release()`. */
export interface ShardArchive {
  readonly header: ShardArchiveHeader;
  /** Total length in bytes. */
  readonly size: number;
  /** A file name for a download. */
  readonly filename: string;
  chunks(): AsyncGenerator<Uint8Array, void, undefined>;
  release(): void;
}

const encoder = new TextEncoder();

/** Checksums of `chunks` together, and their length. */
function measure(chunks: readonly Uint8Array[]): { length: number; crc32c: number } {
  let crc = 0;
  let length = 0;
  for (const chunk of chunks) {
    crc = crc32c(chunk, 0, chunk.length, crc);
    length += chunk.length;
  }
  return { length, crc32c: crc };
}

function entrySize(length: number): number {
  return BLOCK + length + paddingOf(length);
}

/** The final entry's content: fixed length, so the archive's size is known before its CRC. */
function crcEntryBody(crc: number): Uint8Array {
  return encoder.encode(JSON.stringify({ crc32c: crc.toString(16).padStart(8, '0') }));
}

/**
 * Builds the archive of `capture`: encodes the image and checksums each sealed file (read once
 * here and once while streaming: the files are immutable and pinned, and a changed one fails the
 * stream). On failure the pin is released.
 */
export async function prepareShardArchive(capture: ShardCapture, identity: ShardArchiveIdentity): Promise<ShardArchive> {
  try {
    const image = await encodeImage(capture.seq, capture.imageParts);
    const files: ArchiveFile[] = [{ path: ARCHIVE_IMAGE_ENTRY, ...measure(image) }];
    for (const name of capture.files) files.push({ path: SEGMENTS_PREFIX + name, ...measure([await capture.readFile(name)]) });
    const header: ShardArchiveHeader = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      collection: identity.collection,
      incarnation: identity.incarnation,
      shardId: identity.shardId,
      seq: capture.seq,
      appliedTicks: capture.appliedTicks,
      files,
    };
    const headerBytes = encoder.encode(JSON.stringify(header));
    const crcBody = crcEntryBody(0);
    const size = entrySize(headerBytes.length) + files.reduce((sum, f) => sum + entrySize(f.length), 0) + entrySize(crcBody.length) + 2 * BLOCK;
    let started = false;
    return {
      header,
      size,
      filename: `${safeName(identity.collection)}-${identity.incarnation}-shard-${identity.shardId}-seq-${capture.seq}.tar`,
      release: () => capture.release(),
      chunks: () => {
        if (started) throw new ShoalError('storage', 'a shard archive streams once');
        started = true;
        return streamArchive(capture, headerBytes, image, files);
      },
    };
  } catch (error) {
    capture.release();
    throw error;
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'collection';
}

async function* streamArchive(capture: ShardCapture, headerBytes: Uint8Array, image: readonly Uint8Array[], files: readonly ArchiveFile[]): AsyncGenerator<Uint8Array, void, undefined> {
  let crc = 0;
  const out = (chunk: Uint8Array): Uint8Array => {
    crc = crc32c(chunk, 0, chunk.length, crc);
    return chunk;
  };
  try {
    yield out(tarHeader(ARCHIVE_HEADER_ENTRY, headerBytes.length));
    yield out(headerBytes);
    yield out(new Uint8Array(paddingOf(headerBytes.length)));
    for (const file of files) {
      const chunks = file.path === ARCHIVE_IMAGE_ENTRY ? image : [await capture.readFile(file.path.slice(SEGMENTS_PREFIX.length))];
      const { length, crc32c: fileCrc } = measure(chunks);
      if (length !== file.length || fileCrc !== file.crc32c) throw new ShoalError('storage', `shard archive: ${file.path} changed while it was streamed`);
      yield out(tarHeader(file.path, file.length));
      for (const chunk of chunks) yield out(chunk);
      yield out(new Uint8Array(paddingOf(file.length)));
    }
    const body = crcEntryBody(crc);
    yield tarHeader(ARCHIVE_CRC_ENTRY, body.length);
    yield body;
    yield new Uint8Array(paddingOf(body.length) + 2 * BLOCK);
  } finally {
    capture.release();
  }
}

// ------------------------------------------------------------------------------------------
// Restore

/** Reads exact byte counts from a chunk stream. */
class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private at = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Calls `sink` with consecutive pieces totalling exactly `length` bytes; throws at a premature end. */
  async read(length: number, sink: (piece: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = length;
    while (left > 0) {
      if (this.at === this.current.length) {
        const next = await this.iterator.next();
        if (next.done === true) throw new ShoalError('bad_request', 'shard archive: it ends early');
        this.current = next.value;
        this.at = 0;
        continue;
      }
      const take = Math.min(left, this.current.length - this.at);
      const piece = this.current.subarray(this.at, this.at + take);
      this.at += take;
      left -= take;
      await sink(piece);
    }
  }

  async readAll(length: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(length);
    let at = 0;
    await this.read(length, (piece) => {
      bytes.set(piece, at);
      at += piece.length;
    });
    return bytes;
  }

  /** Whether any byte is left. */
  async atEnd(): Promise<boolean> {
    while (this.at === this.current.length) {
      const next = await this.iterator.next();
      if (next.done === true) return true;
      this.current = next.value;
      this.at = 0;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

function bad(why: string): ShoalError {
  return new ShoalError('bad_request', `shard archive: ${why}`);
}

function parseHeader(bytes: Uint8Array): ShardArchiveHeader {
  let header: ShardArchiveHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ShardArchiveHeader;
  } catch {
    throw bad('the header is not JSON');
  }
  const nat = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  if (header === null || typeof header !== 'object' || header.format !== ARCHIVE_FORMAT) throw bad('not a shard archive');
  if (header.version !== ARCHIVE_VERSION) throw bad(`unknown version ${String(header.version)}`);
  if (typeof header.collection !== 'string' || !nat(header.incarnation) || !nat(header.shardId) || !nat(header.seq)) throw bad('bad header fields');
  const ticks = header.appliedTicks;
  if (ticks !== null && (!Array.isArray(ticks) || !ticks.every((t) => t !== null && typeof t === 'object' && nat(t.peer) && nat(t.epoch) && nat(t.clock) && nat(t.tick)))) {
    throw bad('bad applied ticks');
  }
  if (!Array.isArray(header.files) || header.files[0]?.path !== ARCHIVE_IMAGE_ENTRY) throw bad('the header lists no image first');
  const seen = new Set<string>();
  header.files.forEach((file, i) => {
    if (file === null || typeof file !== 'object' || !nat(file.length) || !nat(file.crc32c) || typeof file.path !== 'string') throw bad('bad file entry');
    const name = file.path.slice(SEGMENTS_PREFIX.length);
    const valid = i === 0 || (file.path.startsWith(SEGMENTS_PREFIX) && /^[A-Za-z0-9._-]+$/.test(name) && name !== '.' && name !== '..');
    if (!valid || seen.has(file.path)) throw bad(`bad file path ${JSON.stringify(file.path)}`);
    seen.add(file.path);
  });
  if (header.files[0]!.length > IMAGE_BYTES_MAX) throw bad('the image is too large');
  return header;
}

async function writeDurable(fs: FileSystem, path: string, write: (append: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  const file = await fs.openAppend(path);
  try {
    await write((bytes) => file.append(bytes));
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * Writes the shard archive streamed by `source` as a shard directory at `dir`, which must not
 * exist or be empty. Everything is written to a sibling temporary directory, every CRC checked
 * (per file, the whole archive, the image's own), files and directories fsynced, and only then
 * renamed to `dir`: a bad archive leaves nothing behind. The image's seq becomes 0 (seqs belong
 * to a replica's own WAL), so `LocalShard.open` on `dir` starts with an empty WAL. Resolves with
 * the archive's header (its `seq` is the source's).
 */
export async function restoreShardArchive(fs: FileSystem, source: AsyncIterable<Uint8Array>, dir: string): Promise<ShardArchiveHeader> {
  if ((await fs.list(dir)).length > 0) throw new ShoalError('conflict', `shard archive: ${dir} is not empty`);
  const temp = `${dir}.restoring`;
  const reader = new ByteReader(source);
  await fs.removeDir(temp);
  try {
    await ensureDirDurable(fs, temp);
    await fs.mkdirp(`${temp}/segments`);
    let crc = 0;
    const counted = (piece: Uint8Array): void => {
      crc = crc32c(piece, 0, piece.length, crc);
    };
    const readEntryHeader = async (expected: string, counting: boolean): Promise<number> => {
      const block = await reader.readAll(BLOCK);
      if (counting) counted(block);
      const entry = parseTarHeader(block);
      if (entry.name !== expected) throw bad(`entry ${JSON.stringify(entry.name)} where ${JSON.stringify(expected)} belongs`);
      return entry.size;
    };
    const readPadding = async (length: number, counting: boolean): Promise<void> => {
      const padding = await reader.readAll(paddingOf(length));
      if (counting) counted(padding);
      if (padding.some((b) => b !== 0)) throw bad('non-zero padding');
    };

    const headerLength = await readEntryHeader(ARCHIVE_HEADER_ENTRY, true);
    if (headerLength > HEADER_BYTES_MAX) throw bad('the header is too large');
    const headerBytes = await reader.readAll(headerLength);
    counted(headerBytes);
    const header = parseHeader(headerBytes);
    await readPadding(headerLength, true);

    let image: Uint8Array | null = null;
    for (const file of header.files) {
      const length = await readEntryHeader(file.path, true);
      if (length !== file.length) throw bad(`${file.path}: ${length} bytes, the header says ${file.length}`);
      let fileCrc = 0;
      const check = (piece: Uint8Array): void => {
        counted(piece);
        fileCrc = crc32c(piece, 0, piece.length, fileCrc);
      };
      if (file.path === ARCHIVE_IMAGE_ENTRY) {
        image = await reader.readAll(length);
        check(image);
      } else {
        await writeDurable(fs, `${temp}/${file.path}`, (append) => reader.read(length, async (piece) => {
          check(piece);
          await append(piece);
        }));
      }
      if (fileCrc !== file.crc32c) throw bad(`${file.path}: CRC-32C mismatch`);
      await readPadding(length, true);
    }

    const crcLength = await readEntryHeader(ARCHIVE_CRC_ENTRY, false);
    if (crcLength > 64) throw bad('the checksum entry is too large');
    const crcBody = await reader.readAll(crcLength);
    const expected = crcEntryBody(crc);
    if (crcBody.length !== expected.length || crcBody.some((b, i) => b !== expected[i])) throw bad('archive CRC-32C mismatch');
    await readPadding(crcLength, false);
    const trailer = await reader.readAll(2 * BLOCK);
    if (trailer.some((b) => b !== 0) || !(await reader.atEnd())) throw bad('bytes after the end of the archive');

    // Seqs are local to a replica: the restored image is at seq 0 of the new replica's empty WAL.
    let decoded;
    try {
      decoded = decodeImage(image as Uint8Array, ARCHIVE_IMAGE_ENTRY);
    } catch (error) {
      throw bad(`the image is unusable: ${error instanceof Error ? error.message : String(error)}`);
    }
    const rewritten = await encodeImage(0, decoded.parts);
    await writeDurable(fs, `${temp}/${ARCHIVE_IMAGE_ENTRY}`, async (append) => {
      for (const chunk of rewritten) await append(chunk);
    });
    await fs.syncDir(`${temp}/segments`);
    await fs.syncDir(temp);
    await fs.removeDir(dir);
    await fs.rename(temp, dir);
    await fs.syncDir(parentDir(dir));
    return header;
  } catch (error) {
    await reader.close().catch(() => undefined);
    await fs.removeDir(temp).catch(() => undefined);
    throw error;
  }
}
