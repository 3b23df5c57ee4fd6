// Which shard holds a point. Auto sharding hashes the point id (murmur3 of its canonical bytes);
// the cluster replaces the modulo with a consistent-hash ring so shards can be added.
import murmur from 'murmurhash3js-revisited';
import { assert, type PointId } from '@shoal/common';

const idBytes = new Uint8Array(16);
const idView = new DataView(idBytes.buffer);
const encoder = new TextEncoder();

function hashId(id: PointId): number {
  if (typeof id === 'string') return murmur.x86.hash32(encoder.encode(id));
  idView.setBigUint64(0, BigInt(id), true);
  return murmur.x86.hash32(idBytes.subarray(0, 8));
}

export function shardForId(id: PointId, shardCount: number): number {
  assert(shardCount >= 1, 'a collection has at least one shard');
  return shardCount === 1 ? 0 : hashId(id) % shardCount;
}
