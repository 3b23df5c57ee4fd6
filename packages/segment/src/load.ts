// Creating segments: empty, or from an image written by Segment.serialize.
import { ShoalError } from '@shoal/common';
import type { SegmentSchema } from './contract.js';
import { decodeImage } from './image.js';
import { Segment } from './segment.js';
import type { SegmentOptions } from './segment.js';

export function createSegment(schema: SegmentSchema, options: SegmentOptions = {}): Segment {
  return new Segment(schema, options);
}

/** Rebuild a segment from its image (the chunks serialize() returned, or them concatenated); the image must describe the same vector spaces as `schema`. */
export function loadSegment(schema: SegmentSchema, chunks: Uint8Array[] | Uint8Array, options: SegmentOptions = {}): Segment {
  const image = decodeImage(chunks instanceof Uint8Array ? [chunks] : chunks);
  checkSchema(schema, image.vectors);
  const segment = new Segment(schema, options);
  const offsets = new Map<string, number>(image.vectors.map((v) => [v.name, 0]));
  image.ids.forEach((id, i) => {
    const rows = new Map<string, Float32Array>();
    for (const v of image.vectors) {
      if (v.present[i] !== 1) continue;
      const row = offsets.get(v.name) ?? 0;
      rows.set(v.name, v.data.subarray(row * v.size, (row + 1) * v.size));
      offsets.set(v.name, row + 1);
    }
    segment.restorePoint(id, rows, image.payloads[i] ?? {});
  });
  for (const { field, params } of image.indexes) segment.restoreIndex(field, params);
  return segment;
}

function checkSchema(schema: SegmentSchema, vectors: readonly { name: string; size: number; distance: string }[]): void {
  const same =
    vectors.length === schema.vectors.size &&
    vectors.every((v) => {
      const params = schema.vectors.get(v.name);
      return params !== undefined && params.size === v.size && params.distance === v.distance;
    });
  if (!same) throw new ShoalError('storage', 'segment image does not match the collection vector configuration');
}
