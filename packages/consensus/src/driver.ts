import { AssertionError, assert, type Clock, type Rng } from '@shoal/common';
import { EMPTY_META_STATE, type MetaOperation, type MetaState } from '@shoal/meta';
import {
  RaftNode,
  logIndex,
  raftConfig,
  term as toTerm,
  type ConfChange,
  type ConfState,
  type Entry,
  type LogIndex,
  type Message,
  type PeerId,
  type ProposeResult,
  type RaftConfig,
  type Ready,
  type Role,
  type Snapshot,
} from '@shoal/raft';
import {
  advanceTo,
  applyEntry,
  decodeCommand,
  decodeAppliedState,
  encodeAppliedState,
  encodeCommand,
  hashAppliedState,
  hashBytes,
  type AppliedState,
  type EntryOutcome,
} from './applied-state.js';
import { driverLimits, type DriverLimits } from './driver-limits.js';
import { Waiters, type ProposalResult, type ReadResult } from './driver-waiters.js';
import type { DurableLogStorage, PersistBatch } from './log-store.js';
import { decodeMessage, encodeMessage } from './raft-codec.js';
import type { MessageOrigin, Transport, TransportPeerId } from './transport.js';

export interface ConsensusDriverOptions {
  readonly id: PeerId;
  /** This node's p2p URI, as others reach it. */
  readonly uri: string;
  readonly transport: Transport;
  /** Opens the durable log; called at start and again to reload after a storage error. */
  readonly openStorage: () => Promise<DurableLogStorage>;
  /** Monotonic time for deadlines. The driver reads it; it never sets a timer. */
  readonly clock: Clock;
  /** Wall-clock ms for status timestamps only (GET /cluster's last_update). */
  readonly wallClockMs: () => number;
  /** This node's randomness (election timeouts). */
  readonly rng: Rng;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'applied'>>;
  readonly limits?: Partial<DriverLimits>;
  /**
   * The initial voters (id -> URI, this node included) of a new cluster. Used only when the
   * storage is empty; every founding node must be given the same map. A node joining an
   * existing cluster starts with none and waits for the leader's snapshot.
   */
  readonly bootstrap?: ReadonlyMap<PeerId, string>;
}

export type StateRole = 'Follower' | 'Candidate' | 'Leader' | 'PreCandidate';

export type ThreadStatus =
  | { readonly status: 'working'; readonly lastUpdateMs: number }
  | { readonly status: 'stopped' }
  | { readonly status: 'stopped_with_err'; readonly err: string; readonly lastUpdateMs: number };

export interface SendFailure {
  readonly uri: string;
  readonly count: number;
  readonly latestError: string | undefined;
  readonly latestErrorMs: number | undefined;
}

export interface ConsensusStatus {
  readonly peerId: PeerId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly leader: PeerId | undefined;
  readonly role: StateRole | undefined;
  readonly isVoter: boolean;
  /** Committed entries not yet applied here, plus local proposals waiting to be applied. */
  readonly pendingOperations: number;
  readonly confState: ConfState;
  /** Address book: every member with a known URI, this node included. */
  readonly peers: ReadonlyMap<PeerId, string>;
  readonly thread: ThreadStatus;
  readonly messageSendFailures: ReadonlyMap<PeerId, SendFailure>;
  /** Incoming messages dropped: malformed, misaddressed, inbox full, or while stopped. */
  readonly messagesDropped: number;
}

/**
 * Told of every applied metadata operation, in log order, each call starting only after the
 * previous one settled (the owner acts on an operation, e.g. opens a shard, before the next).
 * Calls run beside Raft, not inside the pump: a slow listener never delays heartbeats or votes.
 * A listener must not reject (it handles its own failures); a rejection stops the process.
 */
export interface ApplyListener {
  applied(state: MetaState, op: MetaOperation, index: number, outcome: EntryOutcome): Promise<void>;
  /** The state jumped to an installed snapshot's (a new or far-behind node): act on all of it. */
  snapshot(state: MetaState, index: number): Promise<void>;
}

interface Call {
  readonly run: (raft: RaftNode) => void;
  readonly cancel: (reason: string) => void;
}

