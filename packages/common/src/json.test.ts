import { describe, expect, it } from 'vitest';
import { ShoalError } from './errors.js';
import { decodeJson, encodeJson } from './json.js';
import type { DecodeJsonOptions } from './json.js';

const STORAGE: DecodeJsonOptions = { errorKind: 'storage' };
const BODY: DecodeJsonOptions = { errorKind: 'bad_request', depthMax: 64 };

/** The ShoalError that `run` throws. */
function failure(run: () => unknown): ShoalError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ShoalError);
    return error as ShoalError;
  }
  return expect.unreachable('no error thrown');
}

describe('decodeJson', () => {
  it('keeps integers beyond 2^53 exact as bigint, safe integers and floats as numbers', () => {
    const text = '{"ids":[9007199254740993,18446744073709551615,-9223372036854775808,9007199254740991,-12],"f":0.1}';
    for (const options of [STORAGE, BODY, { errorKind: 'storage', hasBigint: true } as const]) {
      expect(decodeJson(text, options)).toEqual({ ids: [2n ** 53n + 1n, 2n ** 64n - 1n, -(2n ** 63n), 9007199254740991, -12], f: 0.1 });
    }
  });

  it('keeps 16-digit safe integers as numbers and digit strings as strings on the exact path', () => {
    expect(decodeJson('[1234567890123456, 9007199254740993, "12345678901234567890"]', BODY)).toEqual([
      1234567890123456,
      9007199254740993n,
      '12345678901234567890',
    ]);
  });

  it('does not read long fractions or exponents as big integers', () => {
    const value = decodeJson('[0.12345678901234567890, 1e1234567890123456, 1.5e-3000000000000000000, 1E+21, 12345678901234567.5]', BODY) as number[];
    expect(value[0]).toBeCloseTo(0.123456789, 9);
    expect(value.slice(1)).toEqual([Infinity, 0, 1e21, 12345678901234568]);
    // The same exponents on the exact path (forced by a big integer) are numbers too.
    expect(decodeJson('[1e3, -2.5E-3, 1e21, 18446744073709551616]', STORAGE)).toEqual([1000, -0.0025, 1e21, 2n ** 64n]);
  });

  it('reads -0 as -0 on both paths', () => {
    expect(Object.is(decodeJson('-0', STORAGE), -0)).toBe(true);
    expect(Object.is((decodeJson('[-0, 18446744073709551615]', STORAGE) as unknown[])[0], -0)).toBe(true);
  });

  it('decodes unicode and other escapes, in values and keys, on the exact path', () => {
    const text = '{"caf\\u00e9":"\\ud83d\\ude00 \\"q\\" \\\\ \\/ \\n\\t","plain":"日本","n":18446744073709551615}';
    expect(decodeJson(text, STORAGE)).toEqual({ café: '😀 "q" \\ / \n\t', plain: '日本', n: 2n ** 64n - 1n });
    expect(decodeJson(text, STORAGE)).toEqual({ ...(JSON.parse(text) as object), n: 2n ** 64n - 1n });
  });

  it('makes __proto__ an ordinary key on both paths', () => {
    const fast = decodeJson('{"__proto__":{"x":1}}', BODY) as Record<string, unknown>;
    const exact = decodeJson('{"__proto__":{"x":1},"n":12345678901234567890}', BODY) as Record<string, unknown>;
    for (const value of [fast, exact]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value)[0]).toBe('__proto__');
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('takes the writer at its word: hasBigint false is plain JSON.parse', () => {
    expect(decodeJson('[18446744073709551615]', { errorKind: 'storage', hasBigint: false })).toEqual([18446744073709552000]);
    expect(decodeJson('[1]', { errorKind: 'storage', hasBigint: true })).toEqual([1]);
  });

  it('rejects nesting deeper than the limit on both paths, before the stack suffers', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const deepBig = '['.repeat(100_000) + '18446744073709551615' + ']'.repeat(100_000);
    for (const text of [deep, deepBig]) expect(failure(() => decodeJson(text, BODY)).message).toBe('Format error in JSON body: nesting deeper than 64 levels');
    expect(() => decodeJson('['.repeat(64) + ']'.repeat(64), BODY)).not.toThrow();
    expect(() => decodeJson('{"a":'.repeat(64) + '1' + '}'.repeat(64), BODY)).not.toThrow();
    expect(() => decodeJson('['.repeat(65) + ']'.repeat(65), BODY)).toThrow(/nesting deeper than 64/);
    expect(() => decodeJson('['.repeat(65) + '12345678901234567890' + ']'.repeat(65), BODY)).toThrow(/nesting deeper than 64/);
  });

  it('ignores brackets inside strings when measuring depth', () => {
    const text = JSON.stringify({ s: '[[[[[["\\[' });
    expect(decodeJson(text, { errorKind: 'bad_request', depthMax: 1 })).toEqual({ s: '[[[[[["\\[' });
  });

  it('parses deep nesting without a limit (our own files) without overflowing the stack', () => {
    let value = decodeJson('['.repeat(100_000) + '18446744073709551615' + ']'.repeat(100_000), STORAGE);
    let depth = 0;
    while (Array.isArray(value)) {
      value = value[0];
      depth++;
    }
    expect([depth, value]).toEqual([100_000, 2n ** 64n - 1n]);
  });

  it('reports malformed request bodies as 400 format errors naming line and column', () => {
    const cases: [string, string][] = [
      ['', 'EOF while parsing a value at line 1 column 0'],
      ['{"a": }', 'expected value at line 1 column 7'],
      ['{"a": 12345678901234567890', 'EOF while parsing an object at line 1 column 26'],
      ['{"a": 12345678901234567890,', 'EOF while parsing an object at line 1 column 27'],
      ['[1 2]', 'expected `,` or `]` at line 1 column 4'],
      ['{"a":1,}', 'trailing comma at line 1 column 8'],
      ['[1,\n 2,]', 'trailing comma at line 2 column 4'],
      ['{1:2}', 'key must be a string at line 1 column 2'],
      ['{"a" 1}', 'expected `:` at line 1 column 6'],
      ['[tru]', 'expected ident at line 1 column 2'],
      ['[01]', 'expected `,` or `]` at line 1 column 3'],
      ['["abc', 'EOF while parsing a string at line 1 column 5'],
      ['["a\\x"]', 'invalid escape or control character in string at line 1 column 2'],
      ['["a\u0001"]', 'invalid escape or control character in string at line 1 column 2'],
      ['[1] x', 'trailing characters at line 1 column 5'],
    ];
    for (const [text, detail] of cases) {
      for (const big of [false, true]) {
        const error = failure(() => decodeJson(text, { ...BODY, hasBigint: big ? true : undefined }));
        expect([text, error.kind, error.message]).toEqual([text, 'bad_request', `Format error in JSON body: ${detail}`]);
      }
    }
  });

  it('reports malformed files as storage errors', () => {
    const error = failure(() => decodeJson('[1 2]', STORAGE));
    expect([error.kind, error.message]).toEqual(['storage', 'invalid JSON: expected `,` or `]` at line 1 column 4']);
    expect(failure(() => decodeJson('{"a":1,}', { errorKind: 'storage', hasBigint: false })).kind).toBe('storage');
  });
});

