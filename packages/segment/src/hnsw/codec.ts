// The graph as bytes, loaded back without rebuilding. Layout (u32 little-endian words):
//   magic "HNSW" | version | m | m0 | efConstruct | capacity | count | entry | maxLevel | upperUsed
//   | levels (capacity bytes, padded to 4) | deleted (capacity bytes, padded to 4)
//   | level0 (capacity * (1 + m0) words) | upperStart (capacity words) | upper (upperUsed words)
//   | CRC-32C of every byte before it
// Loading checks the checksum and every link (in range, no self link, within its cap), so a
// damaged file is reported as corrupt rather than sending a search out of bounds.
import { ShoalError, assert, crc32c } from '@shoal/common';
import type { Rng } from '@shoal/common';
import { HnswGraph } from './graph.js';
import { HNSW_EF_MAX, HNSW_LEVEL_MAX, HNSW_M_MAX, HNSW_M_MIN, LEVEL_ABSENT, NO_NODE } from './limits.js';
import type { VectorScorer } from './scorer.js';
import { GraphStore } from './store.js';

const MAGIC = 0x57534e48; // "HNSW" read as a little-endian u32
const VERSION = 2; // 2: CRC-32C (common's) instead of CRC-32
const HEADER_WORDS = 10;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function serializeGraph(graph: HnswGraph): Uint8Array {
  assert(LITTLE_ENDIAN, 'graph bytes assume a little-endian host');
  const g = graph.store;
  const padded = pad4(g.capacity);
  const words = HEADER_WORDS + (2 * padded) / 4 + g.level0.length + g.capacity + g.upperUsed + 1;
  const out = new Uint8Array(words * 4);
  const u32 = new Uint32Array(out.buffer);
  u32.set([MAGIC, VERSION, g.m, g.m0, graph.params.efConstruct, g.capacity, g.count, g.entry, g.maxLevel, g.upperUsed]);
  let at = HEADER_WORDS * 4;
  out.set(g.levels, at);
  at += padded;
  out.set(g.deleted, at);
  at += padded;
  u32.set(g.level0, at / 4);
  at += g.level0.byteLength;
  u32.set(g.upperStart, at / 4);
  at += g.upperStart.byteLength;
  u32.set(g.upper.subarray(0, g.upperUsed), at / 4);
  at += g.upperUsed * 4;
  u32[at / 4] = crc32c(out, 0, at);
  return out;
}

export interface LoadOptions {
  /**
   * Use the bytes in place instead of copying them (they must start 4-byte aligned): for a graph
   * that lives in shared or WebAssembly memory. Deletes then write into those bytes; an insert
   * that needs more upper-level room moves that pool to the JS heap.
   */
  readonly inPlace?: boolean;
}

export function loadGraph(bytes: Uint8Array, scorer: VectorScorer, rng: Rng, options: LoadOptions = {}): HnswGraph {
  assert(LITTLE_ENDIAN, 'graph bytes assume a little-endian host');
  if (bytes.length < (HEADER_WORDS + 1) * 4 || bytes.length % 4 !== 0) throw corrupt('bad length');
  assert(options.inPlace !== true || bytes.byteOffset % 4 === 0, 'in-place graph bytes must be 4-byte aligned');
  const copy = options.inPlace === true ? bytes : bytes.slice(); // a copy is aligned and ours to mutate
  const u32 = new Uint32Array(copy.buffer, copy.byteOffset, copy.length / 4);
  const bodyLength = copy.length - 4;
  if (crc32c(copy, 0, bodyLength) !== u32[bodyLength / 4]) throw corrupt('checksum mismatch');
  const [magic, version, m, m0, efConstruct, capacity, count, entry, maxLevel, upperUsed] = u32.subarray(0, HEADER_WORDS);
  if (magic !== MAGIC) throw corrupt('bad magic');
  if (version !== VERSION) throw corrupt(`unknown version ${version}`);
  checkHeader(m as number, m0 as number, efConstruct as number, capacity as number, scorer.rows);
  const n = capacity as number;
  const used = upperUsed as number;
  const padded = pad4(n);
  const level0Words = n * (1 + (m0 as number));
  if (copy.length !== HEADER_WORDS * 4 + 2 * padded + (level0Words + n + used + 1) * 4) throw corrupt('section lengths do not add up');
  const levelsAt = HEADER_WORDS * 4;
  const deletedAt = levelsAt + padded;
  const level0Word = (deletedAt + padded) / 4;
  const upperStartWord = level0Word + level0Words;
  const upperWord = upperStartWord + n;
  const levels = copy.subarray(levelsAt, levelsAt + n);
  const deleted = copy.subarray(deletedAt, deletedAt + n);
  const level0 = u32.subarray(level0Word, level0Word + level0Words);
  const upperStart = u32.subarray(upperStartWord, upperStartWord + n);
  const upper = u32.subarray(upperWord, upperWord + used);
  const store = new GraphStore(n, m as number, m0 as number, { levels, deleted, level0, upperStart, upper, upperUsed: used });
  store.count = count as number;
  store.entry = entry as number;
  store.maxLevel = maxLevel as number;
  checkStore(store);
  return HnswGraph.fromStore(store, { m: m as number, m0: m0 as number, efConstruct: efConstruct as number }, scorer, rng);
}

function checkHeader(m: number, m0: number, efConstruct: number, capacity: number, rows: number): void {
  if (m < HNSW_M_MIN || m > HNSW_M_MAX || m0 < 2 * m || m0 > 2 * HNSW_M_MAX) throw corrupt(`m ${m}, m0 ${m0}`);
  if (efConstruct < 1 || efConstruct > HNSW_EF_MAX) throw corrupt(`ef_construct ${efConstruct}`);
  if (capacity > rows) throw corrupt(`${capacity} nodes but ${rows} vectors`);
}

/** Structural checks on loaded data; O(links), far cheaper than the rebuild it replaces. */
function checkStore(g: GraphStore): void {
  let present = 0;
  for (let id = 0; id < g.capacity; id++) {
    const top = g.levels[id] as number;
    if (top === LEVEL_ABSENT) continue;
    present++;
    if (top > HNSW_LEVEL_MAX) throw corrupt(`node ${id} has level ${top}`);
    if (top > 0 && (g.upperStart[id] as number) + top * g.strideUpper > g.upperUsed) throw corrupt(`node ${id} upper links out of range`);
    for (let level = 0; level <= top; level++) checkList(g, id, level);
  }
  if (present !== g.count) throw corrupt('node count');
  if (g.count === 0 ? g.entry !== NO_NODE : g.entry >= g.capacity || g.levels[g.entry] !== g.maxLevel) throw corrupt('entry point');
}

function checkList(g: GraphStore, id: number, level: number): void {
  const links = g.links(level);
  const base = g.linkBase(id, level);
  const n = links[base] as number;
  if (n > g.capOf(level)) throw corrupt(`node ${id} has ${n} links on level ${level}`);
  for (let i = 1; i <= n; i++) {
    const v = links[base + i] as number;
    if (v >= g.capacity || v === id || g.levels[v] === LEVEL_ABSENT || (g.levels[v] as number) < level) {
      throw corrupt(`node ${id} has a bad link on level ${level}`);
    }
  }
}

function corrupt(why: string): ShoalError {
  return new ShoalError('storage', `graph bytes are corrupt: ${why}`);
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}
