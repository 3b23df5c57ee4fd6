import { assert, crc32c } from '@shoal/common';

/**
 * One WAL record on disk, little-endian:
 *   [0, 4)   payload length (u32)
 *   [4, 8)   CRC-32C of bytes [0, 4) and [8, 16 + length): covers the length, the seq and the payload
 *   [8, 16)  seq (u64 as low u32, high u32)
 *   [16, …)  payload
 * A record is valid only if it is complete, its CRC matches and its seq is the expected one.
 */
export const RECORD_HEADER_BYTES = 16;
const U32 = 0x1_0000_0000;

export function recordBytes(payloadLength: number): number {
  return RECORD_HEADER_BYTES + payloadLength;
}

/** Write one record at `offset` of `target`; returns the offset after it. */
export function writeRecord(target: Uint8Array, offset: number, seq: number, payload: Uint8Array): number {
  assert(Number.isSafeInteger(seq) && seq > 0, 'WAL seq must be a positive safe integer');
  const view = new DataView(target.buffer, target.byteOffset + offset, RECORD_HEADER_BYTES);
  view.setUint32(0, payload.length, true);
  view.setUint32(8, seq % U32, true);
  view.setUint32(12, Math.floor(seq / U32), true);
  target.set(payload, offset + RECORD_HEADER_BYTES);
  view.setUint32(4, recordCrc(target, offset, payload.length), true);
  return offset + RECORD_HEADER_BYTES + payload.length;
}

function recordCrc(bytes: Uint8Array, offset: number, payloadLength: number): number {
  const head = crc32c(bytes, offset, offset + 4);
  return crc32c(bytes, offset + 8, offset + RECORD_HEADER_BYTES + payloadLength, head);
}

export interface ScannedRecord {
  readonly seq: number;
  /** payload = bytes[start, end) */
  readonly start: number;
  readonly end: number;
}

export interface ScanResult {
  readonly records: ScannedRecord[];
  /** Bytes covered by valid records: where a torn tail starts. */
  readonly validLength: number;
  /** Why scanning stopped before the end of the bytes, or null if every byte is a valid record. */
  readonly problem: string | null;
}

/** The valid records of one WAL file whose first record must carry `firstSeq`. */
export function scanRecords(bytes: Uint8Array, firstSeq: number): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: ScannedRecord[] = [];
  let offset = 0;
  let expected = firstSeq;
  while (offset < bytes.length) {
    const problem = checkRecord(bytes, view, offset, expected);
    if (problem !== null) return { records, validLength: offset, problem: `at byte ${offset}: ${problem}` };
    const length = view.getUint32(offset, true);
    const start = offset + RECORD_HEADER_BYTES;
    records.push({ seq: expected, start, end: start + length });
    offset = start + length;
    expected++;
  }
  return { records, validLength: offset, problem: null };
}

function checkRecord(bytes: Uint8Array, view: DataView, offset: number, expectedSeq: number): string | null {
  if (offset + RECORD_HEADER_BYTES > bytes.length) return 'incomplete record header';
  const length = view.getUint32(offset, true);
  if (offset + RECORD_HEADER_BYTES + length > bytes.length) return `record length ${length} runs past the end of the file`;
  if (view.getUint32(offset + 4, true) !== recordCrc(bytes, offset, length)) return 'CRC mismatch';
  const seq = view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * U32;
  if (seq !== expectedSeq) return `seq ${seq} where ${expectedSeq} was expected`;
  return null;
}
