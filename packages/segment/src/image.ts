// The on-disk image of a segment. Layout (all integers little-endian):
//   magic "SHOALSEG" | u32 version | u64 length + JSON header | u64 length + JSON points
//   | per vector space in header order: n presence bytes (0/1) then float32 rows of present points
//   | u32 CRC-32C of every byte before it
// JSON is the lossless kind (bigint integers survive). Payload indexes are stored as definitions
// and rebuilt on load, which keeps the format small and the index code the single source of truth.
import { ShoalError, assert, crc32c, decodeJson, encodeJson } from '@shoal/common';
import type { Distance, Payload, PayloadIndexParams, PointId } from '@shoal/common';

const MAGIC = 'SHOALSEG';
const VERSION = 2; // 2: CRC-32C (common's) instead of CRC-32
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface ImageVectors {
  readonly name: string;
  readonly size: number;
  readonly distance: Distance;
  /** One byte per point: 1 when the point has this vector. */
  readonly present: Uint8Array;
  /** Rows of the points that have it, in point order, as stored (Cosine rows unit length). */
  readonly data: Float32Array;
  /** When set, data is filled on demand: rows [0, n) are there once ensureRows(n) returns. */
  readonly ensureRows?: (rows: number) => void;
}

export interface ImageContent {
  readonly ids: readonly PointId[];
  readonly payloads: readonly Payload[];
  readonly vectors: readonly ImageVectors[];
  readonly indexes: readonly { field: string; params: PayloadIndexParams }[];
}

interface Header {
  version: number;
  points: number;
  vectors: { name: string; size: number; distance: Distance; rows: number }[];
  indexes: { field: string; params: PayloadIndexParams }[];
}

/** Bytes of work (JSON text written, bytes checksummed) between two steps of an image encoder. */
export const IMAGE_STEP_BYTES = 1 << 20;
/** Characters of JSON (ids, payloads) written between two steps. */
const JSON_STEP_CHARS = IMAGE_STEP_BYTES / 16;
/** Points whose ids or payloads are written as JSON in one go. */
const POINTS_PER_SLICE = 128;

/** The image's chunks, all at once. */
export function encodeImage(content: ImageContent): Uint8Array[] {
  const steps = imageSteps(content);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value.chunks;
  }
}

export interface EncodedImage {
  readonly chunks: Uint8Array[];
  /** CRC-32C of all the chunks back to back (the stored checksum included). */
  readonly crc: number;
}

/**
 * The same chunks as encodeImage, with `pause` awaited after every IMAGE_STEP_BYTES or so of
 * work: a large image is encoded without holding the thread for long. `content` must not change
 * meanwhile (see Segment.captureImage).
 */
export async function encodeImageInSteps(content: ImageContent, pause: () => Promise<void>): Promise<EncodedImage> {
  const steps = imageSteps(content);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

/** Encodes the image, yielding (no value) wherever the caller may pause; returns the chunks. */
function* imageSteps(content: ImageContent): Generator<void, EncodedImage, void> {
  assert(LITTLE_ENDIAN, 'segment images assume a little-endian host');
  const header: Header = {
    version: VERSION,
    points: content.ids.length,
    vectors: content.vectors.map((v) => ({ name: v.name, size: v.size, distance: v.distance, rows: v.data.length / Math.max(1, v.size) })),
    indexes: content.indexes.map((i) => ({ field: i.field, params: i.params })),
  };
  const encoder = new TextEncoder();
  const headerBytes = encoder.encode(encodeJson(header).text);
  // The text of [ids, payloads], written a slice of points at a time: an array's text is its
  // items' texts joined by commas, whichever of encodeJson's paths wrote each slice.
  const pieces: Uint8Array[] = [];
  const lists: readonly (readonly unknown[])[] = [content.ids, content.payloads];
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l] as readonly unknown[];
    let text = l === 0 ? '[[' : ',[';
    for (let start = 0; start < list.length; start += POINTS_PER_SLICE) {
      const slice = encodeJson(list.slice(start, start + POINTS_PER_SLICE)).text;
      text += (start === 0 ? '' : ',') + slice.slice(1, -1);
      // JSON costs far more per byte than the checksum: a step is a sixteenth as much text.
      if (text.length >= JSON_STEP_CHARS) {
        pieces.push(encoder.encode(text));
        text = '';
        yield;
      }
    }
    pieces.push(encoder.encode(l === lists.length - 1 ? `${text}]]` : `${text}]`));
  }
  const pointsBytes = concat(pieces);
  const chunks: Uint8Array[] = [encoder.encode(MAGIC), u32(VERSION), u64(headerBytes.length), headerBytes];
  chunks.push(u64(pointsBytes.length), pointsBytes);
  // Which chunk holds which space's rows, to have them copied in before they are read.
  const rowsOf = new Map<Uint8Array, ImageVectors>();
  for (const v of content.vectors) {
    const rows = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    chunks.push(v.present, rows);
    rowsOf.set(rows, v);
  }
  let crc = 0;
  let pending = 0;
  for (const chunk of chunks) {
    const v = rowsOf.get(chunk);
    const rowBytes = 4 * Math.max(1, v?.size ?? 1);
    for (let start = 0; start < chunk.length; start += IMAGE_STEP_BYTES) {
      const end = Math.min(chunk.length, start + IMAGE_STEP_BYTES);
      v?.ensureRows?.(Math.ceil(end / rowBytes));
      crc = crc32c(chunk, start, end, crc);
      pending += end - start;
      if (pending >= IMAGE_STEP_BYTES) {
        pending = 0;
        yield;
      }
    }
  }
  const tail = u32(crc);
  chunks.push(tail);
  return { chunks, crc: crc32c(tail, 0, tail.length, crc) };
}

export function decodeImage(chunks: readonly Uint8Array[]): ImageContent {
  assert(LITTLE_ENDIAN, 'segment images assume a little-endian host');
  const bytes = concat(chunks);
  if (bytes.length < MAGIC.length + 8) throw corrupt('too short');
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + body.length, 4).getUint32(0, true);
  if (crc32c(body) !== stored) throw corrupt('checksum mismatch');
  const reader = new Reader(body);
  if (new TextDecoder().decode(reader.take(MAGIC.length)) !== MAGIC) throw corrupt('bad magic');
  if (reader.u32() !== VERSION) throw corrupt('unknown version');
  const header = decodeJson(reader.text(reader.u64()), { errorKind: 'storage' }) as Header;
  const [ids, payloads] = decodeJson(reader.text(reader.u64()), { errorKind: 'storage' }) as [PointId[], Payload[]];
  if (ids.length !== header.points || payloads.length !== header.points) throw corrupt('point count');
  const vectors = header.vectors.map((v) => {
    const present = reader.take(header.points).slice();
    const raw = reader.take(v.rows * v.size * 4).slice();
    return { name: v.name, size: v.size, distance: v.distance, present, data: new Float32Array(raw.buffer) };
  });
  if (!reader.done()) throw corrupt('trailing bytes');
  return { ids, payloads, vectors, indexes: header.indexes };
}

function corrupt(why: string): ShoalError {
  return new ShoalError('storage', `segment image is corrupt: ${why}`);
}

class Reader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}
  take(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.bytes.length) throw corrupt('truncated');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }
  u64(): number {
    const b = this.take(8);
    return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  }
  text(n: number): string {
    return new TextDecoder().decode(this.take(n));
  }
  done(): boolean {
    return this.pos === this.bytes.length;
  }
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
