// Subset graphs (Qdrant's payload_m). For each subset of ids the caller names (the points of one
// indexed payload value), an HNSW graph is built over just those rows with payload_m links per
// node, and its level-0 links become extra links of the main index. A filter that keeps only one
// value's points then still finds a connected graph among them: without these links a point of a
// value holding 1% of the segment has on average 2m x 1% = 0.3 neighbours of the same value.
//
// The extra links sit in a region of their own (layout.ts: a start per node and one pool), read
// only by filtered searches, so unfiltered searches walk exactly the bytes they walked before.
// Every subset graph is built in one scratch memory, reused from subset to subset: a process
// holds only so many WebAssembly memories (their address space is reserved up front).
import { ShoalError, assert, seededRng } from '@shoal/common';
import { HnswGraph, randomLevel } from '../hnsw/graph.js';
import { createJsScorer } from '../hnsw/scorer.js';
import { instantiateKernelsModule } from '../wasm/load.js';
import { WASM_PAGE_BYTES } from '../wasm/arena.js';
import type { DenseIndexParams, DenseSubset } from './contract.js';
import { planLayout, scratchLayout } from './layout.js';
import type { DenseLayout } from './layout.js';
import { EXTRA_LINKS_PER_NODE_MAX } from './limits.js';
import { createIndexMemory } from './memory.js';
import { WasmGraphEngine } from './wasm-engine.js';

/** Extra level-0 links per node as a CSR, and the keys of the subsets they came from. */
export interface ExtraLinks {
  /** count + 1 entries: node i's links are links[starts[i] .. starts[i + 1]). Empty when none. */
  readonly starts: Uint32Array;
  readonly links: Uint32Array;
  readonly keys: readonly string[];
}

const NONE: ExtraLinks = { starts: new Uint32Array(0), links: new Uint32Array(0), keys: [] };

/** Subsets smaller than this get no graph (ids): one point has nothing to link to. */
const SUBSET_POINTS_MIN = 2;

/**
 * The level-0 links of one graph per subset (payloadM links per node, ef_construct and metric of
 * the index), mapped to index ids and merged per node. `wasm`: build in WebAssembly (else the JS
 * graph code).
 */
export function buildExtraLinks(
  rows: Float32Array,
  count: number,
  params: DenseIndexParams,
  subsets: readonly DenseSubset[],
  wasm: boolean,
): ExtraLinks {
  const payloadM = params.payloadM ?? 0;
  if (payloadM === 0 || subsets.length === 0 || count === 0) return NONE;
  const linked = subsets.filter((subset) => {
    checkSubset(subset, count);
    return subset.ids.length >= SUBSET_POINTS_MIN;
  });
  if (linked.length === 0) return NONE;
  const builder = wasm ? new WasmSubsetBuilder(params, payloadM, linked) : new JsSubsetBuilder(params, payloadM);
  const pairs = new PairList();
  linked.forEach((subset, group) => {
    const sub = gatherRows(rows, params.dim, subset.ids);
    const seed = (params.seed ^ Math.imul(group + 1, 0x9e3779b1)) | 0;
    builder.build(sub, subset.ids.length, seed, (local, neighbours, n) => {
      const node = subset.ids[local] as number;
      for (let j = 0; j < n; j++) pairs.push(node, subset.ids[neighbours[j] as number] as number, group);
    });
  });
  return { ...mergePerNode(pairs, count), keys: linked.map((s) => s.key) };
}

function checkSubset(subset: DenseSubset, count: number): void {
  if (typeof subset.key !== 'string') throw new ShoalError('bad_request', 'a subset key must be a string');
  const ids = subset.ids;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id >= count || (i > 0 && id <= (ids[i - 1] as number))) {
      throw new ShoalError('bad_request', `subset ${subset.key}: ids must ascend without repeats below ${count}`);
    }
  }
}

function gatherRows(rows: Float32Array, dim: number, ids: Uint32Array): Float32Array {
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    const from = (ids[i] as number) * dim;
    out.set(rows.subarray(from, from + dim), i * dim);
  }
  return out;
}

/** Receives node `local`'s level-0 neighbours (local ids) neighbours[0 .. n). */
type LinksSink = (local: number, neighbours: Uint32Array, n: number) => void;

interface SubsetBuilder {
  build(rows: Float32Array, count: number, seed: number, sink: LinksSink): void;
}

/**
 * Subset graphs in WebAssembly (hnsw.wat's build), one after another in one memory: each gets a
 * layout planned for its size at the start of the memory, zeroed before use.
 */
class WasmSubsetBuilder implements SubsetBuilder {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: WebAssembly.Exports;
  private readonly params: DenseIndexParams;

