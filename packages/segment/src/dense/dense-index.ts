// DenseIndex (contract.ts): one named vector's rows, int8 codes and HNSW graph in one shared
// WebAssembly.Memory. Built on any thread; opened on others over the same memory without a
// copy; each searcher (a DenseIndex object) gets its own scratch slot in that memory.
import { ShoalError, assert, seededRng } from '@shoal/common';
import { HnswGraph, randomLevel } from '../hnsw/graph.js';
import { GraphStore } from '../hnsw/store.js';
import { HNSW_EF_MAX, HNSW_M_MAX, HNSW_M_MIN, LEVEL_ABSENT, NO_NODE } from '../hnsw/limits.js';
import { TopK } from '../topk.js';
import { createKernels } from '../wasm/kernels.js';
import { instantiateKernelsModule, kernelsOf, wasmSimdSupported } from '../wasm/load.js';
import type { KernelImplementation, Kernels } from '../wasm/types.js';
import type {
  DenseIndex, DenseIndexHandle, DenseIndexParams, DenseMemoryReport, DenseSearchOptions, DenseSearchResult, DenseSubset,
} from './contract.js';
import { readImage, serializeRegions } from './codec.js';
import { bitsetBytes, planLayout, scratchLayout, withEntry } from './layout.js';
import type { DenseLayout, ScratchLayout } from './layout.js';
import { DENSE_DIM_MAX, EXACT_CHUNK_ROWS } from './limits.js';
import { claimSlot, createIndexMemory, releaseSlot, slotPtr } from './memory.js';
import { buildExtraLinks, firstLinkedEntry, readSubsetKeys, writeExtraLinks } from './payload-links.js';
import { checkQuantization, codeScorer, defaultOversampling, encodeRows, prepareQuery } from './coder.js';
import { codeTraversalKind } from './codes.js';
import { calibrateInt8 } from './quantize.js';
import type { Int8Range } from './quantize.js';
import { F32Scorer } from './scorers.js';
import type { CodeScorer } from './scorers.js';
import { WasmGraphEngine } from './wasm-engine.js';

/** Engine choice, for tests and benchmarks; the default follows feature detection. */
export interface DenseEngineOptions {
  /**
   * 'wasm-simd' (the default where the engine has SIMD128): search and build run in
   * WebAssembly (../wasm/hnsw.wat). 'js': the graph code of ../hnsw over the JS kernels.
   */
  readonly implementation?: KernelImplementation;
}

/** Build options: the engine, and the subsets that get graphs of their own (params.payloadM). */
export interface DenseBuildOptions extends DenseEngineOptions {
  readonly subsets?: readonly DenseSubset[];
}

const EMPTY: DenseSearchResult = { ids: new Uint32Array(0), keys: new Float32Array(0), evaluations: 0 };

/**
 * Builds an index over rows[0 .. count*dim) (row-major, unit length for Cosine). Inserts ids in
 * order with levels drawn from `params.seed`, so the same input gives the same bytes.
 */
export function buildDenseIndex(rows: Float32Array, count: number, params: DenseIndexParams, options: DenseBuildOptions = {}): DenseIndex {
  checkParams(params);
  assert(Number.isInteger(count) && count >= 0 && rows.length >= count * params.dim, `rows hold fewer than ${count} x ${params.dim} values`);
  const levels = drawLevels(count, params);
  let upperWords = 0;
  let entry = NO_NODE;
  let maxLevel = 0;
  for (let id = 0; id < count && params.m > 0; id++) {
    const level = levels[id] as number;
    upperWords += level * (1 + params.m);
    if (entry === NO_NODE || level > maxLevel) {
      entry = id;
      maxLevel = level;
    }
  }
  const quant = params.quantization;
  const range: Int8Range = quant !== null && quant.kind === 'int8'
    ? calibrateInt8(rows, count, params.dim, quant.quantile, params.seed)
    : { mid: 0, scale: 1 };
  const wasm = (options.implementation ?? (wasmSimdSupported() ? 'wasm-simd' : 'js')) === 'wasm-simd';
  const extra = buildExtraLinks(rows, count, params, options.subsets ?? [], wasm);
  const keys = extra.keys.length > 0 ? new TextEncoder().encode(JSON.stringify(extra.keys)) : new Uint8Array(0);
  const layout = planLayout({
    params, count, upperWords, entry, maxLevel, qMid: range.mid, qScale: range.scale, extraWords: extra.links.length, keysBytes: keys.length,
  });
  const memory = createIndexMemory(layout);
  fillRows(memory, layout, rows, range, params, options);
  writeExtraLinks(memory, layout, extra, keys);
  const index = new DenseIndexImpl(memory, layout, params, options);
  if (layout.graph === 1 && count > 0) index.buildGraph(levels);
  return index;
}