const ROLES: Record<Role, StateRole> = { follower: 'Follower', preCandidate: 'PreCandidate', candidate: 'Candidate', leader: 'Leader' };

/**
 * Drives one RaftNode: feeds it ticks, messages and proposals; persists, sends and applies its
 * Readies; applies committed entries to the metadata state machine; snapshots and compacts.
 *
 * One pump runs at a time. Inputs that arrive while it awaits the disk are queued and fed to
 * Raft between Readies, so Raft is never mutated while a Ready is outstanding and the order of
 * inputs decides everything (the simulator relies on it). Time enters only through tick() and
 * the injected Clock; randomness only through the injected Rng.
 */
export class ConsensusDriver {
  readonly id: PeerId;
  private readonly limits: DriverLimits;
  private readonly waiters = new Waiters();
  private raft: RaftNode | undefined;
  private store: DurableLogStorage | undefined;
  /** State at Raft's applied index (rebuilt from the snapshot at every load). */
  private applied: AppliedState = { meta: EMPTY_META_STATE, peers: new Map() };
  /** What readers see: never goes back, also while a reload replays the log. */
  private published: AppliedState = this.applied;
  private confState: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
  private readonly hashes = new Map<number, string>();
  private inbox: Message[] = [];
  private calls: Call[] = [];
  private ticks = 0;
  private pumping = false;
  private idle: Array<() => void> = [];
  private thread: ThreadStatus = { status: 'stopped' };
  private reloadInTicks = 0;
  private backoffTicks: number;
  private reloading = false;
  private closing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly transportPeers = new Set<PeerId>();
  private lastKnown = { term: 0, commit: 0, leader: undefined as PeerId | undefined, role: undefined as StateRole | undefined };
  private messagesDropped = 0;
  private readSeq = 0;
  private listener: ApplyListener | undefined;
  /** Highest index handed to the listener (scheduled), so a replay after a reload is not told twice. */
  private listenerIndex = 0;
  private listenerTail: Promise<void> = Promise.resolve();

  private constructor(private readonly options: ConsensusDriverOptions) {
    this.id = options.id;
    this.limits = driverLimits(options.limits);
    this.backoffTicks = this.limits.reloadBackoffTicksMin;
  }

  /** Opens the log (bootstrapping an empty one if asked), starts the transport. */
  static async start(options: ConsensusDriverOptions): Promise<ConsensusDriver> {
    const driver = new ConsensusDriver(options);
    await driver.load();
    options.transport.onMessage((from, bytes, origin) => driver.receive(from, bytes, origin));
    await options.transport.start();
    // Apply the committed entries the log already holds, without waiting for the first input.
    driver.kick();
    return driver;
  }

  /**
   * Sets the one listener of applied operations and returns the state it starts from: every
   * operation applied after that state reaches the listener, none before it.
   */
  setApplyListener(listener: ApplyListener): MetaState {
    assert(this.listener === undefined, 'one apply listener per driver');
    this.listener = listener;
    this.listenerIndex = this.published.meta.appliedIndex;
    return this.published.meta;
  }

  // ------------------------------------------------------------------ inputs

  /** One Raft tick; the owner calls it at a fixed interval (or the simulator, at will). */
  tick(): void {
    if (this.closed) return;
    this.waiters.expire(this.options.clock.nowMs());
    if (this.raft === undefined) return this.tickStopped();
    this.ticks = Math.min(this.ticks + 1, 2 * (this.options.raft?.electionTicks ?? 10));
    this.kick();
  }

  /** Proposes a metadata operation; settles once it is applied at its {index, term}, or fails typed. */
  propose(op: MetaOperation, deadlineMs: number): Promise<ProposalResult> {
    return this.proposeData(encodeCommand({ kind: 'meta', op }), deadlineMs);
  }

