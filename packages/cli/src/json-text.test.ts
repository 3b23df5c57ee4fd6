import { describe, expect, it } from 'vitest';
import { prettyJson } from './json-text.js';

describe('prettyJson', () => {
  it('indents like JSON.stringify(value, null, 2) for plain values', () => {
    const value = { a: [1, { b: 'x', c: null }], d: {}, e: [], f: true, g: 1.5 };
    expect(prettyJson(value)).toBe(JSON.stringify(value, null, 2));
  });

  it('writes a bigint as its exact digits and leaves out undefined fields', () => {
    expect(prettyJson({ peer: 18446744073709551615n, gone: undefined })).toBe('{\n  "peer": 18446744073709551615\n}');
  });
});
