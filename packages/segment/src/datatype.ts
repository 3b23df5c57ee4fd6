// Vector datatypes (Qdrant's `datatype` of a named vector): what a value becomes when it enters
// a segment. Qdrant stores float16 and uint8 vectors in their own element type, converting each
// incoming f32 value once, and converts a query vector the same way before scoring, so that
// stored vectors, what retrieve returns and every score come from the converted values:
//
//   float32: the value as is.
//   float16: IEEE 754 binary16, rounded to nearest, ties to even; subnormals down to 2^-24;
//            magnitudes of 65520 and more become infinite (the rounding of the binary16 format).
//   uint8:   Rust's `value as u8`: toward zero, saturating at 0 and 255, NaN to 0.
//
// Cosine: float32 and float16 rows are normalised in f32 first, then converted (Qdrant's order).
// Qdrant scores uint8 Cosine on the integers with their norms; here uint8 Cosine rows are the
// cast integers normalised in f32, so that the shared dot kernels score them: the same cosine up
// to f32 rounding, but retrieve returns that unit-length direction instead of the integers.
//
// Storage stays one f32 per value whatever the datatype (the distance kernels and the dense
// index read f32 rows): a converted value is exactly representable in f32, so converting, then
// storing it as f32, gives the same scores as storing the narrow type. Memory reports say so.
import { ShoalError } from '@shoal/common';
import type { VectorDatatype, VectorParams } from '@shoal/common';
import { normalized } from './kernels.js';

/** Bytes per stored value, whatever the datatype: rows are f32 (see the header). */
export const STORED_ELEMENT_BYTES = Float32Array.BYTES_PER_ELEMENT;

/** Bytes per value Qdrant's storage of `datatype` uses (for comparing with what is stored here). */
export function datatypeElementBytes(datatype: VectorDatatype | null): number {
  return datatype === 'uint8' ? 1 : datatype === 'float16' ? 2 : 4;
}

/** Largest finite binary16 value. */
const F16_MAX = 65504;
/** Halfway between F16_MAX and 2^16: from here on, rounding to nearest even gives infinity. */
const F16_OVERFLOW = 65520;
/** Smallest normal binary16 value, 2^-14; below it the spacing is fixed at 2^-24. */
const F16_MIN_NORMAL = 2 ** -14;
const F16_SUBNORMAL_STEP = 2 ** -24;
const F16_MANTISSA_BITS = 10;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** y rounded to the nearest integer, ties to even. */
function roundHalfEven(y: number): number {
  const floor = Math.floor(y);
  const rest = y - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `x` (an f32 value) rounded to the nearest binary16 value, as a number. One rounding from f32,
 * like a hardware or library f32 -> f16 conversion; NaN stays NaN, the sign of zero is kept.
 */
export function toFloat16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const magnitude = Math.abs(x);
  let out: number;
  if (magnitude >= F16_OVERFLOW) out = Infinity;
  else if (magnitude < F16_MIN_NORMAL) {
    out = roundHalfEven(magnitude / F16_SUBNORMAL_STEP) * F16_SUBNORMAL_STEP;
  } else {
    // Normal in f16, hence in f32: the f32 exponent gives the binade exactly.
    scratchF32[0] = magnitude;
    const exponent = (((scratchU32[0] as number) >>> 23) & 0xff) - 127;
    const step = 2 ** (exponent - F16_MANTISSA_BITS);
    out = roundHalfEven(magnitude / step) * step;
  }
  return x < 0 || Object.is(x, -0) ? -out : out;
}

/** Rust's `x as u8` for a float: NaN -> 0, toward zero, saturating at 0 and 255. */
export function toUint8(x: number): number {
  if (Number.isNaN(x) || x <= 0) return 0;
  if (x >= 255) return 255;
  return Math.trunc(x);
}

/** A copy of `vector` with each value converted to `datatype` (null: float32, a plain copy). */
export function convertValues(datatype: VectorDatatype | null, vector: Float32Array): Float32Array {
  const out = Float32Array.from(vector);
  if (datatype === 'float16') for (let i = 0; i < out.length; i++) out[i] = toFloat16(out[i] as number);
  else if (datatype === 'uint8') for (let i = 0; i < out.length; i++) out[i] = toUint8(out[i] as number);
  return out;
}

/**
 * The row a segment stores for `vector` under `params`, and the form a query vector is scored
 * in: normalised for Cosine and converted to the datatype, in Qdrant's order (see the header).
 * A stored row fed back in (a query by a point's vector) passes through it again, as in Qdrant.
 */
export function storedForm(params: VectorParams, vector: Float32Array): Float32Array {
  const datatype = params.datatype;
  if (params.distance !== 'Cosine') return convertValues(datatype, vector);
  if (datatype === 'uint8') return normalized(convertValues(datatype, vector));
  return convertValues(datatype, normalized(vector));
}

/**
 * Refuses a vector whose values the datatype cannot hold as finite numbers: a float16 value of
 * magnitude 65520 or more would be stored as infinity, and every score against it would be
 * infinite or NaN (which JSON cannot carry). Values are already finite f32 here. uint8 accepts
 * every finite value (it saturates), as Qdrant does.
 */
export function checkDatatypeRange(params: VectorParams, vector: Float32Array, name: string): void {
  if (params.datatype !== 'float16') return;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i] as number;
    if (Math.abs(x) >= F16_OVERFLOW) {
      const label = name === '' ? 'vector' : `vector ${JSON.stringify(name)}`;
      throw new ShoalError('bad_request', `Wrong input: ${label} value ${x} at index ${i} overflows float16 (largest magnitude ${F16_MAX})`);
    }
  }
}