  /** Reads the metadata state linearizably (ReadIndex): it reflects every write applied before the call. */
  linearizableRead(deadlineMs: number): Promise<ReadResult> {
    const stopped = this.unavailable();
    if (stopped !== undefined) return Promise.resolve({ outcome: 'unavailable', reason: stopped });
    if (this.waiters.reads.size >= this.limits.pendingReadsMax) return Promise.resolve({ outcome: 'dropped', reason: 'too many pending reads' });
    const context = `${this.id}:${++this.readSeq}`;
    return new Promise((resolve) => {
      this.enqueue({
        run: (raft) => {
          const r = raft.readIndex(context);
          if (r.outcome === 'ok') this.waiters.reads.set(context, { index: undefined, deadlineMs, resolve });
          else resolve(r);
        },
        cancel: (reason) => resolve({ outcome: 'unavailable', reason }),
      });
    });
  }

  /** Adds a learner: first its address, then the conf change, each applied before the next. */
  async addLearner(peer: PeerId, uri: string, deadlineMs: number): Promise<ProposalResult> {
    const address = await this.proposeData(encodeCommand({ kind: 'peer_address', peer, uri }), deadlineMs);
    if (address.outcome !== 'applied') return address;
    return this.proposeConfChange({ transition: 'auto', changes: [{ type: 'addLearner', peer }] }, deadlineMs);
  }

  /** Makes a caught-up learner a voter ('dropped' while its log lags by more than promoteLagMax). */
  promote(peer: PeerId, deadlineMs: number): Promise<ProposalResult> {
    return this.proposeConfChange({ transition: 'auto', changes: [{ type: 'addVoter', peer }] }, deadlineMs, (raft) => {
      const s = raft.status();
      const pr = s.progress.get(peer);
      if (pr === undefined || !pr.isLearner) return `peer ${peer} is not a learner`;
      if (pr.match + this.limits.promoteLagMax < s.commit) return `peer ${peer} is not caught up (match ${pr.match}, commit ${s.commit})`;
      return undefined;
    });
  }

  /**
   * Removes a peer. Removing the leader itself first hands leadership to the most caught-up
   * voter and answers 'not_leader' with it: re-issue the removal there. (A leader that removes
   * itself cannot learn that the removal committed in time, which left 2-node clusters without a
   * quorum.) A voter leaves through a joint configuration; this settles once it is left.
   */
  async removePeer(peer: PeerId, deadlineMs: number): Promise<ProposalResult> {
    if (peer === this.id && this.raft?.status().role === 'leader') return this.transferAway(deadlineMs);
    const isVoter = this.confState.voters.includes(peer) || this.confState.votersOutgoing.includes(peer);
    const change: ConfChange = { transition: isVoter ? 'implicit' : 'auto', changes: [{ type: 'removeNode', peer }] };
    const result = await this.proposeConfChange(change, deadlineMs);
    if (result.outcome !== 'applied') return result;
    const timedOut = await this.waitFor(() => this.confState.votersOutgoing.length === 0, deadlineMs);
    return timedOut ? { outcome: 'timeout' } : result;
  }

