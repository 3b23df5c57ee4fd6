import { ShoalError, crc32c, crc32cCombine } from '@shoal/common';

// A segment image file, little-endian:
//   [0, 8)    magic "SHOALIMG"
//   [8, 12)   format version (1)
//   [12, 16)  CRC-32C of bytes [16, end)
//   [16, 24)  seq of the last WAL record applied to the image (u64: low u32, high u32)
//   [24, 32)  bytes after this header field block (u64) — file length minus 32
//   [32, 36)  part count N
//   [36, 36 + 8N) part lengths (u64 each)
//   parts, back to back
const MAGIC = new TextEncoder().encode('SHOALIMG');
const VERSION = 1;
const FIXED_BYTES = 36;
const U32 = 0x1_0000_0000;

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % U32, true);
  view.setUint32(at + 4, Math.floor(value / U32), true);
}

function getU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * U32;
}

/** Bytes checksummed between yields to the event loop: about 1 ms of CRC work. */
const CRC_SLICE_BYTES = 1024 * 1024;

/** Lets pending I/O callbacks and timers run before the caller goes on. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The CRC-32C of parts[from..] back to back, known to the caller (who encoded them). */
export interface KnownCrc {
  readonly from: number;
  readonly crc: number;
}

/**
 * The chunks of an image file holding `parts` as of WAL seq `seq`. The checksum of a large
 * image is computed in slices, yielding between them, so requests keep being served.
 */
export async function encodeImage(seq: number, parts: readonly Uint8Array[], known?: KnownCrc): Promise<Uint8Array[]> {
  const header = new Uint8Array(FIXED_BYTES + 8 * parts.length);
  const view = new DataView(header.buffer);
  header.set(MAGIC, 0);
  view.setUint32(8, VERSION, true);
  setU64(view, 16, seq);
  let total = header.length - 32;
  for (const part of parts) total += part.length;
  setU64(view, 24, total);
  view.setUint32(32, parts.length, true);
  parts.forEach((part, i) => setU64(view, FIXED_BYTES + 8 * i, part.length));
  let crc = crc32c(header, 16, header.length);
  let pending = 0;
  const read = known === undefined ? parts : parts.slice(0, known.from);
  for (const part of read) {
    for (let start = 0; start < part.length; start += CRC_SLICE_BYTES) {
      const end = Math.min(part.length, start + CRC_SLICE_BYTES);
      crc = crc32c(part, start, end, crc);
      pending += end - start;
      if (pending >= CRC_SLICE_BYTES) {
        pending = 0;
        await yieldToEventLoop();
      }
    }
  }
  if (known !== undefined) {
    let rest = 0;
    for (let i = known.from; i < parts.length; i++) rest += (parts[i] as Uint8Array).length;
    crc = crc32cCombine(crc, known.crc, rest);
  }
  view.setUint32(12, crc, true);
  return [header, ...parts];
}

export interface DecodedImage {
  readonly seq: number;
  readonly parts: Uint8Array[];
}

/** Checks magic, version, length and CRC; any mismatch is a ShoalError('storage'). */
export function decodeImage(bytes: Uint8Array, path: string): DecodedImage {
  const bad = (why: string): ShoalError => new ShoalError('storage', `segment image ${path} is unusable: ${why}`);
  if (bytes.length < FIXED_BYTES || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) throw bad(`unknown version ${version}`);
  if (getU64(view, 24) !== bytes.length - 32) throw bad(`length ${bytes.length} does not match the header`);
  if (view.getUint32(12, true) !== crc32c(bytes, 16, bytes.length)) throw bad('CRC mismatch');
  const count = view.getUint32(32, true);
  let at = FIXED_BYTES + 8 * count;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const length = getU64(view, FIXED_BYTES + 8 * i);
    if (at + length > bytes.length) throw bad('part table runs past the file');
    parts.push(bytes.subarray(at, at + length));
    at += length;
  }
  if (at !== bytes.length) throw bad('trailing bytes');
  return { seq: getU64(view, 16), parts };
}
