import {
  ShoalError,
  assert,
  decodeJson,
  encodeJson,
  type NamedVectors,
  type PointId,
  type PointOperation,
  type PointStruct,
  type PointVectors,
  type Payload,
} from '@shoal/common';

// A point operation as one WAL record (format 2; format 1 records still decode):
//   [0]      format version (2)
//   [1]      flags: bit 0 = the header holds bigint literals (needs the lossless parser);
//            bit 1 = a clock tag follows (format 2 only)
//   [2, 4)   reserved, 0
//   [4, 8)   header length H (u32 LE)
//   [8, 40)  the clock tag, when flagged: peer, epoch, clock, tick (u64 LE each: low u32, high u32)
//   then the header: the operation as lossless JSON, each vector replaced by its index
//   pad to a multiple of 4
//   u32 vector count, then per vector: u32 dimension, dimension float32 LE
// Format 1 is the same without the tag block (and no flag bit 1).
// Vectors travel as raw float32 bytes: exact, compact, and no number formatting per value.

const VERSION = 2;
const VERSION_1 = 1;
const FLAG_BIGINT = 1;
const FLAG_TAG = 2;
const TAG_BYTES = 32;
const U32 = 0x1_0000_0000;

/**
 * Who issued a write and where it stands in that issuer's sequence: the coordinating peer, its
 * boot epoch (a counter bumped at every start), the clock it leased and that clock's tick.
 * Ticks of one (peer, epoch, clock) are issued 1, 2, 3, … one write at a time.
 */
export interface ClockTag {
  readonly peer: number;
  readonly epoch: number;
  readonly clock: number;
  readonly tick: number;
}

/** A decoded WAL record: the operation and its clock tag (null for untagged writes and format 1). */
export interface DecodedRecord {
  readonly op: PointOperation;
  readonly tag: ClockTag | null;
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
assert(LITTLE_ENDIAN, 'the WAL codec writes Float32Array memory as little-endian bytes');

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

type WireVectors = Array<[string, number]>;
interface WirePoint {
  id: PointId;
  vectors: WireVectors;
  payload?: Payload | null;
}

function vectorsToWire(vectors: NamedVectors, table: Float32Array[]): WireVectors {
  const out: WireVectors = [];
  for (const [name, vector] of vectors) {
    out.push([name, table.length]);
    table.push(vector);
  }
  return out;
}

function opToWire(op: PointOperation, table: Float32Array[]): unknown {
  switch (op.kind) {
    case 'upsert':
      return {
        kind: op.kind,
        points: op.points.map((p): WirePoint => ({ id: p.id, vectors: vectorsToWire(p.vectors, table), payload: p.payload })),
      };
    case 'update_vectors':
      return { kind: op.kind, points: op.points.map((p): WirePoint => ({ id: p.id, vectors: vectorsToWire(p.vectors, table) })) };
    default:
      // Every other operation is plain data (ids, filters, payloads, names).
      return op;
  }
}

/** The record of `op`, tagged with `tag` when given. */
export function encodeOperation(op: PointOperation, tag: ClockTag | null = null): Uint8Array {
  const table: Float32Array[] = [];
  const json = encodeJson(opToWire(op, table));
  const header = encoder.encode(json.text);
  const headerStart = tag === null ? 8 : 8 + TAG_BYTES;
  const headerEnd = align4(headerStart + header.length);
  let size = headerEnd + 4;
  for (const vector of table) size += 4 + vector.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = (json.hasBigint ? FLAG_BIGINT : 0) | (tag === null ? 0 : FLAG_TAG);
  view.setUint32(4, header.length, true);
  if (tag !== null) {
    checkTag(tag);
    setU64(view, 8, tag.peer);
    setU64(view, 16, tag.epoch);
    setU64(view, 24, tag.clock);
    setU64(view, 32, tag.tick);
  }
  out.set(header, headerStart);
  view.setUint32(headerEnd, table.length, true);
  let at = headerEnd + 4;
  for (const vector of table) {
    view.setUint32(at, vector.length, true);
    out.set(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), at + 4);
    at += 4 + vector.byteLength;
  }
  assert(at === size, 'operation encoding size mismatch');
  return out;
}

const align4 = (n: number): number => (n + 3) & ~3;

function corrupt(reason: string): ShoalError {
  return new ShoalError('storage', `undecodable WAL operation: ${reason}`);
}

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % U32, true);
  view.setUint32(at + 4, Math.floor(value / U32), true);
}

function getU64(view: DataView, at: number): number {
  const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * U32;
  if (!Number.isSafeInteger(value)) throw corrupt('clock tag field beyond 2^53');
  return value;
}

function checkTag(tag: ClockTag): void {
  for (const value of [tag.peer, tag.epoch, tag.clock, tag.tick]) {
    assert(Number.isSafeInteger(value) && value >= 0, `clock tag field ${value} is not an integer in [0, 2^53)`);
  }
}

/** The operation of a record (format 1 or 2), without its tag. */
export function decodeOperation(bytes: Uint8Array): PointOperation {
  return decodeRecord(bytes).op;
}