  /** Resolves once the pump is idle (nothing queued, no Ready): for tests and the simulator. */
  whenIdle(): Promise<void> {
    if (!this.pumping && !this.hasWork()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.stopAll('the consensus driver is closed');
    for (const c of this.calls.splice(0)) c.cancel('the consensus driver is closed');
    while (this.pumping) await this.whenIdle();
    await this.listenerTail;
    this.raft = undefined;
    this.thread = { status: 'stopped' };
    await this.closeStore();
    await this.options.transport.close();
  }

  // ------------------------------------------------------------------ reading

  /** The applied metadata state (never goes back). */
  metaState(): MetaState {
    return this.published.meta;
  }

  appliedIndex(): number {
    return this.published.meta.appliedIndex;
  }

  /** Hash of the applied state (metadata and address book) at `index`, if still remembered. */
  stateHashAt(index: number): string | undefined {
    return this.hashes.get(index);
  }

  status(): ConsensusStatus {
    const s = this.raft?.status();
    if (s !== undefined) this.lastKnown = { term: s.term, commit: s.commit, leader: s.lead, role: ROLES[s.role] };
    const k = this.lastKnown;
    return {
      peerId: this.id,
      term: k.term,
      commit: k.commit,
      applied: this.appliedIndex(),
      leader: k.leader,
      role: k.role,
      isVoter: this.confState.voters.includes(this.id) || this.confState.votersOutgoing.includes(this.id),
      pendingOperations: Math.max(0, k.commit - this.appliedIndex()) + this.waiters.proposals.size + this.calls.length,
      confState: this.confState,
      peers: this.published.peers,
      thread: this.thread,
      messageSendFailures: this.sendFailures(),
      messagesDropped: this.messagesDropped,
    };
  }

  private sendFailures(): Map<PeerId, SendFailure> {
    const stats = this.options.transport.stats();
    const out = new Map<PeerId, SendFailure>();
    for (const [id, count] of stats.sendFailures) {
      const latest = stats.latestErrors.get(id);
      const uri = this.published.peers.get(id as PeerId) ?? '';
      out.set(id as PeerId, { uri, count, latestError: latest?.message, latestErrorMs: latest?.atMs });
    }
    return out;
  }

  // ------------------------------------------------------------------ proposals

  private unavailable(): string | undefined {
    if (this.closed) return 'the consensus driver is closed';
    if (this.raft === undefined) return this.thread.status === 'stopped_with_err' ? `consensus stopped: ${this.thread.err}` : 'consensus is not running';
    return undefined;
  }

  private proposeData(data: Uint8Array, deadlineMs: number): Promise<ProposalResult> {
    if (data.byteLength > this.limits.entryBytesMax) {
      return Promise.resolve({ outcome: 'dropped', reason: `entry of ${data.byteLength} bytes exceeds ${this.limits.entryBytesMax}` });
    }
    return this.submit(deadlineMs, (raft) => raft.propose(data));
  }

  private proposeConfChange(change: ConfChange, deadlineMs: number, precheck?: (raft: RaftNode) => string | undefined): Promise<ProposalResult> {
    return this.submit(deadlineMs, (raft) => {
      const refused = precheck?.(raft);
      if (refused !== undefined) return { outcome: 'dropped', reason: refused };
      return raft.proposeConfChange(change);
    });
  }

  private submit(deadlineMs: number, propose: (raft: RaftNode) => ProposeResult): Promise<ProposalResult> {
    const stopped = this.unavailable();
    if (stopped !== undefined) return Promise.resolve({ outcome: 'unavailable', reason: stopped });
    if (this.waiters.proposals.size + this.calls.length >= this.limits.pendingProposalsMax) {
      return Promise.resolve({ outcome: 'dropped', reason: 'too many pending proposals' });
    }
    return new Promise((resolve) => {
      this.enqueue({
        run: (raft) => {
          const r = propose(raft);
          if (r.outcome !== 'ok') return resolve(r);
          // An older waiter at this index belongs to an entry of an earlier term that was cut off.
          this.waiters.applied(r.index, r.term, { ok: true });
          this.waiters.proposals.set(r.index, { index: r.index, term: r.term, deadlineMs, resolve });
        },
        cancel: (reason) => resolve({ outcome: 'unavailable', reason }),
      });
    });
  }

  private async transferAway(deadlineMs: number): Promise<ProposalResult> {
    const raft = this.raft;
    if (raft === undefined) return { outcome: 'unavailable', reason: this.unavailable() ?? 'stopped' };
    let target: PeerId | undefined;
    let best = -1;
    for (const [id, pr] of raft.status().progress) {
      if (id === this.id || pr.isLearner || !this.confState.voters.includes(id) || pr.match <= best) continue;
      target = id;
      best = pr.match;
    }
    if (target === undefined) return { outcome: 'dropped', reason: 'no other voter to hand leadership to' };
    const to = target;
    this.enqueue({ run: (r) => void r.transferLeader(to), cancel: () => undefined });
    // Done once another leader is known here (stepping down comes a little before that).
    const handedOver = (): boolean => {
      const s = this.raft?.status();
      return s !== undefined && s.role !== 'leader' && s.lead !== undefined && s.lead !== this.id;
    };
    await this.waitFor(handedOver, deadlineMs);
    const now = this.raft?.status();
    if (now === undefined || now.role === 'leader') return { outcome: 'timeout' };
    return { outcome: 'not_leader', leader: now.lead };
  }

  /** true when the deadline passed first. */
  private waitFor(test: () => boolean, deadlineMs: number): Promise<boolean> {
    if (test()) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.conditions.add({ test, deadlineMs, resolve }));
  }

