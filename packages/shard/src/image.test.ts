import { describe, expect, it } from 'vitest';
import { crc32c, seededRng } from '@shoal/common';
import { decodeImage, encodeImage } from './image.js';

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function crcOf(parts: readonly Uint8Array[]): number {
  let crc = 0;
  for (const part of parts) crc = crc32c(part, 0, part.length, crc);
  return crc;
}

describe('shard image', () => {
  const rng = seededRng(5);
  const part = (length: number): Uint8Array => Uint8Array.from({ length }, () => Math.floor(rng.next() * 256));
  const parts = [part(40), part(0), part(3), part(2_500_000), part(1), part(1_100_000), part(17)];

  it('is the same file whether the CRC of trailing parts is given or computed', async () => {
    const plain = concat(await encodeImage(42, parts));
    for (const from of [0, 1, 3, 4, parts.length - 1, parts.length]) {
      const known = { from, crc: crcOf(parts.slice(from)) };
      expect(Buffer.compare(concat(await encodeImage(42, parts, known)), plain)).toBe(0);
    }
    const decoded = decodeImage(plain, 'image');
    expect(decoded.seq).toBe(42);
    expect(decoded.parts.map((p) => p.length)).toEqual(parts.map((p) => p.length));
    decoded.parts.forEach((p, i) => expect(Buffer.compare(p, parts[i] as Uint8Array)).toBe(0));
  });

  it('fails to load when a given CRC does not match the bytes', async () => {
    const wrong = concat(await encodeImage(7, parts, { from: 3, crc: (crcOf(parts.slice(3)) ^ 1) >>> 0 }));
    expect(() => decodeImage(wrong, 'image')).toThrow(/CRC mismatch/);
  });
});
