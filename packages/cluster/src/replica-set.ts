// A shard's replicas. On a standalone node a replica set holds one local replica; the cluster
// adds remote replicas, replica states and write consistency here, without changing callers.
import type { PointOperation } from '@shoal/common';
import type { ApplyResult, SegmentContract } from '@shoal/segment';

/** What a replica set needs of one replica of a shard: the segment's reads, plus writes and lifecycle. */
export interface Replica
  extends Pick<SegmentContract, 'retrieve' | 'search' | 'scroll' | 'scrollOrdered' | 'count' | 'facet' | 'payloadIndexes' | 'stats'> {
  update(op: PointOperation): Promise<{ readonly seq: number; readonly result: ApplyResult }>;
  close(): Promise<void>;
  drop(): Promise<void>;
}

export type ReplicaState = 'Active' | 'Dead' | 'Partial' | 'Initializing' | 'Listener' | 'Recovery';

export class ReplicaSet {
  constructor(
    readonly shardId: number,
    private readonly local: Replica,
    private state: ReplicaState = 'Active',
  ) {}

  get localState(): ReplicaState {
    return this.state;
  }

  /** The replica that serves reads. One local replica for now. */
  reader(): Replica {
    return this.local;
  }

  async update(op: PointOperation): Promise<ApplyResult> {
    const { result } = await this.local.update(op);
    return result;
  }

  close(): Promise<void> {
    return this.local.close();
  }

  drop(): Promise<void> {
    this.state = 'Dead';
    return this.local.drop();
  }
}
