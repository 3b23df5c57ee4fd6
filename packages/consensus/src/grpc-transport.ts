import grpc from '@grpc/grpc-js';
import { assert, ShoalError } from '@shoal/common';
import { rpcBytesMax, transportLimits, type TransportLimits } from './limits.js';
import { linkStats, PeerLink, type BatchFailure, type Deliver } from './peer-link.js';
import {
  decodeAck,
  decodeBatch,
  decodeControlReply,
  decodeControlRequest,
  encodeAck,
  encodeBatch,
  encodeControlReply,
  encodeControlRequest,
  decodeShardReply,
  decodeShardRequest,
  encodeShardReply,
  encodeShardRequest,
  p2pSchema,
  POINTS_METHODS,
  type PointsMethod,
  type RaftBatch,
  type ShardReply,
  type ShardRequest,
} from './proto.js';
import {
  checkPeerId,
  type MessageHandler,
  type Transport,
  type TransportPeerId,
  type TransportStats,
} from './transport.js';
import { grpcTarget } from './uri.js';

export interface GrpcTransportOptions {
  readonly selfId: TransportPeerId;
  /** Where to listen, `host:port`; port 0 takes a free port (read `port` after start()). */
  readonly listen: string;
  /**
   * This node's advertised p2p URI, sent with every batch so a receiver can answer a stranger.
   * Default: `http://<listen host>:<bound port>` unless the host is a wildcard (then none).
   */
  readonly selfUri?: string;
  /** Peers with another cluster id refuse our batches and we theirs. */
  readonly clusterId?: string;
  /** Insecure by default; pass grpc.ServerCredentials.createSsl(...) for TLS. */
  readonly serverCredentials?: grpc.ServerCredentials;
  /** Insecure by default; pass grpc.credentials.createSsl(...) for TLS. */
  readonly channelCredentials?: grpc.ChannelCredentials;
  readonly limits?: Partial<TransportLimits>;
  /** Wall clock for the time of the latest send error, ms since the epoch. */
  readonly nowMs?: () => number;
}

/**
 * Channel argument naming what a channel carries. gRPC shares connections between channels whose
 * target and arguments are equal; a distinct value per purpose (and a local subchannel pool)
 * keeps Raft's connection apart from the bulk channel of shard transfers.
 */
export const CHANNEL_PURPOSE_ARG = 'shoal.channel_purpose';
export const RAFT_CHANNEL_PURPOSE = 'raft';

/** Codes after which the same batch may succeed later; any other means the receiver refused it. */
const RETRYABLE = new Set<grpc.status>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
  grpc.status.UNKNOWN,
  grpc.status.INTERNAL,
  grpc.status.ABORTED,
]);

interface PeerEntry {
  uri: string;
  client: grpc.Client;
  call: grpc.ClientUnaryCall | null;
  readonly link: PeerLink;
}

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * Answers one Control request (see proto/p2p.proto): `body` and the answer are JSON bytes. A
 * rejection becomes a failed call (UNAVAILABLE with its message); put refusals the caller should
 * act on in the answer instead.
 */
export type ControlHandler = (kind: string, body: Uint8Array) => Promise<Uint8Array>;

/** Channel purpose of Control calls: a proposal waiting to apply never holds up a Raft batch. */
export const CONTROL_CHANNEL_PURPOSE = 'control';

/** Channel purpose of Points calls: point data never shares a connection with Raft or Control. */
export const POINTS_CHANNEL_PURPOSE = 'points';

/**
 * Answers one Points call for a local shard replica. A refusal the caller should see goes in the
 * reply (`ok: false`); a rejection is a defect and fails the call (INTERNAL).
 */
export type PointsHandler = (method: PointsMethod, request: ShardRequest, signal: AbortSignal) => Promise<ShardReply>;

/** How a Points call ended: the replica's reply, or a failed call (the replica may or may not have acted). */
export type PointsCallResult =
  | { readonly outcome: 'reply'; readonly reply: ShardReply }
  | { readonly outcome: 'failed'; readonly timeout: boolean; readonly message: string };

