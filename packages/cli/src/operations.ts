// Request bodies of POST /collections/{name}/cluster, as the spec's ClusterOperations name them.
import { collectionPath } from './client.js';
import { peerIdToJson, type PeerId } from './ids.js';
import type { Step } from './plan.js';

/** Qdrant's ShardTransferMethod values a user may pick (resharding_stream_records is internal). */
export const TRANSFER_METHODS = ['stream_records', 'snapshot', 'wal_delta'] as const;
export type TransferMethod = (typeof TRANSFER_METHODS)[number];

/** The ClusterOperations body for one step; `method` is left out when null (the node's default). */
export function stepBody(step: Step, method: TransferMethod | null): Record<string, unknown> {
  switch (step.kind) {
    case 'move':
    case 'replicate': {
      const transfer = {
        shard_id: step.shardId,
        from_peer_id: peerIdToJson(step.from),
        to_peer_id: peerIdToJson(step.to),
        ...(method === null ? {} : { method }),
      };
      return step.kind === 'move' ? { move_shard: transfer } : { replicate_shard: transfer };
    }
    case 'drop':
      return { drop_replica: { shard_id: step.shardId, peer_id: peerIdToJson(step.peer) } };
  }
}

export function abortBody(shardId: number, from: PeerId, to: PeerId): Record<string, unknown> {
  return { abort_transfer: { shard_id: shardId, from_peer_id: peerIdToJson(from), to_peer_id: peerIdToJson(to) } };
}

export function clusterOperationPath(collection: string): string {
  return collectionPath(collection, '/cluster');
}

/** One line naming a step, for plans and progress. */
export function describeStep(step: Step): string {
  const shard = `${step.collection} shard ${step.shardId}`;
  switch (step.kind) {
    case 'move':
      return `move ${shard} from peer ${step.from} to peer ${step.to}`;
    case 'replicate':
      return `replicate ${shard} from peer ${step.from} to peer ${step.to}`;
    case 'drop':
      return `drop ${shard} replica on peer ${step.peer}`;
  }
}
