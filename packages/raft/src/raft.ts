import { assert, type Rng } from '@shoal/common';
import { validateConfig, type RaftConfig } from './config.js';
import { payloadBytes } from './entries.js';
import { RaftLog } from './log.js';
import {
  allPeers,
  applyConfChangeTo,
  confStateOf,
  isJoint,
  isVoter,
  membershipFromConfState,
  type Membership,
} from './membership.js';
import type {
  AppMsg,
  AppRespMsg,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatMsg,
  HeartbeatRespMsg,
  Message,
  ProposeResult,
  ReadState,
  Ready,
  RequestResult,
  Role,
  Snapshot,
  SnapMsg,
  SoftState,
  TimeoutNowMsg,
  VoteMsg,
  VoteRespMsg,
} from './messages.js';
import { Progress, type ProgressState } from './progress.js';
import { jointIndex, jointVote } from './quorum.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import type { ReadonlyLogStorage } from './storage.js';
import { byId, logIndex, minIndex, term as toTerm, type LogIndex, type PeerId, type Term } from './types.js';

export interface PeerStatus {
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflight: number;
}

export interface Status {
  readonly id: PeerId;
  readonly term: Term;
  readonly vote: PeerId | undefined;
  readonly lead: PeerId | undefined;
  readonly role: Role;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly firstIndex: LogIndex;
  readonly lastIndex: LogIndex;
  readonly confState: ConfState;
  readonly leadTransferee: PeerId | undefined;
  /** Only on a leader: its view of every peer (itself included when it is a member). */
  readonly progress: ReadonlyMap<PeerId, PeerStatus>;
}

type CampaignKind = 'preElection' | 'election';
type Envelope = { readonly from: PeerId; readonly to: PeerId; readonly term: Term };

const ok: RequestResult = { outcome: 'ok' };
const dropped = (reason: string): { outcome: 'dropped'; reason: string } => ({ outcome: 'dropped', reason });

/**
 * One Raft peer as a pure state machine (etcd-io/raft's RawNode shape). Inputs: tick, step,
 * propose, proposeConfChange, transferLeader, readIndex, campaign. Output: ready() / advance().
 * No I/O, no clock, no randomness of its own: the same inputs and Rng give the same outputs.
 */
export class RaftNode {
  readonly id: PeerId;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;
  private term: Term;
  private vote: PeerId | undefined = undefined;
  private lead: PeerId | undefined = undefined;
  private role: Role = 'follower';
  private membership: Membership;
  private readonly progress = new Map<PeerId, Progress>();
  private readonly votes = new Map<PeerId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: PeerId | undefined = undefined;
  /** Index of the latest conf change the leader appended; no new one until it is applied. */
  private pendingConfIndex: LogIndex = logIndex(0);
  private uncommittedBytes = 0;
  private readOnly: ReadOnly;
  /** A TimeoutNow arrived while a committed conf change was unapplied: campaign once applied. */
  private campaignAfterApply = false;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined = undefined;

  constructor(
    config: RaftConfig,
    storage: ReadonlyLogStorage,
    private readonly rng: Rng,
  ) {
    validateConfig(config);
    this.cfg = config;
    this.id = config.id;
    this.log = new RaftLog(storage, config.readyCommittedBytesMax, config.testHooks);
    this.readOnly = new ReadOnly(config.pendingReadsMax);
    const { hardState, confState } = storage.initialState();
    assert(hardState.commit >= this.log.committed && hardState.commit <= this.log.lastIndex(), 'stored commit outside the stored log');
    this.log.commitTo(hardState.commit);
    if (config.applied !== undefined && config.applied > this.log.applied) this.log.appliedTo(logIndex(config.applied));
    this.term = hardState.term;
    this.membership = membershipFromConfState(confState);
    this.becomeFollower(hardState.term, undefined);
    this.vote = hardState.vote; // after becomeFollower: the persisted vote of this term stands
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. The driver calls it at a fixed interval. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    this.checkInvariants();
  }

  /** A message from a peer. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    this.stepInner(m);
    this.checkInvariants();
  }

  /** Start an election now (as if the election timeout elapsed). */
  campaign(): void {
    this.hup(false);
    this.checkInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const refused = this.refuseProposal();
    if (refused !== undefined) return refused;
    if (!this.increaseUncommitted(data.byteLength)) return dropped('too many uncommitted bytes');
    const index = this.appendEntries([{ kind: 'normal', term: this.term, index: logIndex(0), data }]);
    this.bcastAppend();
    return { outcome: 'ok', index, term: this.term };
  }

