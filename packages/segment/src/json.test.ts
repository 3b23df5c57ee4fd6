import { describe, expect, it } from 'vitest';
import { parseJson, stringifyJson } from './json.js';
import { parseDatetimeMicros } from './datetime.js';

describe('lossless JSON', () => {
  it('keeps integers beyond 2^53 as bigint both ways, and plain numbers as numbers', () => {
    const text = '{"a":18446744073709551615,"b":[9007199254740993,1.5,-12,1e3],"c":"12345678901234567890","__proto__":1}';
    const value = parseJson(text);
    expect(value).toEqual({ a: 18446744073709551615n, b: [9007199254740993n, 1.5, -12, 1000], c: '12345678901234567890', ['__proto__']: 1 });
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(stringifyJson(value)).toBe('{"a":18446744073709551615,"b":[9007199254740993,1.5,-12,1000],"c":"12345678901234567890","__proto__":1}');
  });

  it('rejects malformed text', () => {
    expect(() => parseJson('{"a": 12345678901234567890,')).toThrow();
  });
});

describe('datetime parsing', () => {
  it('accepts RFC 3339 and Qdrant\'s looser forms, as epoch microseconds', () => {
    expect(parseDatetimeMicros('2024-01-02T03:04:05Z')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5) * 1000);
    expect(parseDatetimeMicros('2024-01-02T03:04:05.123456+01:00')).toBe(Date.UTC(2024, 0, 2, 2, 4, 5) * 1000 + 123456);
    expect(parseDatetimeMicros('2024-01-02 03:04')).toBe(Date.UTC(2024, 0, 2, 3, 4) * 1000);
    expect(parseDatetimeMicros('2024-01-02')).toBe(Date.UTC(2024, 0, 2) * 1000);
    expect(parseDatetimeMicros('2024-02-30')).toBeNull();
    expect(parseDatetimeMicros('yesterday')).toBeNull();
  });
});