  constructor(index: DenseIndexParams, payloadM: number, subsets: readonly DenseSubset[]) {
    this.params = { dim: index.dim, metric: index.metric, m: payloadM, efConstruct: index.efConstruct, quantization: null, seed: 0 };
    const largest = Math.max(...subsets.map((s) => s.ids.length));
    this.memory = createIndexMemory(this.plan(largest, 0));
    this.exports = instantiateKernelsModule(this.memory);
  }

  private plan(count: number, upperWords: number): DenseLayout {
    return planLayout({ params: this.params, count, upperWords, entry: 0, maxLevel: 0, qMid: 0, qScale: 1 });
  }

  build(rows: Float32Array, count: number, seed: number, sink: LinksSink): void {
    const m = this.params.m;
    const levels = drawLevels(count, m, seed);
    let upperWords = 0;
    for (let i = 0; i < count; i++) upperWords += (levels[i] as number) * (1 + m);
    const L = this.plan(count, upperWords);
    const end = L.dataEnd + L.scratchBytes;
    if (this.memory.buffer.byteLength < end) this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / WASM_PAGE_BYTES));
    const buffer = this.memory.buffer;
    new Uint8Array(buffer, L.dataStart, end - L.dataStart).fill(0);
    const f32 = new Float32Array(buffer);
    for (let i = 0; i < count; i++) f32.set(rows.subarray(i * L.dim, (i + 1) * L.dim), (L.rowsPtr + i * L.rowStride) >>> 2);
    new Uint8Array(buffer, L.levelsPtr, count).set(levels);
    const upperStart = new Uint32Array(buffer, L.upperStartPtr, count);
    let used = 0;
    for (let i = 0; i < count; i++) {
      upperStart[i] = used;
      used += (levels[i] as number) * (1 + m);
    }
    const engine = new WasmGraphEngine(this.memory, this.exports, L, L.dataEnd, scratchLayout(count, L.dim, L.m0));
    engine.build(this.params.efConstruct);
    const u32 = new Uint32Array(buffer);
    for (let i = 0; i < count; i++) {
      const base = (L.recordsPtr + i * L.recordBytes) >>> 2;
      sink(i, u32.subarray(base + 1, base + 1 + (u32[base] as number)), u32[base] as number);
    }
  }
}

/** The same graphs with the JS graph code (engines without SIMD128, and the 'js' implementation). */
class JsSubsetBuilder implements SubsetBuilder {
  constructor(
    private readonly index: DenseIndexParams,
    private readonly payloadM: number,
  ) {}

  build(rows: Float32Array, count: number, seed: number, sink: LinksSink): void {
    const scorer = createJsScorer(rows, this.index.dim, this.index.metric);
    const graph = HnswGraph.create(count, { m: this.payloadM, efConstruct: this.index.efConstruct }, scorer, seededRng(seed));
    const levels = drawLevels(count, this.payloadM, seed);
    for (let i = 0; i < count; i++) graph.insertAtLevel(i, levels[i] as number);
    for (let i = 0; i < count; i++) {
      const neighbours = graph.neighbours(i, 0);
      sink(i, neighbours, neighbours.length);
    }
  }
}

function drawLevels(count: number, m: number, seed: number): Uint8Array {
  const rng = seededRng(seed);
  const mult = 1 / Math.log(m);
  const levels = new Uint8Array(count);
  for (let i = 0; i < count; i++) levels[i] = randomLevel(rng, mult);
  return levels;
}

/** (node, link, subset) triples, growing by doubling. */
class PairList {
  nodes: Uint32Array = new Uint32Array(1024);
  links: Uint32Array = new Uint32Array(1024);
  groups: Uint32Array = new Uint32Array(1024);
  length = 0;

  push(node: number, link: number, group: number): void {
    if (this.length === this.nodes.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.nodes = grow(this.nodes);
      this.links = grow(this.links);
      this.groups = grow(this.groups);
    }
    this.nodes[this.length] = node;
    this.links[this.length] = link;
    this.groups[this.length] = group;
    this.length++;
  }
}

/**
 * Groups the pairs by node (stable, so each node's links stay in subset order), drops repeats
 * and, past EXTRA_LINKS_PER_NODE_MAX, keeps an equal share of every subset's links (round robin).
 */