describe('encodeJson', () => {
  it('writes bigints as raw integer literals, also nested, and says so', () => {
    const value = { id: 2n ** 64n - 1n, p: { v: [1, 2n ** 53n + 1n, 'x', -(2n ** 70n)] }, f: 0.5 };
    expect(encodeJson(value)).toEqual({
      text: '{"id":18446744073709551615,"p":{"v":[1,9007199254740993,"x",-1180591620717411303424]},"f":0.5}',
      hasBigint: true,
    });
    expect(encodeJson({ a: [1, 'x', null, true] })).toEqual({ text: '{"a":[1,"x",null,true]}', hasBigint: false });
  });

  it('writes numbers so that they read back as the same numbers, never as bigints', () => {
    const value = [0.1, 1e21, 1e20, 2 ** 60, -0.000001, 3, -0, 5e-324, Number.MAX_VALUE];
    const { text, hasBigint } = encodeJson(value);
    expect(text).toBe('[0.1,1e+21,1e+20,1.152921504606847e+18,-0.000001,3,-0,5e-324,1.7976931348623157e+308]');
    for (const back of [decodeJson(text, { errorKind: 'storage', hasBigint }), decodeJson(text, STORAGE)]) {
      expect(back).toEqual(value);
      expect(Object.is((back as number[])[6], -0)).toBe(true);
    }
  });

  it('round-trips what it writes, including keys named __proto__ and escapes', () => {
    const parsed = JSON.parse('{"__proto__": {"x": 1}, "y": [1, 2.5, "s\\u00e9\\n"]}') as object;
    const value = { ...parsed, n: -(2n ** 70n), m: 2n ** 64n - 1n };
    const { text, hasBigint } = encodeJson(value);
    const back = decodeJson(text, { errorKind: 'storage', hasBigint }) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['__proto__', 'y', 'n', 'm']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back).toEqual(value);
    expect(text).toBe('{"__proto__":{"x":1},"y":[1,2.5,"sé\\n"],"n":-1180591620717411303424,"m":18446744073709551615}');
  });

  it('leaves out undefined fields and writes other undefined as null, like JSON.stringify', () => {
    expect(encodeJson({ a: undefined, b: 1n, c: [undefined] }).text).toBe('{"b":1,"c":[null]}');
  });

  it('refuses non-finite numbers unless asked to write them as null', () => {
    for (const n of [Number.NaN, Infinity, -Infinity]) {
      expect(failure(() => encodeJson({ a: n })).kind).toBe('bad_request');
      expect(encodeJson({ a: [n, 2n ** 64n] }, { nonFinite: 'null' }).text).toBe('{"a":[null,18446744073709551616]}');
    }
  });
});
