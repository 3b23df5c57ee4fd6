import { MemoryFileSystem, seededRng, type Rng } from '@shoal/common';
import type { MetaOperation } from '@shoal/meta';
import { peerId, type PeerId, type RaftConfig, type RaftTestHooks } from '@shoal/raft';
import { Checker, InvariantBroken, type Invariant } from './invariants.js';
import { CALM_NETWORK, SimNetwork, type NetworkFaults, type SimTransport } from './network.js';
import type { MembershipChange, NodeFactory, SimNode } from './node.js';
import { randomOperation } from './ops.js';

/**
 * A whole cluster in one process, driven by one seed: simulated time, a simulated network, one
 * MemoryFileSystem per node, random faults and client proposals. Invariants are checked after
 * every step; the first violation throws a SimViolation that says how to replay it.
 */

export interface SimOptions {
  readonly seed: number;
  readonly steps: number;
  readonly factory: NodeFactory;
  readonly nodes?: number;
  /** Probabilities per step (during chaos) of a crash, a new partition, a proposal. */
  readonly crashRate?: number;
  readonly partitionRate?: number;
  readonly proposeRate?: number;
  /** Probability (during chaos) that a newly elected leader is cut off before its first appends arrive. */
  readonly isolateNewLeaderRate?: number;
  /** Probability (during chaos) that a leader is cut off just after its commit index moved: followers do not know the commit yet. */
  readonly isolateAfterCommitRate?: number;
  /** Probability per step (during chaos) of a membership change: add a learner, promote one, remove a voter (the leader too). */
  readonly membershipRate?: number;
  /** Invariants not to check (to see what else would catch a planted bug). */
  readonly skipInvariants?: readonly Invariant[];
  /** Raft settings for every node (small limits make the rare branches common). */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'testHooks'>>;
  /** Planted bugs, switched on in every node's Raft core (tests of the checker). */
  readonly hooks?: RaftTestHooks;
  /** Named in the replay command (SIM_BUG=…) when hooks are set. */
  readonly bugName?: string;
  /** Simulated milliseconds between two ticks of a node's clock (before its skew). */
  readonly tickMs?: number;
  /** Ticks of a healed period after which a leader must exist and a proposal must have committed. */
  readonly livenessTicks?: number;
}

export interface SimReport {
  readonly seed: number;
  readonly steps: number;
  readonly simulatedMs: number;
  readonly leaderTerms: number;
  readonly commits: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly healedPeriods: number;
  /** Healed periods in which a leader was found and a proposal to it committed. */
  readonly livenessChecks: number;
  /** Membership changes applied (learners added and promoted, voters removed). */
  readonly membershipChanges: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
}

export class SimViolation extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly invariant: Invariant,
    readonly detail: string,
    readonly trace: readonly string[],
    readonly replay: string,
  ) {
    super(
      `sim: invariant '${invariant}' violated at step ${step} (seed ${seed}): ${detail}\n` +
        `replay: ${replay}\n` +
        `last events:\n  ${trace.join('\n  ')}`,
    );
    this.name = 'SimViolation';
  }
}

interface Slot {
  readonly id: PeerId;
  fs: MemoryFileSystem;
  node: SimNode | undefined;
  transport: SimTransport | undefined;
  /** Simulated time of this node's next tick; its clock runs at its own skewed rate. */
  nextTickMs: number;
  tickMs: number;
  restartAtMs: number;
  /** Crash at the n-th file system operation from now (a crash in the middle of a write). */
  crashAfterOps: number;
  incarnation: number;
  /** The commit index this node had when last seen leading. */
  leaderCommit: number;
  /** Founded the cluster (bootstraps an empty disk) rather than joined it. */
  readonly founder: boolean;
}

