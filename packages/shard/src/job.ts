// One optimization job as data: what the main thread hands over, what comes back, and the pure
// function that does the work. The same function runs in a worker thread (worker.ts) or in the
// calling thread (the deterministic executor of the tests). It never touches files: it returns
// the bytes, and the main thread writes them through the shard's FileSystem.
//
// A 'build' job makes one sealed segment out of the live points of its sources (sealing a frozen
// segment, merging, vacuuming): points are ordered by id, each named vector gets a DenseIndex
// (with an HNSW graph or without), and the points file is encoded. An 'index' job builds new
// DenseIndexes over the rows of one sealed segment in the same order (a graph for a segment that
// had none, or one with another config); its points and tombstones carry over unchanged.
import { assert, comparePointIds, decodeJson, type Payload, type PayloadIndexParams, type PointId } from '@shoal/common';
import {
  buildDenseIndex,
  openDenseIndex,
  type DenseIndex,
  type DenseIndexHandle,
  type DenseIndexParams,
  type DenseSubset,
  payloadSubsets,
} from '@shoal/segment';
import { encodePointsFile } from './points-file.js';

/** A source's rows of one named vector. */
export type SourceVectors =
  /** Rows of the selected points that have the vector, in selection order (a frozen segment's copy). */
  | { readonly kind: 'rows'; readonly rows: Float32Array; readonly present: Uint8Array }
  /** The rows already sit in a sealed segment's index: `ids[j]` is selected point j's row, -1 none. */
  | { readonly kind: 'dense'; readonly handle: DenseIndexHandle; readonly ids: Int32Array };

export interface JobSource {
  /** Points selected from this source (its live points when the job started). */
  readonly count: number;
  /** Lossless JSON slices `[[ids], [payloads]]` of the selected points in order; empty for 'index'. */
  readonly points: readonly { readonly bytes: Uint8Array; readonly hasBigint: boolean }[];
  readonly vectors: ReadonlyMap<string, SourceVectors>;
}

export interface JobVector {
  readonly name: string;
  /** m = 0: rows only, no graph. */
  readonly params: DenseIndexParams;
  /** 'index': the payload values' points that get subset graphs (params.payloadM), as index ids. */
  readonly subsets?: readonly DenseSubset[];
  /** 'build': the smallest payload block that gets a subset graph (points; with payloadIndexes). */
  readonly subsetPointsMin?: number;
}

export interface JobInput {
  readonly kind: 'build' | 'index';
  readonly vectors: readonly JobVector[];
  readonly sources: readonly JobSource[];
  /** 'build': the shard's payload indexes, whose keyword and integer values get subset graphs. */
  readonly payloadIndexes?: readonly { readonly field: string; readonly params: PayloadIndexParams }[];
}

export interface JobVectorOutput {
  readonly name: string;
  readonly handle: DenseIndexHandle;
  /** Per result point: its index id, -1 when it lacks the vector ('build' only; empty for 'index'). */
  readonly idOf: Int32Array;
  /** Per index id: its result point ('build' only). */
  readonly offsetOfId: Uint32Array;
  /** The index as bytes for its file. */
  readonly file: Uint8Array[];
}

export interface JobOutput {
  /** Result point i is selected point indexOf[i] of source sourceOf[i] ('build'; empty for 'index'). */
  readonly sourceOf: Uint16Array;
  readonly indexOf: Uint32Array;
  readonly vectors: readonly JobVectorOutput[];
  /** The points file ('build'), null for 'index'. */
  readonly pointsFile: Uint8Array[] | null;
  /** HNSW graphs built (vectors with m > 0). */
  readonly graphsBuilt: number;
}

export function runJob(input: JobInput): JobOutput {
  return input.kind === 'index' ? runIndexJob(input) : runBuildJob(input);
}

function runIndexJob(input: JobInput): JobOutput {
  assert(input.sources.length === 1, 'an index job reads one segment');
  const source = input.sources[0] as JobSource;
  const vectors = input.vectors.map((vector): JobVectorOutput => {
    const from = source.vectors.get(vector.name);
    assert(from !== undefined && from.kind === 'dense', 'an index job reads a sealed segment');
    const old = openDenseIndex(from.handle);
    const dim = vector.params.dim;
    const rows = new Float32Array(old.count * dim);
    for (let id = 0; id < old.count; id++) rows.set(old.row(id), id * dim);
    const index = buildDenseIndex(rows, old.count, vector.params, { subsets: vector.subsets ?? [] });
    return { name: vector.name, handle: index.handle(), idOf: new Int32Array(0), offsetOfId: new Uint32Array(0), file: index.serialize() };
  });
  return { sourceOf: new Uint16Array(0), indexOf: new Uint32Array(0), vectors, pointsFile: null, graphsBuilt: countGraphs(input) };
}

interface Picked {
  readonly source: number;
  readonly index: number;
  readonly id: PointId;
  readonly payload: Payload;
}

