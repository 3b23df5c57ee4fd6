import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import { parseJson, stringifyJson } from './json.js';

// The codec itself is tested in @shoal/common (json.test.ts); these are the request/response
// wrappers' own promises.

describe('parseJson', () => {
  it('keeps integers above 2^53 exact and round-trips them through stringifyJson', () => {
    const text = '{"a":9007199254740993,"b":[18446744073709551615,-9223372036854775808],"c":1.5}';
    expect(parseJson(text, 64)).toEqual({ a: 2n ** 53n + 1n, b: [2n ** 64n - 1n, -(2n ** 63n)], c: 1.5 });
    expect(stringifyJson(parseJson(text, 64))).toBe(text);
  });

  it('reports bad bodies as 400 format errors, too deep ones included', () => {
    for (const [text, message] of [
      ['{"a": }', 'Format error in JSON body: expected value at line 1 column 7'],
      ['['.repeat(3) + ']'.repeat(3), 'Format error in JSON body: nesting deeper than 2 levels'],
    ] as const) {
      const error = (() => {
        try {
          parseJson(text, 2);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ShoalError);
      expect([(error as ShoalError).kind, (error as ShoalError).message]).toEqual(['bad_request', message]);
    }
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

  it('skips undefined fields and writes non-finite numbers as null, with or without bigints', () => {
    expect(stringifyJson({ a: undefined, b: 1, c: Number.NaN })).toBe('{"b":1,"c":null}');
    expect(stringifyJson({ a: undefined, b: 1n, c: Number.NaN })).toBe('{"b":1,"c":null}');
  });
});
