import { assert } from '@shoal/common';
import type { PeerId } from './types.js';

/**
 * The knobs of one Raft node. Every limit names its unit and its trade-off (STYLE.md §6); the
 * driver builds this from the node config, tests pass tiny limits so the "full" branches run.
 */
export interface RaftConfig {
  readonly id: PeerId;
  /** Election timeout in ticks; each node waits a random time in [electionTicks, 2*electionTicks). Longer: slower fail-over, fewer spurious elections. */
  readonly electionTicks: number;
  /** Heartbeat interval in ticks; must be below electionTicks. Shorter: faster commit propagation and lease confirmation, more traffic. */
  readonly heartbeatTicks: number;
  /** Ask for votes without bumping the term first, so a node that was cut off cannot disrupt a healthy leader when it comes back. */
  readonly preVote: boolean;
  /** A leader that did not hear from a quorum within an election timeout steps down; followers ignore votes while they hear from a leader. */
  readonly checkQuorum: boolean;
  /** Append messages in flight per follower before waiting for acks. Bigger: more throughput on long links, more memory. */
  readonly inflightMsgsMax: number;
  /** Bytes of entries per append message (at least one entry is always sent). */
  readonly msgBytesMax: number;
  /** Proposed-but-uncommitted payload bytes on a leader before proposals are 'dropped'. Bounds memory when followers are slow. */
  readonly uncommittedBytesMax: number;
  /** Payload bytes of committed entries handed out per Ready (at least one entry). Bounds one apply batch. */
  readonly readyCommittedBytesMax: number;
  /**
   * The index the driver's state machine had applied when this node was (re)built, so committed
   * entries up to it are not handed out again; then initialState().confState must be the
   * membership at that index. Undefined: from the snapshot (everything after it is re-applied).
   */
  readonly applied?: number;
  /** ReadIndex requests waiting for a quorum round on a leader before new ones are 'dropped'. */
  readonly pendingReadsMax: number;
  /** Test-only: planted bugs for the simulator to catch (packages/sim). Never set in production. */
  readonly testHooks?: RaftTestHooks;
}

/**
 * Test-only seams, each one a known way to break Raft, so the simulator can prove its invariants
 * catch it. Every flag defaults to off; production code never sets them.
 */
export interface RaftTestHooks {
  /** A leader commits an entry of an earlier term by counting replicas (ignores Figure 8). */
  readonly commitEarlierTerms?: boolean;
  /** A follower treats its whole log as committed when it accepts an append, so it applies entries no quorum may hold. */
  readonly applyUncommitted?: boolean;
  /** The Ready's hard state leaves out a vote just cast, so the driver sends the vote before it is durable. */
  readonly voteNotPersisted?: boolean;
}

/** Fixed per-entry cost counted against msgBytesMax (term, index, kind and framing). */
export const ENTRY_OVERHEAD_BYTES = 24;

/** Per-change cost of a conf-change entry counted against the byte limits. */
export const CONF_CHANGE_BYTES = 16;

export const DEFAULT_RAFT_LIMITS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  inflightMsgsMax: 256,
  msgBytesMax: 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  readyCommittedBytesMax: 16 * 1024 * 1024,
  pendingReadsMax: 4096,
} as const;

export function raftConfig(id: PeerId, overrides: Partial<Omit<RaftConfig, 'id'>> = {}): RaftConfig {
  const config: RaftConfig = { ...DEFAULT_RAFT_LIMITS, ...overrides, id };
  validateConfig(config);
  return config;
}

export function validateConfig(c: RaftConfig): void {
  const positive = (n: number, name: string): void =>
    assert(Number.isSafeInteger(n) && n >= 1, `raft config ${name} must be a positive integer, got ${n}`);
  positive(c.electionTicks, 'electionTicks');
  positive(c.heartbeatTicks, 'heartbeatTicks');
  positive(c.inflightMsgsMax, 'inflightMsgsMax');
  positive(c.msgBytesMax, 'msgBytesMax');
  positive(c.uncommittedBytesMax, 'uncommittedBytesMax');
  positive(c.readyCommittedBytesMax, 'readyCommittedBytesMax');
  positive(c.pendingReadsMax, 'pendingReadsMax');
  assert(c.heartbeatTicks < c.electionTicks, 'heartbeatTicks must be below electionTicks');
}
