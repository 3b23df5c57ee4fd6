// A local replica of a shard as an archive (GET /collections/{c}/shards/{id}/snapshot, and the
// `snapshot` transfer, which also starts forwarding in the capture's step): captured under the replica's update lock, held
// exclusively for one synchronous step, so the archive holds every write applied before it and
// none after. What blocks a clean capture (a write between its WAL append and its apply, a frozen
// segment waiting for its files) is waited for outside the lock, and the capture tried again.
import { ShoalError, notFound as notFoundError } from '@shoal/common';
import type { CollectionMeta } from '@shoal/meta';
import { LocalShard, prepareShardArchive, type ShardArchive, type ShardCapture } from '@shoal/shard';
import type { Forwarder, ReplicaAdapter } from './replica-adapter.js';

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

/**
 * A `snapshot` transfer's start: the capture and the start of forwarding to `forwarder` in one
 * step under the lock held exclusively, so every write is in the capture or forwarded after it
 * (a delete applied after the capture reaches the target after the archive: the point does not
 * come back). Waits outside the lock for what blocks a clean capture, as the export does.
 */
export function captureAndForward(adapter: ReplicaAdapter, forwarder: Forwarder, deadlineMs = performance.now() + SHARD_CAPTURE_WAIT_MS): Promise<ShardCapture> {
  const shard = adapter.replica;
  if (!(shard instanceof LocalShard)) return Promise.reject(new ShoalError('storage', 'the source replica is not a local shard'));
  return captureUnderLock(adapter, shard, deadlineMs, forwarder);
}

async function captureUnderLock(adapter: ReplicaAdapter, shard: LocalShard, deadlineMs: number, forwarder: Forwarder | null = null): Promise<ShardCapture> {
  for (;;) {
    const attempt = forwarder === null
      ? await adapter.exclusive(async () => shard.captureForExport())
      : await adapter.tryStartForwarding(forwarder, () => shard.captureForExport(), (taken) => 'capture' in taken);
    if ('capture' in attempt) return attempt.capture;
    const left = deadlineMs - performance.now();
    if (left <= 0) throw new ShoalError('unavailable', `Service unavailable: the shard could not be captured in time (${attempt.blocked})`);
    await Promise.race([attempt.ready.catch(() => undefined), sleep(left)]);
    await sleep(Math.min(RETRY_PAUSE_MS, deadlineMs - performance.now()));
  }
}