  /** Proposes a membership change; one at a time (refused while an earlier one is unapplied). */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.refuseProposal();
    if (refused !== undefined) return refused;
    if (this.pendingConfIndex > this.log.applied) return dropped('a configuration change is still pending');
    const outcome = applyConfChangeTo(this.membership, change);
    if (!outcome.ok) return dropped(outcome.reason);
    return this.appendConfChange(change);
  }

  /**
   * Applies a committed conf-change entry. The driver calls it for every conf-change entry of
   * committedEntries, in order, on every node. Returns the new membership to persist.
   */
  applyConfChange(change: ConfChange): ConfState {
    const outcome = applyConfChangeTo(this.membership, change);
    assert(outcome.ok, `committed conf change cannot apply: ${outcome.ok ? '' : outcome.reason}`);
    this.switchTo(outcome.membership);
    this.checkInvariants();
    return confStateOf(this.membership);
  }

  /** Hands leadership to `to` once its log is caught up; proposals are dropped meanwhile. */
  transferLeader(to: PeerId): RequestResult {
    if (this.role !== 'leader') return { outcome: 'not_leader', leader: this.lead };
    const pr = this.progress.get(to);
    if (to === this.id) return dropped('already the leader');
    if (pr === undefined || !isVoter(this.membership, to)) return dropped(`peer ${to} is not a voter`);
    if (this.leadTransferee === to) return ok;
    this.abortLeaderTransfer();
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    this.leadTransferee = to;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
    return ok;
  }

  /**
   * Asks for a linearizable read point. The answer comes as a ReadState{index, context} in a
   * later Ready: serve the read once the state machine applied `index`. `context` identifies
   * the request and must be unique among pending ones.
   */
  readIndex(context: string): RequestResult {
    if (context === '') return dropped('empty read context');
    if (this.role === 'leader') return this.handleReadRequest(this.id, context);
    if (this.lead === undefined) return { outcome: 'not_leader', leader: undefined };
    this.send({ ...this.envelope(this.lead), type: 'readIndex', context });
    return ok;
  }

  /** The driver could not reach `to`: stop streaming to it optimistically. */
  reportUnreachable(to: PeerId): void {
    const pr = this.progress.get(to);
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The driver finished (or failed) sending a snapshot to `to`. */
  reportSnapshot(to: PeerId, success: boolean): void {
    const pr = this.progress.get(to);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!success) pr.pendingSnapshot = logIndex(0);
    pr.becomeProbe();
    pr.probeSent = true; // wait for the follower's answer (or a heartbeat) before probing
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    return (
      !sameSoft(this.softState(), this.prevSoft) ||
      !sameHard(this.hardState(), this.prevHard) ||
      this.log.unstableEntries().length > 0 ||
      this.log.unstableSnapshot() !== undefined ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasNextCommittedEntries()
    );
  }

  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()');
    const soft = this.softState();
    const hard = this.hardState();
    const entries = this.log.unstableEntries().slice();
    const snapshot = this.log.unstableSnapshot();
    const rd: Ready = {
      softState: sameSoft(soft, this.prevSoft) ? undefined : soft,
      hardState: sameHard(hard, this.prevHard) ? undefined : this.reportedHardState(hard),
      entries,
      snapshot,
      committedEntries: this.log.nextCommittedEntries(),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    this.msgs = [];
    this.readStates = [];
    this.prevSoft = soft;
    this.prevHard = hard;
    this.outstanding = rd;
    return rd;
  }

  /** The driver persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() of a Ready that was not the last one handed out');
    this.outstanding = undefined;
    if (rd.snapshot !== undefined) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > this.log.applied) this.log.appliedTo(rd.snapshot.meta.index);
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.log.stableTo(last.index, last.term);
    const applied = rd.committedEntries[rd.committedEntries.length - 1];
    if (applied !== undefined) {
      this.log.appliedTo(applied.index);
      if (this.role === 'leader') this.reduceUncommitted(rd.committedEntries);
    }
    this.maybeAutoLeave();
    if (this.campaignAfterApply && !this.hasUnappliedConfChanges()) {
      this.campaignAfterApply = false;
      this.hup(true);
    }
    this.checkInvariants();
  }

  /** The hard state as handed to the driver; only the planted vote bug makes it differ. */
  private reportedHardState(hard: HardState): HardState {
    if (this.cfg.testHooks?.voteNotPersisted !== true) return hard;
    return { ...hard, vote: hard.term === this.prevHard.term ? this.prevHard.vote : undefined };
  }

  status(): Status {
    const progress = new Map<PeerId, PeerStatus>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count,
        });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      confState: confStateOf(this.membership),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  /** Log entries [lo, hi) as this node sees them (stored and unstable); for tests and tools. */
  entries(lo: LogIndex, hi: LogIndex): readonly Entry[] {
    return this.log.slice(lo, hi, Number.POSITIVE_INFINITY, payloadBytes) ?? [];
  }

  // ---------------------------------------------------------------- roles

  private reset(t: Term): void {
    assert(t >= this.term, `term went backwards: ${this.term} -> ${t}`);
    if (t !== this.term) {
      this.term = t;
      this.vote = undefined;
    }
    this.lead = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.rng.int(this.cfg.electionTicks);
    this.abortLeaderTransfer();
    this.votes.clear();
    this.campaignAfterApply = false;
    this.pendingConfIndex = logIndex(0);
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly(this.cfg.pendingReadsMax);
    this.progress.clear();
    this.syncProgress(logIndex(this.log.lastIndex() + 1));
  }

  private becomeFollower(t: Term, lead: PeerId | undefined): void {
    this.reset(t);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Neither the term nor the vote changes: a failed pre-election leaves no trace.
    this.votes.clear();
    this.lead = undefined;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(toTerm(this.term + 1));
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    // An earlier conf change may still be uncommitted in our log: allow none until all is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // The empty entry of our term: committing it commits everything before it (Figure 8).
    this.appendEntries([{ kind: 'normal', term: this.term, index: logIndex(0), data: new Uint8Array(0) }]);
    this.bcastAppend();
  }

  private softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------- elections

  private promotable(): boolean {
    return isVoter(this.membership, this.id) && this.log.unstableSnapshot() === undefined;
  }

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // A committed but unapplied conf change may change who votes; campaign once it is applied.
    if (this.hasUnappliedConfChanges()) {
      if (transfer) this.campaignAfterApply = true;
      return;
    }
    this.runCampaign(this.cfg.preVote && !transfer ? 'preElection' : 'election', transfer);
  }

  private runCampaign(kind: CampaignKind, transfer: boolean): void {
    if (kind === 'preElection') this.becomePreCandidate();
    else this.becomeCandidate();
    const type = kind === 'preElection' ? 'preVote' : 'vote';
    // A pre-vote asks "would you vote for me at term+1?" without bumping our own term.
    const voteTerm = kind === 'preElection' ? toTerm(this.term + 1) : this.term;
    if (this.poll(this.id, true) === 'won') {
      this.onElectionWon(kind, transfer); // a single voter wins at once
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const peer of this.voterIds()) {
      if (peer === this.id) continue;
      this.send({ from: this.id, to: peer, term: voteTerm, type, index, logTerm, transfer } satisfies VoteMsg);
    }
  }

  private onElectionWon(kind: CampaignKind, transfer: boolean): void {
    if (kind === 'preElection') this.runCampaign('election', transfer);
    else this.becomeLeader();
  }

  private poll(from: PeerId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return jointVote(this.membership, this.votes);
  }

  private voterIds(): PeerId[] {
    return [...new Set([...this.membership.incoming, ...this.membership.outgoing])].sort(byId);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = logIndex(Math.max(this.log.applied + 1, this.log.firstIndex()));
    const ents = this.log.slice(lo, logIndex(this.log.committed + 1), Number.POSITIVE_INFINITY, payloadBytes) ?? [];
    return ents.some((e) => e.kind === 'confChange');
  }

  // ---------------------------------------------------------------- step

  private stepInner(m: Message): void {
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  /** Returns whether to go on processing `m` after moving to its term (or not). */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Leader lease: while we hear from a leader, a vote request comes from a disruptive peer.
      const inLease = this.cfg.checkQuorum && this.lead !== undefined && this.electionElapsed < this.cfg.electionTicks;
      if (inLease && !m.transfer) return false;
    }
    if (m.type === 'preVote') return true; // answering a pre-vote never changes our term
    if (m.type === 'preVoteResp' && !m.reject) return true; // we take the term when the real election starts
    const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
    this.becomeFollower(m.term, fromLeader ? m.from : undefined);
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
      // A stale leader (e.g. back from a partition) learns our term and steps down; without this
      // it could keep a pre-voting node from ever being elected.
      this.send({ ...this.envelope(m.from), type: 'appResp', index: logIndex(0), reject: false, rejectHint: logIndex(0), logTerm: toTerm(0) });
    } else if (m.type === 'preVote') {
      this.send({ ...this.envelope(m.from), type: 'preVoteResp', reject: true });
    }
  }

  private handleVoteRequest(m: VoteMsg): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === undefined && this.lead === undefined) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer with the request's term so a pre-candidate can tell this grant from a stale one.
      this.send({ from: this.id, to: m.from, term: m.term, type: respType, reject: false } satisfies VoteRespMsg);
      if (m.type === 'vote') {
        assert(this.vote === undefined || this.vote === m.from, 'voting twice in one term');
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ ...this.envelope(m.from), type: respType, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    const respType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        this.becomeFollower(m.term, m.from); // a leader exists in this term
        this.stepFollower(m);
        return;
      case 'voteResp':
      case 'preVoteResp': {
        if (m.type !== respType) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') this.onElectionWon(this.role === 'preCandidate' ? 'preElection' : 'election', false);
        else if (result === 'lost') this.becomeFollower(this.term, undefined);
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        if (m.type === 'app') this.handleAppend(m);
        else if (m.type === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.handleTimeoutNow(m);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private handleTimeoutNow(m: TimeoutNowMsg): void {
    // The leader knows entries up to m.commit are committed and match ours: learning that here
    // lets us apply a conf change that removed the old leader before campaigning.
    this.log.commitTo(minIndex(m.commit, this.log.lastIndex()));
    this.hup(true);
  }

  private handleAppend(m: AppMsg): void {
    if (m.index < this.log.committed) {
      this.send({ ...this.envelope(m.from), type: 'appResp', index: this.log.committed, reject: false, rejectHint: logIndex(0), logTerm: toTerm(0) });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ ...this.envelope(m.from), type: 'appResp', index: lastNew, reject: false, rejectHint: logIndex(0), logTerm: toTerm(0) });
      return;
    }
    const hint = this.log.findConflictByTerm(minIndex(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ ...this.envelope(m.from), type: 'appResp', index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: HeartbeatMsg): void {
    this.log.commitTo(m.commit);
    this.send({ ...this.envelope(m.from), type: 'heartbeatResp', context: m.context });
  }

  private handleSnapshot(m: SnapMsg): void {
    const index = this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send({ ...this.envelope(m.from), type: 'appResp', index, reject: false, rejectHint: logIndex(0), logTerm: toTerm(0) });
  }

  /** Installs a snapshot unless we already have its last entry; returns whether it did. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    // A snapshot whose config does not list us yet (taken before we were added) is still
    // installed: the entries after it add us, as they did on the leader.
    const members = membershipFromConfState(s.meta.confState);
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      this.log.commitTo(s.meta.index); // we have the entries: just move the commit forward
      return false;
    }
    this.log.restore(s);
    this.membership = members;
    this.syncProgress(logIndex(this.log.lastIndex() + 1));
    return true;
  }

  // ---------------------------------------------------------------- leader

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, undefined); // we lost touch with a quorum: stop leading
        return;
      }
      for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      this.abortLeaderTransfer(); // a transfer that did not finish within an election timeout
    }
    this.tickSnapshots();
    this.maybeAutoLeave();
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastPendingContext());
    }
  }

  private quorumActive(): boolean {
    const active = new Map<PeerId, boolean>();
    for (const [id, pr] of this.progress) active.set(id, id === this.id || pr.recentActive);
    return jointVote(this.membership, active) === 'won';
  }

  /** A snapshot that neither completed nor was reported within an election timeout is retried. */
  private tickSnapshots(): void {
    for (const pr of this.progress.values()) {
      if (pr.state !== 'snapshot') continue;
      pr.snapshotTicks += 1;
      if (pr.snapshotTicks >= this.cfg.electionTicks) {
        pr.pendingSnapshot = logIndex(0);
        pr.becomeProbe();
      }
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return; // not (or no longer) a member
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        if (m.reject) this.handleAppReject(m, pr);
        else this.handleAppAccept(m, pr);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResp(m, pr);
        return;
      case 'readIndex':
        this.handleReadRequest(m.from, m.context); // a refused forwarded read is dropped; the asker times out
        return;
      default:
        return;
    }
  }

  private handleAppReject(m: AppRespMsg, pr: Progress): void {
    // Skip straight past every entry of a term the follower cannot have (one round per term).
    const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (!pr.maybeDecrTo(m.index, hint)) return;
    if (pr.state === 'replicate') pr.becomeProbe();
    this.sendAppend(m.from);
  }

  private handleAppAccept(m: AppRespMsg, pr: Progress): void {
    const wasPaused = pr.isPaused();
    const probeConfirmed = pr.state === 'probe' && pr.match === m.index;
    if (!pr.maybeUpdate(m.index) && !probeConfirmed) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.bcastAppend();
    else if (wasPaused) this.sendAppend(m.from);
    while (this.maybeSendAppend(m.from, false)) {
      // fill the inflight window
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResp(m: HeartbeatRespMsg, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // A lost append could keep a full window full forever: free one slot per heartbeat answer.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context !== '') this.handleReadAck(m.from, m.context);
  }

  private maybeCommit(): boolean {
    const idx = jointIndexOf(this.membership, this.progress);
    return this.log.maybeCommit(idx, this.term);
  }

  private refuseProposal(): ProposeResult | undefined {
    if (this.role !== 'leader') return { outcome: 'not_leader', leader: this.lead };
    if (this.leadTransferee !== undefined) return dropped('leader transfer in progress');
    return undefined;
  }

  private appendConfChange(change: ConfChange): ProposeResult {
    const entry: Entry = { kind: 'confChange', term: this.term, index: logIndex(0), change };
    if (!this.increaseUncommitted(payloadBytes(entry))) return dropped('too many uncommitted bytes');
    const index = this.appendEntries([entry]);
    this.pendingConfIndex = index;
    this.bcastAppend();
    return { outcome: 'ok', index, term: this.term };
  }

  /** Appends entries of our term after the last index; returns the new last index. */
  private appendEntries(ents: readonly Entry[]): LogIndex {
    const first = this.log.lastIndex() + 1;
    const numbered = ents.map((e, k) => ({ ...e, term: this.term, index: logIndex(first + k) }));
    const last = this.log.append(numbered);
    this.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    return last;
  }

  private increaseUncommitted(bytes: number): boolean {
    // One entry may always be in flight, however large, so a big proposal is not refused forever.
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) return false;
    this.uncommittedBytes += bytes;
    return true;
  }

  private reduceUncommitted(ents: readonly Entry[]): void {
    let bytes = 0;
    for (const e of ents) bytes += payloadBytes(e);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  private maybeAutoLeave(): void {
    if (this.role !== 'leader' || !this.membership.autoLeave || this.leadTransferee !== undefined) return;
    if (this.log.applied < this.pendingConfIndex) return;
    assert(isJoint(this.membership), 'autoLeave outside a joint config');
    this.appendConfChange({ transition: 'auto', changes: [] });
  }

  // ---------------------------------------------------------------- membership

  /** Progress for every member, new ones probing from `next`. */
  private syncProgress(next: LogIndex): void {
    const members = new Set(allPeers(this.membership));
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = !isVoter(this.membership, id);
      let pr = this.progress.get(id);
      if (pr === undefined) {
        pr = new Progress(next, this.cfg.inflightMsgsMax, learner);
        if (id === this.id) pr.maybeUpdate(this.log.lastIndex());
        this.progress.set(id, pr);
      }
      pr.isLearner = learner;
    }
  }

  private switchTo(m: Membership): void {
    this.membership = m;
    // A new member is probed with the last entry: an up-to-date peer accepts it at once, an
    // empty one answers with a hint (and gets a snapshot if the log was compacted).
    this.syncProgress(logIndex(Math.max(this.log.lastIndex(), 1)));
    if (this.role !== 'leader') return;
    if (!isVoter(m, this.id)) {
      this.stepDownRemoved();
      return;
    }
    if (this.leadTransferee !== undefined && !isVoter(m, this.leadTransferee)) this.abortLeaderTransfer();
    if (this.maybeCommit()) this.bcastAppend(); // the quorum changed
    else for (const id of this.peerIds()) this.maybeSendAppend(id, false);
  }

  /**
   * The leader applied a configuration without itself as a voter. It stops leading and asks the
   * most caught-up remaining voter to campaign at once, telling it what is committed, so the
   * cluster does not wait an election timeout (nor stay leaderless if this node goes away).
   */
  private stepDownRemoved(): void {
    let best: PeerId | undefined;
    let bestMatch = -1;
    for (const id of this.voterIds()) {
      const pr = this.progress.get(id);
      if (pr !== undefined && id !== this.id && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best !== undefined) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, undefined);
  }

  // ---------------------------------------------------------------- sending

  private envelope(to: PeerId): Envelope {
    return { from: this.id, to, term: this.term };
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private peerIds(): PeerId[] {
    return [...this.progress.keys()].filter((id) => id !== this.id).sort(byId);
  }

  private bcastAppend(): void {
    for (const id of this.peerIds()) this.sendAppend(id);
  }

  private sendAppend(to: PeerId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or a snapshot) to `to` unless its progress is paused. */
  private maybeSendAppend(to: PeerId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    assert(pr !== undefined, `no progress for ${to}`);
    if (pr.isPaused()) return false;
    const prevIndex = logIndex(pr.next - 1);
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entriesFrom(pr.next, this.cfg.msgBytesMax);
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ ...this.envelope(to), type: 'app', index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    pr.sentEntries(ents[ents.length - 1]?.index);
    return true;
  }

  private sendSnapshot(to: PeerId, pr: Progress): boolean {
    if (!pr.recentActive) return false; // do not ship a snapshot to a peer that is likely down
    const snapshot = this.log.snapshot();
    assert(snapshot.meta.index > 0, 'entries compacted but no snapshot to send');
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ ...this.envelope(to), type: 'snap', snapshot });
    return true;
  }

  private bcastHeartbeat(context: string): void {
    for (const id of this.peerIds()) {
      const pr = this.progress.get(id)!;
      // Never tell a follower a commit index beyond what it is known to hold.
      const commit = minIndex(pr.match, this.log.committed);
      this.send({ ...this.envelope(id), type: 'heartbeat', commit, context });
    }
  }

  private sendTimeoutNow(to: PeerId): void {
    const pr = this.progress.get(to);
    assert(pr !== undefined, `timeoutNow to unknown peer ${to}`);
    this.send({ ...this.envelope(to), type: 'timeoutNow', commit: minIndex(pr.match, this.log.committed) });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = undefined;
  }

  // ---------------------------------------------------------------- reads

  private handleReadRequest(from: PeerId, context: string): RequestResult {
    // Until an entry of our term is committed, our commit index may be behind the cluster's.
    if (this.log.term(this.log.committed) !== this.term) return dropped('no entry committed in this term yet');
    const single = this.membership.incoming.size === 1 && this.membership.outgoing.size === 0 && this.membership.incoming.has(this.id);
    if (single) {
      this.respondRead({ context, index: this.log.committed, from, acks: new Set() });
      return ok;
    }
    if (this.readOnly.has(context)) return dropped('duplicate read context');
    if (this.readOnly.full()) return dropped('too many pending reads');
    this.readOnly.add(context, this.log.committed, from, this.id);
    this.bcastHeartbeat(context);
    return ok;
  }

  private handleReadAck(from: PeerId, context: string): void {
    const acks = this.readOnly.recvAck(from, context);
    if (acks === undefined) return;
    const votes = new Map<PeerId, boolean>();
    for (const id of acks) votes.set(id, true);
    if (jointVote(this.membership, votes) !== 'won') return;
    for (const req of this.readOnly.advance(context)) this.respondRead(req);
  }

  private respondRead(req: ReadRequest): void {
    if (req.from === this.id) this.readStates.push({ index: req.index, context: req.context });
    else this.send({ ...this.envelope(req.from), type: 'readIndexResp', index: req.index, context: req.context });
  }

  // ---------------------------------------------------------------- invariants

  private checkInvariants(): void {
    const { committed, applied } = this.log;
    assert(applied <= committed, `applied ${applied} > committed ${committed}`);
    assert(committed <= this.log.lastIndex(), `committed ${committed} > last ${this.log.lastIndex()}`);
    assert(this.role !== 'leader' || this.lead === this.id, 'a leader must lead itself');
    assert(this.role !== 'candidate' || this.vote === this.id, 'a candidate votes for itself');
    const self = this.progress.get(this.id);
    assert(this.role !== 'leader' || self === undefined || self.match === this.log.lastIndex(), 'leader progress of itself lags');
  }
}

function jointIndexOf(m: Membership, progress: ReadonlyMap<PeerId, Progress>): LogIndex {
  const idx = jointIndex(m, (id) => progress.get(id)?.match);
  assert(Number.isFinite(idx), 'commit index of an empty configuration');
  return logIndex(idx);
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
