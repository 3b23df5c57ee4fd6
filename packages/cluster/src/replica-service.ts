// The serving side of the Points service: a call from another peer's router, answered by this
// node's replica of the shard it names; and the messages of a shard transfer this node is an
// end of.
import { ShoalError, type PointOperation } from '@shoal/common';
import type { PointsMethod, ShardReply, ShardRequest } from '@shoal/consensus';
import type { ApplyResult } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import type { ShardAddress } from './remote-replica.js';
import type { Replica } from './replica-set.js';
import { StaleView, staleViewKind, type CallContext, type LeadOrdering } from './shard-replica.js';
import * as wire from './wire.js';

/** What the node offers the Points service. */
export interface ReplicaHost {
  /**
   * This node's replica of the shard, once this node has applied `metaIndex`. ShoalError
   * not_found when it holds no such replica (or another incarnation); StaleView when it no
   * longer holds it and the caller's view is older than this node's.
   */
  localReplica(address: ShardAddress, metaIndex: number): Promise<Replica>;
  /** A write decided at `metaIndex` (tagged by its coordinator) to this node's replica, fenced and forwarded to a running transfer. */
  writeLocal(address: ShardAddress, op: PointOperation, metaIndex: number, tag: ClockTag | null): Promise<ApplyResult>;
  /** Leads a write: applies it here, then sends it to the shard's other replicas (ordering medium / strong). */
  leadWrite(address: ShardAddress, op: PointOperation, lead: LeadOrdering, ctx: CallContext): Promise<ApplyResult>;
  /** Applies the next messages of a transfer this node receives; answers the last message number applied. */
  receiveTransfer(address: ShardAddress, request: ShardRequest): Promise<Uint8Array>;
  /** Whether this node runs the transfer named in the body, and its progress. */
  transferStatus(address: ShardAddress, request: ShardRequest): Promise<Uint8Array>;
  /** The applied ticks of this node's replica receiving the `wal_delta` transfer named in the body. */
  transferTicks(address: ShardAddress, request: ShardRequest): Promise<Uint8Array>;
  /** The longest a led write may take here, ms (the caller sends its own, shorter budget). */
  readonly leadTimeoutMs: number;
}

/** Answers one call; a ShoalError becomes the refusal in the reply, anything else rejects (a defect). */
export async function servePoints(host: ReplicaHost, method: PointsMethod, request: ShardRequest, signal: AbortSignal): Promise<ShardReply> {
  const address: ShardAddress = { collection: request.collection, incarnation: request.incarnation, shardId: request.shardId };
  try {
    return { ok: true, body: await answer(host, method, address, request, signal) };
  } catch (error) {
    if (error instanceof StaleView) return { ok: false, kind: staleViewKind(error.index), message: error.message };
    if (error instanceof ShoalError) return { ok: false, kind: error.kind, message: error.message };
    throw error;
  }
}

async function answer(host: ReplicaHost, method: PointsMethod, address: ShardAddress, request: ShardRequest, signal: AbortSignal): Promise<Uint8Array> {
  const body = request.body;
  if (method === 'Update') {
    const call = wire.decodeUpdate(body);
    if (call.lead !== null) {
      // Not the caller's signal: a led write runs to its end on every replica once started.
      const budget = Math.min(call.leadTimeoutMs ?? host.leadTimeoutMs, host.leadTimeoutMs);
      const ctx: CallContext = { deadlineMs: performance.now() + budget, metaIndex: request.metaIndex };
      return wire.encodeApplyResult(await host.leadWrite(address, call.op, call.lead, ctx));
    }
    return wire.encodeApplyResult(await host.writeLocal(address, call.op, request.metaIndex, wire.clockTagFromWire(request.clockTag)));
  }
  if (method === 'TransferBatch') return host.receiveTransfer(address, request);
  if (method === 'TransferStatus') return host.transferStatus(address, request);
  if (method === 'TransferTicks') return host.transferTicks(address, request);
  const replica = await host.localReplica(address, request.metaIndex);
  if (signal.aborted) throw new ShoalError('timeout', 'Timeout: the caller gave up');
  switch (method) {
    case 'Retrieve': {
      const r = wire.decodeRetrieve(body);
      return wire.encodeRecords(replica.retrieve(r.ids, r.withPayload, r.withVector));
    }
    case 'Search':
      return wire.encodeScored(replica.search(wire.decodeSearch(body)));
    case 'Scroll': {
      const call = wire.decodeScroll(body);
      return call.ordered ? wire.encodeOrdered(replica.scrollOrdered(call.params)) : wire.encodeScrollPage(replica.scroll(call.params));
    }
    case 'Count':
      return wire.encodeNumber(replica.count(wire.decodeCount(body)));
    case 'Facet':
      return wire.encodeFacetHits(replica.facet(wire.decodeFacet(body)));
    case 'Info':
      return wire.encodeInfo({ points: replica.stats().points, payloadIndexes: replica.payloadIndexes() });
  }
}
