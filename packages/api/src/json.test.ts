import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import { parseJson, stringifyJson } from './json.js';

const DEPTH = 64;

describe('parseJson', () => {
  it('keeps integers above 2^53 exact as bigint', () => {
    const text = '{"ids":[9007199254740993,18446744073709551615,9007199254740991],"f":0.1}';
    const value = parseJson(text, DEPTH) as { ids: unknown[]; f: number };
    expect(value.ids).toEqual([2n ** 53n + 1n, 2n ** 64n - 1n, 9007199254740991]);
    expect(value.f).toBe(0.1);
  });

  it('round-trips big integers through stringifyJson', () => {
    const text = '{"a":9007199254740993,"b":[18446744073709551615,-9223372036854775808],"c":1.5}';
    expect(stringifyJson(parseJson(text, DEPTH))).toBe(text);
  });

  it('does not treat long fractions or exponents as big integers', () => {
    const value = parseJson('[0.12345678901234567890, 1e1234567890123456, 1.5e-3000000000000000000]', DEPTH) as number[];
    expect(value[0]).toBeCloseTo(0.123456789, 9);
    expect(value[1]).toBe(Infinity);
    expect(typeof value[2]).toBe('number');
  });

  it('keeps 16-digit safe integers as numbers on the slow path', () => {
    expect(parseJson('[1234567890123456, 9007199254740993]', DEPTH)).toEqual([1234567890123456, 9007199254740993n]);
  });

  it('rejects nesting deeper than the limit before parsing', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseJson(deep, DEPTH)).toThrow(ShoalError);
    expect(() => parseJson('['.repeat(DEPTH) + ']'.repeat(DEPTH), DEPTH)).not.toThrow();
    expect(() => parseJson('['.repeat(DEPTH + 1) + ']'.repeat(DEPTH + 1), DEPTH)).toThrow(/nesting deeper than 64/);
  });

  it('ignores brackets inside strings when measuring depth', () => {
    expect(parseJson(JSON.stringify({ s: '[[[[[[' + '"\\[' }), 2)).toEqual({ s: '[[[[[["\\[' });
  });

  it('reports unparsable text as a 400 format error', () => {
    try {
      parseJson('{"a": }', DEPTH);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ShoalError);
      expect((error as ShoalError).kind).toBe('bad_request');
      expect((error as ShoalError).message).toMatch(/^Format error in JSON body: /);
    }
    expect(() => parseJson('{"a": 12345678901234567890', DEPTH)).toThrow(/Format error in JSON body/);
  });

  it('makes __proto__ an ordinary key on both paths', () => {
    const fast = parseJson('{"__proto__":{"x":1}}', DEPTH) as Record<string, unknown>;
    const slow = parseJson('{"__proto__":{"x":1},"n":12345678901234567890}', DEPTH) as Record<string, unknown>;
    expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(slow)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('stringifyJson', () => {
  it('writes floats as JavaScript does (shortest round trip)', () => {
    expect(stringifyJson({ a: 0.1, b: 1e21, c: -0.000001, d: 3 })).toBe('{"a":0.1,"b":1e+21,"c":-0.000001,"d":3}');
  });

  it('writes bigints as raw integer literals, also nested', () => {
    expect(stringifyJson({ id: 2n ** 64n - 1n, p: { v: [1, 2n ** 53n + 1n, 'x'] }, f: 0.5 })).toBe(
      '{"id":18446744073709551615,"p":{"v":[1,9007199254740993,"x"]},"f":0.5}',
    );
  });

  it('skips undefined fields like JSON.stringify', () => {
    expect(stringifyJson({ a: undefined, b: 1n })).toBe('{"b":1}');
  });
});