export interface PointsCallOptions {
  /** The call's budget, ms. */
  readonly timeoutMs: number;
  /** Cancels the call (the replica may still act on it). */
  readonly signal?: AbortSignal;
}

/** The p2p transport over gRPC: see Transport, PeerLink (queues and retries) and proto/p2p.proto. */
export class GrpcTransport implements Transport {
  private readonly limits: TransportLimits;
  private readonly peers = new Map<TransportPeerId, PeerEntry>();
  private server: grpc.Server | null = null;
  private boundPort: number | null = null;
  private handler: MessageHandler | null = null;
  private controlHandler: ControlHandler | null = null;
  /** Control clients by gRPC target, made on first use and kept until close(). */
  private readonly controlClients = new Map<string, grpc.Client>();
  private pointsHandler: PointsHandler | null = null;
  /** Points clients by gRPC target, made on first use and kept until close(). */
  private readonly pointsClients = new Map<string, grpc.Client>();
  private closed = false;
  private selfUri = '';

  constructor(private readonly options: GrpcTransportOptions) {
    checkPeerId(options.selfId);
    this.limits = transportLimits(options.limits);
    p2pSchema(); // a missing or broken .proto fails here, at start-up, not at the first message
  }

  /** The port the server listens on (the real one when `listen` asked for port 0). */
  get port(): number {
    assert(this.boundPort !== null, 'GrpcTransport.port before start()');
    return this.boundPort;
  }

