import { seededRng, type Rng } from '@shoal/common';
import { describe, expect, it } from 'vitest';
import { raftConfig } from './config.js';
import type { Message, Snapshot } from './messages.js';
import { RaftNode } from './raft.js';
import { MemoryLogStorage } from './storage.js';
import { logIndex, peerId, term, type PeerId } from './types.js';

/**
 * A small randomized cluster (not the full simulator): 5 nodes over a network that drops,
 * duplicates and reorders messages and partitions nodes, with crash-restarts from persisted
 * state. After every step: at most one leader per term, and every committed entry, once seen
 * on any node, is the same on every node forever (log matching + committed entries never change).
 */

const IDS = [1, 2, 3, 4, 5].map(peerId);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Node {
  id: PeerId;
  storage: MemoryLogStorage;
  raft: RaftNode;
  up: boolean;
  incarnation: number;
}

function bootstrap(seed: number, id: PeerId): Node {
  const snap: Snapshot = {
    meta: { index: logIndex(1), term: term(1), confState: { voters: IDS, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } },
    data: new Uint8Array(0),
  };
  const storage = MemoryLogStorage.fromSnapshot(snap);
  return { id, storage, raft: newRaft(seed, id, storage, 0), up: true, incarnation: 0 };
}

function newRaft(seed: number, id: PeerId, storage: MemoryLogStorage, incarnation: number): RaftNode {
  const config = raftConfig(id, { electionTicks: 10, heartbeatTicks: 2, inflightMsgsMax: 4, msgBytesMax: 64, uncommittedBytesMax: 256 });
  return new RaftNode(config, storage, seededRng(seed * 1_000 + id * 10 + incarnation));
}

class Cluster {
  readonly nodes = new Map<PeerId, Node>();
  private queue: Message[] = [];
  private groups = new Map<PeerId, number>();
  private readonly leaders = new Map<number, PeerId>();
  private readonly committed = new Map<number, string>();
  proposals = 0;
  commits = 0;

  constructor(
    private readonly seed: number,
    private readonly rng: Rng,
  ) {
    for (const id of IDS) this.nodes.set(id, bootstrap(seed, id));
  }

  step(): void {
    const r = this.rng.next();
    if (r < 0.12) this.tickOne();
    else if (r < 0.75) this.deliverOne();
    else if (r < 0.85) this.propose();
    else if (r < 0.855) this.repartition();
    else if (r < 0.858) this.crashOrRestart();
    else if (r < 0.87) this.snapshotAndCompact();
    for (const n of this.nodes.values()) if (n.up) this.handleReady(n);
    this.checkInvariants();
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.int(xs.length)];
  }

  /** One tick of the shared clock: every live node ticks. */
  private tickOne(): void {
    for (const n of this.nodes.values()) if (n.up) n.raft.tick();
  }

  private deliverOne(): void {
    if (this.queue.length === 0) return;
    // Any queued message may go next (reordering); some are lost, some delivered twice.
    const k = this.rng.int(this.queue.length);
    const m = this.queue[k]!;
    if (this.rng.next() < 0.9) this.queue.splice(k, 1);
    if (this.rng.next() < 0.1) return;
    const to = this.nodes.get(m.to);
    if (to === undefined || !to.up || this.groups.get(m.from) !== this.groups.get(m.to)) return;
    to.raft.step(m);
  }

  private propose(): void {
    const leader = [...this.nodes.values()].find((n) => n.up && n.raft.status().role === 'leader');
    if (leader === undefined) return;
    this.proposals += 1;
    leader.raft.propose(encoder.encode(`p${this.proposals}`));
  }

  private repartition(): void {
    this.groups = new Map();
    if (this.rng.next() < 0.4) return; // healed
    for (const id of IDS) this.groups.set(id, this.rng.int(2));
  }

  private crashOrRestart(): void {
    const n = this.pick([...this.nodes.values()]);
    if (n === undefined) return;
    if (n.up) {
      n.up = false;
      this.queue = this.queue.filter((m) => m.to !== n.id);
    } else {
      n.incarnation += 1;
      n.raft = newRaft(this.seed, n.id, n.storage, n.incarnation);
      n.up = true;
    }
  }

  private snapshotAndCompact(): void {
    const n = this.pick([...this.nodes.values()].filter((x) => x.up));
    if (n === undefined) return;
    const s = n.raft.status();
    if (s.applied <= n.storage.snapshot().meta.index || s.applied > n.storage.lastIndex()) return;
    n.storage.createSnapshot(s.applied, s.confState, new Uint8Array(0));
    n.storage.compact(s.applied);
  }

  private handleReady(n: Node): void {
    if (!n.raft.hasReady()) return;
    const rd = n.raft.ready();
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messages);
    if (this.queue.length > 2_000) this.queue.splice(0, this.queue.length - 2_000); // a bounded network
    for (const e of rd.committedEntries) {
      const text = `${e.term}:${e.kind === 'normal' ? decoder.decode(e.data) : 'conf'}`;
      const seen = this.committed.get(e.index);
      if (seen === undefined) {
        this.committed.set(e.index, text);
        this.commits += 1;
      } else if (seen !== text) {
        throw new Error(`seed ${this.seed}: node ${n.id} applied ${e.index} as ${text}, another node as ${seen}`);
      }
      if (e.kind === 'confChange') n.raft.applyConfChange(e.change);
    }
    n.raft.advance(rd);
  }

  private checkInvariants(): void {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const s = n.raft.status();
      if (s.role === 'leader') {
        const other = this.leaders.get(s.term);
        if (other !== undefined && other !== n.id) throw new Error(`seed ${this.seed}: two leaders in term ${s.term}: ${other} and ${n.id}`);
        this.leaders.set(s.term, n.id);
      }
      // Every entry this node holds as committed equals the one first seen committed there.
      const lo = Math.max(s.firstIndex, s.commit - 5);
      for (const e of n.raft.entries(logIndex(lo), logIndex(s.commit + 1))) {
        const seen = this.committed.get(e.index);
        const text = `${e.term}:${e.kind === 'normal' ? decoder.decode(e.data) : 'conf'}`;
        if (seen !== undefined && seen !== text) throw new Error(`seed ${this.seed}: node ${n.id} holds ${e.index} as ${text}, committed as ${seen}`);
      }
    }
  }

  leaderTerms(): number {
    return this.leaders.size;
  }
}

describe('randomized 5-node cluster', () => {
  it('keeps one leader per term and committed entries stable under loss, reordering, duplication, partitions and restarts', () => {
    let totalCommits = 0;
    let totalTerms = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const cluster = new Cluster(seed, seededRng(seed));
      for (let k = 0; k < 3_000; k++) cluster.step();
      totalCommits += cluster.commits;
      totalTerms += cluster.leaderTerms();
    }
    // The test must exercise something: leaders were elected and entries committed.
    expect(totalTerms).toBeGreaterThan(60);
    expect(totalCommits).toBeGreaterThan(600);
  });
});
