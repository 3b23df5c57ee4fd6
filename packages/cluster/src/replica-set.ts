// A shard's replicas. On a standalone node a replica set holds one local replica; the cluster
// adds remote replicas, replica states and write consistency here, without changing callers.
import type { FacetHit, Filter, PointId, PointOperation, Record_, ScoredPoint, WithPayload, WithVector } from '@shoal/common';
import type {
  ApplyResult,
  FacetParams,
  OrderedRecord,
  OrderedScrollParams,
  PayloadIndexInfo,
  ScrollPage,
  ScrollParams,
  SearchParams,
  SegmentStats,
} from '@shoal/segment';

/** What a replica set needs of one replica of a shard. */
export interface Replica {
  update(op: PointOperation): Promise<{ readonly seq: number; readonly result: ApplyResult }>;
  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[];
  search(params: SearchParams): ScoredPoint[];
  scroll(params: ScrollParams): ScrollPage;
  scrollOrdered(params: OrderedScrollParams): OrderedRecord[];
  count(filter: Filter | null): number;
  facet(params: FacetParams): FacetHit[];
  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo>;
  stats(): SegmentStats;
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
