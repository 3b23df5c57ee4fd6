import { describe, expect, it } from 'vitest';
import { crc32c, crc32cCombine } from './crc32c.js';
import { seededRng } from './rng.js';

/** One bit at a time, straight from the definition (reflected polynomial 0x82F63B78). */
function reference(data: Uint8Array, start = 0, end = data.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) {
    c ^= data[i] as number;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('gives the check values of RFC 3720 (iSCSI) and the usual "123456789"', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('matches the bitwise definition for any range, alignment, length and continuation', () => {
    const rng = seededRng(7);
    const int = (n: number): number => Math.floor(rng.next() * n);
    const backing = new Uint8Array(70_000);
    for (let i = 0; i < backing.length; i++) backing[i] = int(256);
    const shared = new Uint8Array(new SharedArrayBuffer(backing.length));
    shared.set(backing);
    for (let trial = 0; trial < 400; trial++) {
      // A view starting at any byte offset (the word loop aligns to the buffer, not the view).
      const base = int(8);
      const source = trial % 5 === 0 ? shared : backing;
      const view = source.subarray(base, base + 1 + int(trial < 300 ? 3000 : 69_000));
      const start = int(Math.min(view.length, 40));
      const end = start + int(view.length - start + 1);
      const seed = int(2) === 0 ? 0 : int(2 ** 32);
      expect(crc32c(view, start, end, seed)).toBe(reference(view, start, end, seed));
      // Split anywhere, continued: the same as one call.
      const cut = start + int(end - start + 1);
      expect(crc32c(view, cut, end, crc32c(view, start, cut, seed))).toBe(crc32c(view, start, end, seed));
    }
  });
});

describe('crc32cCombine', () => {
  it('is the CRC of the concatenation, for any split and lengths up to megabytes', () => {
    const rng = seededRng(11);
    const int = (n: number): number => Math.floor(rng.next() * n);
    const bytes = Uint8Array.from({ length: 3 << 20 }, () => int(256));
    const cases: [number, number][] = [[0, 0], [0, 1], [5, 5], [0, bytes.length], [1, bytes.length], [bytes.length, bytes.length]];
    for (let trial = 0; trial < 60; trial++) {
      const start = int(1000);
      const end = start + int(trial < 40 ? 5000 : bytes.length - start);
      cases.push([start, end]);
    }
    for (const [start, end] of cases) {
      const cut = start + int(end - start + 1);
      const whole = crc32c(bytes, start, end);
      expect(crc32cCombine(crc32c(bytes, start, cut), crc32c(bytes, cut, end), end - cut)).toBe(whole);
    }
  });
});
