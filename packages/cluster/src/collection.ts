// One collection on this node: checks writes against its config, routes them to shards (by the
// collection's routing scheme, within the shard keys a request names), holds this node's local
// replicas and one replica set per shard, and merges the shards' answers.
import {
  badRequest,
  comparePointIds,
  pointKey,
  ShoalError,
  type Distance,
  type PointId,
  type PointOperation,
  type PointsSelector,
  type Record_,
  type ScoredPoint,
  type NamedVectors,
} from '@shoal/common';
import { formatShardKey, sameShardKey, type CollectionMeta, type ShardKey } from '@shoal/meta';
import { parseJsonPath } from '@shoal/segment';
import type { ShardKeySelector } from './contract.js';
import type { ReplicaAdapter } from './replica-adapter.js';
import type { Replica, ReplicaSet } from './replica-set.js';
import { shardRouter, type ShardRouter } from './routing.js';

/** The shards a request addresses under one shard key (or all shards under auto sharding). */
export interface RouteGroup {
  readonly key: ShardKey | null;
  readonly shardIds: readonly number[];
  readonly router: ShardRouter;
}

export class Collection {
  private metaValue: CollectionMeta;
  private groups: RouteGroup[] = [];
  /** One replica set per shard of the collection, wherever its replicas are. */
  readonly sets = new Map<number, ReplicaSet>();
  /** This node's open replicas, by shard id. */
  readonly local = new Map<number, Replica>();
  /**
   * The metadata index `meta` was taken at: what a write or read routed by it says it rests on
   * (replicas refuse a write decided before their shard's fence).
   */
  viewIndex = 0;
  /** The same replicas behind their adapters (fence, update lock, forwarding to a transfer): every write goes through these. */
  readonly adapters = new Map<number, ReplicaAdapter>();

  constructor(
    meta: CollectionMeta,
    /** Directory of this collection's incarnation. */
    readonly dir: string,
    private readonly makeSet: (collection: Collection, shardId: number) => ReplicaSet,
  ) {
    this.metaValue = meta;
    this.refresh();
  }

  get meta(): CollectionMeta {
    return this.metaValue;
  }

  /** The metadata changed (config, placement, replica states, shard keys): routing follows it. */
  set meta(meta: CollectionMeta) {
    const reroute = meta.shards !== this.metaValue.shards || meta.routing !== this.metaValue.routing;
    this.metaValue = meta;
    if (reroute) this.refresh();
  }

  get name(): string {
    return this.metaValue.name;
  }

  private refresh(): void {
    const meta = this.metaValue;
    for (const id of meta.shards.keys()) if (!this.sets.has(id)) this.sets.set(id, this.makeSet(this, id));
    for (const id of [...this.sets.keys()]) if (!meta.shards.has(id)) this.sets.delete(id);
    const byKey: Array<{ key: ShardKey | null; ids: number[] }> = [];
    for (const shard of [...meta.shards.values()].sort((a, b) => a.id - b.id)) {
      const group = byKey.find((g) => sameShardKey(g.key, shard.key));
      if (group === undefined) byKey.push({ key: shard.key, ids: [shard.id] });
      else group.ids.push(shard.id);
    }
    this.groups = byKey.map((g) => ({ key: g.key, shardIds: g.ids, router: shardRouter(meta.routing, g.ids) }));
  }

  set(shardId: number): ReplicaSet {
    const set = this.sets.get(shardId);
    if (set === undefined) throw new ShoalError('unavailable', `Service unavailable: shard ${shardId} of \`${this.name}\` no longer exists`);
    return set;
  }

