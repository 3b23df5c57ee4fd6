import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import type { Distance, VectorDatatype, VectorParams } from '@shoal/common';
import { checkDatatypeRange, convertValues, datatypeElementBytes, storedForm, toFloat16, toUint8 } from './datatype.js';

const f32 = Math.fround;

function params(distance: Distance, datatype: VectorDatatype | null): VectorParams {
  return { size: 3, distance, onDisk: null, datatype };
}

describe('toFloat16', () => {
  it('rounds to the nearest binary16 value, ties to even', () => {
    // 0.1 (f32) lies between 0.0999755859375 (1638 * 2^-14) and 0.100036...; nearer the first.
    expect(toFloat16(f32(0.1))).toBe(0.0999755859375);
    expect(toFloat16(f32(1 / 3))).toBe(0.333251953125);
    expect(toFloat16(f32(3.14159))).toBe(3.140625);
    // Spacing in [1, 2) is 2^-10: 1 + 2^-11 is a tie -> even (1); 1 + 3 * 2^-11 -> 1 + 2^-9.
    expect(toFloat16(1 + 2 ** -11)).toBe(1);
    expect(toFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    // Spacing in [2048, 4096) is 2: 2049 -> 2048 (even mantissa), 2051 -> 2052.
    expect(toFloat16(2049)).toBe(2048);
    expect(toFloat16(2051)).toBe(2052);
    expect(toFloat16(1.0009765625)).toBe(1.0009765625);
  });

  it('keeps subnormals on the 2^-24 grid and flushes below half of it to zero', () => {
    expect(toFloat16(2 ** -24)).toBe(2 ** -24);
    expect(toFloat16(2 ** -25)).toBe(0); // tie between 0 and 2^-24 -> 0 (even)
    expect(toFloat16(3 * 2 ** -26)).toBe(2 ** -24);
    expect(toFloat16(1.5 * 2 ** -24)).toBe(2 * 2 ** -24); // tie -> even multiple
    expect(toFloat16(2.5 * 2 ** -24)).toBe(2 * 2 ** -24);
    expect(toFloat16(f32(1e-8))).toBe(0);
    // Just below the smallest normal 2^-14: 6.1e-5 -> 1023 * 2^-24.
    expect(toFloat16(f32(6.1e-5))).toBe(1023 * 2 ** -24);
  });

  it('overflows to infinity from 65520 on, keeps the sign and NaN', () => {
    expect(toFloat16(65504)).toBe(65504);
    expect(toFloat16(f32(65519.99))).toBe(65504);
    expect(toFloat16(65520)).toBe(Infinity);
    expect(toFloat16(-70000)).toBe(-Infinity);
    expect(toFloat16(-0.1)).toBe(-toFloat16(0.1));
    expect(Object.is(toFloat16(-0), -0)).toBe(true);
    expect(toFloat16(NaN)).toBeNaN();
  });

  it('is idempotent: a float16 value converts to itself', () => {
    for (const x of [0.0999755859375, 65504, 2 ** -24, -3.140625, 2048, 0]) expect(toFloat16(x)).toBe(x);
  });
});

describe('toUint8', () => {
  it('truncates toward zero and saturates like a Rust `as u8` cast', () => {
    expect(toUint8(3.9)).toBe(3);
    expect(toUint8(0.99)).toBe(0);
    expect(toUint8(-0.5)).toBe(0);
    expect(toUint8(-1000)).toBe(0);
    expect(toUint8(254.999)).toBe(254);
    expect(toUint8(255)).toBe(255);
    expect(toUint8(255.5)).toBe(255);
    expect(toUint8(1e9)).toBe(255);
    expect(toUint8(NaN)).toBe(0);
    expect(Object.is(toUint8(-0), 0)).toBe(true);
  });
});

describe('storedForm', () => {
  const v = Float32Array.from([3.7, -2.2, 300]);

  it('float32 and an unset datatype keep the values; Cosine normalises them', () => {
    expect([...storedForm(params('Dot', null), v)]).toEqual([...v]);
    expect([...storedForm(params('Euclid', 'float32'), v)]).toEqual([...v]);
    const n = Math.sqrt(f32(3.7) ** 2 + f32(-2.2) ** 2 + 300 ** 2);
    const unit = storedForm(params('Cosine', 'float32'), v);
    expect(unit[2]).toBeCloseTo(300 / n, 6);
  });

  it('float16 converts each value; Cosine normalises in f32 first, then converts', () => {
    expect([...storedForm(params('Dot', 'float16'), v)]).toEqual([3.69921875, -2.19921875, 300]);
    const cos = storedForm(params('Cosine', 'float16'), Float32Array.from([3, 4, 0]));
    // 0.6 and 0.8 rounded to binary16.
    expect([...cos]).toEqual([0.60009765625, 0.7998046875, 0]);
  });

  it('uint8 casts each value; Cosine normalises the cast integers', () => {
    expect([...storedForm(params('Manhattan', 'uint8'), v)]).toEqual([3, 0, 255]);
    const cos = storedForm(params('Cosine', 'uint8'), Float32Array.from([3.9, 4.2, -1]));
    expect([...cos]).toEqual([f32(0.6), f32(0.8), 0]);
  });

  it('does not change its input', () => {
    const input = Float32Array.from([1.5, 2.5, 3.5]);
    storedForm(params('Cosine', 'uint8'), input);
    convertValues('float16', input);
    expect([...input]).toEqual([1.5, 2.5, 3.5]);
  });
});

describe('checkDatatypeRange', () => {
  it('refuses float16 values that would become infinite, with a 400-kind error', () => {
    const p = params('Dot', 'float16');
    expect(() => checkDatatypeRange(p, Float32Array.from([65504, -65519, 0]), '')).not.toThrow();
    let error: unknown = null;
    try {
      checkDatatypeRange(p, Float32Array.from([1, -65520, 0]), 'img');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShoalError);
    expect((error as ShoalError).kind).toBe('bad_request');
    expect((error as ShoalError).message).toContain('"img"');
  });

  it('accepts any finite value for uint8 and float32', () => {
    expect(() => checkDatatypeRange(params('Dot', 'uint8'), Float32Array.from([1e30, -1e30, 0.5]), '')).not.toThrow();
    expect(() => checkDatatypeRange(params('Dot', null), Float32Array.from([1e30, -1e30, 0.5]), '')).not.toThrow();
  });
});

describe('datatypeElementBytes', () => {
  it('is the width of Qdrant’s element type', () => {
    expect(datatypeElementBytes('uint8')).toBe(1);
    expect(datatypeElementBytes('float16')).toBe(2);
    expect(datatypeElementBytes('float32')).toBe(4);
    expect(datatypeElementBytes(null)).toBe(4);
  });
});
