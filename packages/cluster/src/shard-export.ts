// A local replica of a shard as an archive (GET /collections/{c}/shards/{id}/snapshot, and the
// `snapshot` transfer once it streams one): captured under the replica's update lock, held
// exclusively for one synchronous step, so the archive holds every write applied before it and
// none after. What blocks a clean capture (a write between its WAL append and its apply, a frozen
// segment waiting for its files) is waited for outside the lock, and the capture tried again.
import { ShoalError, notFound as notFoundError } from '@shoal/common';
import type { CollectionMeta } from '@shoal/meta';
import { LocalShard, prepareShardArchive, type ShardArchive, type ShardCapture } from '@shoal/shard';
import type { ReplicaAdapter } from './replica-adapter.js';

/** How long a capture waits for what blocks it (a frozen segment being sealed) before a 503. */
export const SHARD_CAPTURE_WAIT_MS = 120_000;

/** Pause between attempts whose blocker resolved without unblocking (a seal job retrying). */
const RETRY_PAUSE_MS = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function notFound(message: string): ShoalError {
  return notFoundError(`Not found: ${message}`);
}

/**
 * The archive of shard `shardId` of `meta`'s collection from this node's replica (`adapter`);
 * 404 when the shard does not exist or has no replica here (naming the peers that hold it).
 */
export async function exportLocalShard(
  meta: CollectionMeta,
  shardId: number,
  adapter: ReplicaAdapter | undefined,
  peerId: number,
  deadlineMs = performance.now() + SHARD_CAPTURE_WAIT_MS,
): Promise<ShardArchive> {
  const shard = meta.shards.get(shardId);
  if (shard === undefined) throw notFound(`Shard ${shardId} of collection \`${meta.name}\` does not exist`);
  if (adapter === undefined || !(adapter.replica instanceof LocalShard)) {
    const holders = shard.replicas.filter((r) => r.peer !== peerId).map((r) => `${r.peer} (${r.state})`);
    const where = holders.length === 0 ? 'no peer holds it' : `it is on peer${holders.length > 1 ? 's' : ''} ${holders.join(', ')}`;
    throw notFound(`Shard ${shardId} of collection \`${meta.name}\` is not on peer ${peerId}: ${where}`);
  }
  const capture = await captureUnderLock(adapter, adapter.replica, deadlineMs);
  return prepareShardArchive(capture, { collection: meta.name, incarnation: meta.createdIndex, shardId });
}

async function captureUnderLock(adapter: ReplicaAdapter, shard: LocalShard, deadlineMs: number): Promise<ShardCapture> {
  for (;;) {
    const attempt = await adapter.exclusive(async () => shard.captureForExport());
    if ('capture' in attempt) return attempt.capture;
    const left = deadlineMs - performance.now();
    if (left <= 0) throw new ShoalError('unavailable', `Service unavailable: the shard could not be captured in time (${attempt.blocked})`);
    await Promise.race([attempt.ready.catch(() => undefined), sleep(left)]);
    await sleep(Math.min(RETRY_PAUSE_MS, deadlineMs - performance.now()));
  }
}