const TRACE_MAX = 40;
const CHAOS_MS_MIN = 2_000;
const CHAOS_MS_SPREAD = 4_000;
const DOWN_MS_MAX = 1_500;
/** Ticks a healed cluster's leader may take to commit a proposal (a few heartbeats). */
const COMMIT_TICKS_MAX = 30;
/** A fresh leader is cut off at most this long after its election: while its first appends are acknowledged. */
const ISOLATE_DELAY_MS_MAX = 40;
/** Members (voters and learners) the cluster grows to at most, and nodes a run starts at most. */
const MEMBERS_MAX = 5;
const SLOTS_MAX = 9;
/** Client proposals give up after this long (simulated). */
const PROPOSAL_DEADLINE_MS = 2_000;

export class SimWorld {
  private readonly rng: Rng;
  private readonly net: SimNetwork;
  readonly checker: Checker;
  private readonly slots: Slot[] = [];
  private readonly trace: string[] = [];
  private nowMs = 0;
  private step = 0;
  private serial = 0;
  private healed = false;
  private periodEndMs = 0;
  private healStartMs = 0;
  /** 0: waiting for a leader; 1: a marker was proposed to it; 2: checked. */
  private livenessPhase = 0;
  private markerSerial = 0;
  private markerCommitted = false;
  /** Errors that escaped a node (a driver that died on a broken assertion). */
  private readonly uncaught: unknown[] = [];
  private readonly tickMs: number;
  private readonly livenessTicks: number;
  private readonly stats = { crashes: 0, partitions: 0, healedPeriods: 0, livenessChecks: 0, membershipChanges: 0 };
  /** A violation found inside a node's callback (which must not swallow it); thrown by the step. */
  private broken: InvariantBroken | undefined = undefined;
  /** A fresh leader to cut off at a given time. */
  private isolation: { id: PeerId; atMs: number } | undefined = undefined;

  constructor(private readonly opts: SimOptions) {
    this.rng = seededRng(opts.seed);
    this.checker = new Checker(opts.skipInvariants ?? []);
    this.tickMs = opts.tickMs ?? 10;
    this.livenessTicks = opts.livenessTicks ?? 120;
    this.net = new SimNetwork(this.rng, () => this.nowMs, (from, to, bytes) => this.observeSend(from, to, bytes));
    const n = opts.nodes ?? 5;
    for (let k = 1; k <= n; k++) this.slots.push(this.newSlot(peerId(k), true));
  }

  private newSlot(id: PeerId, founder: boolean): Slot {
    return { id, fs: this.newFs(id), node: undefined, transport: undefined, nextTickMs: 0, tickMs: this.tickMs, restartAtMs: 0, crashAfterOps: 0, incarnation: 0, leaderCommit: 0, founder };
  }

  get ids(): PeerId[] {
    return this.slots.map((s) => s.id);
  }

  async run(): Promise<SimReport> {
    // A driver that hits a broken assertion rethrows it outside any promise (so a real process
    // exits). Here it is caught and reported as a violation of this seed, not of the test runner.
    const others = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const capture = (e: unknown): void => void this.uncaught.push(e);
    process.on('uncaughtException', capture);
    try {
      for (const s of this.slots) await this.start(s);
      this.beginChaos();
      for (this.step = 1; this.step <= this.opts.steps; this.step++) await this.guarded(() => this.oneStep());
      for (const s of this.slots) await s.node?.close();
      await flush();
      await this.guarded(() => this.reapFailed());
    } finally {
      process.removeListener('uncaughtException', capture);
      for (const l of others) process.on('uncaughtException', l);
    }
    return {
      seed: this.opts.seed,
      steps: this.opts.steps,
      simulatedMs: this.nowMs,
      leaderTerms: this.checker.leaderTerms(),
      commits: this.checker.commitsSeen,
      crashes: this.stats.crashes,
      partitions: this.stats.partitions,
      healedPeriods: this.stats.healedPeriods,
      livenessChecks: this.stats.livenessChecks,
      membershipChanges: this.stats.membershipChanges,
      messagesSent: this.net.sent,
      messagesDropped: this.net.dropped,
    };
  }

  /** The command that replays this run exactly. */
  replayCommand(): string {
    const bug = this.opts.bugName === undefined ? '' : `SIM_BUG=${this.opts.bugName} `;
    return `${bug}SIM_SEED=${this.opts.seed} SIM_STEPS=${this.opts.steps} npx vitest run packages/sim`;
  }

