import { ShoalError } from '@shoal/common';

/**
 * A peer id as the transport sees it: an integer in [1, 2^53), so JavaScript numbers hold it
 * exactly and protobuf's uint64 carries it. Raft's branded PeerId is assignable to it.
 */
export type TransportPeerId = number;

export function isTransportPeerId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

export function checkPeerId(n: number): TransportPeerId {
  if (!isTransportPeerId(n)) throw new ShoalError('validation', `peer id must be an integer in [1, 2^53), got ${n}`);
  return n;
}

/** What the receiver learns beside the message: the sender's advertised p2p URI ('' if it gave none). */
export interface MessageOrigin {
  readonly uri: string;
}

/**
 * Called once per message, in the order the sender sent them. The message is opaque to the
 * transport (an encoded Raft message) and may be a view into a larger buffer: decode it, do not
 * keep it.
 */
export type MessageHandler = (from: TransportPeerId, message: Uint8Array, origin: MessageOrigin) => void;

export interface SendError {
  readonly message: string;
  /** Wall-clock time of the failure, ms since the epoch (GET /cluster reports it as a date). */
  readonly atMs: number;
}

export interface TransportStats {
  /**
   * Consecutive failed sends per peer; a peer leaves the map at its first success (GET /cluster's
   * message_send_failures).
   */
  readonly sendFailures: Map<TransportPeerId, number>;
  /** The latest failure of the peers in sendFailures. */
  readonly latestErrors: Map<TransportPeerId, SendError>;
  /** Messages held per peer: queued plus in flight. */
  readonly queued: Map<TransportPeerId, number>;
  /** Messages dropped per peer since it was set: queue full, too large, or refused by the receiver. */
  readonly dropped: Map<TransportPeerId, number>;
}

/**
 * Carries opaque Raft messages between peers. Delivery is best effort, in order per
 * (sender, receiver) pair; a message may be lost (queue full, peer removed, batch refused) or, when
 * an acknowledgement is lost, delivered twice. Raft tolerates both.
 */
export interface Transport {
  /** Starts listening; after it resolves, other peers can reach this one. */
  start(): Promise<void>;
  /** Adds a peer or changes its address; messages already queued for it go to the new address. */
  setPeer(id: TransportPeerId, uri: string): void;
  /** Forgets a peer and drops what was queued for it. */
  removePeer(id: TransportPeerId): void;
  /**
   * Queues a message; false when it was dropped (unknown peer, queue full, too large, closed).
   * Never blocks. The transport keeps `message` until it is sent: do not reuse its buffer.
   */
  send(to: TransportPeerId, message: Uint8Array): boolean;
  /** Sets the one handler of incoming messages (a later call replaces it). */
  onMessage(handler: MessageHandler): void;
  stats(): TransportStats;
  /** Stops listening and sending, drops every queue, leaves no timer or socket behind. Idempotent. */
  close(): Promise<void>;
}
