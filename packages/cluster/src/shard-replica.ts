// One replica of a shard as the router sees it: here (a local shard behind an adapter) or on
// another peer (over the Points service). Every call is asynchronous and bounded by a deadline.
import { ShoalError, type FacetHit, type Filter, type PointId, type PointOperation, type Record_, type ScoredPoint, type WithPayload, type WithVector } from '@shoal/common';
import type { ApplyResult, FacetParams, OrderedRecord, OrderedScrollParams, PayloadIndexInfo, ScrollPage, ScrollParams, SearchParams } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import type { Replica } from './replica-set.js';

/** How a local replica takes a direct write: fenced by the metadata index it was decided on (null: not checked). */
export interface DirectWrites {
  readonly replica: Replica;
  update(op: PointOperation, metaIndex: number | null, tag?: ClockTag | null): Promise<ApplyResult>;
}

export interface CallContext {
  /** Absolute deadline, ms on performance.now(). */
  readonly deadlineMs: number;
  /** The client went away: stop waiting (work already durable stays). */
  readonly signal?: AbortSignal;
  /**
   * The metadata index the caller decided on (which replicas a write goes to, which a read may
   * use). A replica refuses a write decided before its shard's fence with StaleView.
   */
  readonly metaIndex?: number;
}

/** What a shard replica reports about itself: GET /collections/{c} and /cluster sum these. */
export interface ReplicaInfo {
  readonly points: number;
  readonly payloadIndexes: ReadonlyMap<string, PayloadIndexInfo>;
}

/**
 * Leading a write (`ordering` medium / strong): the receiving replica applies the write itself,
 * then sends it to the shard's other replicas, one write at a time per shard, so every replica
 * applies the writes it leads in the same order.
 */
export type LeadOrdering = 'medium' | 'strong';

export interface ShardReplica {
  readonly peer: number;
  readonly local: boolean;
  /** `tag`: the coordinator's clock tag (null for a write it sends to be led elsewhere). */
  update(op: PointOperation, lead: LeadOrdering | null, ctx: CallContext, tag?: ClockTag | null): Promise<ApplyResult>;
  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, ctx: CallContext): Promise<Record_[]>;
  search(params: SearchParams, ctx: CallContext): Promise<ScoredPoint[]>;
  scroll(params: ScrollParams, ctx: CallContext): Promise<ScrollPage>;
  scrollOrdered(params: OrderedScrollParams, ctx: CallContext): Promise<OrderedRecord[]>;
  count(filter: Filter | null, ctx: CallContext): Promise<number>;
  facet(params: FacetParams, ctx: CallContext): Promise<FacetHit[]>;
  info(ctx: CallContext): Promise<ReplicaInfo>;
}

/**
 * The replica did not answer: unreachable, or not within the deadline. Whether it acted is unknown,
 * so a write counts it as failed (it is marked Dead) and a read asks another replica.
 */
export class ReplicaUnreachable extends ShoalError {
  constructor(
    readonly peer: number,
    readonly timedOut: boolean,
    message: string,
  ) {
    super(timedOut ? 'timeout' : 'unavailable', message);
  }
}

/**
 * The request rests on metadata older than `index`: the shard's write set changed since (a
 * transfer started or finished, a replica was removed), or the replica is no longer here. The
 * caller catches up to `index` and decides again; the replica did not act.
 */
export class StaleView extends ShoalError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super('unavailable', message);
  }
}

/** The kind a StaleView travels as in a ShardReply (proto/p2p.proto). */
export const STALE_VIEW_KIND = 'stale_view';

export function staleViewKind(index: number): string {
  return `${STALE_VIEW_KIND}@${index}`;
}

/** The index of a `stale_view@<index>` reply kind, or null for any other kind. */
export function parseStaleViewKind(kind: string): number | null {
  const m = /^stale_view@(\d+)$/.exec(kind);
  return m === null ? null : Number(m[1]);
}

/** Rejects once `ctx` is aborted or past its deadline. */
export function checkContext(ctx: CallContext, peer: number): void {
  if (ctx.signal?.aborted === true) throw new ReplicaUnreachable(peer, true, 'Timeout: the request was cancelled');
  if (performance.now() >= ctx.deadlineMs) throw new ReplicaUnreachable(peer, true, 'Timeout: the request ran out of time');
}

/**
 * A local shard as a ShardReplica, through its adapter (which checks the shard's fence and
 * forwards writes to a running transfer). Writes lead nothing here: the replica set decides who
 * leads, and a local leader runs the fan-out itself.
 */
export class LocalShardReplica implements ShardReplica {
  readonly local = true;
  private readonly replica: Replica;

  constructor(
    readonly peer: number,
    private readonly adapter: DirectWrites,
  ) {
    this.replica = adapter.replica;
  }

  async update(op: PointOperation, _lead: LeadOrdering | null, ctx: CallContext, tag: ClockTag | null = null): Promise<ApplyResult> {
    checkContext(ctx, this.peer);
    return this.adapter.update(op, ctx.metaIndex ?? null, tag);
  }

  async retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, ctx: CallContext): Promise<Record_[]> {
    checkContext(ctx, this.peer);
    return this.replica.retrieve(ids, withPayload, withVector);
  }

  async search(params: SearchParams, ctx: CallContext): Promise<ScoredPoint[]> {
    checkContext(ctx, this.peer);
    return this.replica.search(params);
  }

  async scroll(params: ScrollParams, ctx: CallContext): Promise<ScrollPage> {
    checkContext(ctx, this.peer);
    return this.replica.scroll(params);
  }

  async scrollOrdered(params: OrderedScrollParams, ctx: CallContext): Promise<OrderedRecord[]> {
    checkContext(ctx, this.peer);
    return this.replica.scrollOrdered(params);
  }

  async count(filter: Filter | null, ctx: CallContext): Promise<number> {
    checkContext(ctx, this.peer);
    return this.replica.count(filter);
  }

  async facet(params: FacetParams, ctx: CallContext): Promise<FacetHit[]> {
    checkContext(ctx, this.peer);
    return this.replica.facet(params);
  }

  async info(ctx: CallContext): Promise<ReplicaInfo> {
    checkContext(ctx, this.peer);
    return { points: this.replica.stats().points, payloadIndexes: this.replica.payloadIndexes() };
  }
}
