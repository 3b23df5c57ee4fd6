// A shard replica on another peer, reached over the Points service on its own channel.
import { ShoalError, type ErrorKind, type FacetHit, type Filter, type PointId, type PointOperation, type Record_, type ScoredPoint, type WithPayload, type WithVector } from '@shoal/common';
import type { PointsCallResult, PointsMethod, ShardRequest } from '@shoal/consensus';
import type { ApplyResult, FacetParams, OrderedRecord, OrderedScrollParams, ScrollPage, ScrollParams, SearchParams } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import { checkContext, parseStaleViewKind, ReplicaUnreachable, StaleView, type CallContext, type LeadOrdering, type ReplicaInfo, type ShardReplica } from './shard-replica.js';
import * as wire from './wire.js';

/** Sends one Points call to `peer` (its address from the address book); never rejects. */
export type PointsCaller = (
  peer: number,
  method: PointsMethod,
  request: ShardRequest,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal },
) => Promise<PointsCallResult>;

/** Which shard replica a call addresses. */
export interface ShardAddress {
  readonly collection: string;
  /** The collection's createdIndex: a replica holding another incarnation refuses the call. */
  readonly incarnation: number;
  readonly shardId: number;
}

const ERROR_KINDS: readonly ErrorKind[] = [
  'bad_request', 'validation', 'not_found', 'conflict', 'too_large', 'overloaded', 'timeout', 'unavailable', 'unsupported', 'storage',
];

export class RemoteReplica implements ShardReplica {
  readonly local = false;

  constructor(
    readonly peer: number,
    private readonly selfPeer: number,
    private readonly address: ShardAddress,
    private readonly call: PointsCaller,
  ) {}

  async update(op: PointOperation, lead: LeadOrdering | null, ctx: CallContext, tag: ClockTag | null = null): Promise<ApplyResult> {
    // A leader gets 90% of what is left, so its answer (or its failure) arrives before our deadline.
    const leadTimeoutMs = lead === null ? null : Math.max(1, (ctx.deadlineMs - performance.now()) * 0.9);
    return wire.decodeApplyResult(await this.send('Update', wire.encodeUpdate({ lead, leadTimeoutMs, op }), ctx, tag));
  }

  async retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, ctx: CallContext): Promise<Record_[]> {
    return wire.decodeRecords(await this.send('Retrieve', wire.encodeRetrieve({ ids, withPayload, withVector }), ctx));
  }

  async search(params: SearchParams, ctx: CallContext): Promise<ScoredPoint[]> {
    return wire.decodeScored(await this.send('Search', wire.encodeSearch(params), ctx));
  }

  async scroll(params: ScrollParams, ctx: CallContext): Promise<ScrollPage> {
    return wire.decodeScrollPage(await this.send('Scroll', wire.encodeScroll({ ordered: false, params }), ctx));
  }

  async scrollOrdered(params: OrderedScrollParams, ctx: CallContext): Promise<OrderedRecord[]> {
    return wire.decodeOrdered(await this.send('Scroll', wire.encodeScroll({ ordered: true, params }), ctx));
  }

  async count(filter: Filter | null, ctx: CallContext): Promise<number> {
    return wire.decodeNumber(await this.send('Count', wire.encodeCount(filter), ctx));
  }

  async facet(params: FacetParams, ctx: CallContext): Promise<FacetHit[]> {
    return wire.decodeFacetHits(await this.send('Facet', wire.encodeFacet(params), ctx));
  }

  async info(ctx: CallContext): Promise<ReplicaInfo> {
    return wire.decodeInfo(await this.send('Info', new Uint8Array(0), ctx));
  }

  /** The reply's body; a refusal is rethrown as the replica's ShoalError, a failed call as ReplicaUnreachable. */
  private async send(method: PointsMethod, body: Uint8Array, ctx: CallContext, tag: ClockTag | null = null): Promise<Uint8Array> {
    checkContext(ctx, this.peer);
    const request: ShardRequest = {
      clusterId: '',
      collection: this.address.collection,
      incarnation: this.address.incarnation,
      shardId: this.address.shardId,
      fromPeer: this.selfPeer,
      body,
      clockTag: wire.clockTagToWire(tag),
      metaIndex: ctx.metaIndex ?? 0,
    };
    const timeoutMs = Math.max(1, ctx.deadlineMs - performance.now());
    const result = await this.call(this.peer, method, request, { timeoutMs, ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) });
    if (result.outcome === 'failed') throw new ReplicaUnreachable(this.peer, result.timeout, `Service unavailable: peer ${this.peer} did not answer: ${result.message}`);
    const reply = result.reply;
    if (reply.ok) return reply.body;
    const stale = parseStaleViewKind(reply.kind);
    if (stale !== null) throw new StaleView(stale, reply.message);
    const kind = (ERROR_KINDS as readonly string[]).includes(reply.kind) ? (reply.kind as ErrorKind) : 'unavailable';
    throw new ShoalError(kind, reply.message);
  }
}
