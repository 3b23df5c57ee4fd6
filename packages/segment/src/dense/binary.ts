// Binary quantization (Qdrant's binary, encodings one_bit and two_bits): each dimension becomes
// one bit, its sign (v > 0), or two: a value is low (v < -t), in the band |v| <= t, or high
// (v > t), written as two bit planes, "above -t" and "above t", so low / band / high are 00 / 10
// / 11 and the Hamming distance of two codes is the L1 distance of those three levels (0, 1 or
// 2 per dimension). t is set so that BINARY_BAND_SHARE of the sampled values fall in the band.
// Codes are whole 64-bit words per plane (the Hamming kernel's unit), padded with zeros.
//
// The Hamming distance h of two codes estimates their angle: unrelated codes differ in h0 bits
// on average (dim / 2 for one bit, 8 dim / 9 for two bits at a third per level), identical ones
// in none, so cos ~ 1 - h / h0. With the row's norm stored as its correction term:
//   dot:     q.x ~ |q| |x| (1 - h / h0)                 = qa corr (qb - h), qa = |q| / h0, qb = h0
//   l2:      |q - x|^2 ~ |q|^2 + |x|^2 - 2 q.x           key = 2 qa corr (qb - h) - qc - corr^2, qc = |q|^2
//   l1:      sqrt(2 dim / pi) sqrt(l2 estimate)          (the L1 length of a Gaussian difference)
// Keys stay larger-is-better. These are rough estimates: binary codes are a filter whose best
// candidates are rescored on the f32 rows (Qdrant recommends rescoring with oversampling too).
import { seededRng } from '@shoal/common';
import { BINARY_BAND_SHARE, QUANTILE_SAMPLE_MAX } from './limits.js';

export type BinaryEncoding = 'one_bit' | 'two_bits';

/** 64-bit words of one bit plane of `dim` dimensions. */
export function planeWords(dim: number): number {
  return Math.ceil(dim / 64);
}

/**
 * The band half-width t of two_bits: the BINARY_BAND_SHARE quantile of |v| over at most
 * QUANTILE_SAMPLE_MAX values drawn with `seed`. 0 for one_bit (the sign alone).
 */
export function calibrateBinary(rows: Float32Array, count: number, dim: number, encoding: BinaryEncoding, seed: number): number {
  const total = count * dim;
  if (encoding === 'one_bit' || total === 0) return 0;
  const n = Math.min(total, QUANTILE_SAMPLE_MAX);
  const sample = new Float32Array(n);
  if (n === total) {
    for (let i = 0; i < n; i++) sample[i] = Math.abs(rows[i] as number);
  } else {
    const rng = seededRng(seed ^ 0xb17);
    for (let i = 0; i < n; i++) sample[i] = Math.abs(rows[rng.int(total)] as number);
  }
  sample.sort();
  const t = sample[Math.min(n - 1, Math.floor(BINARY_BAND_SHARE * n))] as number;
  return Number.isFinite(t) ? t : 0;
}

/**
 * Writes the code of src[from .. from+dim) as u32 words at u32[at ..] (word-aligned: two u32 per
 * 64-bit word, little-endian, so bit d of the code is bit d & 31 of u32 d >> 5); returns |v|.
 */
export function encodeBinary(src: Float32Array, from: number, dim: number, encoding: BinaryEncoding, t: number, u32: Uint32Array, at: number): number {
  const words32 = planeWords(dim) * 2;
  const planes = encoding === 'two_bits' ? 2 : 1;
  u32.fill(0, at, at + words32 * planes);
  let norm2 = 0;
  for (let d = 0; d < dim; d++) {
    const v = src[from + d] as number;
    norm2 += v * v;
    const w = at + (d >>> 5);
    const bit = 1 << (d & 31);
    if (planes === 1) {
      if (v > 0) u32[w] = (u32[w] as number) | bit;
      continue;
    }
    if (v > -t) u32[w] = (u32[w] as number) | bit;
    if (v > t) u32[w + words32] = (u32[w + words32] as number) | bit;
  }
  return Math.sqrt(norm2);
}

/** Expected Hamming distance of unrelated codes (h0 in the header). */
export function unrelatedDistance(dim: number, encoding: BinaryEncoding): number {
  return encoding === 'two_bits' ? (8 * dim) / 9 : dim / 2;
}

/** The query constants qa, qb, qc of the header for a query of norm `norm`. */
export function binaryQueryConstants(norm: number, dim: number, encoding: BinaryEncoding): { qa: number; qb: number; qc: number } {
  const h0 = unrelatedDistance(dim, encoding);
  return { qa: norm / h0, qb: h0, qc: norm * norm };
}

/** The estimated key of a row at Hamming distance h (f32 steps as hnsw.wat takes them). */
export function binaryKey(metric: number, dim: number, h: number, corr: number, qa: number, qb: number, qc: number): number {
  const f = Math.fround;
  const scaled = f(f(qa * corr) * f(qb - h));
  if (metric === 0) return scaled;
  const l2 = f(f(qc + f(corr * corr)) - f(scaled + scaled));
  if (metric === 1) return -l2;
  return -f(f(Math.sqrt(f(dim * L1_PER_L2))) * f(Math.sqrt(Math.max(0, l2))));
}

/** 2 / pi: the squared ratio of L1 to L2 length of a Gaussian difference, per dimension. */
export const L1_PER_L2 = Math.fround(2 / Math.PI);
