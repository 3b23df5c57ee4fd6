import { describe, expect, it } from 'vitest';
import { crc32c, encodeJson } from '@shoal/common';
import type { Payload, PointId, PointStruct } from '@shoal/common';
import { createSegment, loadSegment } from './load.js';
import type { Segment } from './segment.js';
import { int, point, rng, schemaOf, space } from './test-support.js';

const ALL = { kind: 'all' } as const;
const DIM = 128;
const schema = schemaOf({ '': space(DIM, 'Cosine'), e: space(4, 'Euclid') });

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Index of the first byte where a and b differ (the shorter length when one is a prefix), or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** The JSON text of [ids, payloads] in an image: after magic, version and the header. */
function pointsText(image: Uint8Array): string {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const headerLength = Number(view.getBigUint64(12, true));
  const at = 20 + headerLength;
  const length = Number(view.getBigUint64(at, true));
  return new TextDecoder().decode(image.subarray(at + 8, at + 8 + length));
}

function randomPoint(r: () => number, id: PointId, i: number): PointStruct {
  const payloads: Payload[] = [
    { i, tag: `t${i % 7}`, text: `é ✓ 𝄞 "quoted" \\ ${i}`.repeat(1 + (i % 3)) },
    { big: 2n ** 63n + BigInt(i), neg: -0, float: 1e20, nested: { list: [1, 2.5, null, true, { deep: `x${i}` }] } },
    { i, when: '2024-01-02T03:04:05Z', many: Array.from({ length: i % 20 }, (_, k) => k * 1.5) },
  ];
  const p = point(id, Array.from({ length: DIM }, () => r() - 0.5), i % 11 === 0 ? null : (payloads[i % 3] as Payload));
  if (i % 4 === 0) p.vectors.set('e', Float32Array.from([r(), r(), r(), r()]));
  if (i % 13 === 0) p.vectors.delete('');
  return p;
}

function filled(count: number, seed: number): Segment {
  const r = rng(seed);
  const s = createSegment(schema);
  for (let i = 0; i < count; i++) {
    const roll = r();
    const id: PointId = roll < 0.8 ? i : roll < 0.9 ? 2n ** 62n + BigInt(i) : `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    s.apply({ kind: 'upsert', points: [randomPoint(r, id, i)] });
  }
  // Dead offsets between live ones: the rows are copied in several runs.
  s.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: Array.from({ length: 50 }, (_, k) => k * 37) } });
  return s;
}

describe('segment image encoded in steps', () => {
  it('is byte for byte the image encoded at once, with the points JSON of the one-piece encoder', async () => {
    const s = filled(8000, 1);
    const whole = concat(s.serialize());
    let pauses = 0;
    const encoded = await s.captureImage().encode(async () => {
      pauses++;
    });
    const stepped = concat(encoded.chunks);
    expect(pauses).toBeGreaterThan(5);
    expect(encoded.crc).toBe(crc32c(whole));
    expect(firstDifference(stepped, whole)).toBe(-1);
    const records = s.scroll({ filter: null, offset: null, limit: 10_000, withPayload: ALL, withVector: false }).points;
    const decoded = loadSegment(schema, [stepped]);
    const sample = records.filter((_, k) => k % 16 === 0).map((p) => p.id);
    expect(decoded.retrieve(sample, ALL, true)).toEqual(s.retrieve(sample, ALL, true));
    const text = pointsText(stepped);
    expect(text).toBe(encodeJson([imageIds(s), imagePayloads(s)]).text);
  });

  for (const writeAt of [0, 3, 9, 14, Number.POSITIVE_INFINITY]) {
    it(`stays the segment as of the capture while writes apply between steps (overwrites from pause ${writeAt})`, async () => {
      const s = filled(8000, 2);
      const expected = concat(s.serialize());
      const capture = s.captureImage();
      const r = rng(3);
      let pause = 0;
      let next = 10_000;
      const { chunks } = await capture.encode(async () => {
        // New points every step; from pause `writeAt` on, also changes to captured points.
        s.apply({ kind: 'upsert', points: [randomPoint(r, next, next)] });
        next++;
        if (pause >= writeAt) {
          const victim = int(r, 100, 7998);
          s.apply({ kind: 'upsert', points: [randomPoint(r, victim, victim + 1)] });
          s.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: [victim + 1] } });
          s.apply({ kind: 'update_vectors', points: [{ id: victim, vectors: new Map([['e', Float32Array.from([9, 9, 9, 9])]]) }] });
          s.apply({ kind: 'set_payload', selector: { kind: 'ids', ids: [victim] }, payload: { changed: true }, key: null });
        }
        if (pause === writeAt + 2) {
          // Most points gone: the segment compacts, moving rows to new stores.
          s.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: Array.from({ length: 7000 }, (_, k) => k) } });
        }
        pause++;
      });
      const got = concat(chunks);
      expect(pause).toBeGreaterThan(5);
      expect(firstDifference(got, expected)).toBe(-1);
      expect(firstDifference(concat(s.serialize()), expected)).not.toBe(-1);
    });
  }
});

function imageIds(s: Segment): PointId[] {
  return s.liveOffsets().map((o) => s.idAt(o));
}

function imagePayloads(s: Segment): Payload[] {
  return s.liveOffsets().map((o) => s.payloadAt(o));
}
