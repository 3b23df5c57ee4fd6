import { apply, decodeOperation, EMPTY_META_STATE, encodeOperation, stateHash, type MetaOperation, type MetaState } from '@shoal/meta';
import { RaftNode, raftConfig, type Entry, type HardState, type Message, type Status } from '@shoal/raft';
import { decodeMessage, encodeMessage } from './codec.js';
import { MiniStore } from './mini-store.js';
import type { NodeFactory, NodeStartArgs, SimNode } from './node.js';

/**
 * A minimal driver loop around the real Raft core and the real metadata state machine, used
 * until packages/consensus offers its driver: persist the Ready (synced) *before* sending its
 * messages, then apply committed entries to meta, then advance.
 */
class MiniDriver implements SimNode {
  readonly id;
  private meta: MetaState = { ...EMPTY_META_STATE, appliedIndex: 1 };
  private pumping = false;
  private error: unknown = undefined;
  private closed = false;

  constructor(
    private readonly args: NodeStartArgs,
    private readonly store: MiniStore,
    private readonly raft: RaftNode,
  ) {
    this.id = args.id;
    args.transport.onMessage((_from, bytes) => this.input(() => this.raft.step(decodeMessage(bytes))));
  }

  tick(): void {
    this.input(() => this.raft.tick());
  }

  propose(op: MetaOperation): void {
    this.input(() => void this.raft.propose(encodeOperation(op)));
  }

  status(): Status {
    return this.raft.status();
  }

  entries(lo: number, hi: number): readonly Entry[] {
    return this.raft.entries(lo as never, hi as never);
  }

  durableHardState(): HardState {
    return this.store.durableHardState();
  }

  failure(): unknown {
    return this.error;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.args.transport.close();
  }

  private input(f: () => void): void {
    if (this.closed || this.error !== undefined) return;
    f();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.raft.hasReady()) {
        const rd = this.raft.ready();
        // Durable first: a vote or an append acknowledgement that leaves this node must survive a crash.
        await this.store.persist(rd);
        for (const m of rd.messages) this.args.transport.send(m.to, encodeMessage(m));
        for (const e of rd.committedEntries) this.applyEntry(e);
        this.raft.advance(rd);
      }
    } catch (cause) {
      this.error = cause;
    } finally {
      this.pumping = false;
    }
  }

  private applyEntry(e: Entry): void {
    if (e.kind === 'confChange') this.raft.applyConfChange(e.change);
    if (e.kind === 'normal' && e.data.byteLength > 0) this.meta = apply(this.meta, e.index, decodeOperation(e.data)).state;
    else this.meta = { ...this.meta, appliedIndex: e.index };
    this.args.onApplied(this.id, e, stateHash(this.meta));
  }
}

/** The stand-in driver as a NodeFactory. */
export const miniDriverFactory: NodeFactory = {
  name: 'mini-driver',
  async start(args: NodeStartArgs): Promise<SimNode> {
    const store = await MiniStore.open(args.fs, args.voters);
    const config = raftConfig(args.id, {
      electionTicks: 10,
      heartbeatTicks: 2,
      inflightMsgsMax: 4,
      msgBytesMax: 2048,
      uncommittedBytesMax: 64 * 1024,
      ...args.raft,
    });
    const raft = new RaftNode(config, store.storage, args.rng);
    await args.transport.start();
    return new MiniDriver(args, store, raft);
  },
  decode: (bytes: Uint8Array): Message => decodeMessage(bytes),
};