  async start(): Promise<void> {
    assert(this.server === null && !this.closed, 'GrpcTransport started twice or after close()');
    const server = new grpc.Server(this.serverOptions());
    server.addService(this.serviceDefinition(), {
      send: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => this.receive(call, callback),
    });
    server.addService(this.controlDefinition(), {
      call: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => this.answerControl(call, callback),
    });
    server.addService(pointsDefinition(), Object.fromEntries(POINTS_METHODS.map((m) => [
      m,
      (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => this.answerPoints(m, call, callback),
    ])));
    const credentials = this.options.serverCredentials ?? grpc.ServerCredentials.createInsecure();
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.options.listen, credentials, (error, port) => {
        if (error === null) resolve(port);
        else reject(new ShoalError('unavailable', `cannot listen for peers on ${this.options.listen}: ${error.message}`));
      });
    }).catch((error: unknown) => {
      server.forceShutdown();
      throw error;
    });
    this.server = server;
    this.selfUri = this.options.selfUri ?? defaultSelfUri(this.options.listen, this.boundPort);
  }

  setPeer(id: TransportPeerId, uri: string): void {
    checkPeerId(id);
    if (id === this.options.selfId) throw new ShoalError('validation', `peer ${id} is this node`);
    const target = grpcTarget(uri);
    if (this.closed) return;
    const entry = this.peers.get(id);
    if (entry === undefined) {
      const link = new PeerLink(this.limits, this.deliverTo(id), this.nowMs);
      this.peers.set(id, { uri, client: this.client(target), call: null, link });
      return;
    }
    if (entry.uri === uri) return;
    // The call in flight on the old address finishes there; the next batch goes to the new one.
    entry.client.close();
    entry.client = this.client(target);
    entry.uri = uri;
    entry.link.retryNow();
  }

  removePeer(id: TransportPeerId): void {
    const entry = this.peers.get(id);
    if (entry === undefined) return;
    this.peers.delete(id);
    closeEntry(entry);
  }

  send(to: TransportPeerId, message: Uint8Array): boolean {
    const entry = this.closed ? undefined : this.peers.get(to);
    return entry !== undefined && entry.link.offer(message);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** Sets the one handler of incoming Control requests; without one they fail UNAVAILABLE. */
  onControl(handler: ControlHandler): void {
    this.controlHandler = handler;
  }

  /**
   * One Control request to the node at `uri` (which need not be a known peer: a joining node
   * asks its bootstrap peer). Rejects with ShoalError 'unavailable' when the call failed (the
   * request may or may not have been acted on) and 'timeout' when `timeoutMs` passed first.
   */
  control(uri: string, kind: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new ShoalError('unavailable', 'the p2p transport is closed'));
    const target = grpcTarget(uri);
    let client = this.controlClients.get(target);
    if (client === undefined) {
      client = this.client(target, CONTROL_CHANNEL_PURPOSE);
      this.controlClients.set(target, client);
    }
    const request = encodeControlRequest({ kind, body, clusterId: this.options.clusterId ?? '' });
    const c = client;
    return new Promise((resolve, reject) => {
      c.makeUnaryRequest(p2pSchema().controlPath, identity, identity, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) {
          const kindOf = error.code === grpc.status.DEADLINE_EXCEEDED ? 'timeout' : 'unavailable';
          reject(new ShoalError(kindOf, `${kind} request to ${uri} failed: ${error.details || grpc.status[error.code]}`));
          return;
        }
        const reply = response === undefined ? 'empty ControlReply' : decodeControlReply(response);
        if (typeof reply === 'string') reject(new ShoalError('unavailable', `${kind} request to ${uri}: ${reply}`));
        else resolve(reply);
      });
    });
  }

  /** Sets the one handler of incoming Points calls; without one they fail UNAVAILABLE. */
  onPoints(handler: PointsHandler): void {
    this.pointsHandler = handler;
  }

  /**
   * One Points call to the node at `uri`, on the points channel. Never rejects: a call that did
   * not complete is `failed` (timeout true when the budget ran out or the signal aborted it).
   */
  callPoints(uri: string, method: PointsMethod, request: ShardRequest, options: PointsCallOptions): Promise<PointsCallResult> {
    if (this.closed) return Promise.resolve({ outcome: 'failed', timeout: false, message: 'the p2p transport is closed' });
    if (options.signal?.aborted === true) return Promise.resolve({ outcome: 'failed', timeout: true, message: 'cancelled by the caller' });
    let client: grpc.Client;
    try {
      const target = grpcTarget(uri);
      client = this.pointsClients.get(target) ?? this.client(target, POINTS_CHANNEL_PURPOSE);
      this.pointsClients.set(target, client);
    } catch (error) {
      return Promise.resolve({ outcome: 'failed', timeout: false, message: error instanceof Error ? error.message : String(error) });
    }
    const deadline = Date.now() + Math.max(1, options.timeoutMs);
    return new Promise((resolve) => {
      const call = client.makeUnaryRequest(p2pSchema().pointsPaths[method], identity, identity, encodeShardRequest({ ...request, clusterId: this.options.clusterId ?? '' }), new grpc.Metadata(), { deadline }, (error, response) => {
        options.signal?.removeEventListener('abort', abort);
        if (error) {
          const timeout = error.code === grpc.status.DEADLINE_EXCEEDED || error.code === grpc.status.CANCELLED;
          resolve({ outcome: 'failed', timeout, message: `${method} on ${uri}: ${error.details || grpc.status[error.code]}` });
          return;
        }
        const reply = response === undefined ? 'empty ShardReply' : decodeShardReply(response);
        if (typeof reply === 'string') resolve({ outcome: 'failed', timeout: false, message: `${method} on ${uri}: ${reply}` });
        else resolve({ outcome: 'reply', reply });
      });
      const abort = (): void => call.cancel();
      options.signal?.addEventListener('abort', abort, { once: true });
    });
  }

  stats(): TransportStats {
    return linkStats([...this.peers].map(([id, entry]) => [id, entry.link] as const));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.peers.values()) closeEntry(entry);
    this.peers.clear();
    for (const client of this.controlClients.values()) client.close();
    this.controlClients.clear();
    for (const client of this.pointsClients.values()) client.close();
    this.pointsClients.clear();
    // Immediate: a peer's batch cut short is retried by that peer, and Raft tolerates the loss.
    this.server?.forceShutdown();
    this.server = null;
  }

  private readonly nowMs = (): number => (this.options.nowMs ?? Date.now)();

  private deliverTo(id: TransportPeerId): Deliver {
    return (messages, done) => {
      const entry = this.peers.get(id);
      assert(entry !== undefined, `a batch for removed peer ${id}`); // a closed PeerLink sends nothing
      const batch: RaftBatch = {
        fromPeer: this.options.selfId,
        fromUri: this.selfUri,
        toPeer: id,
        clusterId: this.options.clusterId ?? '',
        messages,
      };
      const deadline = Date.now() + this.limits.rpcDeadlineMs;
      entry.call = entry.client.makeUnaryRequest(p2pSchema().sendPath, identity, identity, encodeBatch(batch), new grpc.Metadata(), { deadline }, (error, response) => {
        entry.call = null;
        done(error ? callFailure(error) : ackFailure(id, response));
      });
    };
  }

  private receive(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    const batch = decodeBatch(call.request);
    const refusal = typeof batch === 'string' ? { code: grpc.status.INVALID_ARGUMENT, details: batch } : this.refusal(batch);
    if (refusal !== null || typeof batch === 'string') {
      callback(refusal);
      return;
    }
    const handler = this.handler;
    try {
      // Without a handler yet (still starting), the messages are acknowledged and lost, as on a
      // lossy network; Raft re-sends.
      if (handler !== null) for (const message of batch.messages) handler(batch.fromPeer, message, { uri: batch.fromUri });
    } catch (error) {
      // grpc-js would turn a throw into an UNKNOWN status and carry on. A handler that throws is
      // a programmer error, which must stop the process loudly (STYLE.md §5), not loop as retries.
      process.nextTick(() => {
        throw error;
      });
      callback({ code: grpc.status.INTERNAL, details: `peer ${this.options.selfId} failed on a message` });
      return;
    }
    callback(null, encodeAck({ peer: this.options.selfId, delivered: handler === null ? 0 : batch.messages.length }));
  }

  private answerControl(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    const request = decodeControlRequest(call.request);
    if (typeof request === 'string') return callback({ code: grpc.status.INVALID_ARGUMENT, details: request });
    if (request.clusterId !== (this.options.clusterId ?? '')) {
      return callback({ code: grpc.status.FAILED_PRECONDITION, details: `request from cluster '${request.clusterId}' reached another cluster` });
    }
    const handler = this.controlHandler;
    if (this.closed || handler === null) return callback({ code: grpc.status.UNAVAILABLE, details: `peer ${this.options.selfId} is not serving requests` });
    handler(request.kind, request.body).then(
      (reply) => callback(null, encodeControlReply(reply)),
      (error: unknown) => callback({ code: grpc.status.UNAVAILABLE, details: error instanceof Error ? error.message : String(error) }),
    );
  }

  private answerPoints(method: PointsMethod, call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    const request = decodeShardRequest(call.request);
    if (typeof request === 'string') return callback({ code: grpc.status.INVALID_ARGUMENT, details: request });
    if (request.clusterId !== (this.options.clusterId ?? '')) {
      return callback({ code: grpc.status.FAILED_PRECONDITION, details: `request from cluster '${request.clusterId}' reached another cluster` });
    }
    const handler = this.pointsHandler;
    if (this.closed || handler === null) return callback({ code: grpc.status.UNAVAILABLE, details: `peer ${this.options.selfId} is not serving points` });
    // The caller gave up (deadline, cancel): reads stop early; a write already in the WAL goes on.
    const aborted = new AbortController();
    call.on('cancelled', () => aborted.abort());
    handler(method, request, aborted.signal).then(
      (reply) => callback(null, encodeShardReply(reply)),
      (error: unknown) => {
        process.nextTick(() => {
          throw error;
        });
        callback({ code: grpc.status.INTERNAL, details: `peer ${this.options.selfId} failed on ${method}` });
      },
    );
  }

  private controlDefinition(): grpc.ServiceDefinition {
    return unaryBytesService('call', p2pSchema().controlPath);
  }

  private refusal(batch: RaftBatch): Partial<grpc.StatusObject> | null {
    const selfId = this.options.selfId;
    if (this.closed) return { code: grpc.status.UNAVAILABLE, details: `peer ${selfId} is shutting down` };
    if (batch.toPeer !== selfId) {
      return { code: grpc.status.FAILED_PRECONDITION, details: `batch for peer ${batch.toPeer} reached peer ${selfId}` };
    }
    if (batch.clusterId !== (this.options.clusterId ?? '')) {
      return { code: grpc.status.FAILED_PRECONDITION, details: `batch from cluster '${batch.clusterId}' reached another cluster` };
    }
    if (batch.messages.length > this.limits.batchMessagesMax) {
      return { code: grpc.status.INVALID_ARGUMENT, details: `batch of ${batch.messages.length} messages exceeds ${this.limits.batchMessagesMax}` };
    }
    return null;
  }

  private serviceDefinition(): grpc.ServiceDefinition {
    return unaryBytesService('send', p2pSchema().sendPath);
  }

  private serverOptions(): grpc.ServerOptions {
    return {
      'grpc.max_receive_message_length': Math.max(rpcBytesMax(this.limits), this.limits.pointsMessageBytesMax),
      // Raft acknowledgements and Control answers are small; Points answers carry point data.
      'grpc.max_send_message_length': this.limits.pointsMessageBytesMax,
      // The server pings too, so a client that vanished releases its connection promptly.
      'grpc.keepalive_time_ms': this.limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.limits.keepaliveTimeoutMs,
    };
  }

  private client(target: string, purpose = RAFT_CHANNEL_PURPOSE): grpc.Client {
    const credentials = this.options.channelCredentials ?? grpc.credentials.createInsecure();
    const channel = new grpc.Channel(target, credentials, {
      [CHANNEL_PURPOSE_ARG]: purpose,
      // Its own connection: never multiplexed with another channel's streams to the same peer.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': purpose === POINTS_CHANNEL_PURPOSE ? this.limits.pointsMessageBytesMax : rpcBytesMax(this.limits),
      'grpc.max_receive_message_length': purpose === POINTS_CHANNEL_PURPOSE ? this.limits.pointsMessageBytesMax : 64 * 1024,
      // Ping even between batches, so a dead peer is noticed within keepalive time + timeout.
      'grpc.keepalive_time_ms': this.limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.limits.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.limits.backoffMsMin,
      'grpc.max_reconnect_backoff_ms': this.limits.backoffMsMax,
      // PeerLink retries whole batches itself; gRPC's own retries would reorder nothing but
      // would hide failures from the count.
      'grpc.enable_retries': 0,
    });
    return new grpc.Client(target, credentials, { channelOverride: channel });
  }
}

