import type { Clock, FileSystem, Rng } from '@shoal/common';
import type { Transport } from '@shoal/consensus';
import type { MetaOperation } from '@shoal/meta';
import type { Entry, HardState, Message, PeerId, RaftConfig } from '@shoal/raft';

/** What the checks read of one node after a step (its log as stored: after a step nothing is unstable). */
export interface NodeView {
  readonly term: number;
  readonly isLeader: boolean;
  readonly commit: number;
  readonly applied: number;
  /** First entry still in the log (the snapshot index + 1), and the last one. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The membership this node applied (incoming voters, outgoing voters while joint, learners). */
  readonly voters: readonly PeerId[];
  readonly votersOutgoing: readonly PeerId[];
  readonly learners: readonly PeerId[];
}

/** A membership change asked of a node (its leader, normally). */
export type MembershipChange =
  | { readonly kind: 'addLearner'; readonly peer: PeerId; readonly uri: string }
  | { readonly kind: 'promote'; readonly peer: PeerId }
  | { readonly kind: 'remove'; readonly peer: PeerId };

/**
 * What the simulator needs from one node: inputs (tick, a client proposal), and a view for the
 * invariant checks (log, durable hard state, applied state hashes).
 */
export interface SimNode {
  readonly id: PeerId;
  tick(): void;
  /** A client proposal; resolves true once it is applied on this node, false on any other outcome. */
  propose(op: MetaOperation, deadlineMs: number): Promise<boolean>;
  /** Resolves with the outcome's name ('applied', 'not_leader', 'dropped', …). */
  changeMembership(change: MembershipChange, deadlineMs: number): Promise<string>;
  view(): NodeView;
  /** Log entries [lo, hi) within [firstIndex, lastIndex]. */
  entries(lo: number, hi: number): readonly Entry[];
  /** The hard state the node's storage has made durable (what a crash now would keep). */
  durableHardState(): HardState;
  /** Hash of the applied state at `index`, if the node applied it (and still remembers it). */
  stateHashAt(index: number): string | undefined;
  /** Resolves once the node has nothing left to do with what it was given. */
  whenIdle(): Promise<void>;
  /** The error that stopped the node, if it stopped on its own. */
  failure(): string | undefined;
  close(): Promise<void>;
}

export interface NodeStartArgs {
  readonly id: PeerId;
  /** The founding voters, for a node that founds the cluster; empty for a node that joins it. */
  readonly voters: readonly PeerId[];
  readonly fs: FileSystem;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly rng: Rng;
  /** Raft settings the simulation wants (small limits, planted bugs in testHooks). */
  readonly raft: Partial<Omit<RaftConfig, 'id' | 'applied'>>;
}

/** Starts (or restarts, from what `fs` holds) one node. */
export interface NodeFactory {
  readonly name: string;
  start(args: NodeStartArgs): Promise<SimNode>;
  /** Decodes a message as it travels the network, so the simulator can inspect votes. */
  decode(bytes: Uint8Array): Message;
}
