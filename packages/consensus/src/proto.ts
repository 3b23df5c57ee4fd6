import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { assert } from '@shoal/common';
import { isTransportPeerId, type TransportPeerId } from './transport.js';

/**
 * proto/ at the repository root is the one definition of the wire format. This file sits at
 * packages/consensus/{src,dist}/, three levels below the root in both cases, so the sources under
 * test and the build run by `npm start` find the same file without a copy step.
 */
export const P2P_PROTO_PATH = fileURLToPath(new URL('../../../proto/p2p.proto', import.meta.url));

export interface RaftBatch {
  readonly fromPeer: TransportPeerId;
  readonly fromUri: string;
  readonly toPeer: TransportPeerId;
  readonly clusterId: string;
  readonly messages: readonly Uint8Array[];
}

export interface RaftAck {
  readonly peer: TransportPeerId;
  readonly delivered: number;
}

/** A request of the Control service: `kind` names it, `body` is its JSON. */
export interface ControlRequest {
  readonly kind: string;
  readonly body: Uint8Array;
  readonly clusterId: string;
}

/** The methods of the Points service (proto/p2p.proto). */
export const POINTS_METHODS = ['Update', 'Retrieve', 'Search', 'Scroll', 'Count', 'Facet', 'Info', 'TransferBatch', 'TransferStatus', 'TransferTicks'] as const;
export type PointsMethod = (typeof POINTS_METHODS)[number];

/** A write's coordinator clock tag (see ClockTag in p2p.proto). */
export interface ClockTag {
  readonly peerId: number;
  readonly epoch: number;
  readonly clockId: number;
  readonly clockTick: number;
}

/** One call to a shard replica on another peer. */
export interface ShardRequest {
  readonly clusterId: string;
  readonly collection: string;
  readonly incarnation: number;
  readonly shardId: number;
  readonly fromPeer: number;
  readonly body: Uint8Array;
  readonly clockTag: ClockTag | null;
  /** The metadata index the sender's decision rests on (0: none). */
  readonly metaIndex: number;
}

/** A replica's answer: a result body, or the refusal it would have given a client. */
export type ShardReply =
  | { readonly ok: true; readonly body: Uint8Array }
  | { readonly ok: false; readonly kind: string; readonly message: string };

interface P2pSchema {
  readonly batch: protobuf.Type;
  readonly ack: protobuf.Type;
  /** gRPC path of RaftTransport.Send, e.g. "/shoal.p2p.RaftTransport/Send". */
  readonly sendPath: string;
  readonly controlRequest: protobuf.Type;
  readonly controlReply: protobuf.Type;
  /** gRPC path of Control.Call. */
  readonly controlPath: string;
  readonly shardRequest: protobuf.Type;
  readonly shardReply: protobuf.Type;
  /** gRPC paths of the Points methods. */
  readonly pointsPaths: Readonly<Record<PointsMethod, string>>;
}

let schema: P2pSchema | null = null;

/** The parsed schema, loaded once, synchronously: it is needed before the first send or receive. */
export function p2pSchema(): P2pSchema {
  if (schema !== null) return schema;
  assert(existsSync(P2P_PROTO_PATH), `the p2p protocol definition is missing: ${P2P_PROTO_PATH}`);
  const root = protobuf.loadSync(P2P_PROTO_PATH);
  const service = root.lookupService('shoal.p2p.RaftTransport');
  const send = service.methods['Send'];
  assert(send !== undefined, 'p2p.proto has no RaftTransport.Send');
  const control = root.lookupService('shoal.p2p.Control');
  const call = control.methods['Call'];
  assert(call !== undefined, 'p2p.proto has no Control.Call');
  const points = root.lookupService('shoal.p2p.Points');
  const pointsPaths = {} as Record<PointsMethod, string>;
  for (const m of POINTS_METHODS) {
    assert(points.methods[m] !== undefined, `p2p.proto has no Points.${m}`);
    pointsPaths[m] = `/${points.fullName.replace(/^\./, '')}/${m}`;
  }
  schema = {
    batch: root.lookupType('shoal.p2p.RaftBatch'),
    ack: root.lookupType('shoal.p2p.RaftAck'),
    sendPath: `/${service.fullName.replace(/^\./, '')}/${send.name}`,
    controlRequest: root.lookupType('shoal.p2p.ControlRequest'),
    controlReply: root.lookupType('shoal.p2p.ControlReply'),
    controlPath: `/${control.fullName.replace(/^\./, '')}/${call.name}`,
    shardRequest: root.lookupType('shoal.p2p.ShardRequest'),
    shardReply: root.lookupType('shoal.p2p.ShardReply'),
    pointsPaths,
  };
  return schema;
}

export function encodeBatch(batch: RaftBatch): Buffer {
  const type = p2pSchema().batch;
  return Buffer.from(type.encode(type.create({ ...batch, messages: [...batch.messages] })).finish());
}

