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
