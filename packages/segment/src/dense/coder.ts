// Coding rows at build time and preparing queries at search time, for every code kind
// (codes.ts): the one place that knows which module codes what.
import { ShoalError } from '@shoal/common';
import type { Kernels } from '../wasm/types.js';
import { calibrateBinary, binaryQueryConstants, encodeBinary, planeWords } from './binary.js';
import type { BinaryEncoding } from './binary.js';
import { CODE_BINARY, CODE_INT8, CODE_PRODUCT, productSubdim } from './codes.js';
import type { DenseIndexParams, DenseQuantization } from './contract.js';
import type { DenseLayout } from './layout.js';
import { OVERSAMPLING_DEFAULT, QUANTILE_MIN } from './limits.js';
import { exported, instantiateKernelsModule } from '../wasm/load.js';
import { withBuildScratch } from './memory.js';
import { assignJs, buildProduct, productCorrections, productScratchBytes, productTable } from './product.js';
import type { Assign, TableKernel } from './product.js';
import { encodeInt8, queryCorrection, rowCorrection } from './quantize.js';
import type { CodeSums, Int8Range } from './quantize.js';
import { BinaryScorer, Int8Scorer, ProductScorer } from './scorers.js';
import type { BatchScratch, CodeScorer } from './scorers.js';

/** Compressions of product quantization (f32 bytes per code byte). */
const COMPRESSIONS: readonly number[] = [4, 8, 16, 32, 64];

/** Throws ShoalError('bad_request') unless the engine can build this quantization. */
export function checkQuantization(q: DenseQuantization): void {
  switch (q.kind) {
    case 'int8':
      if (!(q.quantile >= QUANTILE_MIN && q.quantile <= 1)) throw new ShoalError('bad_request', `quantile must be in [${QUANTILE_MIN}, 1], got ${q.quantile}`);
      return;
    case 'binary':
      if (q.encoding !== undefined && q.encoding !== 'one_bit' && q.encoding !== 'two_bits') {
        throw new ShoalError('bad_request', `binary encoding must be one_bit or two_bits, got ${String(q.encoding)}`);
      }
      return;
    case 'product':
      if (!COMPRESSIONS.includes(q.compression)) throw new ShoalError('bad_request', `product compression must be one of x4, x8, x16, x32, x64, got ${q.compression}`);
      return;
    default:
      throw new ShoalError('bad_request', `unknown quantization ${String((q as { kind: unknown }).kind)}`);
  }
}

/** The binary encoding of a layout: two bit planes per dimension or one. */
function encodingOf(L: DenseLayout): BinaryEncoding {
  return L.codeUnits === 2 * planeWords(L.dim) ? 'two_bits' : 'one_bit';
}

/**
 * Codes rows[0 .. count*dim) into the records (codes and corrections), learning what the kind
 * needs first (binary band, product codebooks: into the qdata region). int8 takes its range
 * from the layout (calibrated before it was planned).
 */
export function encodeRows(
  memory: WebAssembly.Memory, L: DenseLayout, params: DenseIndexParams, rows: Float32Array, range: Int8Range, wasm: boolean,
): void {
  const f32 = new Float32Array(memory.buffer);
  const dim = L.dim;
  const corr = (id: number, value: number): void => {
    f32[(L.recordsPtr + id * L.recordBytes + L.corrOffset) >>> 2] = value;
  };
  const codeAt = (id: number): number => L.recordsPtr + id * L.recordBytes + L.payloadOffset;
  switch (L.codeKind) {
    case CODE_INT8: {
      const i8 = new Int8Array(memory.buffer);
      const sums: CodeSums = { sum: 0, norm2: 0, cross: 0 };
      for (let id = 0; id < L.count; id++) {
        encodeInt8(rows, id * dim, dim, range, i8, codeAt(id), sums);
        corr(id, rowCorrection(L.metric, range, sums));
      }
      return;
    }
    case CODE_BINARY: {
      const encoding = encodingOf(L);
      const t = calibrateBinary(rows, L.count, dim, encoding, params.seed);
      f32[L.qdataPtr >>> 2] = t;
      const u32 = new Uint32Array(memory.buffer);
      for (let id = 0; id < L.count; id++) corr(id, encodeBinary(rows, id * dim, dim, encoding, t, u32, codeAt(id) >>> 2));
      return;
    }
    case CODE_PRODUCT: {
      const subdim = productSubdim(compressionOf(params));
      const assign = wasm ? (exported(instantiateKernelsModule(memory), 'pq_assign', 8) as Assign) : assignJs(memory);
      withBuildScratch(memory, L, productScratchBytes(L.count, subdim), (scratch) => {
        buildProduct(memory, L, rows, subdim, params.seed, assign, scratch);
      });
      productCorrections(memory, L, subdim);
      return;
    }
    default:
      return;
  }
}

function compressionOf(params: DenseIndexParams): number {
  const q = params.quantization;
  return q !== null && q.kind === 'product' ? q.compression : 4;
}

/** Estimate constants of a prepared query (hnsw.wat's qa, qb, qc). */
export interface QueryConstants {
  qa: number;
  qb: number;
  qc: number;
}

/**
 * Prepares the query (a view in the memory) for its layout's codes at byte `out`: its int8 or
 * binary code, or its product lookup table (by the WebAssembly kernel when `exports` are given);
 * returns the constants.
 */
export function prepareQuery(
  memory: WebAssembly.Memory, exports: WebAssembly.Exports | null, L: DenseLayout, params: DenseIndexParams, query: Float32Array, out: number,
): QueryConstants {
  const dim = L.dim;
  switch (L.codeKind) {
    case CODE_INT8: {
      const range = { mid: L.qMid, scale: L.qScale };
      const sums: CodeSums = { sum: 0, norm2: 0, cross: 0 };
      encodeInt8(query, 0, dim, range, new Int8Array(memory.buffer), out, sums);
      return { qa: L.metric === 2 ? range.scale : range.scale * range.scale, qb: queryCorrection(L.metric, range, dim, sums), qc: 0 };
    }
    case CODE_BINARY: {
      const encoding = encodingOf(L);
      const t = new Float32Array(memory.buffer)[L.qdataPtr >>> 2] as number;
      const norm = encodeBinary(query, 0, dim, encoding, t, new Uint32Array(memory.buffer), out >>> 2);
      return binaryQueryConstants(norm, dim, encoding);
    }
    case CODE_PRODUCT: {
      const kernel = exports === null ? null : (exported(exports, 'pq_table', 6) as TableKernel);
      productTable(memory, L, productSubdim(compressionOf(params)), query.byteOffset, out, kernel);
      return { qa: 0, qb: 0, qc: 0 };
    }
    default:
      return { qa: 0, qb: 0, qc: 0 };
  }
}

/** The JS-path scorer of a layout's codes; null without codes. */
export function codeScorer(kernels: Kernels, L: DenseLayout, scratch: BatchScratch): CodeScorer | null {
  switch (L.codeKind) {
    case CODE_INT8:
      return new Int8Scorer(kernels, L, scratch);
    case CODE_BINARY:
      return new BinaryScorer(kernels, L, scratch);
    case CODE_PRODUCT:
      return new ProductScorer(kernels, L, scratch);
    default:
      return null;
  }
}

/** Oversampling of a search that leaves it unset, by code kind (limits.ts). */
export function defaultOversampling(codeKind: number): number {
  switch (codeKind) {
    case CODE_BINARY:
      return OVERSAMPLING_DEFAULT.binary;
    case CODE_PRODUCT:
      return OVERSAMPLING_DEFAULT.product;
    default:
      return OVERSAMPLING_DEFAULT.int8;
  }
}