function defaultSelfUri(listen: string, port: number): string {
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return ['', '0.0.0.0', '[::]', '::'].includes(host) ? '' : `http://${host}:${port}`;
}

function closeEntry(entry: PeerEntry): void {
  entry.link.close();
  entry.call?.cancel();
  entry.call = null;
  entry.client.close();
}

function callFailure(error: grpc.ServiceError): BatchFailure {
  return { message: `${grpc.status[error.code] ?? error.code}: ${error.details}`, retry: RETRYABLE.has(error.code) };
}

function ackFailure(id: TransportPeerId, response: Buffer | undefined): BatchFailure | null {
  const ack = response === undefined ? 'empty RaftAck' : decodeAck(response);
  if (typeof ack === 'string') return { message: ack, retry: false };
  if (ack.peer !== id) return { message: `peer ${id}'s address answers as peer ${ack.peer}`, retry: false };
  return null;
}

/** A one-method unary service whose messages are bytes we encode and decode ourselves. */
function unaryBytesService(method: string, path: string): grpc.ServiceDefinition {
  return {
    [method]: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}

/** The Points service: one unary method per PointsMethod, bytes in and out. */
function pointsDefinition(): grpc.ServiceDefinition {
  const paths = p2pSchema().pointsPaths;
  return Object.assign({}, ...POINTS_METHODS.map((m) => unaryBytesService(m, paths[m]))) as grpc.ServiceDefinition;
}