/** The same index on another thread, over the handle's shared memory (no copy). */
export function openDenseIndex(handle: DenseIndexHandle, options: DenseEngineOptions = {}): DenseIndex {
  checkParams(handle.params);
  return new DenseIndexImpl(handle.memory, layoutOf(handle.layout), handle.params, options);
}

/**
 * An index from bytes written by serialize() (whole, or in the same or any other chunking),
 * without rebuilding. Throws ShoalError('storage') when they are damaged.
 */
export function loadDenseIndex(bytes: Uint8Array[] | Uint8Array, options: DenseEngineOptions = {}): DenseIndex {
  const image = readImage(Array.isArray(bytes) ? bytes : [bytes], checkParams);
  return new DenseIndexImpl(image.memory, image.layout, image.params, options);
}

export function checkParams(params: DenseIndexParams): void {
  const { dim, metric, m, efConstruct, quantization, seed } = params;
  if (!Number.isInteger(dim) || dim < 1 || dim > DENSE_DIM_MAX) throw new ShoalError('bad_request', `dense index dim must be 1..${DENSE_DIM_MAX}, got ${dim}`);
  if (metric !== 'dot' && metric !== 'l2' && metric !== 'l1') throw new ShoalError('bad_request', `unknown dense metric ${String(metric)}`);
  if (!Number.isInteger(m) || (m !== 0 && (m < HNSW_M_MIN || m > HNSW_M_MAX))) {
    throw new ShoalError('bad_request', `hnsw m must be 0 (no graph) or ${HNSW_M_MIN}..${HNSW_M_MAX}, got ${m}`);
  }
  if (!Number.isInteger(efConstruct) || efConstruct < 1 || efConstruct > HNSW_EF_MAX) {
    throw new ShoalError('bad_request', `ef_construct must be 1..${HNSW_EF_MAX}, got ${efConstruct}`);
  }
  if (!Number.isInteger(seed)) throw new ShoalError('bad_request', `seed must be an integer, got ${seed}`);
  const payloadM = params.payloadM ?? 0;
  if (!Number.isInteger(payloadM) || (payloadM !== 0 && (payloadM < HNSW_M_MIN || payloadM > HNSW_M_MAX))) {
    throw new ShoalError('bad_request', `payload_m must be 0 (none) or ${HNSW_M_MIN}..${HNSW_M_MAX}, got ${payloadM}`);
  }
  if (quantization !== null) checkQuantization(quantization);
}

/** Top level of every node, drawn in insertion (id) order from the seed. */
function drawLevels(count: number, params: DenseIndexParams): Uint8Array {
  const levels = new Uint8Array(count);
  if (params.m === 0) return levels;
  const rng = seededRng(params.seed);
  const mult = 1 / Math.log(params.m);
  for (let id = 0; id < count; id++) levels[id] = randomLevel(rng, mult);
  return levels;
}

/** Copies the rows into the records (or rows region) and codes them when quantized (coder.ts). */
function fillRows(
  memory: WebAssembly.Memory, L: DenseLayout, rows: Float32Array, range: Int8Range, params: DenseIndexParams, options: DenseEngineOptions,
): void {
  const f32 = new Float32Array(memory.buffer);
  const dim = L.dim;
  for (let id = 0; id < L.count; id++) {
    const from = id * dim;
    f32.set(rows.subarray(from, from + dim), (L.rowsPtr + id * L.rowStride) >>> 2);
  }
  const wasm = (options.implementation ?? (wasmSimdSupported() ? 'wasm-simd' : 'js')) === 'wasm-simd';
  if (L.quantized === 1) encodeRows(memory, L, params, rows, range, wasm);
}

/** Layout fields of the codes (codes.ts), checked like LAYOUT_KEYS. */
const CODE_LAYOUT_KEYS = ['codeKind', 'codeBytes', 'codeUnits', 'qdataPtr', 'qdataBytes', 'queryCodeBytes'] as const;

