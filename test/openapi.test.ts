import { describe, expect, it } from 'vitest';
import { matchSpecPath, validateResponse, validateSchema } from './openapi.js';

describe('validateResponse', () => {
  it('matches literal paths before templated ones', () => {
    expect(matchSpecPath('POST', '/collections/aliases')).toBe('/collections/aliases');
    expect(matchSpecPath('GET', '/collections/abc')).toBe('/collections/{collection_name}');
    expect(matchSpecPath('GET', '/collections/abc/points/7')).toBe('/collections/{collection_name}/points/{id}');
    expect(matchSpecPath('POST', '/collections/abc/points/search')).toBeNull();
  });

  it('accepts a valid scroll response and rejects a wrong one', () => {
    const ok = { result: { points: [{ id: 1, payload: null, vector: [0.5, 1] }], next_page_offset: null }, status: 'ok', time: 0.001 };
    expect(() => validateResponse('POST', '/collections/c/points/scroll', 200, ok)).not.toThrow();
    const bad = { result: { points: [{ id: -1 }], next_page_offset: 'x' }, status: 'ok', time: 0 };
    expect(() => validateResponse('POST', '/collections/c/points/scroll', 200, bad)).toThrow(/does not match/);
  });

  it('validates error envelopes and big integer ids', () => {
    expect(() => validateResponse('GET', '/collections/c', 404, { status: { error: 'Not found' }, time: 0 })).not.toThrow();
    expect(() => validateSchema('Record', { id: 18446744073709551615n, payload: { n: 2n ** 60n } })).not.toThrow();
  });

  it('refuses operations the spec does not have', () => {
    expect(() => validateResponse('POST', '/collections/c/points/search', 200, {})).toThrow(/not an operation/);
  });
});
