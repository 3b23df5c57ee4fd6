// Which shard holds a point. Auto sharding hashes the point id (murmur3 of its canonical bytes)
// onto the collection's routing scheme: a consistent-hash ring with virtual nodes per shard for
// collections created with it, murmur3 modulo the shard count for collections stored before.
// Custom sharding routes within the shards of the request's shard key the same way.
import murmur from 'murmurhash3js-revisited';
import { assert, type PointId } from '@shoal/common';
import type { RoutingScheme } from '@shoal/meta';

const idBytes = new Uint8Array(16);
const idView = new DataView(idBytes.buffer);
const encoder = new TextEncoder();

function hashId(id: PointId): number {
  if (typeof id === 'string') return murmur.x86.hash32(encoder.encode(id));
  idView.setBigUint64(0, BigInt(id), true);
  return murmur.x86.hash32(idBytes.subarray(0, 8));
}

/** murmur3 modulo the shard count (shards numbered 0..count-1): collections stored before the ring. */
export function shardForId(id: PointId, shardCount: number): number {
  assert(shardCount >= 1, 'a collection has at least one shard');
  return shardCount === 1 ? 0 : hashId(id) % shardCount;
}

export interface ShardRouter {
  /** The shard (by id) that holds `id`. */
  shardFor(id: PointId): number;
}

/**
 * A consistent-hash ring: each shard owns `vnodes` points on a 32-bit circle (murmur3 of
 * "<shard id>:<vnode>" with the scheme's seed), and an id belongs to the shard owning the first
 * point at or after the id's hash, wrapping around. Adding a shard moves only the ids that fall
 * to its points, about 1/(n+1) of them.
 */
export class HashRing implements ShardRouter {
  private readonly points: Uint32Array;
  private readonly owners: Uint32Array;

  constructor(shardIds: readonly number[], vnodes: number, seed: number) {
    assert(shardIds.length >= 1 && vnodes >= 1, 'a ring needs a shard and a virtual node');
    const entries: Array<[number, number]> = [];
    for (const shard of shardIds) {
      for (let v = 0; v < vnodes; v++) entries.push([murmur.x86.hash32(encoder.encode(`${shard}:${v}`), seed), shard]);
    }
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = Uint32Array.from(entries, (e) => e[1]);
  }

  shardFor(id: PointId): number {
    const h = hashId(id);
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === points.length ? 0 : lo] as number;
  }
}

class ModuloRouter implements ShardRouter {
  constructor(private readonly shardIds: readonly number[]) {}

  shardFor(id: PointId): number {
    return this.shardIds[shardForId(id, this.shardIds.length)] as number;
  }
}

/** The router of `scheme` over `shardIds` (one shard key's shards, or all shards under auto sharding). */
export function shardRouter(scheme: RoutingScheme, shardIds: readonly number[]): ShardRouter {
  const sorted = [...shardIds].sort((a, b) => a - b);
  assert(sorted.length >= 1, 'routing needs at least one shard');
  if (sorted.length === 1) return { shardFor: () => sorted[0] as number };
  return scheme.kind === 'ring' ? new HashRing(sorted, scheme.vnodes, scheme.seed) : new ModuloRouter(sorted);
}
