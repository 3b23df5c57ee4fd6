// Opening a sealed segment from its files: the points file, and one DenseIndex file per named
// vector, loaded as they were written (graphs included: nothing is rebuilt). The payload indexes
// are the shard's definitions, built here; the tombstones are the image's.
import { ShoalError, type FileSystem, type PayloadIndexParams, type PointId } from '@shoal/common';
import { DenseSpace, Segment, loadDenseIndex, type SegmentOptions, type SegmentSchema } from '@shoal/segment';
import type { ManifestSegment } from './manifest.js';
import { decodePointsFile } from './points-file.js';
import type { SetEntry } from './segment-set.js';

export async function loadSealedSegment(
  fs: FileSystem,
  segmentsDir: string,
  schema: SegmentSchema,
  options: SegmentOptions,
  described: ManifestSegment,
  tombstones: Uint8Array,
  indexes: readonly { field: string; params: PayloadIndexParams }[],
): Promise<SetEntry> {
  const pointsPath = `${segmentsDir}/${described.points}`;
  const content = decodePointsFile(await readRequired(fs, pointsPath), pointsPath);
  if (content.ids.length !== described.offsets) {
    throw new ShoalError('storage', `segment ${described.number}: ${content.ids.length} points, the image says ${described.offsets}`);
  }
  const dense = new Map(described.dense);
  const spaces = new Map<string, DenseSpace>();
  for (const [name, params] of schema.vectors) {
    const file = dense.get(name);
    const presence = content.presence.get(name);
    if (file === undefined || presence === undefined) {
      throw new ShoalError('storage', `segment ${described.number} lacks vector ${JSON.stringify(name)} of the collection`);
    }
    const path = `${segmentsDir}/${file}`;
    let index;
    try {
      index = loadDenseIndex(await readRequired(fs, path));
    } catch (error) {
      throw new ShoalError('storage', `dense index ${path} could not be loaded: ${String(error)}`, { cause: error });
    }
    const { idOf, offsetOfId } = mapping(presence, content.ids.length);
    if (index.count !== offsetOfId.length || index.params.dim !== params.size) {
      throw new ShoalError('storage', `dense index ${path} does not match segment ${described.number}`);
    }
    spaces.set(name, new DenseSpace(params, index, idOf, offsetOfId));
  }
  const segment = Segment.sealed(schema, spaces, options);
  content.ids.forEach((id, i) => segment.appendSealedPoint(id, content.payloads[i] ?? {}));
  for (const { field, params } of indexes) segment.apply({ kind: 'create_field_index', field, params });
  const dead: PointId[] = [];
  for (let offset = 0; offset < described.offsets; offset++) {
    if ((((tombstones[offset >>> 3] as number) >>> (offset & 7)) & 1) === 1) dead.push(content.ids[offset] as PointId);
  }
  if (dead.length > 0) segment.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: dead } });
  return { number: described.number, segment, state: 'sealed', files: { points: described.points, dense }, recorders: new Set(), busy: false };
}

/** Index ids from a presence bitset: the points that hold the vector, numbered in order. */
function mapping(presence: Uint8Array, count: number): { idOf: Int32Array; offsetOfId: Uint32Array } {
  const idOf = new Int32Array(count).fill(-1);
  const offsets: number[] = [];
  for (let offset = 0; offset < count; offset++) {
    if ((((presence[offset >>> 3] as number) >>> (offset & 7)) & 1) === 0) continue;
    idOf[offset] = offsets.length;
    offsets.push(offset);
  }
  return { idOf, offsetOfId: Uint32Array.from(offsets) };
}

async function readRequired(fs: FileSystem, path: string): Promise<Uint8Array> {
  const bytes = await fs.readFile(path);
  if (bytes === null) throw new ShoalError('storage', `segment file ${path} is missing`);
  return bytes;
}

/** Tombstones of a segment as a bitset over its offsets, for the image. */
export function tombstoneBits(segment: Segment): Uint8Array {
  const count = segment.offsetCount;
  const bits = new Uint8Array((count + 7) >>> 3);
  for (let offset = 0; offset < count; offset++) {
    if (!segment.isLive(offset)) bits[offset >>> 3] = (bits[offset >>> 3] as number) | (1 << (offset & 7));
  }
  return bits;
}
