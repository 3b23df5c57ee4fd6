import { ConsensusDriver, decodeMessage, RaftLogStore, type DriverLimits } from '@shoal/consensus';
import type { MetaOperation } from '@shoal/meta';
import { logIndex, type Entry, type HardState, type PeerId } from '@shoal/raft';
import type { MembershipChange, NodeFactory, NodeStartArgs, NodeView, SimNode } from './node.js';

/**
 * One simulated node: the real ConsensusDriver (real Raft core, real durable log store on the
 * node's FileSystem, real metadata state machine) on a simulated transport, clock and Rng.
 */
class ConsensusSimNode implements SimNode {
  constructor(
    readonly id: PeerId,
    private readonly driver: ConsensusDriver,
    /** The store the driver opened last (it reopens one after a storage error). */
    private readonly store: () => RaftLogStore | undefined,
  ) {}

  tick(): void {
    this.driver.tick();
  }

  async propose(op: MetaOperation, deadlineMs: number): Promise<boolean> {
    const r = await this.driver.propose(op, deadlineMs);
    return r.outcome === 'applied';
  }

  async changeMembership(change: MembershipChange, deadlineMs: number): Promise<string> {
    const d = this.driver;
    const r =
      change.kind === 'addLearner'
        ? await d.addLearner(change.peer, change.uri, deadlineMs)
        : change.kind === 'promote'
          ? await d.promote(change.peer, deadlineMs)
          : await d.removePeer(change.peer, deadlineMs);
    return r.outcome;
  }

  view(): NodeView {
    const s = this.driver.status();
    const store = this.store();
    return {
      term: s.term,
      isLeader: s.role === 'Leader',
      commit: s.commit,
      applied: s.applied,
      firstIndex: store?.firstIndex() ?? 1,
      lastIndex: store?.lastIndex() ?? 0,
      voters: s.confState.voters,
      votersOutgoing: s.confState.votersOutgoing,
      learners: s.confState.learners,
    };
  }

  entries(lo: number, hi: number): readonly Entry[] {
    const store = this.store();
    if (store === undefined || lo >= hi) return [];
    return store.entries(logIndex(lo), logIndex(hi), Number.POSITIVE_INFINITY);
  }

  durableHardState(): HardState {
    const store = this.store();
    if (store === undefined) throw new Error(`node ${this.id} has no log store`);
    return store.initialState().hardState;
  }

  stateHashAt(index: number): string | undefined {
    return this.driver.stateHashAt(index);
  }

  whenIdle(): Promise<void> {
    return this.driver.whenIdle();
  }

  failure(): string | undefined {
    const t = this.driver.status().thread;
    return t.status === 'stopped_with_err' ? t.err : undefined;
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/** Driver limits for simulation: frequent snapshots, so compaction and InstallSnapshot run often. */
const SIM_DRIVER_LIMITS: Partial<DriverLimits> = { snapshotEntries: 40, hashHistoryMax: 4096 };

export const consensusNodeFactory: NodeFactory = {
  name: 'consensus-driver',
  async start(args: NodeStartArgs): Promise<SimNode> {
    let store: RaftLogStore | undefined;
    const openStorage = async (): Promise<RaftLogStore> => {
      store = await RaftLogStore.open(args.fs, 'raft', { walSegmentBytes: 4096 });
      return store;
    };
    const driver = await ConsensusDriver.start({
      id: args.id,
      uri: `sim://${args.id}`,
      transport: args.transport,
      openStorage,
      clock: args.clock,
      wallClockMs: () => args.clock.nowMs(),
      rng: args.rng,
      raft: { electionTicks: 10, heartbeatTicks: 2, ...args.raft },
      limits: SIM_DRIVER_LIMITS,
      ...(args.voters.length === 0 ? {} : { bootstrap: new Map(args.voters.map((id) => [id, `sim://${id}`] as const)) }),
    });
    return new ConsensusSimNode(args.id, driver, () => store);
  },
  decode: decodeMessage,
};
