import { describe, expect, it } from 'vitest';
import { parseDatetimeMicros } from './datetime.js';

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
