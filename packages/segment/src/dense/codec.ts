// A dense index as bytes, and back without rebuilding. Layout:
//   u32 magic "DNSI" | u32 version | u32 header length H | H bytes of JSON (params and the
//   scalars the layout is planned from), padded with spaces to 4 | the memory's data regions
//   [dataStart, dataEnd) as they are | u32 CRC-32C of every byte before it
// All u32 little-endian. The region offsets are not stored: loading plans the layout again from
// the parameters and checks that the data has exactly that length, then checks every link, so a
// damaged file is refused (ShoalError 'storage') instead of sending a search out of bounds.
import { ShoalError, crc32c } from '@shoal/common';
import { HNSW_LEVEL_MAX, NO_NODE } from '../hnsw/limits.js';
import type { DenseIndexParams } from './contract.js';
import { planLayout } from './layout.js';
import type { DenseLayout } from './layout.js';
import { EXTRA_LINKS_PER_NODE_MAX } from './limits.js';
import { createIndexMemory } from './memory.js';
import { readSubsetKeys } from './payload-links.js';

const MAGIC = 0x49534e44; // "DNSI" read as a little-endian u32
/**
 * 2: int8 corrections carry each row's own coding error (quantize.ts), binary and product codes.
 * Version 1 files (int8 without that term) still load: their estimates rank as they did, off by
 * a constant per query that rescoring removes.
 */
const VERSION = 2;
const VERSIONS_READ: readonly number[] = [1, 2];
/** Largest JSON header accepted, bytes: params and a few numbers need well under 1 KiB. */
const HEADER_MAX = 65_536;
/** Bytes per chunk of the data section in serialize()'s output: bounded copies, no 4 GiB buffers. */
const CHUNK_BYTES = 16 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface HeaderJson {
  readonly params: DenseIndexParams;
  readonly count: number;
  readonly upperWords: number;
  readonly entry: number;
  readonly maxLevel: number;
  readonly qMid: number;
  readonly qScale: number;
  /** Subset links (payload_m); absent in files without them. */
  readonly extraWords?: number;
  readonly keysBytes?: number;
}

export function serializeRegions(memory: WebAssembly.Memory, L: DenseLayout, params: DenseIndexParams): Uint8Array[] {
  if (!LITTLE_ENDIAN) throw new ShoalError('unsupported', 'dense index bytes assume a little-endian host');
  const json: HeaderJson = {
    params, count: L.count, upperWords: L.upperWords, entry: L.entry, maxLevel: L.maxLevel, qMid: L.qMid, qScale: L.qScale,
    ...(L.extraWords > 0 || L.keysBytes > 0 ? { extraWords: L.extraWords, keysBytes: L.keysBytes } : {}),
  };
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = (text.length + 3) & ~3;
  const head = new Uint8Array(12 + padded).fill(0x20);
  const words = new Uint32Array(head.buffer, 0, 3);
  words[0] = MAGIC;
  words[1] = VERSION;
  words[2] = padded;
  head.set(text, 12);
  const out = [head];
  let crc = crc32c(head);
  for (let at = L.dataStart; at < L.dataEnd; at += CHUNK_BYTES) {
    // A copy: the caller may keep the chunks past the life of the memory.
    const chunk = new Uint8Array(memory.buffer, at, Math.min(CHUNK_BYTES, L.dataEnd - at)).slice();
    crc = crc32c(chunk, 0, chunk.length, crc);
    out.push(chunk);
  }
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, crc, true);
  out.push(tail);
  return out;
}

/** Reads chunks as one stream, checksumming what it hands out. */
class ChunkReader {
  private chunk = 0;
  private offset = 0;
  crc = 0;

  constructor(private readonly chunks: readonly Uint8Array[]) {}

  remaining(): number {
    let n = 0;
    for (let i = this.chunk; i < this.chunks.length; i++) n += (this.chunks[i] as Uint8Array).length;
    return n - this.offset;
  }

  /** Fills `out` from the stream; throws when the stream ends first. */
  read(out: Uint8Array, checksum = true): void {
    let at = 0;
    while (at < out.length) {
      const chunk = this.chunks[this.chunk];
      if (chunk === undefined) throw corrupt('truncated');
      const n = Math.min(chunk.length - this.offset, out.length - at);
      const part = chunk.subarray(this.offset, this.offset + n);
      out.set(part, at);
      if (checksum) this.crc = crc32c(part, 0, n, this.crc);
      at += n;
      this.offset += n;
      if (this.offset === chunk.length) {
        this.chunk++;
        this.offset = 0;
      }
    }
  }

  u32(): number {
    const bytes = new Uint8Array(4);
    this.read(bytes);
    return new DataView(bytes.buffer).getUint32(0, true);
  }
}

export interface Image {
  readonly memory: WebAssembly.Memory;
  readonly layout: DenseLayout;
  readonly params: DenseIndexParams;
}

/** Parses and checks serialized bytes into a new shared memory. */
export function readImage(chunks: readonly Uint8Array[], checkParams: (params: DenseIndexParams) => void): Image {
  if (!LITTLE_ENDIAN) throw new ShoalError('unsupported', 'dense index bytes assume a little-endian host');
  const reader = new ChunkReader(chunks);
  if (reader.remaining() < 16) throw corrupt('too short');
  if (reader.u32() !== MAGIC) throw corrupt('bad magic');
  const version = reader.u32();
  if (!VERSIONS_READ.includes(version)) throw corrupt(`unknown version ${version}`);
  const headerBytes = reader.u32();
  if (headerBytes > HEADER_MAX || headerBytes > reader.remaining()) throw corrupt('bad header length');
  const text = new Uint8Array(headerBytes);
  reader.read(text);
  const header = parseHeader(text, checkParams);
  const layout = planLayout(header);
  const dataBytes = layout.dataEnd - layout.dataStart;
  if (reader.remaining() !== dataBytes + 4) throw corrupt('section lengths do not add up');
  const memory = createIndexMemory(layout);
  reader.read(new Uint8Array(memory.buffer, layout.dataStart, dataBytes));
  const expected = reader.crc;
  const stored = new Uint8Array(4);
  reader.read(stored, false);
  if (new DataView(stored.buffer).getUint32(0, true) !== expected) throw corrupt('checksum mismatch');
  checkGraph(memory, layout);
  checkExtraLinks(memory, layout);
  return { memory, layout, params: header.params };
}