/** Decodes a received batch; a string says what is wrong with it (the sender gets it back). */
export function decodeBatch(bytes: Uint8Array): RaftBatch | string {
  const type = p2pSchema().batch;
  let fields: Record<string, unknown>;
  try {
    fields = type.toObject(type.decode(bytes), { longs: Number, defaults: true });
  } catch (error) {
    return `malformed RaftBatch: ${error instanceof Error ? error.message : String(error)}`;
  }
  const { fromPeer, fromUri, toPeer, clusterId, messages } = fields;
  if (typeof fromPeer !== 'number' || !isTransportPeerId(fromPeer)) return `bad from_peer ${String(fromPeer)}`;
  if (typeof toPeer !== 'number' || !isTransportPeerId(toPeer)) return `bad to_peer ${String(toPeer)}`;
  assert(typeof fromUri === 'string' && typeof clusterId === 'string' && Array.isArray(messages), 'RaftBatch shape');
  return { fromPeer, fromUri, toPeer, clusterId, messages: messages as Uint8Array[] };
}

export function encodeAck(ack: RaftAck): Buffer {
  const type = p2pSchema().ack;
  return Buffer.from(type.encode(type.create(ack)).finish());
}

export function decodeAck(bytes: Uint8Array): RaftAck | string {
  const type = p2pSchema().ack;
  try {
    const fields = type.toObject(type.decode(bytes), { longs: Number, defaults: true });
    const { peer, delivered } = fields;
    if (typeof peer !== 'number' || typeof delivered !== 'number') return 'malformed RaftAck';
    return { peer, delivered };
  } catch (error) {
    return `malformed RaftAck: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function encodeControlRequest(request: ControlRequest): Buffer {
  const type = p2pSchema().controlRequest;
  return Buffer.from(type.encode(type.create(request)).finish());
}

export function decodeControlRequest(bytes: Uint8Array): ControlRequest | string {
  const type = p2pSchema().controlRequest;
  try {
    const { kind, body, clusterId } = type.toObject(type.decode(bytes), { defaults: true });
    if (typeof kind !== 'string' || !(body instanceof Uint8Array) || typeof clusterId !== 'string') return 'malformed ControlRequest';
    return { kind, body, clusterId };
  } catch (error) {
    return `malformed ControlRequest: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function encodeControlReply(body: Uint8Array): Buffer {
  const type = p2pSchema().controlReply;
  return Buffer.from(type.encode(type.create({ body })).finish());
}

export function decodeControlReply(bytes: Uint8Array): Uint8Array | string {
  const type = p2pSchema().controlReply;
  try {
    const { body } = type.toObject(type.decode(bytes), { defaults: true });
    return body instanceof Uint8Array ? body : 'malformed ControlReply';
  } catch (error) {
    return `malformed ControlReply: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function encodeShardRequest(request: ShardRequest): Buffer {
  const type = p2pSchema().shardRequest;
  const { clockTag, ...rest } = request;
  return Buffer.from(type.encode(type.create(clockTag === null ? rest : { ...rest, clockTag })).finish());
}

export function decodeShardRequest(bytes: Uint8Array): ShardRequest | string {
  const type = p2pSchema().shardRequest;
  try {
    const message = type.decode(bytes);
    const f = type.toObject(message, { longs: Number, defaults: true });
    const { clusterId, collection, incarnation, shardId, fromPeer, body, metaIndex } = f;
    if (typeof clusterId !== 'string' || typeof collection !== 'string' || !(body instanceof Uint8Array)) return 'malformed ShardRequest';
    if (typeof incarnation !== 'number' || typeof shardId !== 'number' || typeof fromPeer !== 'number') return 'malformed ShardRequest';
    if (typeof metaIndex !== 'number') return 'malformed ShardRequest';
    const tag = (message as unknown as { clockTag?: unknown }).clockTag;
    const t = f['clockTag'] as { peerId?: unknown; epoch?: unknown; clockId?: unknown; clockTick?: unknown } | undefined;
    const clockTag =
      tag === undefined || tag === null || t === undefined
        ? null
        : { peerId: Number(t.peerId ?? 0), epoch: Number(t.epoch ?? 0), clockId: Number(t.clockId ?? 0), clockTick: Number(t.clockTick ?? 0) };
    return { clusterId, collection, incarnation, shardId, fromPeer, body, clockTag, metaIndex };
  } catch (error) {
    return `malformed ShardRequest: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function encodeShardReply(reply: ShardReply): Buffer {
  const type = p2pSchema().shardReply;
  const fields = reply.ok ? { body: reply.body } : { errorKind: reply.kind, errorMessage: reply.message };
  return Buffer.from(type.encode(type.create(fields)).finish());
}

export function decodeShardReply(bytes: Uint8Array): ShardReply | string {
  const type = p2pSchema().shardReply;
  try {
    const { body, errorKind, errorMessage } = type.toObject(type.decode(bytes), { defaults: true });
    if (!(body instanceof Uint8Array) || typeof errorKind !== 'string' || typeof errorMessage !== 'string') return 'malformed ShardReply';
    return errorKind === '' ? { ok: true, body } : { ok: false, kind: errorKind, message: errorMessage };
  } catch (error) {
    return `malformed ShardReply: ${error instanceof Error ? error.message : String(error)}`;
  }
}
