// CRC-32C (Castagnoli), the checksum of every WAL record and segment image. Table-driven,
// slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step; on long ranges
// (little-endian hosts) those 8 bytes are read as two 32-bit words.

const POLY = 0x82f63b78; // reflected 0x1EDC6F41
const TABLE = buildTable();
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Shorter ranges skip the word loop: making its view costs more than it saves. */
const WORDS_MIN_BYTES = 256;

function buildTable(): Uint32Array {
  const table = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    table[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const previous = table[(t - 1) * 256 + n] as number;
      table[t * 256 + n] = ((previous >>> 8) ^ (table[previous & 0xff] as number)) >>> 0;
    }
  }
  return table;
}

/**
 * CRC-32C of data[start, end). Pass the result of a previous call as `crc` to continue it:
 * crc32c(b, 0, b.length, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, start = 0, end = data.length, crc = 0): number {
  const t = TABLE;
  let c = ~crc >>> 0;
  let i = start;
  if (LITTLE_ENDIAN && end - i >= WORDS_MIN_BYTES) {
    // Up to a 4-byte boundary of the buffer one byte at a time, then 8 bytes per step read as
    // two little-endian words (two loads instead of eight): the same tables, the same result.
    for (; ((data.byteOffset + i) & 3) !== 0; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    const words = ((end - i) >>> 3) << 1;
    const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let k = 0; k < words; k += 2) {
      const a = c ^ (w[k] as number);
      const b = w[k + 1] as number;
      c =
        (t[1792 + (a & 0xff)] as number) ^
        (t[1536 + ((a >>> 8) & 0xff)] as number) ^
        (t[1280 + ((a >>> 16) & 0xff)] as number) ^
        (t[1024 + (a >>> 24)] as number) ^
        (t[768 + (b & 0xff)] as number) ^
        (t[512 + ((b >>> 8) & 0xff)] as number) ^
        (t[256 + ((b >>> 16) & 0xff)] as number) ^
        (t[b >>> 24] as number);
    }
    i += words * 4;
  }
  for (; i + 8 <= end; i += 8) {
    const a = (c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24))) >>> 0;
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The CRC-32C of a ++ b from crc32c(a), crc32c(b) and b's length, without reading the bytes:
 * appending lenB zero bytes is a linear map on the CRC register, applied by repeated squaring of
 * its 32x32 bit matrix (O(log lenB) matrix products of 32 words).
 */
export function crc32cCombine(crcA: number, crcB: number, lenB: number): number {
  if (lenB <= 0) return crcA >>> 0; // crc32c of no bytes is 0: a ++ [] is a
  // odd: the operator for one zero bit; then even/odd hold the operators for 2^k zero bits.
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1; n < 32; n++) odd[n] = (1 << (n - 1)) >>> 0;
  square(even, odd); // two zero bits
  square(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let remaining = lenB;
  for (;;) {
    square(even, odd); // one zero byte, then 4, 16, ... (every other power of two)
    if (remaining % 2 === 1) crc = times(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    square(odd, even);
    if (remaining % 2 === 1) crc = times(odd, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0, v = vector >>> 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= matrix[i] as number;
  return sum >>> 0;
}

function square(out: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n] as number);
}
