// The JS side of the WebAssembly graph code (../wasm/hnsw.wat): fills a searcher's context block
// and calls one export per query, exact scan or build. The offsets below are the ones hnsw.wat
// documents at its top; a test checks them against a search.
import { assert } from '@shoal/common';
import { exported } from '../wasm/load.js';
import type { DenseLayout, ScratchLayout } from './layout.js';

/** Word (4-byte) indexes of the context block's fields. */
const C = {
  kind: 0, dim: 1, vec: 2, vstride: 3, records: 4, recordBytes: 5, upper: 6, upperStart: 7, ublock: 8,
  visited: 9, epoch: 10, cand: 11, res: 12, ids: 13, scores: 14, outIds: 15, outKeys: 16, allowed: 17,
  deleted: 18, qa: 19, qb: 20, query: 21, queryCode: 22, entry: 23, maxLevel: 24, ef: 25, want: 26,
  k: 27, rescore: 28, rescoreKind: 29, rows: 30, rowStride: 31, evaluations: 32, count: 33, levels: 34,
  m: 35, efConstruct: 36, tback: 37, extraStart: 38, extraPool: 39, strict: 40,
} as const;

/** Traversal kinds of hnsw.wat: f32 keys by metric code, code estimates from 3 up (codes.ts). */
export const INT8_KIND_BASE = 3;

/** Word indexes of the code kinds' context fields (hnsw.wat: 192 vbytes, 196 cunits, 200 qc). */
const CQ = { vbytes: 48, cunits: 49, qc: 50 } as const;

type Run = (ctx: number) => number;
type Build = (ctx: number, from: number, to: number) => number;

export interface WasmQuery {
  /** Traversal kind (metric code, or INT8_KIND_BASE + metric code). */
  readonly kind: number;
  readonly ef: number;
  /** Traversal results kept (for rescoring); k when not rescoring. */
  readonly want: number;
  readonly k: number;
  readonly rescore: boolean;
  readonly allowed: Uint8Array | null;
  readonly deleted: Uint8Array | null;
  /** int8 estimate constants (quantize.ts): qa = s^2 (dot, l2) or s (l1), qb = query term. */
  readonly qa: number;
  readonly qb: number;
  /** Binary codes' third constant (binary.ts); 0 otherwise. */
  readonly qc?: number;
  /** Filtered walks score only allowed nodes once one is found (DenseSearchOptions.traversal). */
  readonly strict?: boolean;
  /** Where the walk starts on level 0 when the index has no graph of its own (subset links only). */
  readonly entry?: number;
}

export interface WasmResult {
  readonly count: number;
  readonly evaluations: number;
}

export class WasmGraphEngine {
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly u8: Uint8Array;
  private readonly c: number;
  private readonly searchFn: Run;
  private readonly scanFn: Run;
  private readonly buildFn: Build;
  private readonly bitsetBytes: number;

  constructor(
    memory: WebAssembly.Memory,
    exports: WebAssembly.Exports,
    private readonly L: DenseLayout,
    private readonly base: number,
    private readonly parts: ScratchLayout,
  ) {
    this.searchFn = exported(exports, 'hnsw_search', 1) as Run;
    this.scanFn = exported(exports, 'exact_scan', 1) as Run;
    this.buildFn = exported(exports, 'hnsw_build', 3) as Build;
    const buffer = memory.buffer;
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.c = (base + parts.ctx) >>> 2;
    this.bitsetBytes = Math.ceil(L.count / 8);
    this.writeConstants();
  }

  /** Fields that never change for this searcher. */
  private writeConstants(): void {
    const { i32, c, L, base, parts } = this;
    i32[c + C.dim] = L.dim;
    i32[c + C.records] = L.recordsPtr;
    i32[c + C.recordBytes] = L.recordBytes;
    i32[c + C.upper] = L.upperPtr;
    i32[c + C.upperStart] = L.upperStartPtr;
    i32[c + C.ublock] = (1 + L.m) * 4;
    i32[c + C.visited] = base + parts.visited;
    i32[c + C.cand] = base + parts.candidates;
    i32[c + C.res] = base + parts.results;
    i32[c + C.ids] = base + parts.ids;
    i32[c + C.scores] = base + parts.scores;
    i32[c + C.outIds] = base + parts.outIds;
    i32[c + C.outKeys] = base + parts.outKeys;
    i32[c + C.query] = base + parts.query;
    i32[c + C.queryCode] = base + parts.queryCode;
    i32[c + C.rows] = L.rowsPtr;
    i32[c + C.rowStride] = L.rowStride;
    i32[c + C.rescoreKind] = L.metric;
    i32[c + CQ.vbytes] = L.codeBytes;
    i32[c + CQ.cunits] = L.codeUnits;
    i32[c + C.count] = L.count;
    i32[c + C.levels] = L.levelsPtr;
    i32[c + C.m] = L.m;
    i32[c + C.extraStart] = L.extraWords > 0 ? L.extraStartPtr : 0;
    i32[c + C.extraPool] = L.extraPtr;
  }