const LAYOUT_KEYS = [
  'count', 'dim', 'metric', 'm', 'm0', 'graph', 'quantized', 'controlPtr', 'recordsPtr', 'recordBytes', 'corrOffset',
  'payloadOffset', 'rowsPtr', 'rowStride', 'levelsPtr', 'upperStartPtr', 'upperPtr', 'upperWords', 'extraStartPtr', 'extraPtr',
  'extraWords', 'keysPtr', 'keysBytes', 'entry', 'maxLevel',
  'qMid', 'qScale', 'dataStart', 'dataEnd', 'scratchBytes',
] as const;

function layoutOf(raw: { readonly [key: string]: number }): DenseLayout {
  for (const key of LAYOUT_KEYS) assert(typeof raw[key] === 'number', `dense index handle lacks layout.${key}`);
  for (const key of CODE_LAYOUT_KEYS) assert(typeof raw[key] === 'number', `dense index handle lacks layout.${key}`);
  return raw as DenseLayout;
}

/** One searcher's scratch: its slot in the memory and views of it. */
interface Searcher {
  readonly slot: number;
  readonly base: number;
  readonly parts: ScratchLayout;
  readonly f32: Float32Array;
  readonly i8: Int8Array;
  readonly u32: Uint32Array;
  readonly f32Scorer: F32Scorer;
  /** Estimates from the codes (JS path); null without codes. */
  readonly codeScorer: CodeScorer | null;
  /** Query view inside the memory. */
  readonly query: Float32Array;
  /** The WebAssembly engine, or null on the JS path. */
  readonly wasm: WasmGraphEngine | null;
  /** Estimate constants of the current prepared query (coder.ts). */
  qa: number;
  qb: number;
  qc: number;
  /** allowed AND NOT deleted, for the JS graph search; null until a filtered search needs it. */
  accept: Uint8Array | null;
  f32Graph: HnswGraph | null;
  codeGraph: HnswGraph | null;
}

/** Releases a searcher's scratch slot when its index object is garbage-collected. */
const slotReleaser = new FinalizationRegistry<{ memory: WebAssembly.Memory; layout: DenseLayout; slot: number }>((held) => {
  releaseSlot(held.memory, held.layout, held.slot);
});

class DenseIndexImpl implements DenseIndex {
  readonly count: number;
  readonly indexed: boolean;
  private readonly kernels: Kernels;
  /** The instance's exports when running on WebAssembly; null on the JS path. */
  private readonly exports: WebAssembly.Exports | null;
  private searcherState: Searcher | null = null;
  private keys: readonly string[] | null = null;

  constructor(
    private readonly mem: WebAssembly.Memory,
    private layout: DenseLayout,
    readonly params: DenseIndexParams,
    options: DenseEngineOptions,
  ) {
    this.count = layout.count;
    this.indexed = layout.graph === 1;
    const implementation = options.implementation ?? (wasmSimdSupported() ? 'wasm-simd' : 'js');
    if (implementation === 'wasm-simd') {
      assert(wasmSimdSupported(), 'this engine has no WebAssembly SIMD128: use the js implementation');
      this.exports = instantiateKernelsModule(mem);
      this.kernels = kernelsOf(mem, this.exports);
    } else {
      this.exports = null;
      this.kernels = createKernels(mem, { implementation: 'js' });
    }
  }

  /** Inserts every node (levels drawn up front), then links in nodes left unreachable. */
  buildGraph(levels: Uint8Array): void {
    const s = this.searcher();
    if (s.wasm !== null) {
      this.buildGraphWasm(s, s.wasm, levels);
      return;
    }
    const L = this.layout;
    const store = this.graphStore(false);
    store.levels.fill(LEVEL_ABSENT);
    const graph = HnswGraph.fromStore(store, this.hnswParams(), s.f32Scorer, seededRng(this.params.seed));
    const upper = store.upper;
    for (let id = 0; id < L.count; id++) graph.insertAtLevel(id, levels[id] as number);
    graph.connectUnreachable();
    assert(store.upper === upper && store.upperUsed === L.upperWords, 'upper-level pool sized from the drawn levels');
    assert(store.entry === L.entry && store.maxLevel === L.maxLevel, 'entry point as drawn');
  }

