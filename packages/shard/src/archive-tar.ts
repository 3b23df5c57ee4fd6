// The ustar subset the shard archive uses: regular files only, names of at most 100 bytes (no
// prefix field), sizes below 8 GiB (11 octal digits), mode 0644, uid / gid 0, mtime 0, so that
// `tar tf` and `tar xf` read the archive and the same capture always gives the same bytes.
import { ShoalError } from '@shoal/common';

export const BLOCK = 512;
/** Largest size the 11-digit octal field holds. */
export const TAR_SIZE_MAX = 8 ** 11 - 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function writeOctal(block: Uint8Array, at: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  block.set(encoder.encode(digits), at);
  block[at + width - 1] = 0;
}

/** The 512-byte header of a regular file `name` of `size` bytes. */
export function tarHeader(name: string, size: number): Uint8Array {
  const nameBytes = encoder.encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 100) throw new ShoalError('storage', `tar entry name ${JSON.stringify(name)} does not fit ustar`);
  if (!Number.isSafeInteger(size) || size < 0 || size > TAR_SIZE_MAX) throw new ShoalError('storage', `tar entry ${name}: size ${size} does not fit ustar`);
  const block = new Uint8Array(BLOCK);
  block.set(nameBytes, 0);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  block[156] = 0x30; // '0': regular file
  block.set(encoder.encode('ustar\u000000'), 257);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

/** Zero bytes that bring an entry of `size` bytes to a block boundary. */
export function paddingOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function parseOctal(block: Uint8Array, at: number, width: number, what: string): number {
  const text = decoder.decode(block.subarray(at, at + width)).replace(/[\0 ]+$/, '');
  if (!/^[0-7]+$/.test(text)) throw new ShoalError('bad_request', `shard archive: bad ${what} field in a tar header`);
  return parseInt(text, 8);
}

export interface TarEntryHeader {
  readonly name: string;
  readonly size: number;
}

/**
 * Parses a header block as this writer writes it; anything else (another type, a prefix, a bad
 * checksum, a field that is not what the writer puts there) is refused.
 */
export function parseTarHeader(block: Uint8Array): TarEntryHeader {
  const bad = (why: string): ShoalError => new ShoalError('bad_request', `shard archive: ${why}`);
  if (block.length !== BLOCK) throw bad('truncated tar header');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (parseOctal(block, 148, 8, 'checksum') !== sum) throw bad('tar header checksum mismatch');
  const nameEnd = block.indexOf(0);
  const name = decoder.decode(block.subarray(0, nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd));
  const size = parseOctal(block, 124, 12, 'size');
  const expected = tarHeader(name, size);
  for (let i = 0; i < BLOCK; i++) if (block[i] !== expected[i]) throw bad(`tar header of ${JSON.stringify(name)} is not as written`);
  return { name, size };
}