  /** Traversal vectors for a kind: int8 codes in the records, or the f32 rows. */
  private setKind(kind: number): void {
    const { i32, c, L } = this;
    i32[c + C.kind] = kind;
    if (kind >= INT8_KIND_BASE) {
      i32[c + C.vec] = L.recordsPtr + L.payloadOffset;
      i32[c + C.vstride] = L.recordBytes;
    } else {
      i32[c + C.vec] = L.rowsPtr;
      i32[c + C.vstride] = L.rowStride;
    }
    // Rows inside the records (or codes): touching a node's whole record brings its links too.
    i32[c + C.tback] = (i32[c + C.vec] as number) === L.recordsPtr + L.payloadOffset ? L.payloadOffset : 0;
  }

  private setQuery(q: WasmQuery): void {
    const { i32, f32, c } = this;
    this.setKind(q.kind);
    i32[c + C.allowed] = this.bitset(q.allowed, this.parts.allowed);
    i32[c + C.deleted] = this.bitset(q.deleted, this.parts.deleted);
    f32[c + C.qa] = q.qa;
    f32[c + C.qb] = q.qb;
    i32[c + C.entry] = q.entry ?? this.L.entry;
    i32[c + C.maxLevel] = q.entry === undefined ? this.L.maxLevel : 0;
    i32[c + C.strict] = q.strict === true ? 1 : 0;
    i32[c + C.ef] = q.ef;
    i32[c + C.want] = q.want;
    i32[c + C.k] = q.k;
    i32[c + C.rescore] = q.rescore ? 1 : 0;
    f32[c + CQ.qc] = q.qc ?? 0;
  }

  /** Copies a bitset into the scratch region; returns its pointer, or 0 for none. */
  private bitset(bits: Uint8Array | null, at: number): number {
    if (bits === null) return 0;
    const ptr = this.base + at;
    this.u8.set(bits.subarray(0, this.bitsetBytes), ptr);
    return ptr;
  }

  search(q: WasmQuery): WasmResult {
    this.setQuery(q);
    const count = this.searchFn(this.base + this.parts.ctx);
    return { count, evaluations: this.i32[this.c + C.evaluations] as number };
  }

  scan(q: WasmQuery): WasmResult {
    this.setQuery(q);
    const count = this.scanFn(this.base + this.parts.ctx);
    return { count, evaluations: this.i32[this.c + C.evaluations] as number };
  }

  /** Copies of the last call's results, best first. */
  results(count: number): { ids: Uint32Array; keys: Float32Array } {
    const ids = new Uint32Array(this.i32.buffer, this.base + this.parts.outIds, count).slice();
    const keys = this.f32.slice((this.base + this.parts.outKeys) >>> 2, ((this.base + this.parts.outKeys) >>> 2) + count);
    return { ids, keys };
  }

  /**
   * Inserts ids 0..count-1, whose levels and upper-level starts the caller has written, on the
   * f32 rows. Returns the entry point and top level reached and the evaluations made.
   */
  build(efConstruct: number): { entry: number; maxLevel: number; evaluations: number } {
    const { i32, c, L } = this;
    this.setKind(L.metric);
    i32[c + C.allowed] = 0;
    i32[c + C.deleted] = 0;
    i32[c + C.strict] = 0;
    i32[c + C.entry] = -1;
    i32[c + C.maxLevel] = 0;
    i32[c + C.efConstruct] = efConstruct;
    const evaluations = this.buildFn(this.base + this.parts.ctx, 0, L.count);
    const entry = i32[c + C.entry] as number;
    assert(L.count === 0 || entry >= 0, 'build left no entry point');
    return { entry: entry >>> 0, maxLevel: i32[c + C.maxLevel] as number, evaluations };
  }
}