  /**
   * With codes (unless quantization.ignore): traversal on the codes keeps the best
   * ceil(k * oversampling) estimates (ef raised to that), which are rescored on the f32 rows
   * (unless rescore is false: then the best k estimates are returned).
   */
  search(query: Float32Array, o: DenseSearchOptions): DenseSearchResult {
    const L = this.layout;
    checkSearch(L, query, o);
    if (L.count === 0) return EMPTY;
    const s = this.searcher();
    s.query.set(query.subarray(0, L.dim));
    const useCodes = L.quantized === 1 && o.quantization?.ignore !== true;
    const k = Math.min(o.k, L.count);
    // Without a graph, only a filtered search on the WebAssembly path can walk the subset links.
    const linkedOnly = L.graph === 0 && L.extraWords > 0 && o.allowed !== null && s.wasm !== null;
    const entry = linkedOnly && !o.exact ? firstLinkedEntry(this.mem, L, o.allowed, o.deleted) : -1;
    const exact = o.exact || (L.graph === 0 && entry < 0) || k >= L.count;
    const rescore = useCodes && o.quantization?.rescore !== false;
    const oversampling = Math.max(1, o.quantization?.oversampling ?? (rescore ? defaultOversampling(L.codeKind) : 1));
    const wanted = useCodes ? Math.min(L.count, Math.max(k, Math.ceil(k * oversampling))) : k;
    if (useCodes) this.encodeQuery(s);
    if (s.wasm !== null) {
      const r = s.wasm[exact ? 'scan' : 'search']({
        kind: useCodes ? codeTraversalKind(L.codeKind, L.metric) : L.metric,
        ef: Math.min(Math.max(o.ef, wanted), HNSW_EF_MAX),
        want: wanted, k, rescore, qc: s.qc,
        allowed: o.allowed, deleted: o.deleted, qa: s.qa, qb: s.qb,
        strict: o.allowed !== null && (o.traversal === 'allowed' || L.graph === 0),
        ...(L.graph === 0 ? { entry } : {}),
      });
      return { ...s.wasm.results(r.count), evaluations: r.evaluations };
    }
    if (!useCodes) {
      return exact ? this.exactF32(s, k, o) : this.graphF32(s, k, o);
    }
    const found = exact ? this.exactCodes(s, wanted, o) : this.graphCodes(s, wanted, o);
    if (!rescore) return truncate(found, k);
    return this.rescore(s, found, k);
  }

  get subsetKeys(): readonly string[] {
    this.keys ??= readSubsetKeys(this.mem, this.layout);
    return this.keys;
  }

  row(id: number): Float32Array {
    const L = this.layout;
    assert(Number.isInteger(id) && id >= 0 && id < L.count, `row ${id} outside 0..${L.count - 1}`);
    const at = L.rowsPtr + id * L.rowStride;
    return new Float32Array(this.mem.buffer, at, L.dim).slice();
  }

  memory(): DenseMemoryReport {
    const L = this.layout;
    const extraBytes = L.extraWords > 0 ? (L.count + 1 + L.extraWords) * 4 : 0;
    const graphBytes = (L.graph === 1 ? L.count * (4 * (1 + L.m0) + 1 + 4) + L.upperWords * 4 : 0) + extraBytes;
    return {
      vectorBytes: L.count * L.dim * 4,
      quantizedBytes: L.quantized === 1 ? L.count * (L.codeBytes + 4) + L.qdataBytes : 0,
      graphBytes,
      memoryBytes: this.mem.buffer.byteLength,
    };
  }

  handle(): DenseIndexHandle {
    return { memory: this.mem, layout: { ...this.layout }, params: this.params };
  }

  serialize(): Uint8Array[] {
    return serializeRegions(this.mem, this.layout, this.params);
  }

  // ------------------------------------------------------------------ searcher state

  private searcher(): Searcher {
    if (this.searcherState !== null) return this.searcherState;
    const L = this.layout;
    const slot = claimSlot(this.mem, L);
    const base = slotPtr(L, slot);
    const parts = scratchLayout(L.count, L.dim, L.m0, L.queryCodeBytes);
    const buffer = this.mem.buffer;
    const batch = { idsPtr: base + parts.ids, scoresPtr: base + parts.scores };
    const state: Searcher = {
      slot, base, parts,
      f32: new Float32Array(buffer), i8: new Int8Array(buffer), u32: new Uint32Array(buffer),
      f32Scorer: new F32Scorer(this.kernels, L, batch),
      codeScorer: codeScorer(this.kernels, L, batch),
      query: new Float32Array(buffer, base + parts.query, L.dim),
      wasm: this.exports === null ? null : new WasmGraphEngine(this.mem, this.exports, L, base, parts),
      qa: 0, qb: 0, qc: 0, accept: null, f32Graph: null, codeGraph: null,
    };
    slotReleaser.register(this, { memory: this.mem, layout: L, slot });
    this.searcherState = state;
    return state;
  }

