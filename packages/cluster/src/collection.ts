// One collection on this node: checks writes against its config, splits them by shard, and
// merges the shards' answers.
import {
  badRequest,
  comparePointIds,
  pointKey,
  type Distance,
  type PointId,
  type PointOperation,
  type PointsSelector,
  type Record_,
  type ScoredPoint,
  type NamedVectors,
} from '@shoal/common';
import type { CollectionMeta } from '@shoal/meta';
import { parseJsonPath, type ApplyResult } from '@shoal/segment';
import type { ReplicaSet } from './replica-set.js';
import { shardForId } from './routing.js';

export class Collection {
  constructor(
    public meta: CollectionMeta,
    readonly shards: readonly ReplicaSet[],
    /** Directory of this collection's incarnation. */
    readonly dir: string,
  ) {}

  get name(): string {
    return this.meta.name;
  }

  distanceOf(vectorName: string): Distance {
    const params = this.meta.config.vectors.get(vectorName);
    if (params === undefined) throw notExistingVector(vectorName);
    return params.distance;
  }

  /**
   * Everything that could make applying `op` fail must be refused here, before the WAL: vector
   * names and sizes against the config (the API layer cannot know them), and key paths. A record
   * in the WAL must apply on every replay.
   */
  checkOperation(op: PointOperation): void {
    switch (op.kind) {
      case 'set_payload':
        if (op.key !== null) parseJsonPath(op.key);
        return;
      case 'delete_payload':
        for (const key of op.keys) parseJsonPath(key);
        return;
      case 'create_field_index':
      case 'delete_field_index':
        parseJsonPath(op.field);
        return;
      case 'upsert':
        for (const point of op.points) this.checkVectors(point.vectors);
        return;
      case 'update_vectors':
        for (const point of op.points) this.checkVectors(point.vectors);
        return;
      case 'delete_vectors':
        for (const name of op.vectorNames) this.distanceOf(name);
        return;
      default:
        return;
    }
  }

  checkVectors(vectors: NamedVectors): void {
    for (const [name, vector] of vectors) {
      const params = this.meta.config.vectors.get(name);
      if (params === undefined) throw notExistingVector(name);
      if (vector.length !== params.size) {
        throw badRequest(`Wrong input: Vector dimension error: expected dim: ${params.size}, got ${vector.length}`);
      }
    }
  }

  /** Split an operation into one part per shard that it touches. */
  split(op: PointOperation): Map<number, PointOperation> {
    const count = this.shards.length;
    const parts = new Map<number, PointOperation>();
    if (count === 1) return parts.set(0, op);
    switch (op.kind) {
      case 'upsert':
        for (const [shard, points] of groupBy(op.points, (p) => shardForId(p.id, count))) parts.set(shard, { ...op, points });
        return parts;
      case 'update_vectors':
        for (const [shard, points] of groupBy(op.points, (p) => shardForId(p.id, count))) parts.set(shard, { ...op, points });
        return parts;
      case 'create_field_index':
      case 'delete_field_index':
        for (let shard = 0; shard < count; shard++) parts.set(shard, op);
        return parts;
      default:
        for (const [shard, selector] of splitSelector(op.selector, count)) parts.set(shard, { ...op, selector });
        return parts;
    }
  }

  async update(op: PointOperation): Promise<ApplyResult> {
    this.checkOperation(op);
    const parts = [...this.split(op)];
    const results = await Promise.all(parts.map(([shard, part]) => this.shards[shard]!.update(part)));
    const missing = results.flatMap((r) => (r.ok ? [] : r.missing));
    return missing.length === 0 ? { ok: true } : { ok: false, missing };
  }
}

function notExistingVector(name: string): Error {
  return badRequest(`Wrong input: Not existing vector name error: ${name}`);
}

function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

function splitSelector(selector: PointsSelector, count: number): Map<number, PointsSelector> {
  const parts = new Map<number, PointsSelector>();
  if (selector.kind === 'filter') {
    for (let shard = 0; shard < count; shard++) parts.set(shard, selector);
    return parts;
  }
  for (const [shard, ids] of groupBy(selector.ids, (id) => shardForId(id, count))) parts.set(shard, { kind: 'ids', ids });
  return parts;
}

/** Best first: higher scores for similarities, lower for distances. */
export function scoreOrder(distance: Distance): (a: ScoredPoint, b: ScoredPoint) => number {
  const ascending = distance === 'Euclid' || distance === 'Manhattan';
  return ascending
    ? (a, b) => a.score - b.score || comparePointIds(a.id, b.id)
    : (a, b) => b.score - a.score || comparePointIds(a.id, b.id);
}

/** Merge per-shard top-k lists into the global page [offset, offset + limit). */
export function mergeTopK(
  lists: readonly (readonly ScoredPoint[])[],
  distance: Distance,
  offset: number,
  limit: number,
): ScoredPoint[] {
  if (lists.length === 1) return lists[0]!.slice(offset, offset + limit);
  const seen = new Set<number | string>();
  const merged: ScoredPoint[] = [];
  for (const point of lists.flat().sort(scoreOrder(distance))) {
    const key = pointKey(point.id);
    if (seen.has(key)) continue;
    seen.add(key);
    merged.push(point);
  }
  return merged.slice(offset, offset + limit);
}

/** Records from several shards in the order of the requested ids, each once. */
export function orderRecords(ids: readonly PointId[], records: readonly Record_[]): Record_[] {
  const byKey = new Map(records.map((r) => [pointKey(r.id), r]));
  const out: Record_[] = [];
  const seen = new Set<number | string>();
  for (const id of ids) {
    const key = pointKey(id);
    const record = byKey.get(key);
    if (record !== undefined && !seen.has(key)) {
      seen.add(key);
      out.push(record);
    }
  }
  return out;
}
