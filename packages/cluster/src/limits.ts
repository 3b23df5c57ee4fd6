// Time budgets of the data plane, ms. A request's own `timeout` wins when it is shorter; these
// bound requests that give none. Each states its trade-off.

export interface DataPlaneTiming {
  /**
   * A point write without `timeout`: its fan-out, and marking the replicas that missed it Dead
   * (which needs a Raft leader: an election after a leader crash takes 1-2 s). Longer hides a
   * partitioned replica longer before the write fails; shorter fails writes during elections.
   */
  readonly writeTimeoutMs: number;
  /** A read without `timeout`, including the replacement of replicas that fail. */
  readonly readTimeoutMs: number;
  /** Creating a collection or a shard key without `timeout`: placement, commit, every replica Active, every peer caught up. */
  readonly createTimeoutMs: number;
  /** Catching up with the leader's commit (ReadIndex) before answering 404 for an unknown name. */
  readonly catchUpTimeoutMs: number;
  /** A write this node leads for another (ordering medium / strong) when the caller's deadline is not known here. */
  readonly leadTimeoutMs: number;
  /**
   * Pause before re-proposing a Dead mark or an activation that did not commit (no leader, a
   * timeout), doubling up to the maximum: a partition retries a few times per second, not in a loop.
   */
  readonly deadMarkRetryMsMin: number;
  readonly deadMarkRetryMsMax: number;
}

export const DATA_PLANE_TIMING: DataPlaneTiming = {
  writeTimeoutMs: 30_000,
  readTimeoutMs: 30_000,
  createTimeoutMs: 30_000,
  catchUpTimeoutMs: 5_000,
  leadTimeoutMs: 30_000,
  deadMarkRetryMsMin: 100,
  deadMarkRetryMsMax: 2_000,
};

/** Sizes and times of shard transfers. Each states its trade-off. */
export interface TransferTiming {
  /**
   * Points per copied batch (one scroll, one message, one upsert on the target). Bigger batches
   * copy faster (fewer calls and WAL records) but hold the source's update lock longer while the
   * batch is read and make each message bigger.
   */
  readonly batchPoints: number;
  /** Bytes of messages in one call, at most (one bigger message goes alone): bounds the memory a call pins on both ends. */
  readonly callBytesMax: number;
  /** Messages in one call, at most (forwarded writes queued while a call was in flight ride together). */
  readonly callMessagesMax: number;
  /** One transfer call, ms: a target that does not answer within it counts as a failed send. */
  readonly callTimeoutMs: number;
  /** Sends of one call before the transfer is aborted (a target restarting or partitioned for a moment is retried). */
  readonly callAttemptsMax: number;
  /** Pause before resending a call, ms (doubles per attempt). */
  readonly callRetryPauseMs: number;
  /**
   * How long a source waits for the nodes of the shard's other replicas to apply the start (the
   * shard's new fence) before copying, ms. They refuse writes decided before it from then on;
   * a node that does not answer in time is unreachable for writes too.
   */
  readonly peersAppliedWaitMs: number;
  /** How often a node looks for its Dead replicas to recover, ms. */
  readonly recoveryTickMs: number;
  /** Pause before proposing a recovery of the same shard again after one failed or was refused, ms; doubles up to the maximum. */
  readonly recoveryPauseMsMin: number;
  readonly recoveryPauseMsMax: number;
  /** How often the Raft leader checks on the sources of running transfers, ms. */
  readonly watchdogTickMs: number;
  /** A transfer whose source has not answered the leader for this long is aborted, ms (longer than an election plus a restart). */
  readonly sourceSilentMsMax: number;
  /** A transfer whose target acknowledged nothing new for this long is aborted, ms (a stuck source or target). */
  readonly progressStallMsMax: number;
  /** Bytes of a shard archive per message of a `snapshot` transfer (forwarded writes wait behind at most a few of them). */
  readonly snapshotChunkBytes: number;
  /**
   * Bytes of forwarded writes a `snapshot` target holds in memory while its archive is still
   * being restored; past it the transfer fails (and is aborted) instead of growing.
   */
  readonly snapshotBufferBytesMax: number;
}

export const TRANSFER_TIMING: TransferTiming = {
  batchPoints: 512,
  callBytesMax: 8 * 1024 * 1024,
  callMessagesMax: 256,
  callTimeoutMs: 10_000,
  callAttemptsMax: 5,
  callRetryPauseMs: 100,
  peersAppliedWaitMs: 5_000,
  recoveryTickMs: 1_000,
  recoveryPauseMsMin: 1_000,
  recoveryPauseMsMax: 30_000,
  watchdogTickMs: 2_000,
  sourceSilentMsMax: 15_000,
  progressStallMsMax: 120_000,
  snapshotChunkBytes: 1024 * 1024,
  snapshotBufferBytesMax: 64 * 1024 * 1024,
};
