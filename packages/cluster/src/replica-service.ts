// The serving side of the Points service: a call from another peer's router, answered by this
// node's replica of the shard it names.
import { ShoalError, type PointOperation } from '@shoal/common';
import type { PointsMethod, ShardReply, ShardRequest } from '@shoal/consensus';
import type { ApplyResult } from '@shoal/segment';
import type { ShardAddress } from './remote-replica.js';
import type { Replica } from './replica-set.js';
import type { CallContext, LeadOrdering } from './shard-replica.js';
import * as wire from './wire.js';

/** What the node offers the Points service. */
export interface ReplicaHost {
  /** This node's replica of the shard; ShoalError not_found when it holds no such replica (or another incarnation). */
  localReplica(address: ShardAddress): Promise<Replica>;
  /** Leads a write: applies it here, then sends it to the shard's other replicas (ordering medium / strong). */
  leadWrite(address: ShardAddress, op: PointOperation, lead: LeadOrdering, ctx: CallContext): Promise<ApplyResult>;
  /** The longest a led write may take here, ms (the caller sends its own, shorter budget). */
  readonly leadTimeoutMs: number;
}

/** Answers one call; a ShoalError becomes the refusal in the reply, anything else rejects (a defect). */
export async function servePoints(host: ReplicaHost, method: PointsMethod, request: ShardRequest, signal: AbortSignal): Promise<ShardReply> {
  const address: ShardAddress = { collection: request.collection, incarnation: request.incarnation, shardId: request.shardId };
  try {
    return { ok: true, body: await answer(host, method, address, request.body, signal) };
  } catch (error) {
    if (error instanceof ShoalError) return { ok: false, kind: error.kind, message: error.message };
    throw error;
  }
}

async function answer(host: ReplicaHost, method: PointsMethod, address: ShardAddress, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  if (method === 'Update') {
    const call = wire.decodeUpdate(body);
    if (call.lead !== null) {
      // Not the caller's signal: a led write runs to its end on every replica once started.
      const ctx: CallContext = { deadlineMs: performance.now() + Math.min(call.leadTimeoutMs ?? host.leadTimeoutMs, host.leadTimeoutMs) };
      return wire.encodeApplyResult(await host.leadWrite(address, call.op, call.lead, ctx));
    }
    const { result } = await (await host.localReplica(address)).update(call.op);
    return wire.encodeApplyResult(result);
  }
  const replica = await host.localReplica(address);
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