  private enqueue(call: Call): void {
    this.calls.push(call);
    this.kick();
  }

  // ------------------------------------------------------------------ incoming

  private receive(from: TransportPeerId, bytes: Uint8Array, origin: MessageOrigin): void {
    if (this.raft === undefined || this.closed) {
      this.messagesDropped += 1;
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch {
      this.messagesDropped += 1;
      return;
    }
    if (m.to !== this.id || m.from !== from || this.inbox.length >= this.limits.inboxMessagesMax) {
      this.messagesDropped += 1;
      return;
    }
    // A joining node has no address book yet: it answers whoever reaches it (the leader).
    if (!this.transportPeers.has(m.from) && this.applied.peers.size === 0 && origin.uri !== '') {
      this.options.transport.setPeer(m.from, origin.uri);
      this.transportPeers.add(m.from);
    }
    this.inbox.push(m);
    this.kick();
  }

  // ------------------------------------------------------------------ the pump

  /** Nothing is work once closed: the pump returns at once then, and kick() would spin on it. */
  private hasWork(): boolean {
    return !this.closed && this.raft !== undefined && (this.inbox.length > 0 || this.calls.length > 0 || this.ticks > 0 || this.raft.hasReady());
  }

  private kick(): void {
    if (this.pumping || this.raft === undefined) return;
    this.pumping = true;
    this.pump().then(
      () => {
        this.pumping = false;
        if (this.hasWork()) return this.kick();
        for (const resolve of this.idle.splice(0)) resolve();
      },
      (error: unknown) => {
        this.pumping = false;
        this.die(error);
      },
    );
  }

  private async pump(): Promise<void> {
    for (let raft = this.raft; raft !== undefined && raft === this.raft && !this.closed; raft = this.raft) {
      this.feed(raft);
      if (!raft.hasReady()) return;
      const rd = raft.ready();
      const store = this.store;
      assert(store !== undefined, 'a running driver has a store');
      // Persist BEFORE sending: the messages of this Ready may acknowledge these entries or carry
      // this vote. Sent first and lost in a crash, we could vote twice in one term, or a leader
      // could count as replicated an entry we no longer have.
      const persisted = await this.guard(() =>
        store.persist({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot, mustSync: rd.mustSync }),
      );
      if (!persisted) return;
      this.backoffTicks = this.limits.reloadBackoffTicksMin;
      const reports = this.send(raft, rd.messages);
      this.applyReady(raft, rd);
      raft.advance(rd);
      for (const report of reports) report();
      this.waiters.checkConditions();
      if (!(await this.guard(() => this.maybeSnapshot(raft, store)))) return;
    }
  }

  private feed(raft: RaftNode): void {
    const ticks = this.ticks;
    this.ticks = 0;
    for (let i = 0; i < ticks; i++) raft.tick();
    for (const m of this.inbox.splice(0)) raft.step(m);
    for (const c of this.calls.splice(0)) c.run(raft);
  }

  /** Sends; returns the transport reports to give Raft once the Ready is advanced. */
  private send(raft: RaftNode, messages: readonly Message[]): Array<() => void> {
    const reports: Array<() => void> = [];
    const unreachable = new Set<PeerId>();
    for (const m of messages) {
      const sent = this.options.transport.send(m.to, encodeMessage(m));
      // The transport has no delivery receipt: a queued snapshot counts as sent; if it is lost,
      // the follower's next answer puts it back to probing and it gets a new one.
      if (m.type === 'snap') reports.push(() => raft.reportSnapshot(m.to, sent));
      else if (!sent) unreachable.add(m.to);
    }
    for (const to of unreachable) reports.push(() => raft.reportUnreachable(to));
    return reports;
  }

  private applyReady(raft: RaftNode, rd: Ready): void {
    if (rd.snapshot !== undefined) this.installSnapshot(rd.snapshot);
    for (const rs of rd.readStates) {
      const w = this.waiters.reads.get(rs.context);
      if (w !== undefined) w.index = rs.index;
    }
    for (const e of rd.committedEntries) this.applyOne(raft, e);
    if (this.applied.meta.appliedIndex >= this.published.meta.appliedIndex) this.published = this.applied;
    this.waiters.serveReads(logIndex(this.published.meta.appliedIndex), this.published.meta);
  }

  private applyOne(raft: RaftNode, e: Entry): void {
    let outcome: EntryOutcome = { ok: true };
    if (e.kind === 'normal') {
      const r = applyEntry(this.applied, e.index, e.data);
      this.applied = r.state;
      outcome = r.outcome;
    } else {
      // Conf changes take effect when applied (not when appended), on every node, from the same
      // entry that updates the address book: membership and peers never disagree at an index.
      const before = this.confState;
      this.confState = raft.applyConfChange(e.change);
      this.applied = dropLeftPeers(advanceTo(this.applied, e.index), before, this.confState);
      this.syncTransportPeers();
    }
    this.recordHash(e.index, hashAppliedState(this.applied));
    if (e.kind === 'normal') this.tellListener(e.index, e.data, outcome);
    this.waiters.applied(e.index, e.term, outcome);
  }

  /** Chains the listener call for a meta operation applied at `index` (once per index). */
  private tellListener(index: number, data: Uint8Array, outcome: EntryOutcome): void {
    const listener = this.listener;
    if (listener === undefined || index <= this.listenerIndex) return;
    this.listenerIndex = index;
    let cmd;
    try {
      cmd = decodeCommand(data);
    } catch {
      return; // refused as undecodable by every node alike; nothing to act on
    }
    if (cmd.kind !== 'meta') return;
    const { op } = cmd;
    const state = this.applied.meta;
    this.chainListener(() => listener.applied(state, op, index, outcome));
  }

  private chainListener(call: () => Promise<void>): void {
    this.listenerTail = this.listenerTail.then(call).catch((error: unknown) => this.die(error));
  }

  private installSnapshot(s: Snapshot): void {
    this.applied = decodeAppliedState(s.data);
    assert(this.applied.meta.appliedIndex === s.meta.index, `snapshot ${s.meta.index} holds state at ${this.applied.meta.appliedIndex}`);
    this.confState = s.meta.confState;
    this.recordHash(s.meta.index, hashBytes(s.data));
    this.waiters.coveredBySnapshot(s.meta.index);
    this.syncTransportPeers();
    const listener = this.listener;
    if (listener !== undefined && s.meta.index > this.listenerIndex) {
      this.listenerIndex = s.meta.index;
      const state = this.applied.meta;
      const index = s.meta.index;
      this.chainListener(() => listener.snapshot(state, index));
    }
  }

  private recordHash(index: number, hash: string): void {
    const known = this.hashes.get(index);
    // After a reload the log is applied again from the snapshot: it must give the same states.
    assert(known === undefined || known === hash, `state hash at ${index} changed on re-apply`);
    if (known !== undefined) return;
    this.hashes.set(index, hash);
    if (this.hashes.size > this.limits.hashHistoryMax) this.hashes.delete(this.hashes.keys().next().value as number);
  }

  /** After `snapshotEntries` applied entries: snapshot the applied state, drop the log below it. */
  private async maybeSnapshot(raft: RaftNode, store: DurableLogStorage): Promise<void> {
    const index = logIndex(this.applied.meta.appliedIndex);
    if (index - store.snapshot().meta.index < this.limits.snapshotEntries || raft.status().applied !== index) return;
    const t = store.term(index);
    assert(t !== undefined, `applied entry ${index} is not in the stored log`);
    await store.compact({ meta: { index, term: t, confState: this.confState }, data: encodeAppliedState(this.applied) });
  }

  /** The transport knows exactly the peers of the address book (but this node). */
  private syncTransportPeers(): void {
    const book = this.applied.peers;
    if (book.size === 0) return; // joining: keep the peers learned from incoming messages
    for (const [id, uri] of book) {
      if (id === this.id) continue;
      this.options.transport.setPeer(id, uri);
      this.transportPeers.add(id);
    }
    for (const id of this.transportPeers) {
      if (book.has(id)) continue;
      this.options.transport.removePeer(id);
      this.transportPeers.delete(id);
    }
  }

  // ------------------------------------------------------------------ loading and failures

  /** (Re)builds Raft and the applied state from what the log store holds. */
  private async load(): Promise<void> {
    const store = await this.options.openStorage();
    try {
      if (isEmpty(store) && this.options.bootstrap !== undefined) await store.persist(bootstrapBatch(this.options.bootstrap));
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    const snap = store.snapshot();
    this.applied = decodeAppliedState(snap.data);
    this.confState = snap.meta.confState;
    if (snap.meta.index > 0) this.recordHash(snap.meta.index, hashBytes(snap.data));
    if (this.applied.meta.appliedIndex >= this.published.meta.appliedIndex) this.published = this.applied;
    this.store = store;
    this.raft = new RaftNode(raftConfig(this.id, this.options.raft), store, this.options.rng);
    this.thread = { status: 'working', lastUpdateMs: this.options.wallClockMs() };
    this.syncTransportPeers();
  }

  /**
   * A storage error: report it, drop the in-memory Raft state (it may be ahead of the disk), and
   * reload from disk after a back-off counted in ticks. Neither dying silently nor limping on.
   */
  private storageFailed(error: unknown): void {
    const err = error instanceof Error ? error.message : String(error);
    this.thread = { status: 'stopped_with_err', err, lastUpdateMs: this.options.wallClockMs() };
    this.raft = undefined;
    this.inbox = [];
    this.ticks = 0;
    for (const c of this.calls.splice(0)) c.cancel(`consensus stopped: ${err}`);
    this.waiters.stopAll(`consensus stopped on a storage error (${err}); the operation may or may not be applied`);
    this.closing = this.closeStore();
    this.reloadInTicks = this.backoffTicks;
    this.backoffTicks = Math.min(this.backoffTicks * 2, this.limits.reloadBackoffTicksMax);
  }

  private tickStopped(): void {
    if (this.thread.status !== 'stopped_with_err' || this.reloading) return;
    this.reloadInTicks -= 1;
    if (this.reloadInTicks > 0) return;
    this.reloading = true;
    void this.reload().finally(() => (this.reloading = false));
  }

  private async reload(): Promise<void> {
    await this.closing;
    if (this.closed) return;
    if (await this.guard(() => this.load())) this.kick();
  }

  /** Runs a storage step; a storage failure stops the driver (false), a broken invariant kills the process. */
  private async guard(step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      if (this.closed) return false;
      this.storageFailed(error);
      return false;
    }
  }

  private async closeStore(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store?.close().catch(() => undefined); // it failed already; the reload reopens it
  }

  /** A broken invariant: report it and let it escape, so the process exits loudly. */
  private die(error: unknown): void {
    this.thread = { status: 'stopped_with_err', err: String(error), lastUpdateMs: this.options.wallClockMs() };
    this.raft = undefined;
    queueMicrotask(() => {
      throw error;
    });
  }
}

function isEmpty(store: DurableLogStorage): boolean {
  return store.lastIndex() === 0 && store.initialState().hardState.term === 0;
}

/** A snapshot at index 1, term 1 holding the founding voters and their addresses. */
function bootstrapBatch(peers: ReadonlyMap<PeerId, string>): PersistBatch {
  const voters = [...peers.keys()].sort((a, b) => a - b);
  const state: AppliedState = { meta: { ...EMPTY_META_STATE, appliedIndex: 1 }, peers };
  const snapshot: Snapshot = {
    meta: { index: logIndex(1), term: toTerm(1), confState: { voters, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } },
    data: encodeAppliedState(state),
  };
  return { hardState: { term: toTerm(1), vote: undefined, commit: logIndex(1) }, entries: [], snapshot, mustSync: true };
}

function members(cs: ConfState): Set<PeerId> {
  return new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
}

/** Peers that were members before a conf change and are not after it leave the address book. */
function dropLeftPeers(state: AppliedState, before: ConfState, after: ConfState): AppliedState {
  const now = members(after);
  const left = [...members(before)].filter((id) => !now.has(id));
  if (left.length === 0) return state;
  const peers = new Map(state.peers);
  for (const id of left) peers.delete(id);
  return { meta: state.meta, peers };
}