/** Only the clock tag of a record (format 1 or 2), without decoding its operation. */
export function recordTag(bytes: Uint8Array): ClockTag | null {
  const version = bytes[0];
  if (bytes.length < 12 || (version !== VERSION && version !== VERSION_1)) throw corrupt(`unknown format ${version ?? 'none'}`);
  if (version !== VERSION || ((bytes[1] as number) & FLAG_TAG) === 0) return null;
  if (bytes.length < 8 + TAG_BYTES) throw corrupt('clock tag runs past the record');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { peer: getU64(view, 8), epoch: getU64(view, 16), clock: getU64(view, 24), tick: getU64(view, 32) };
}

const FILTER_SELECTOR = encoder.encode('"kind":"filter"');

/**
 * Whether a record's operation may select points by a filter (read from the header's bytes, not
 * decoded): true for every filter selector, and for any other header holding the same bytes (a
 * payload value, say), never false for a filter.
 */
export function recordSelectsByFilter(bytes: Uint8Array): boolean {
  const version = bytes[0];
  if (bytes.length < 12 || (version !== VERSION && version !== VERSION_1)) throw corrupt(`unknown format ${version ?? 'none'}`);
  const tagged = version === VERSION && ((bytes[1] as number) & FLAG_TAG) !== 0;
  const start = tagged ? 8 + TAG_BYTES : 8;
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const end = Math.min(bytes.length, start + length);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.max(0, end - start)).indexOf(FILTER_SELECTOR) >= 0;
}

/** The operation and clock tag of a record (format 1 or 2). */
export function decodeRecord(bytes: Uint8Array): DecodedRecord {
  const version = bytes[0];
  if (bytes.length < 12 || (version !== VERSION && version !== VERSION_1)) throw corrupt(`unknown format ${version ?? 'none'}`);
  const flags = bytes[1] as number;
  const tagged = version === VERSION && (flags & FLAG_TAG) !== 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true);
  const headerStart = tagged ? 8 + TAG_BYTES : 8;
  const headerEnd = align4(headerStart + headerLength);
  if (headerEnd + 4 > bytes.length) throw corrupt('header runs past the record');
  const tag: ClockTag | null = tagged
    ? { peer: getU64(view, 8), epoch: getU64(view, 16), clock: getU64(view, 24), tick: getU64(view, 32) }
    : null;
  const text = decoder.decode(bytes.subarray(headerStart, headerStart + headerLength));
  const wire = decodeJson(text, { errorKind: 'storage', hasBigint: (flags & FLAG_BIGINT) !== 0 }) as { kind?: unknown };
  const table = readVectors(bytes, view, headerEnd);
  return { op: opFromWire(wire, table), tag };
}

function readVectors(bytes: Uint8Array, view: DataView, start: number): Float32Array[] {
  const count = view.getUint32(start, true);
  const table: Float32Array[] = [];
  let at = start + 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw corrupt('vector table runs past the record');
    const dimension = view.getUint32(at, true);
    const end = at + 4 + dimension * 4;
    if (end > bytes.length) throw corrupt('vector runs past the record');
    // A copy: aligned, and independent of the record's buffer.
    const vector = new Float32Array(dimension);
    new Uint8Array(vector.buffer).set(bytes.subarray(at + 4, end));
    table.push(vector);
    at = end;
  }
  if (at !== bytes.length) throw corrupt('trailing bytes');
  return table;
}

function vectorsFromWire(wire: WireVectors, table: readonly Float32Array[]): NamedVectors {
  const vectors: NamedVectors = new Map();
  for (const [name, index] of wire) {
    const vector = table[index];
    if (vector === undefined) throw corrupt(`vector index ${index} out of range`);
    vectors.set(name, vector);
  }
  return vectors;
}

const KINDS = new Set<string>([
  'upsert', 'delete_points', 'set_payload', 'overwrite_payload', 'delete_payload', 'clear_payload',
  'update_vectors', 'delete_vectors', 'create_field_index', 'delete_field_index',
]);

function opFromWire(wire: { kind?: unknown }, table: readonly Float32Array[]): PointOperation {
  if (typeof wire !== 'object' || wire === null || typeof wire.kind !== 'string' || !KINDS.has(wire.kind)) {
    throw corrupt(`unknown operation ${String(wire?.kind)}`);
  }
  if (wire.kind === 'upsert') {
    const points = (wire as unknown as { points: WirePoint[] }).points.map(
      (p): PointStruct => ({ id: p.id, vectors: vectorsFromWire(p.vectors, table), payload: p.payload ?? null }),
    );
    return { kind: 'upsert', points };
  }
  if (wire.kind === 'update_vectors') {
    const points = (wire as unknown as { points: WirePoint[] }).points.map(
      (p): PointVectors => ({ id: p.id, vectors: vectorsFromWire(p.vectors, table) }),
    );
    return { kind: 'update_vectors', points };
  }
  // The record passed its CRC and was written by encodeOperation from a PointOperation.
  return wire as PointOperation;
}