function runBuildJob(input: JobInput): JobOutput {
  const picked = decodeSources(input.sources);
  picked.sort((a, b) => comparePointIds(a.id, b.id));
  for (let i = 1; i < picked.length; i++) {
    assert(comparePointIds((picked[i - 1] as Picked).id, (picked[i] as Picked).id) < 0, 'a point is in one source only');
  }
  const sourceOf = Uint16Array.from(picked, (p) => p.source);
  const indexOf = Uint32Array.from(picked, (p) => p.index);
  const presence = new Map<string, Uint8Array>();
  const vectors = input.vectors.map((vector): JobVectorOutput => {
    const built = buildVector(input.sources, picked, vector, input.payloadIndexes ?? []);
    presence.set(vector.name, built.present);
    return built.output;
  });
  const pointsFile = encodePointsFile({ ids: picked.map((p) => p.id), payloads: picked.map((p) => p.payload), presence });
  return { sourceOf, indexOf, vectors, pointsFile, graphsBuilt: countGraphs(input) };
}

function decodeSources(sources: readonly JobSource[]): Picked[] {
  const picked: Picked[] = [];
  const decoder = new TextDecoder();
  sources.forEach((source, s) => {
    let index = 0;
    for (const slice of source.points) {
      const [ids, payloads] = decodeJson(decoder.decode(slice.bytes), { errorKind: 'storage', hasBigint: slice.hasBigint }) as [PointId[], Payload[]];
      ids.forEach((id, i) => picked.push({ source: s, index: index + i, id, payload: payloads[i] as Payload }));
      index += ids.length;
    }
    assert(index === source.count, 'every selected point was encoded');
  });
  return picked;
}

/** Rows of one vector in result order, its index, and which result points hold it. */
function buildVector(
  sources: readonly JobSource[],
  picked: readonly Picked[],
  vector: JobVector,
  payloadIndexes: NonNullable<JobInput['payloadIndexes']>,
): { output: JobVectorOutput; present: Uint8Array } {
  const dim = vector.params.dim;
  const readers = sources.map((source) => rowReader(source.vectors.get(vector.name), source.count, dim));
  const idOf = new Int32Array(picked.length).fill(-1);
  const offsets: number[] = [];
  const present = new Uint8Array((picked.length + 7) >>> 3);
  let rows = new Float32Array(Math.max(1, picked.length) * dim);
  picked.forEach((p, i) => {
    const row = (readers[p.source] as RowReader)(p.index);
    if (row === null) return;
    idOf[i] = offsets.length;
    rows.set(row, offsets.length * dim);
    offsets.push(i);
    present[i >>> 3] = (present[i >>> 3] as number) | (1 << (i & 7));
  });
  rows = rows.subarray(0, offsets.length * dim);
  const linked = (vector.params.payloadM ?? 0) > 0 && payloadIndexes.length > 0;
  const subsets = linked ? payloadSubsets(picked.map((p) => p.payload), idOf, payloadIndexes, vector.subsetPointsMin ?? 0) : [];
  const index: DenseIndex = buildDenseIndex(rows, offsets.length, vector.params, { subsets });
  const output: JobVectorOutput = {
    name: vector.name,
    handle: index.handle(),
    idOf,
    offsetOfId: Uint32Array.from(offsets),
    file: index.serialize(),
  };
  return { output, present };
}

type RowReader = (selected: number) => Float32Array | null;

function rowReader(vectors: SourceVectors | undefined, count: number, dim: number): RowReader {
  if (vectors === undefined) return () => null;
  if (vectors.kind === 'dense') {
    const index = openDenseIndex(vectors.handle);
    return (selected) => {
      const id = vectors.ids[selected] as number;
      return id < 0 ? null : index.row(id);
    };
  }
  // Row number of each selected point among those present.
  const rowOf = new Int32Array(count).fill(-1);
  let next = 0;
  for (let j = 0; j < count; j++) if ((((vectors.present[j >>> 3] as number) >>> (j & 7)) & 1) === 1) rowOf[j] = next++;
  return (selected) => {
    const row = rowOf[selected] as number;
    return row < 0 ? null : vectors.rows.subarray(row * dim, (row + 1) * dim);
  };
}

function countGraphs(input: JobInput): number {
  return input.vectors.filter((v) => v.params.m > 0).length;
}

/** Buffers to transfer (not copy) when posting an output to another thread. */
export function outputTransferList(output: JobOutput): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (view: ArrayBufferView): void => {
    if (view.buffer instanceof ArrayBuffer && view.byteLength > 0) buffers.add(view.buffer);
  };
  add(output.sourceOf);
  add(output.indexOf);
  for (const chunk of output.pointsFile ?? []) add(chunk);
  for (const vector of output.vectors) {
    add(vector.idOf);
    add(vector.offsetOfId);
    for (const chunk of vector.file) add(chunk);
  }
  return [...buffers];
}