  private hnswParams(): { m: number; efConstruct: number; m0: number } {
    return { m: this.layout.m, efConstruct: this.params.efConstruct, m0: this.layout.m0 };
  }

  /** The graph's arrays as views of the memory: empty (to insert into) or built. */
  private graphStore(built: boolean): GraphStore {
    const L = this.layout;
    const buffer = this.mem.buffer;
    const stride0 = L.recordBytes >>> 2;
    const store = new GraphStore(L.count, L.m, L.m0, {
      levels: new Uint8Array(buffer, L.levelsPtr, L.count),
      deleted: new Uint8Array(L.count),
      level0: new Uint32Array(buffer, L.recordsPtr, L.count * stride0),
      upperStart: new Uint32Array(buffer, L.upperStartPtr, L.count),
      upper: new Uint32Array(buffer, L.upperPtr, L.upperWords),
      upperUsed: built ? L.upperWords : 0,
    }, stride0);
    if (built) {
      store.count = L.count;
      store.entry = L.entry;
      store.maxLevel = L.maxLevel;
    }
    return store;
  }

  private graphFor(s: Searcher, codes: boolean): HnswGraph {
    if (codes) {
      s.codeGraph ??= HnswGraph.fromStore(this.graphStore(true), this.hnswParams(), s.codeScorer as CodeScorer, seededRng(0));
      return s.codeGraph;
    }
    s.f32Graph ??= HnswGraph.fromStore(this.graphStore(true), this.hnswParams(), s.f32Scorer, seededRng(0));
    return s.f32Graph;
  }

  /** allowed AND NOT deleted as one bitset, or null when neither is given. */
  private acceptBits(s: Searcher, o: DenseSearchOptions): Uint8Array | null {
    if (o.allowed === null && o.deleted === null) return null;
    const n = bitsetBytes(this.layout.count);
    const bits = (s.accept ??= new Uint8Array(n));
    const { allowed, deleted } = o;
    for (let i = 0; i < n; i++) {
      const a = allowed === null ? 0xff : (allowed[i] ?? 0);
      const d = deleted === null ? 0 : (deleted[i] ?? 0);
      bits[i] = a & ~d;
    }
    return bits;
  }

  /** The query's code (or lookup table) into the scratch, and its estimate constants. */
  private encodeQuery(s: Searcher): void {
    const codePtr = s.base + s.parts.queryCode;
    const c = prepareQuery(this.mem, this.exports, this.layout, this.params, s.query, codePtr);
    (s.codeScorer as CodeScorer).setQuery(codePtr, c.qa, c.qb, c.qc);
    s.qa = c.qa;
    s.qb = c.qb;
    s.qc = c.qc;
  }

  /**
   * The WebAssembly build: levels and upper-level starts written up front (from the drawn
   * levels, in id order), every node inserted in one call, then the level-0 repair in JS.
   */
  private buildGraphWasm(s: Searcher, engine: WasmGraphEngine, levels: Uint8Array): void {
    const L = this.layout;
    const buffer = this.mem.buffer;
    new Uint8Array(buffer, L.levelsPtr, L.count).set(levels.subarray(0, L.count));
    const upperStart = new Uint32Array(buffer, L.upperStartPtr, L.count);
    let used = 0;
    for (let id = 0; id < L.count; id++) {
      upperStart[id] = used;
      used += (levels[id] as number) * (1 + L.m);
    }
    assert(used === L.upperWords, 'upper-level pool sized from the drawn levels');
    const built = engine.build(this.params.efConstruct);
    assert(built.entry === L.entry && built.maxLevel === L.maxLevel, 'entry point as drawn');
    const graph = HnswGraph.fromStore(this.graphStore(true), this.hnswParams(), s.f32Scorer, seededRng(this.params.seed));
    graph.connectUnreachable();
  }

  // ------------------------------------------------------------------ search paths (JS loops)

  private graphF32(s: Searcher, k: number, o: DenseSearchOptions): DenseSearchResult {
    const graph = this.graphFor(s, false);
    const bits = this.acceptBits(s, o);
    const r = graph.search(s.query, k, { ef: Math.min(Math.max(o.ef, k), HNSW_EF_MAX), ...(bits === null ? {} : { allowed: bits }) });
    return { ids: r.ids, keys: Float32Array.from(r.scores), evaluations: r.distanceEvaluations };
  }