  distanceOf(vectorName: string): Distance {
    const params = this.metaValue.config.vectors.get(vectorName);
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
      const params = this.metaValue.config.vectors.get(name);
      if (params === undefined) throw notExistingVector(name);
      if (vector.length !== params.size) {
        throw badRequest(`Wrong input: Vector dimension error: expected dim: ${params.size}, got ${vector.length}`);
      }
    }
  }

  /**
   * The shard groups a request addresses. Auto sharding: all shards (a shard key is refused).
   * Custom sharding: the named keys (each must exist; a fallback key is used when the target does
   * not), or every key when none is named, except for writes that place points (upsert, vector
   * updates), which must name one.
   */
  route(selector: ShardKeySelector | null, placesPoints: boolean): RouteGroup[] {
    const custom = this.metaValue.config.shardingMethod === 'custom';
    if (!custom) {
      if (selector !== null) throw badRequest('Wrong input: Shard key specified, but the collection uses auto sharding');
      return this.groups;
    }
    if (selector === null) {
      if (placesPoints) throw badRequest('Bad request: Shard key not specified');
      return this.groups;
    }
    const find = (key: ShardKey): RouteGroup | undefined => this.groups.find((g) => sameShardKey(g.key, key));
    if (selector.kind === 'fallback') {
      const group = find(selector.target) ?? find(selector.fallback);
      if (group === undefined) throw shardKeyNotFound(selector.fallback);
      return [group];
    }
    const out: RouteGroup[] = [];
    for (const key of selector.keys) {
      const group = find(key);
      if (group === undefined) throw shardKeyNotFound(key);
      if (!out.includes(group)) out.push(group);
    }
    return out;
  }

  /** The shards of `groups` that may hold `ids`, with the ids each one may hold. */
  shardsForIds(groups: readonly RouteGroup[], ids: readonly PointId[]): Map<number, PointId[]> {
    const out = new Map<number, PointId[]>();
    for (const group of groups) {
      for (const [shard, part] of groupBy(ids, (id) => group.router.shardFor(id))) out.set(shard, part);
    }
    return out;
  }

  /** Splits an operation into one part per shard of one group that it touches. */
  split(op: PointOperation, group: RouteGroup): Map<number, PointOperation> {
    const parts = new Map<number, PointOperation>();
    const router = group.router;
    switch (op.kind) {
      case 'upsert':
        for (const [shard, points] of groupBy(op.points, (p) => router.shardFor(p.id))) parts.set(shard, { ...op, points });
        return parts;
      case 'update_vectors':
        for (const [shard, points] of groupBy(op.points, (p) => router.shardFor(p.id))) parts.set(shard, { ...op, points });
        return parts;
      case 'create_field_index':
      case 'delete_field_index':
        for (const shard of group.shardIds) parts.set(shard, op);
        return parts;
      default:
        for (const [shard, selector] of splitSelector(op.selector, group)) parts.set(shard, { ...op, selector });
        return parts;
    }
  }
}

function shardKeyNotFound(key: ShardKey): ShoalError {
  return badRequest(`Wrong input: Shard key ${formatShardKey(key)} not found`);
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

/** Filter-based selectors go to every shard of the group; id lists to the shards that hold the ids. */
function splitSelector(selector: PointsSelector, group: RouteGroup): Map<number, PointsSelector> {
  const parts = new Map<number, PointsSelector>();
  if (selector.kind === 'filter') {
    for (const shard of group.shardIds) parts.set(shard, selector);
    return parts;
  }
  for (const [shard, ids] of groupBy(selector.ids, (id) => group.router.shardFor(id))) parts.set(shard, { kind: 'ids', ids });
  return parts;
}

/**
 * The shard key of each shard of `groups`, by shard id; empty under auto sharding (its one group
 * has no key), so nothing gets tagged.
 */
export function shardKeysById(groups: readonly RouteGroup[]): Map<number, ShardKey> {
  const out = new Map<number, ShardKey>();
  for (const group of groups) {
    if (group.key === null) continue;
    for (const id of group.shardIds) out.set(id, group.key);
  }
  return out;
}

/**
 * Tags each point of a shard's answer with the shard's key (custom sharding), so a point keeps
 * the key of the shard that produced it through the merge. `shardIds[i]` answered `lists[i]`.
 */
export function tagShardKeys<T extends Record_>(lists: readonly (readonly T[])[], shardIds: readonly number[], keys: ReadonlyMap<number, ShardKey>): (readonly (T & { readonly shardKey?: ShardKey })[])[] {
  if (keys.size === 0) return [...lists];
  return lists.map((list, i) => {
    const key = keys.get(shardIds[i]!);
    return key === undefined ? list : list.map((point) => ({ ...point, shardKey: key }));
  });
}

/** Best first: higher scores for similarities, lower for distances. */
export function scoreOrder(distance: Distance): (a: ScoredPoint, b: ScoredPoint) => number {
  const ascending = distance === 'Euclid' || distance === 'Manhattan';
  return ascending
    ? (a, b) => a.score - b.score || comparePointIds(a.id, b.id)
    : (a, b) => b.score - a.score || comparePointIds(a.id, b.id);
}

/**
 * Merge per-shard top-k lists into the global page [offset, offset + limit), each point once.
 * An id held under several shard keys keeps its best-scoring copy; among equal scores the copy of
 * the earliest list (the sort is stable), i.e. the first shard key in the request's order.
 */
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

/**
 * Records from several shards in the order of the requested ids, each once: of an id found under
 * several shard keys, the copy that comes first in `records` (the first shard key in the request's order).
 */
export function orderRecords<T extends Record_>(ids: readonly PointId[], records: readonly T[]): T[] {
  const byKey = new Map<number | string, T>();
  for (const r of records) if (!byKey.has(pointKey(r.id))) byKey.set(pointKey(r.id), r);
  const out: T[] = [];
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
