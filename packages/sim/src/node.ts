import type { FileSystem, Rng } from '@shoal/common';
import type { Transport } from '@shoal/consensus';
import type { MetaOperation } from '@shoal/meta';
import type { Entry, HardState, Message, PeerId, RaftConfig, Status } from '@shoal/raft';

/**
 * What the simulator needs from one node: inputs (tick, a client proposal), and a view for the
 * invariant checks (the Raft status and log, the durable hard state, the applied state).
 */
export interface SimNode {
  readonly id: PeerId;
  tick(): void;
  /** A client proposal; the outcome (not_leader, dropped, committed) is the node's business. */
  propose(op: MetaOperation): void;
  status(): Status;
  /** Log entries [lo, hi) as the node sees them. */
  entries(lo: number, hi: number): readonly Entry[];
  /** The hard state the node's storage has made durable (what a crash now would keep). */
  durableHardState(): HardState;
  /** A storage or programmer error the node hit (it stopped), if any. */
  failure(): unknown;
  close(): Promise<void>;
}

/** Told after every applied entry (no-ops and membership changes too): the entry, the state hash after it. */
export type AppliedObserver = (node: PeerId, entry: Entry, stateHash: string) => void;

export interface NodeStartArgs {
  readonly id: PeerId;
  /** The initial voters (every node of the simulated cluster). */
  readonly voters: readonly PeerId[];
  readonly fs: FileSystem;
  readonly transport: Transport;
  readonly rng: Rng;
  /** Raft settings the simulation wants (small limits, planted bugs in testHooks); the driver keeps its own for the rest. */
  readonly raft: Partial<Omit<RaftConfig, 'id'>>;
  readonly onApplied: AppliedObserver;
}

/** Starts (or restarts, from what `fs` holds) one node. */
export interface NodeFactory {
  readonly name: string;
  start(args: NodeStartArgs): Promise<SimNode>;
  /** Decodes a message as it travels the network, so the simulator can inspect votes. */
  decode(bytes: Uint8Array): Message;
}