function mergePerNode(pairs: PairList, count: number): { starts: Uint32Array; links: Uint32Array } {
  const n = pairs.length;
  const at = new Uint32Array(count + 1);
  for (let i = 0; i < n; i++) {
    const node = (pairs.nodes[i] as number) + 1;
    at[node] = (at[node] as number) + 1;
  }
  for (let v = 0; v < count; v++) at[v + 1] = (at[v + 1] as number) + (at[v] as number);
  const byNode = new Uint32Array(n);
  const fill = at.slice(0, count);
  for (let i = 0; i < n; i++) {
    const node = pairs.nodes[i] as number;
    byNode[fill[node] as number] = i;
    fill[node] = (fill[node] as number) + 1;
  }
  const starts = new Uint32Array(count + 1);
  const out: number[] = [];
  const seen = new Int32Array(count).fill(-1);
  for (let v = 0; v < count; v++) {
    starts[v] = out.length;
    const from = at[v] as number;
    const to = at[v + 1] as number;
    if (to - from <= EXTRA_LINKS_PER_NODE_MAX) {
      for (let j = from; j < to; j++) keep(pairs.links[byNode[j] as number] as number, v, seen, out);
    } else {
      roundRobin(pairs, byNode, from, to, v, seen, out);
    }
  }
  starts[count] = out.length;
  assert(out.length <= count * EXTRA_LINKS_PER_NODE_MAX, 'extra links within their cap');
  return { starts, links: Uint32Array.from(out) };
}

function keep(link: number, node: number, seen: Int32Array, out: number[]): boolean {
  if (link === node || seen[link] === node) return false;
  seen[link] = node;
  out.push(link);
  return true;
}

/** One link of each subset in turn until the node has its EXTRA_LINKS_PER_NODE_MAX. */
function roundRobin(pairs: PairList, byNode: Uint32Array, from: number, to: number, node: number, seen: Int32Array, out: number[]): void {
  const heads: number[] = [];
  const ends: number[] = [];
  for (let j = from; j < to; j++) {
    if (j === from || pairs.groups[byNode[j] as number] !== pairs.groups[byNode[j - 1] as number]) {
      if (heads.length > 0) ends.push(j);
      heads.push(j);
    }
  }
  ends.push(to);
  let kept = 0;
  for (let progress = true; progress && kept < EXTRA_LINKS_PER_NODE_MAX;) {
    progress = false;
    for (let g = 0; g < heads.length && kept < EXTRA_LINKS_PER_NODE_MAX; g++) {
      while ((heads[g] as number) < (ends[g] as number)) {
        const link = pairs.links[byNode[heads[g] as number] as number] as number;
        heads[g] = (heads[g] as number) + 1;
        progress = true;
        if (keep(link, node, seen, out)) {
          kept++;
          break;
        }
      }
    }
  }
}

/** Copies the extra links and the keys' JSON into their regions of a new index's memory. */
export function writeExtraLinks(memory: WebAssembly.Memory, L: DenseLayout, extra: ExtraLinks, keys: Uint8Array): void {
  assert(extra.links.length === L.extraWords && keys.length === L.keysBytes, 'extra link regions planned for these links');
  if (L.extraWords > 0) {
    new Uint32Array(memory.buffer, L.extraStartPtr, L.count + 1).set(extra.starts);
    new Uint32Array(memory.buffer, L.extraPtr, L.extraWords).set(extra.links);
  }
  new Uint8Array(memory.buffer, L.keysPtr, L.keysBytes).set(keys);
}

/** The keys of the linked subsets, from the keys region (checked when the index is loaded). */
export function readSubsetKeys(memory: WebAssembly.Memory, L: DenseLayout): readonly string[] {
  if (L.keysBytes === 0) return [];
  const text = new TextDecoder().decode(new Uint8Array(memory.buffer, L.keysPtr, L.keysBytes).slice());
  const keys = JSON.parse(text) as unknown;
  assert(Array.isArray(keys) && keys.every((k) => typeof k === 'string'), 'subset keys are a JSON array of strings');
  return keys as string[];
}

/**
 * Where a walk over subset links alone (an index without a graph of its own) starts: the first
 * allowed, undeleted node that has extra links; -1 when there is none (then the search scans).
 */
export function firstLinkedEntry(memory: WebAssembly.Memory, L: DenseLayout, allowed: Uint8Array | null, deleted: Uint8Array | null): number {
  if (allowed === null || L.extraWords === 0) return -1;
  const starts = new Uint32Array(memory.buffer, L.extraStartPtr, L.count + 1);
  const bytes = Math.ceil(L.count / 8);
  for (let b = 0; b < bytes; b++) {
    let bits = (allowed[b] as number) & ~(deleted === null ? 0 : (deleted[b] as number)) & 0xff;
    while (bits !== 0) {
      const bit = 31 - Math.clz32(bits & -bits);
      const id = b * 8 + bit;
      if (id < L.count && (starts[id + 1] as number) > (starts[id] as number)) return id;
      bits &= bits - 1;
    }
  }
  return -1;
}
