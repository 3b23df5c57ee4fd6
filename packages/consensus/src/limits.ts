import { ShoalError } from '@shoal/common';

/**
 * Limits of the p2p transport that carries Raft messages. They live here until the consensus
 * layer's limits join @shoal/common's Limits; each states its unit and its trade-off. Tests pass
 * tiny values so the "full" and "retry" branches run every time.
 */
export interface TransportLimits {
  /**
   * Messages held for one peer: queued plus the batch in flight. Beyond it send() drops the new
   * message and returns false, never blocks. Raft re-sends what still matters (the next
   * heartbeat, a probe), so a small bound costs little and caps the memory a dead peer can pin.
   */
  readonly queueMessagesMax: number;
  /** Bytes held for one peer, same rule as queueMessagesMax. */
  readonly queueBytesMax: number;
  /** Most messages in one RPC. Larger batches mean fewer RPCs and a longer wait for the last. */
  readonly batchMessagesMax: number;
  /**
   * Most message bytes in one RPC, and so the largest single message (a bigger one is dropped:
   * Raft snapshots must be sent in chunks below it). Kept small so that a heartbeat never waits
   * behind megabytes on the wire; bulk data has its own channel.
   */
  readonly batchBytesMax: number;
  /**
   * A batch not acknowledged within this fails and is retried. Below the election timeout so a
   * stuck peer shows up in the failure count before the cluster reacts to it.
   */
  readonly rpcDeadlineMs: number;
  /** First wait before re-sending to a peer after a failed batch; doubles per consecutive failure. */
  readonly backoffMsMin: number;
  /** Longest wait between attempts: a restarted peer hears from us within about this long. */
  readonly backoffMsMax: number;
  /**
   * HTTP/2 ping interval on an idle or busy connection, and how long a ping may go unanswered.
   * Their sum bounds how long a dead peer (power loss, partition: no TCP reset) goes unnoticed.
   */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /**
   * Largest message of the Points service (a shard's part of a write, a replica's read answer),
   * bytes. Bounds the memory one call can pin on either side; a client request is at most
   * service.max_request_size_mb (32 MiB) of JSON, and the binary form of its vectors is smaller.
   */
  readonly pointsMessageBytesMax: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  queueMessagesMax: 1024,
  queueBytesMax: 16 * 1024 * 1024,
  batchMessagesMax: 256,
  batchBytesMax: 4 * 1024 * 1024,
  rpcDeadlineMs: 1000,
  backoffMsMin: 50,
  backoffMsMax: 1000,
  keepaliveTimeMs: 1000,
  keepaliveTimeoutMs: 1000,
  pointsMessageBytesMax: 64 * 1024 * 1024,
};

/** Bytes a batch's envelope may add to its messages: ids, URI, cluster id, one tag+length per message. */
export function rpcBytesMax(limits: TransportLimits): number {
  return limits.batchBytesMax + limits.batchMessagesMax * 8 + 4096;
}

/** Defaults overridden by `overrides`, checked: a limit that cannot work is refused at start-up. */
export function transportLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_TRANSPORT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ShoalError('validation', `transport limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.backoffMsMax < limits.backoffMsMin) {
    throw new ShoalError('validation', 'transport limit backoffMsMax must be at least backoffMsMin');
  }
  if (limits.queueBytesMax < limits.batchBytesMax || limits.queueMessagesMax < limits.batchMessagesMax) {
    // Otherwise a full batch could never be held, and the largest message could never be sent.
    throw new ShoalError('validation', 'transport queue limits must be at least the batch limits');
  }
  return limits;
}