  private async guarded(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      if (e instanceof SimViolation) throw e;
      const broken = e instanceof InvariantBroken ? e : new InvariantBroken('node-failure', describe(e));
      throw new SimViolation(this.opts.seed, this.step, broken.invariant, broken.detail, this.trace.slice(), this.replayCommand());
    }
  }

  private note(line: string): void {
    this.trace.push(`step ${this.step} t=${this.nowMs}ms ${line}`);
    if (this.trace.length > TRACE_MAX) this.trace.shift();
  }

  // ------------------------------------------------------------------ one step

  private async oneStep(): Promise<void> {
    if (this.nowMs >= this.periodEndMs) {
      if (this.healed) this.beginChaos();
      else await this.beginHeal();
    }
    if (!this.healed) await this.maybeFault();
    if (!this.healed) await this.maybeChangeMembership();
    this.maybePropose();
    this.advanceClock();
    const rolesBefore = this.roles();
    this.maybeIsolate();
    this.net.deliverDue();
    for (const s of this.slots) {
      if (s.node !== undefined && s.nextTickMs <= this.nowMs) {
        s.nextTickMs += s.tickMs;
        s.node.tick();
      }
    }
    await this.settle();
    this.throwBroken();
    await this.reapFailed();
    await this.restartDue();
    this.throwBroken();
    this.noteRoleChanges(rolesBefore);
    for (const s of this.slots) if (s.node !== undefined) this.checker.checkNode(s.node);
    if (this.healed) this.checkLiveness();
  }

  /** Jumps to the next event: a message arrival or a node's tick. */
  private advanceClock(): void {
    let next = this.net.nextAtMs() ?? Number.POSITIVE_INFINITY;
    for (const s of this.slots) {
      if (s.node !== undefined) next = Math.min(next, s.nextTickMs);
      else next = Math.min(next, s.restartAtMs);
    }
    if (Number.isFinite(next) && next > this.nowMs) this.nowMs = next;
  }

  /** Who leads, per node ('' for none), to notice new leaders after a step. */
  private roles(): string[] {
    return this.slots.map((s) => {
      const v = s.node?.view();
      return v?.isLeader === true ? `${v.term}` : '';
    });
  }

  private noteRoleChanges(before: readonly string[]): void {
    for (const s of this.slots) {
      const st = s.node?.view();
      if (st === undefined || !st.isLeader) continue;
      if (before[s.id - 1] === `${st.term}`) {
        this.maybeIsolateAfterCommit(s, st.commit);
        continue;
      }
      s.leaderCommit = st.commit;
      this.note(`node ${s.id} leads term ${st.term}`);
      if (!this.healed && this.rng.next() < (this.opts.isolateNewLeaderRate ?? 0.1)) {
        this.isolation = { id: s.id, atMs: this.nowMs + this.rng.int(ISOLATE_DELAY_MS_MAX) };
      }
    }
  }

  private maybeIsolateAfterCommit(s: Slot, commit: number): void {
    const moved = commit > s.leaderCommit;
    s.leaderCommit = commit;
    if (!moved || this.healed || this.isolation !== undefined) return;
    if (this.rng.next() < (this.opts.isolateAfterCommitRate ?? 0.02)) this.isolation = { id: s.id, atMs: this.nowMs + this.rng.int(ISOLATE_DELAY_MS_MAX / 4) };
  }

  private maybeIsolate(): void {
    if (this.isolation === undefined || this.isolation.atMs > this.nowMs) return;
    if (!this.healed) this.isolate(this.isolation.id);
    this.isolation = undefined;
  }

  /**
   * Cuts a fresh leader off while its first appends (its no-op) are still on the wire: the
   * window where a log holds an entry of a term nobody else has (Figure 8's raw material).
   */
  private isolate(id: PeerId): void {
    this.stats.partitions += 1;
    this.net.healAll();
    for (const other of this.ids) {
      if (other === id) continue;
      this.net.setLink(id, other, false);
      this.net.setLink(other, id, false);
    }
    this.note(`node ${id} isolated right after its election`);
  }

  /** Lets every node finish what it was given (no real I/O or timers exist here, only promise chains). */
  private async settle(): Promise<void> {
    await flush();
    for (const s of this.slots) await s.node?.whenIdle();
  }

  // ------------------------------------------------------------------ nodes

  private newFs(id: PeerId): MemoryFileSystem {
    return new MemoryFileSystem({ beforeOp: () => this.beforeFsOp(id) });
  }

  private slot(id: PeerId): Slot {
    const s = this.slots[id - 1];
    if (s === undefined) throw new Error(`no node ${id}`);
    return s;
  }

  private beforeFsOp(id: PeerId): void {
    const s = this.slot(id);
    if (s.crashAfterOps > 0) {
      s.crashAfterOps -= 1;
      if (s.crashAfterOps === 0) this.crash(s, 'in the middle of a file system operation');
    }
  }

  private async start(s: Slot): Promise<void> {
    s.incarnation += 1;
    const transport = this.net.transport(s.id);
    s.transport = transport;
    const node = await this.opts.factory.start({
      id: s.id,
      voters: s.founder ? this.slots.filter((x) => x.founder).map((x) => x.id) : [],
      fs: s.fs,
      transport,
      rng: seededRng(this.rng.int(2 ** 31)),
      clock: { nowMs: () => this.nowMs },
      raft: { ...this.opts.raft, testHooks: this.opts.hooks ?? {} },
    });
    s.node = node;
    // A skewed clock: each incarnation ticks at its own rate, within 10% of the nominal one.
    s.tickMs = this.tickMs - 1 + this.rng.int(3);
    s.nextTickMs = this.nowMs + 1 + this.rng.int(s.tickMs);
    this.checker.restarted(s.id, node.durableHardState());
  }

  /** The process dies: unsynced bytes are lost, the last write may be torn. */
  private crash(s: Slot, how: string): void {
    if (s.node === undefined) return;
    s.node = undefined;
    s.crashAfterOps = 0;
    // The process is gone: it neither closes nor finishes anything. Its driver is abandoned
    // mid-flight (its next disk operation fails on the dead file system) and cut off the network.
    void s.transport?.close();
    this.net.dropFor(s.id);
    s.fs = s.fs.crash(this.rng, { beforeOp: () => this.beforeFsOp(s.id) });
    s.restartAtMs = this.nowMs + 1 + this.rng.int(DOWN_MS_MAX);
    this.stats.crashes += 1;
    this.note(`node ${s.id} crashes ${how}`);
  }

  /** A node whose driver stopped: after a crash that is expected; otherwise it is a failure. */
  private async reapFailed(): Promise<void> {
    const escaped = this.uncaught.shift();
    if (escaped !== undefined) throw new InvariantBroken('node-failure', `a node threw: ${describe(escaped)}`);
    for (const s of this.slots) {
      const failure = s.node?.failure();
      if (failure !== undefined && !s.fs.isCrashed) throw new InvariantBroken('node-failure', `node ${s.id} stopped: ${failure}`);
    }
  }

  private async restartDue(): Promise<void> {
    for (const s of this.slots) {
      if (s.node !== undefined || s.restartAtMs > this.nowMs) continue;
      await this.start(s);
      this.note(`node ${s.id} restarts (incarnation ${s.incarnation})`);
    }
  }

  // ------------------------------------------------------------------ faults

  private beginChaos(): void {
    this.healed = false;
    this.periodEndMs = this.nowMs + CHAOS_MS_MIN + this.rng.int(CHAOS_MS_SPREAD);
    const f: NetworkFaults = {
      dropRate: this.rng.next() * 0.15,
      duplicateRate: this.rng.next() * 0.05,
      delayMsMin: 1,
      delayMsMax: 2 + this.rng.int(30),
      slowRate: this.rng.next() * 0.03,
    };
    this.net.faults = f;
    this.note(`chaos: drop ${f.dropRate.toFixed(2)} dup ${f.duplicateRate.toFixed(2)} delay ≤${f.delayMsMax}ms`);
  }

  private async beginHeal(): Promise<void> {
    this.healed = true;
    this.stats.healedPeriods += 1;
    this.healStartMs = this.nowMs;
    this.periodEndMs = this.nowMs + (this.livenessTicks + COMMIT_TICKS_MAX + 10) * this.tickMs;
    this.livenessPhase = 0;
    this.markerSerial = 0;
    this.markerCommitted = false;
    this.net.healAll();
    this.net.faults = CALM_NETWORK;
    for (const s of this.slots) {
      s.crashAfterOps = 0;
      if (s.node === undefined) s.restartAtMs = this.nowMs;
    }
    await this.restartDue();
    this.note('heal: network healed, every node up');
  }

  private async maybeFault(): Promise<void> {
    const crash = this.opts.crashRate ?? 0.004;
    const part = this.opts.partitionRate ?? 0.002;
    const r = this.rng.next();
    if (r < crash) this.crashSome();
    else if (r < crash + part) this.partition();
    else if (r < crash + 2 * part) {
      this.net.healAll();
      this.note('partition healed');
    }
  }

  private crashSome(): void {
    const up = this.slots.filter((s) => s.node !== undefined);
    // Half the crashes hit the leader: that is where elections, overwrites and Figure 8 happen.
    const leader = this.leader();
    const chosen = leader !== undefined && this.rng.next() < 0.5 ? leader.id : up[this.rng.int(Math.max(1, up.length))]?.id;
    if (chosen === undefined) return;
    const s = this.slot(chosen);
    if (this.rng.next() < 0.5) this.crash(s, 'between steps');
    else {
      s.crashAfterOps = 1 + this.rng.int(6);
      this.note(`node ${s.id} will crash at file system operation ${s.crashAfterOps} from now`);
    }
  }

  private partition(): void {
    this.stats.partitions += 1;
    this.net.healAll();
    const ids = this.ids;
    const shuffled = ids.map((id) => ({ id, k: this.rng.next() })).sort((a, b) => a.k - b.k).map((x) => x.id);
    const kind = this.rng.int(3);
    if (kind === 2) {
      // One-way: a node can send to some peers but hears nothing from them (or the reverse).
      const victim = shuffled[0]!;
      const outgoing = this.rng.next() < 0.5;
      for (const other of shuffled.slice(1, 1 + 1 + this.rng.int(ids.length - 1))) {
        if (outgoing) this.net.setLink(victim, other, false);
        else this.net.setLink(other, victim, false);
      }
      this.note(`one-way partition: ${outgoing ? `${victim} cannot send to some` : `some cannot reach ${victim}`}`);
      return;
    }
    const cutAt = 1 + this.rng.int(ids.length - 1);
    const left = shuffled.slice(0, cutAt);
    const right = shuffled.slice(cutAt);
    // A bridge: one node of the left half still talks to everyone.
    const bridge = kind === 1 ? left[0] : undefined;
    for (const a of left) {
      if (a === bridge) continue;
      for (const b of right) {
        this.net.setLink(a, b, false);
        this.net.setLink(b, a, false);
      }
    }
    this.note(`partition ${left.join(',')} | ${right.join(',')}${bridge === undefined ? '' : ` bridged by ${bridge}`}`);
  }

  // ------------------------------------------------------------------ clients and liveness

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const s of this.slots) {
      const v = s.node?.view();
      if (v?.isLeader === true && v.term > bestTerm) {
        best = s.node;
        bestTerm = v.term;
      }
    }
    return best;
  }

  private deadline(): number {
    return this.nowMs + PROPOSAL_DEADLINE_MS;
  }

  /**
   * Membership under faults: a new node joins as a learner, a learner is promoted, a voter (the
   * leader too) is removed, down to one voter. Asked of the leader; refusals are outcomes too.
   */
  private async maybeChangeMembership(): Promise<void> {
    if (this.rng.next() >= (this.opts.membershipRate ?? 0)) return;
    const leader = this.leader();
    if (leader === undefined) return;
    const v = leader.view();
    const members = v.voters.length + v.learners.length;
    const roll = this.rng.next();
    let change: MembershipChange | undefined;
    if (v.learners.length > 0 && roll < 0.4) change = { kind: 'promote', peer: v.learners[this.rng.int(v.learners.length)]! };
    else if (members < MEMBERS_MAX && roll < 0.7 && this.slots.length < SLOTS_MAX) change = await this.join();
    else if (v.voters.length > 1 && v.votersOutgoing.length === 0) change = { kind: 'remove', peer: v.voters[this.rng.int(v.voters.length)]! };
    if (change === undefined) return;
    const what = `${change.kind} ${change.peer}`;
    this.note(`membership: ${what} asked of node ${leader.id}`);
    void leader.changeMembership(change, this.deadline()).then((outcome) => {
      this.note(`membership: ${what}: ${outcome}`);
      if (outcome === 'applied') this.stats.membershipChanges += 1;
    });
  }

  /** Starts a node with an empty disk that will join the cluster. */
  private async join(): Promise<MembershipChange> {
    const slot = this.newSlot(peerId(this.slots.length + 1), false);
    this.slots.push(slot);
    await this.start(slot);
    return { kind: 'addLearner', peer: slot.id, uri: `sim://${slot.id}` };
  }

  private maybePropose(): void {
    if (this.rng.next() >= (this.opts.proposeRate ?? 0.03)) return;
    const up = this.slots.filter((s) => s.node !== undefined);
    const target = this.rng.next() < 0.7 ? this.leader() : up[this.rng.int(Math.max(1, up.length))]?.node;
    if (target === undefined) return;
    this.serial += 1;
    const op = randomOperation(this.rng, this.serial);
    this.note(`propose #${this.serial} ${op.kind} at node ${target.id}`);
    void target.propose(op, this.deadline());
  }

  /**
   * Liveness in a healed period: livenessTicks after healing a leader exists; a proposal made to
   * it then commits within COMMIT_TICKS_MAX.
   */
  private checkLiveness(): void {
    const elapsedTicks = (this.nowMs - this.healStartMs) / this.tickMs;
    if (this.livenessPhase === 0 && elapsedTicks >= this.livenessTicks) {
      const leader = this.leader();
      if (leader === undefined) throw new InvariantBroken('liveness', `no leader ${this.livenessTicks} ticks after the cluster healed`);
      this.serial += 1;
      const serial = this.serial;
      const op: MetaOperation = { kind: 'change_aliases', actions: [{ kind: 'delete', alias: `live-${serial}` }] };
      this.note(`liveness: node ${leader.id} leads; proposing marker #${serial}`);
      void leader.propose(op, this.deadline()).then((applied) => {
        if (applied && this.markerSerial === serial) this.markerCommitted = true;
      });
      this.markerSerial = serial;
      this.livenessPhase = 1;
    } else if (this.livenessPhase === 1 && elapsedTicks >= this.livenessTicks + COMMIT_TICKS_MAX) {
      if (!this.markerCommitted) throw new InvariantBroken('liveness', `a proposal to the leader did not commit within ${COMMIT_TICKS_MAX} ticks of a healed cluster`);
      this.livenessPhase = 2;
      this.stats.livenessChecks += 1;
    }
  }

  private observeSend(from: number, _to: number, bytes: Uint8Array): void {
    const node = this.slots[from - 1]?.node;
    if (node !== undefined) this.record(() => this.checker.sent(this.opts.factory.decode(bytes), node.durableHardState()));
  }

  /** Runs a check inside a node's call into the world; keeps the first violation for the step to throw. */
  private record(check: () => void): void {
    try {
      check();
    } catch (e) {
      if (!(e instanceof InvariantBroken)) throw e;
      this.broken ??= e;
    }
  }

  private throwBroken(): void {
    if (this.broken !== undefined) throw this.broken;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