function parseHeader(text: Uint8Array, checkParams: (params: DenseIndexParams) => void): HeaderJson & { params: DenseIndexParams } {
  let json: HeaderJson;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text)) as HeaderJson;
  } catch (cause) {
    throw new ShoalError('storage', 'dense index bytes are corrupt: unreadable header', { cause });
  }
  try {
    checkParams(json.params);
  } catch (cause) {
    throw new ShoalError('storage', 'dense index bytes are corrupt: bad parameters', { cause });
  }
  for (const key of ['count', 'upperWords', 'entry', 'maxLevel'] as const) {
    if (!Number.isInteger(json[key]) || json[key] < 0 || json[key] > 0xffffffff) throw corrupt(`header ${key}`);
  }
  for (const key of ['extraWords', 'keysBytes'] as const) {
    const v = json[key] ?? 0;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw corrupt(`header ${key}`);
  }
  if (!Number.isFinite(json.qMid) || !(json.qScale > 0)) throw corrupt('quantization range');
  return json;
}

/** Structural checks of the graph: O(links), far cheaper than the rebuild they replace. */
function checkGraph(memory: WebAssembly.Memory, L: DenseLayout): void {
  if (L.graph === 0) {
    if (L.upperWords !== 0 || L.entry !== NO_NODE) throw corrupt('graph fields without a graph');
    return;
  }
  if (L.count === 0 ? L.entry !== NO_NODE : L.entry >= L.count) throw corrupt('entry point');
  const buffer = memory.buffer;
  const levels = new Uint8Array(buffer, L.levelsPtr, L.count);
  const upperStart = new Uint32Array(buffer, L.upperStartPtr, L.count);
  const upper = new Uint32Array(buffer, L.upperPtr, L.upperWords);
  const level0 = new Uint32Array(buffer, L.recordsPtr, (L.count * L.recordBytes) >>> 2);
  const stride0 = L.recordBytes >>> 2;
  const block = 1 + L.m;
  let used = 0;
  let top = 0;
  for (let id = 0; id < L.count; id++) {
    const level = levels[id] as number;
    if (level > HNSW_LEVEL_MAX) throw corrupt(`node ${id} has level ${level}`);
    top = Math.max(top, level);
    checkList(level0, id * stride0, L.m0, id, 0, levels);
    if (level === 0) continue;
    if (upperStart[id] !== used) throw corrupt(`node ${id} upper links out of place`);
    used += level * block;
    if (used > L.upperWords) throw corrupt(`node ${id} upper links out of range`);
    for (let l = 1; l <= level; l++) checkList(upper, (upperStart[id] as number) + (l - 1) * block, L.m, id, l, levels);
  }
  if (used !== L.upperWords) throw corrupt('upper link pool size');
  if (L.count > 0 && (top !== L.maxLevel || levels[L.entry] !== top)) throw corrupt('entry point level');
}

/** Extra (subset) links: starts ascending over the pool, every link a node other than its own. */
function checkExtraLinks(memory: WebAssembly.Memory, L: DenseLayout): void {
  if (L.extraWords > 0) {
    const starts = new Uint32Array(memory.buffer, L.extraStartPtr, L.count + 1);
    const links = new Uint32Array(memory.buffer, L.extraPtr, L.extraWords);
    if (starts[0] !== 0 || starts[L.count] !== L.extraWords) throw corrupt('extra link pool size');
    for (let id = 0; id < L.count; id++) {
      const from = starts[id] as number;
      const to = starts[id + 1] as number;
      if (to < from || to - from > EXTRA_LINKS_PER_NODE_MAX) throw corrupt(`node ${id} extra links out of range`);
      for (let i = from; i < to; i++) if ((links[i] as number) >= L.count || links[i] === id) throw corrupt(`node ${id} has a bad extra link`);
    }
    if (L.graph === 0) {
      // The records keep a link count word, which the walk reads: it must say none.
      const words = new Uint32Array(memory.buffer, L.recordsPtr, (L.count * L.recordBytes) >>> 2);
      for (let id = 0; id < L.count; id++) if (words[id * (L.recordBytes >>> 2)] !== 0) throw corrupt(`node ${id} has links without a graph`);
    }
  }
  if (L.keysBytes > 0) {
    try {
      readSubsetKeys(memory, L);
    } catch (cause) {
      throw new ShoalError('storage', 'dense index bytes are corrupt: subset keys', { cause });
    }
  }
}

function checkList(words: Uint32Array, base: number, cap: number, id: number, level: number, levels: Uint8Array): void {
  const n = words[base] as number;
  if (n > cap) throw corrupt(`node ${id} has ${n} links on level ${level}`);
  for (let i = 1; i <= n; i++) {
    const v = words[base + i] as number;
    if (v >= levels.length || v === id || (levels[v] as number) < level) throw corrupt(`node ${id} has a bad link on level ${level}`);
  }
}

function corrupt(why: string): ShoalError {
  return new ShoalError('storage', `dense index bytes are corrupt: ${why}`);
}
