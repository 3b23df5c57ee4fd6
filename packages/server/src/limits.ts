// Limits of the server process. Each states its unit and its trade-off.

/**
 * How long /readyz waits at most, ms from start-up, for this node's replicas to leave
 * Initializing and for its Dead or Partial replicas (with an Active copy elsewhere) to be
 * recovered, once it has caught up with the leader's commit. After it, the node reports ready
 * anyway (a fail-safe, as Qdrant's consensus-sync timeout): a replica that cannot recover (no
 * reachable source) must not keep a rolling restart waiting forever. Longer protects rolling
 * restarts of big shards better; shorter unblocks a stuck rollout sooner.
 */
export const READYZ_REPLICAS_WAIT_MS_MAX = 10 * 60_000;
