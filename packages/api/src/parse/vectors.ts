// Vectors of points checked against the collection's vector spaces: dimension, names, element
// types. Qdrant's wording: "Wrong input: Vector dimension error: expected dim: X, got Y" and
// "Wrong input: Not existing vector name error: NAME".
import { DEFAULT_VECTOR_NAME, ShoalError, type NamedVectors, type VectorParams } from '@shoal/common';
import { asArray, asObject, formatError, isObject, join, typeError, unsupported } from './read.js';

export type VectorSpaces = ReadonlyMap<string, VectorParams>;

export function vectorNameError(name: string): ShoalError {
  return new ShoalError('bad_request', `Wrong input: Not existing vector name error: ${name}`);
}

export function dimensionError(expected: number, got: number): ShoalError {
  return new ShoalError('bad_request', `Wrong input: Vector dimension error: expected dim: ${expected}, got ${got}`);
}

/** The params of a vector name, or 400 when the collection has no such vector. */
export function spaceOf(spaces: VectorSpaces, name: string): VectorParams {
  const params = spaces.get(name);
  if (params === undefined) throw vectorNameError(name);
  return params;
}

/** Rejects the vector shapes this node does not store yet (sparse, multi, inference objects). */
function rejectOtherShapes(value: unknown, path: string): void {
  if (Array.isArray(value) && value.length > 0 && Array.isArray(value[0])) throw unsupported(`${path}: multivectors`);
  if (isObject(value)) {
    if ('indices' in value && 'values' in value) throw unsupported(`${path}: sparse vectors`);
    if ('model' in value && ('text' in value || 'image' in value || 'object' in value)) throw unsupported(`${path}: inference (documents, images, objects)`);
  }
}

/** A dense vector of exactly `size` finite float32 values. */
export function parseDenseVector(value: unknown, path: string, size: number): Float32Array {
  rejectOtherShapes(value, path);
  if (!Array.isArray(value)) throw typeError(path, value, 'a sequence of numbers');
  if (value.length !== size) throw dimensionError(size, value.length);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const x: unknown = value[i];
    if (typeof x !== 'number') throw typeError(join(path, i), x, 'f32');
    out[i] = x;
    // A finite double can still overflow float32 (e.g. 1e39).
    if (!Number.isFinite(out[i])) throw formatError(join(path, i), `value ${x} is out of range for f32`);
  }
  return out;
}

/** A point's `vector`: an array for the unnamed vector, or a map name -> array. */
export function parseVectorStruct(value: unknown, path: string, spaces: VectorSpaces): NamedVectors {
  const out: NamedVectors = new Map();
  rejectOtherShapes(value, path);
  if (Array.isArray(value)) {
    const params = spaceOf(spaces, DEFAULT_VECTOR_NAME);
    out.set(DEFAULT_VECTOR_NAME, parseDenseVector(value, path, params.size));
    return out;
  }
  const o = asObject(value, path);
  for (const name of Object.keys(o)) {
    const params = spaceOf(spaces, name);
    out.set(name, parseDenseVector(o[name], join(path, name), params.size));
  }
  return out;
}

/** `batch.vectors`: a list of arrays (unnamed) or a map name -> list of arrays; one per id. */
export function parseBatchVectors(value: unknown, path: string, spaces: VectorSpaces, count: number, lengthMax: number): NamedVectors[] {
  const out: NamedVectors[] = Array.from({ length: count }, () => new Map());
  if (Array.isArray(value)) {
    const params = spaceOf(spaces, DEFAULT_VECTOR_NAME);
    const list = asArray(value, path, lengthMax);
    if (list.length !== count) throw batchLengthError(path, count, list.length);
    list.forEach((v, i) => (out[i] as NamedVectors).set(DEFAULT_VECTOR_NAME, parseDenseVector(v, join(path, i), params.size)));
    return out;
  }
  const o = asObject(value, path);
  for (const name of Object.keys(o)) {
    const params = spaceOf(spaces, name);
    const p = join(path, name);
    const list = asArray(o[name], p, lengthMax);
    if (list.length !== count) throw batchLengthError(p, count, list.length);
    list.forEach((v, i) => (out[i] as NamedVectors).set(name, parseDenseVector(v, join(p, i), params.size)));
  }
  return out;
}

function batchLengthError(path: string, ids: number, vectors: number): ShoalError {
  return new ShoalError('validation', `Validation error in JSON body: [${path}: number of vectors (${vectors}) must equal the number of ids (${ids})]`);
}