  private graphCodes(s: Searcher, wanted: number, o: DenseSearchOptions): DenseSearchResult {
    const graph = this.graphFor(s, true);
    const bits = this.acceptBits(s, o);
    const r = graph.search(s.query, wanted, { ef: Math.min(Math.max(o.ef, wanted), HNSW_EF_MAX), ...(bits === null ? {} : { allowed: bits }) });
    return { ids: r.ids, keys: Float32Array.from(r.scores), evaluations: r.distanceEvaluations };
  }

  private exactF32(s: Searcher, k: number, o: DenseSearchOptions): DenseSearchResult {
    return this.scan(s, k, o, s.f32Scorer);
  }

  private exactCodes(s: Searcher, wanted: number, o: DenseSearchOptions): DenseSearchResult {
    return this.scan(s, wanted, o, s.codeScorer as CodeScorer);
  }

  /** Scores every acceptable row in chunks; keeps the best `k` (ties: smaller id first). */
  private scan(s: Searcher, k: number, o: DenseSearchOptions, scorer: F32Scorer | CodeScorer): DenseSearchResult {
    const L = this.layout;
    const top = new TopK(k);
    const ids = new Uint32Array(EXACT_CHUNK_ROWS);
    const scores = new Float32Array(EXACT_CHUNK_ROWS);
    const { allowed, deleted } = o;
    let evaluations = 0;
    for (let start = 0; start < L.count; start += EXACT_CHUNK_ROWS) {
      const end = Math.min(L.count, start + EXACT_CHUNK_ROWS);
      let n = 0;
      for (let id = start; id < end; id++) {
        if (allowed !== null && ((allowed[id >>> 3] as number) & (1 << (id & 7))) === 0) continue;
        if (deleted !== null && ((deleted[id >>> 3] as number) & (1 << (id & 7))) !== 0) continue;
        ids[n++] = id;
      }
      if (n === 0) continue;
      scorer.scoreBatch(s.query, ids, n, scores);
      evaluations += n;
      for (let i = 0; i < n; i++) top.push(scores[i] as number, ids[i] as number);
    }
    const { keys, offsets } = top.drain();
    return { ids: Uint32Array.from(offsets), keys: Float32Array.from(keys), evaluations };
  }

  /** Full-precision keys for the candidates, best `k` of them (ties: smaller id first). */
  private rescore(s: Searcher, found: DenseSearchResult, k: number): DenseSearchResult {
    const n = found.ids.length;
    if (n === 0) return found;
    const scores = new Float32Array(n);
    for (let start = 0; start < n; start += EXACT_CHUNK_ROWS) {
      const count = Math.min(EXACT_CHUNK_ROWS, n - start);
      s.f32Scorer.scoreBatch(s.query, found.ids.subarray(start, start + count), count, scores.subarray(start, start + count));
    }
    const top = new TopK(Math.min(k, n));
    for (let i = 0; i < n; i++) top.push(scores[i] as number, found.ids[i] as number);
    const { keys, offsets } = top.drain();
    return { ids: Uint32Array.from(offsets), keys: Float32Array.from(keys), evaluations: found.evaluations + n };
  }
}

function truncate(found: DenseSearchResult, k: number): DenseSearchResult {
  if (found.ids.length <= k) return found;
  return { ids: found.ids.slice(0, k), keys: found.keys.slice(0, k), evaluations: found.evaluations };
}

function checkSearch(L: DenseLayout, query: Float32Array, o: DenseSearchOptions): void {
  if (query.length !== L.dim) throw new ShoalError('bad_request', `query has ${query.length} dimensions, the index ${L.dim}`);
  if (!Number.isInteger(o.k) || o.k < 1) throw new ShoalError('bad_request', `k must be a positive integer, got ${o.k}`);
  if (!Number.isInteger(o.ef) || o.ef < 0) throw new ShoalError('bad_request', `ef must be a non-negative integer, got ${o.ef}`);
  const bytes = Math.ceil(L.count / 8);
  assert(o.allowed === null || o.allowed.length >= bytes, 'allowed bitset shorter than the index');
  assert(o.deleted === null || o.deleted.length >= bytes, 'deleted bitset shorter than the index');
  const q = o.quantization;
  if (q !== null && q.oversampling !== null && !(q.oversampling >= 1)) {
    throw new ShoalError('bad_request', `oversampling must be at least 1, got ${q.oversampling}`);
  }
}
