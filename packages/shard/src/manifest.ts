// What the shard image (segment.img) holds besides the appendable segment: the list of sealed
// segments with their files, and each one's tombstones, all taken in one synchronous step at the
// image's seq. The image container (image.ts) stays as it was; its first part is the manifest:
//   "SHOALMAN" | u32 version | JSON {next, segments: [{number, points, dense: [[name, file]], offsets}], ticks}
// Version 2 adds `ticks`: per (peer, epoch, clock) the highest tick applied at the image's seq, as
// [peer, epoch, clock, tick] arrays (version 1 images have none: an empty map).
// then one tombstone bitset per sealed segment (bit i: offset i deleted), then the appendable
// segment's parts. An image written before sealed segments existed has no manifest part: all its
// parts are the appendable segment.
import { ShoalError } from '@shoal/common';
import type { ClockTag } from './codec.js';

const MAGIC = new TextEncoder().encode('SHOALMAN');
const VERSION = 2;
const VERSION_1 = 1;

export interface ManifestSegment {
  readonly number: number;
  readonly points: string;
  readonly dense: readonly (readonly [string, string])[];
  /** Offsets in the segment (live and tombstoned): the tombstone bitset's length in bits. */
  readonly offsets: number;
}

export interface Manifest {
  /** Next number free for a segment or file. */
  readonly next: number;
  readonly segments: readonly ManifestSegment[];
  /** The applied-ticks map at the image's seq (absent: empty). */
  readonly ticks?: readonly ClockTag[];
}

export interface ManifestImage {
  readonly manifest: Manifest;
  /** Per segment of the manifest, its tombstones. */
  readonly tombstones: readonly Uint8Array[];
  readonly appendable: Uint8Array[];
}

export function encodeManifestParts(manifest: Manifest, tombstones: readonly Uint8Array[], appendable: readonly Uint8Array[]): Uint8Array[] {
  const ticks = (manifest.ticks ?? []).map((t) => [t.peer, t.epoch, t.clock, t.tick]);
  const json = new TextEncoder().encode(JSON.stringify({ next: manifest.next, segments: manifest.segments, ticks }));
  const head = new Uint8Array(MAGIC.length + 4 + json.length);
  head.set(MAGIC, 0);
  new DataView(head.buffer).setUint32(MAGIC.length, VERSION, true);
  head.set(json, MAGIC.length + 4);
  return [head, ...tombstones, ...appendable];
}

export function decodeManifestParts(parts: Uint8Array[], path: string): ManifestImage {
  const first = parts[0];
  if (first === undefined || first.length < MAGIC.length + 4 || !MAGIC.every((b, i) => first[i] === b)) {
    return { manifest: { next: 1, segments: [] }, tombstones: [], appendable: parts };
  }
  const version = new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(MAGIC.length, true);
  if (version !== VERSION && version !== VERSION_1) throw new ShoalError('storage', `shard image ${path}: unknown manifest version ${version}`);
  const raw = JSON.parse(new TextDecoder().decode(first.subarray(MAGIC.length + 4))) as { next: number; segments: ManifestSegment[]; ticks?: unknown };
  const manifest: Manifest = { next: raw.next, segments: raw.segments, ticks: version === VERSION_1 ? [] : ticksFromJson(raw.ticks, path) };
  const count = manifest.segments.length;
  if (parts.length < 1 + count) throw new ShoalError('storage', `shard image ${path}: tombstones of ${count} segments missing`);
  const tombstones = parts.slice(1, 1 + count);
  manifest.segments.forEach((segment, i) => {
    if ((tombstones[i] as Uint8Array).length !== (segment.offsets + 7) >>> 3) {
      throw new ShoalError('storage', `shard image ${path}: tombstones of segment ${segment.number} have the wrong length`);
    }
  });
  return { manifest, tombstones, appendable: parts.slice(1 + count) };
}

function ticksFromJson(value: unknown, path: string): ClockTag[] {
  const bad = (): ShoalError => new ShoalError('storage', `shard image ${path}: malformed applied ticks`);
  if (!Array.isArray(value)) throw bad();
  return value.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 4 || !entry.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) throw bad();
    const [peer, epoch, clock, tick] = entry as [number, number, number, number];
    return { peer, epoch, clock, tick };
  });
}
