// The points of a sealed segment as one file: ids and payloads (lossless JSON) in offset order
// (ascending point id) and, per named vector, which points hold it. The vectors themselves are in
// the segment's DenseIndex files. Layout, integers little-endian:
//   magic "SHOALPTS" | u32 version | u32 header length H | H bytes JSON {count, names, bigint}
//   | u64 length L | L bytes JSON [ids, payloads] | per name: ceil(count/8) bytes, bit i = point i
//   holds the vector | u32 CRC-32C of every byte before it
// Written once by the optimizer (temp, fsync, rename, directory fsync), never changed.
import { ShoalError, crc32c, decodeJson, encodeJson, type Payload, type PointId } from '@shoal/common';

const MAGIC = new TextEncoder().encode('SHOALPTS');
const VERSION = 1;

export interface PointsContent {
  readonly ids: readonly PointId[];
  readonly payloads: readonly Payload[];
  /** Vector name -> presence bitset over points. */
  readonly presence: ReadonlyMap<string, Uint8Array>;
}

interface Header {
  readonly count: number;
  readonly names: string[];
  readonly bigint: boolean;
}

export function encodePointsFile(content: PointsContent): Uint8Array[] {
  const encoder = new TextEncoder();
  const body = encodeJson([content.ids, content.payloads]);
  const header: Header = { count: content.ids.length, names: [...content.presence.keys()], bigint: body.hasBigint };
  const headerBytes = encoder.encode(JSON.stringify(header));
  const bodyBytes = encoder.encode(body.text);
  const fixed = new Uint8Array(MAGIC.length + 8);
  fixed.set(MAGIC, 0);
  const view = new DataView(fixed.buffer);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(bodyBytes.length), true);
  const chunks = [fixed, headerBytes, length, bodyBytes, ...content.presence.values()];
  let crc = 0;
  for (const chunk of chunks) crc = crc32c(chunk, 0, chunk.length, crc);
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, crc, true);
  chunks.push(tail);
  return chunks;
}

export function decodePointsFile(bytes: Uint8Array, path: string): PointsContent {
  const bad = (why: string): ShoalError => new ShoalError('storage', `segment points file ${path} is unusable: ${why}`);
  if (bytes.length < MAGIC.length + 12 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(bytes.length - 4, true) !== crc32c(bytes, 0, bytes.length - 4)) throw bad('CRC mismatch');
  if (view.getUint32(8, true) !== VERSION) throw bad(`unknown version ${view.getUint32(8, true)}`);
  const decoder = new TextDecoder();
  let at = 16;
  const headerLength = view.getUint32(12, true);
  const header = JSON.parse(decoder.decode(bytes.subarray(at, at + headerLength))) as Header;
  at += headerLength;
  const bodyLength = Number(view.getBigUint64(at, true));
  at += 8;
  const [ids, payloads] = decodeJson(decoder.decode(bytes.subarray(at, at + bodyLength)), { errorKind: 'storage', hasBigint: header.bigint }) as [PointId[], Payload[]];
  at += bodyLength;
  if (ids.length !== header.count || payloads.length !== header.count) throw bad('point count');
  const presence = new Map<string, Uint8Array>();
  const bitsetBytes = (header.count + 7) >>> 3;
  for (const name of header.names) {
    presence.set(name, bytes.slice(at, at + bitsetBytes));
    at += bitsetBytes;
  }
  if (at !== bytes.length - 4) throw bad('length does not match the header');
  return { ids, payloads, presence };
}
