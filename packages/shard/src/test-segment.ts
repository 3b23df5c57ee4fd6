// A small Map-based segment for the shard's storage tests only (not exported from the
// package): it implements the parts of SegmentContract that storage needs (point writes,
// payload operations by ids, retrieve, scroll, count) plainly; everything else is unsupported.
import {
  ShoalError,
  comparePointIds,
  decodeJson,
  encodeJson,
  pointKey,
  type FacetHit,
  type Filter,
  type NamedVectors,
  type Payload,
  type PointId,
  type PointKey,
  type PointOperation,
  type PointsSelector,
  type Record_,
  type ScoredPoint,
  type WithPayload,
  type WithVector,
} from '@shoal/common';
import type {
  ApplyResult,
  OrderedRecord,
  PayloadIndexInfo,
  ScrollPage,
  ScrollParams,
  SegmentContract,
  SegmentSchema,
  SegmentStats,
} from '@shoal/segment';
import type { SegmentFactory } from './shard.js';

interface StoredPoint {
  readonly id: PointId;
  vectors: NamedVectors;
  payload: Payload;
}

const unsupported = (what: string): never => {
  throw new ShoalError('unsupported', `test segment: ${what}`);
};

export class TestSegment implements SegmentContract {
  readonly points = new Map<PointKey, StoredPoint>();
  readonly indexes = new Map<string, PayloadIndexInfo>();

  constructor(readonly schema: SegmentSchema) {}

  private ids(selector: PointsSelector): readonly PointId[] {
    return selector.kind === 'ids' ? selector.ids : unsupported('filter selectors');
  }

  /** The stored points among `ids`, or the missing ids (then nothing may change). */
  private existing(selector: PointsSelector): StoredPoint[] | { missing: PointId[] } {
    const found: StoredPoint[] = [];
    const missing: PointId[] = [];
    for (const id of this.ids(selector)) {
      const point = this.points.get(pointKey(id));
      if (point === undefined) missing.push(id);
      else found.push(point);
    }
    return missing.length > 0 ? { missing } : found;
  }

  apply(op: PointOperation): ApplyResult {
    switch (op.kind) {
      case 'upsert':
        for (const p of op.points) {
          this.points.set(pointKey(p.id), { id: p.id, vectors: new Map(p.vectors), payload: { ...(p.payload ?? {}) } });
        }
        return { ok: true };
      case 'delete_points':
        for (const id of this.ids(op.selector)) this.points.delete(pointKey(id));
        return { ok: true };
      case 'create_field_index':
        this.indexes.set(op.field, { params: op.params, points: 0 });
        return { ok: true };
      case 'delete_field_index':
        this.indexes.delete(op.field);
        return { ok: true };
      case 'update_vectors':
        return this.updateVectors(op.points);
      default:
        return this.applyToExisting(op);
    }
  }

  private updateVectors(points: readonly { id: PointId; vectors: NamedVectors }[]): ApplyResult {
    const missing = points.filter((p) => !this.points.has(pointKey(p.id))).map((p) => p.id);
    if (missing.length > 0) return { ok: false, missing };
    for (const p of points) {
      const stored = this.points.get(pointKey(p.id)) as StoredPoint;
      for (const [name, vector] of p.vectors) stored.vectors.set(name, vector);
    }
    return { ok: true };
  }

  private applyToExisting(op: Exclude<PointOperation, { kind: 'upsert' | 'delete_points' | 'update_vectors' | 'create_field_index' | 'delete_field_index' }>): ApplyResult {
    const found = this.existing(op.selector);
    if (!Array.isArray(found)) return { ok: false, missing: found.missing };
    for (const point of found) {
      switch (op.kind) {
        case 'set_payload':
          if (op.key !== null) unsupported('set_payload with a key');
          point.payload = { ...point.payload, ...op.payload };
          break;
        case 'overwrite_payload':
          point.payload = { ...op.payload };
          break;
        case 'delete_payload':
          point.payload = { ...point.payload };
          for (const key of op.keys) delete point.payload[key];
          break;
        case 'clear_payload':
          point.payload = {};
          break;
        case 'delete_vectors':
          for (const name of op.vectorNames) point.vectors.delete(name);
          break;
      }
    }
    return { ok: true };
  }

  has(id: PointId): boolean {
    return this.points.has(pointKey(id));
  }

  private record(point: StoredPoint, withPayload: WithPayload, withVector: WithVector): Record_ {
    if (withPayload.kind !== 'all' && withPayload.kind !== 'none') unsupported('payload selectors');
    const vectors = withVector === false ? null : new Map([...point.vectors].filter(([name]) => withVector === true || withVector.includes(name)));
    return { id: point.id, payload: withPayload.kind === 'all' ? point.payload : null, vectors };
  }

  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[] {
    return ids.flatMap((id) => {
      const point = this.points.get(pointKey(id));
      return point === undefined ? [] : [this.record(point, withPayload, withVector)];
    });
  }

  scroll(params: ScrollParams): ScrollPage {
    if (params.filter !== null) unsupported('filters');
    const sorted = [...this.points.values()].sort((a, b) => comparePointIds(a.id, b.id));
    const from = params.offset === null ? sorted : sorted.filter((p) => comparePointIds(p.id, params.offset as PointId) >= 0);
    const page = from.slice(0, params.limit);
    return {
      points: page.map((p) => this.record(p, params.withPayload, params.withVector)),
      nextOffset: from[params.limit]?.id ?? null,
    };
  }

  count(filter: Filter | null): number {
    return filter === null ? this.points.size : unsupported('filters');
  }

  search(): ScoredPoint[] {
    return unsupported('search');
  }
  scrollOrdered(): OrderedRecord[] {
    return unsupported('order_by');
  }
  facet(): FacetHit[] {
    return unsupported('facet');
  }
  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo> {
    return this.indexes;
  }
  stats(): SegmentStats {
    return { points: this.points.size, vectors: new Map(), payloadBytesApprox: 0, vectorBytes: 0 };
  }

  serialize(): Uint8Array[] {
    const points = [...this.points.values()].map((p) => ({
      id: p.id,
      payload: p.payload,
      vectors: [...p.vectors].map(([name, v]) => [name, Array.from(v)]),
    }));
    const text = encodeJson({ points, indexes: [...this.indexes] }).text;
    return [new TextEncoder().encode(text)];
  }

  static load(schema: SegmentSchema, bytes: Uint8Array[] | Uint8Array): TestSegment {
    const part = Array.isArray(bytes) ? bytes[0] : bytes;
    const data = decodeJson(new TextDecoder().decode(part), { errorKind: 'storage' }) as {
      points: { id: PointId; payload: Payload; vectors: [string, number[]][] }[];
      indexes: [string, PayloadIndexInfo][];
    };
    const segment = new TestSegment(schema);
    for (const p of data.points) {
      const vectors: NamedVectors = new Map(p.vectors.map(([name, v]) => [name, Float32Array.from(v)]));
      segment.points.set(pointKey(p.id), { id: p.id, payload: p.payload, vectors });
    }
    for (const [field, info] of data.indexes) segment.indexes.set(field, info);
    return segment;
  }
}

export const testSegmentFactory: SegmentFactory = {
  createSegment: (schema) => new TestSegment(schema),
  loadSegment: (schema, bytes) => TestSegment.load(schema, bytes),
};
