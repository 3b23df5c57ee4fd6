import { ShoalError, type NamedVectors, type PointOperation } from '@shoal/common';
import { checkDatatypeRange, type SegmentSchema } from '@shoal/segment';

/**
 * Checks what would make an operation fail inside the segment after it is already in the WAL
 * (a vector name the shard does not have, a wrong dimension), or store a value that the vector's
 * datatype turns infinite (float16; the segment converts without checking, so replay cannot
 * fail). The API layer checks names and dimensions too; this is the last line, so a bad record
 * can never reach the log and break replay.
 */
export function validateOperation(op: PointOperation, schema: SegmentSchema): void {
  switch (op.kind) {
    case 'upsert':
    case 'update_vectors':
      for (const point of op.points) checkVectors(point.vectors, schema);
      return;
    case 'delete_vectors':
      for (const name of op.vectorNames) checkName(name, schema);
      return;
    default:
      return;
  }
}

function checkName(name: string, schema: SegmentSchema): void {
  if (!schema.vectors.has(name)) {
    throw new ShoalError('bad_request', `Wrong input: Not existing vector name error: ${name === '' ? '(unnamed)' : name}`);
  }
}

function checkVectors(vectors: NamedVectors, schema: SegmentSchema): void {
  for (const [name, vector] of vectors) {
    const params = schema.vectors.get(name);
    if (params === undefined) checkName(name, schema);
    else if (vector.length !== params.size) {
      throw new ShoalError('bad_request', `Wrong input: Vector dimension error: expected dim: ${params.size}, got ${vector.length}`);
    } else checkDatatypeRange(params, vector, name);
  }
}
