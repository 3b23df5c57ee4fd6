// One node's membership in a cluster: the p2p transport, the durable Raft log, the consensus
// driver ticking on a real timer, requests between nodes (proposals forwarded to the leader,
// joins, removals), automatic promotion of caught-up learners, and readiness.
import { ShoalError, badRequest, seededRng, type Clock, type FileSystem } from '@shoal/common';
import {
  ConsensusDriver,
  GrpcTransport,
  RaftLogStore,
  clusterStatusBody,
  type ClusterStatusBody,
  type PointsCallResult,
  type PointsHandler,
  type PointsMethod,
  type ProposalResult,
  type ShardRequest,
} from '@shoal/consensus';
import { decodeOperation, encodeOperation, type MetaOperation } from '@shoal/meta';
import { peerId, type PeerId } from '@shoal/raft';
import type { MetaListener } from './metadata-store.js';
import type { ClusterLink } from './node.js';
import { RaftMetaSource } from './raft-meta-source.js';

export type ClusterLog = (level: 'info' | 'warn' | 'error', message: string, detail: Record<string, unknown>) => void;

export interface ClusterConsensusOptions {
  readonly peerId: number;
  /** This node's p2p URI as the others reach it (--uri). */
  readonly uri: string;
  /** A member's p2p URI to ask for admission (--bootstrap); ignored once this node has Raft state. */
  readonly bootstrapUri: string | undefined;
  /** Where the p2p server listens, `host:port`. */
  readonly listen: string;
  readonly fs: FileSystem;
  /** Directory of the Raft log (`<storage_path>/raft`). */
  readonly dir: string;
  readonly log: ClusterLog;
  readonly timing?: Partial<ConsensusTiming>;
}

/** Timing of a cluster node, each in ms unless named otherwise. */
export interface ConsensusTiming {
  /**
   * One Raft tick. Election timeout is [10, 20) ticks, so with 100 ms a new leader is elected
   * 1-2 s after the old one stopped answering. Shorter: faster fail-over, more heartbeats, and
   * more spurious elections when the event loop stalls.
   */
  readonly tickMs: number;
  /** A metadata proposal's whole budget (to the leader, applied there and here). */
  readonly proposalTimeoutMs: number;
  /** Pause between retries while no leader is known. */
  readonly retryPauseMs: number;
  /** Ticks between housekeeping rounds (promote caught-up learners, readiness, joining). */
  readonly housekeepingTicks: number;
  /** One request to another node (join, forwarded proposal, commit query), at most. */
  readonly requestTimeoutMs: number;
  /** How long a peer may take to answer whether it is reachable, when placing new shards. */
  readonly probeTimeoutMs: number;
}

export const DEFAULT_CONSENSUS_TIMING: ConsensusTiming = {
  tickMs: 100,
  proposalTimeoutMs: 30_000,
  retryPauseMs: 50,
  housekeepingTicks: 5,
  requestTimeoutMs: 10_000,
  probeTimeoutMs: 1_000,
};

const monotonic: Clock = { nowMs: () => performance.now() };
const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder();
const json = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value));
const parse = (bytes: Uint8Array): Record<string, unknown> => JSON.parse(utf8Decode.decode(bytes)) as Record<string, unknown>;

/** A membership request's answer: done, or why not (not_leader carries where to ask). */
type MembershipReply = { readonly outcome: 'ok' } | { readonly outcome: 'not_leader'; readonly leader: number | null } | { readonly outcome: 'refused'; readonly kind: 'bad_request' | 'not_found' | 'unavailable'; readonly reason: string };

export class ClusterConsensus {
  private timer: ReturnType<typeof setInterval> | undefined;
  private source: RaftMetaSource | undefined;
  private ticksSinceHousekeeping = 0;
  private housekeeping = false;
  private readyValue = false;
  private closed = false;
  private readonly timing: ConsensusTiming;

  private constructor(
    private readonly options: ClusterConsensusOptions,
    readonly driver: ConsensusDriver,
    private readonly transport: GrpcTransport,
  ) {
    this.timing = { ...DEFAULT_CONSENSUS_TIMING, ...options.timing };
  }

  static async start(options: ClusterConsensusOptions): Promise<ClusterConsensus> {
    const id = peerId(options.peerId);
    const transport = new GrpcTransport({ selfId: id, listen: options.listen, selfUri: options.uri });
    const seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 1;
    const driver = await ConsensusDriver.start({
      id,
      uri: options.uri,
      transport,
      openStorage: () => RaftLogStore.open(options.fs, options.dir),
      clock: monotonic,
      wallClockMs: () => Date.now(),
      rng: seededRng(seed),
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      // A node given --bootstrap joins an existing cluster (an empty config until admitted); the
      // first node founds a cluster of one. Either way, stored Raft state wins over both.
      bootstrap: options.bootstrapUri === undefined ? new Map([[id, options.uri]]) : undefined,
    });
    const node = new ClusterConsensus(options, driver, transport);
    transport.onControl((kind, body) => node.answer(kind, parse(body)).then(json));
    node.timer = setInterval(() => node.tick(), node.timing.tickMs);
    await driver.whenIdle();
    const s = driver.status();
    options.log('info', 'consensus started', { peer: options.peerId, uri: options.uri, term: s.term, commit: s.commit, members: s.peers.size });
    return node;
  }

  /** The metadata source LocalNode opens (once). */
  openMetaSource(listener: MetaListener): RaftMetaSource {
    this.source = RaftMetaSource.open(
      {
        driver: this.driver,
        clock: monotonic,
        proposeToLeader: (op, deadlineMs) => this.proposeToLeader(op, deadlineMs),
        proposalTimeoutMs: this.timing.proposalTimeoutMs,
        retryPauseMs: this.timing.retryPauseMs,
        onListenerError: (error, op, index) =>
          this.options.log('error', 'acting on an applied metadata operation failed', { err: String(error), op: op?.kind, index }),
      },
      listener,
    );
    return this.source;
  }

  /** The data plane's view of the cluster, for LocalNode.attachCluster. */
  link(): ClusterLink {
    return {
      callPoints: (peer, method, request, options) => this.callPoints(peer, method, request, options),
      catchUp: (deadlineMs) => this.catchUp(deadlineMs),
      reachablePeers: (deadlineMs) => this.reachablePeers(deadlineMs),
      peerApplied: (peer, index, deadlineMs) => this.peerApplied(peer, index, deadlineMs),
      waitActed: (index, deadlineMs) => this.requireSource().waitActed(index, deadlineMs).then(() => true, () => false),
      peerAlive: async (peer, timeoutMs) => peer === this.driver.id || (await this.appliedOn(peer, timeoutMs)) !== undefined,
      isLeader: () => this.driver.status().role === 'Leader',
      members: () => this.members(),
      removeMember: (peer) => this.removePeer(peer),
    };
  }

  /** Voters and learners, joining and leaving ones included. */
  private members(): number[] {
    const cs = this.driver.status().confState;
    return [...new Set<number>([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext])].sort((a, b) => a - b);
  }

  /** Sets the handler of Points calls from other peers (LocalNode.answerPoints). */
  servePoints(handler: PointsHandler): void {
    this.transport.onPoints(handler);
  }

  private callPoints(peer: number, method: PointsMethod, request: ShardRequest, options: { timeoutMs: number; signal?: AbortSignal }): Promise<PointsCallResult> {
    const uri = this.driver.status().peers.get(peer as PeerId);
    if (uri === undefined) return Promise.resolve({ outcome: 'failed', timeout: false, message: `peer ${peer} is not in the address book` });
    return this.transport.callPoints(uri, method, request, options);
  }

  /**
   * ReadIndex: learns the leader's commit index (confirmed by a heartbeat round) and waits until
   * this node has acted on everything up to it.
   */
  private async catchUp(deadlineMs: number): Promise<void> {
    for (;;) {
      const r = await this.driver.linearizableRead(deadlineMs);
      if (r.outcome === 'ok') return this.requireSource().waitActed(r.index, deadlineMs);
      const retry = r.outcome === 'not_leader' || r.outcome === 'dropped';
      if (!retry || monotonic.nowMs() + this.timing.retryPauseMs >= deadlineMs) {
        const why = r.outcome === 'not_leader' ? 'no leader is known' : r.outcome === 'timeout' ? 'the leader did not confirm in time' : r.reason;
        throw new ShoalError('unavailable', `Service unavailable: cannot catch up with the cluster's metadata: ${why}`);
      }
      await sleep(this.timing.retryPauseMs);
    }
  }

  private requireSource(): RaftMetaSource {
    if (this.source === undefined) throw new ShoalError('unavailable', 'Service is starting');
    return this.source;
  }

  /** Members that answer an `applied` request now (this node always). */
  private async reachablePeers(deadlineMs: number): Promise<number[]> {
    const peers = [...this.driver.status().peers.keys()];
    const timeout = Math.max(1, Math.min(this.timing.probeTimeoutMs, deadlineMs - monotonic.nowMs()));
    const answers = await Promise.all(peers.map(async (peer) => {
      if (peer === this.driver.id) return peer;
      return (await this.appliedOn(peer, timeout)) === undefined ? undefined : peer;
    }));
    return answers.filter((p): p is PeerId => p !== undefined);
  }

  /** The index `peer` has acted on, or undefined when it does not answer within `timeoutMs`. */
  private async appliedOn(peer: number, timeoutMs: number): Promise<number | undefined> {
    const uri = this.driver.status().peers.get(peer as PeerId);
    if (uri === undefined) return undefined;
    try {
      const reply = parse(await this.transport.control(uri, 'applied', json({}), timeoutMs));
      return typeof reply['applied'] === 'number' ? reply['applied'] : undefined;
    } catch {
      return undefined;
    }
  }

  private async peerApplied(peer: number, index: number, deadlineMs: number): Promise<boolean> {
    for (;;) {
      if (!this.driver.status().peers.has(peer as PeerId)) return true; // it left the cluster
      const left = deadlineMs - monotonic.nowMs();
      if (left <= 0) return false;
      const applied = await this.appliedOn(peer, Math.max(1, Math.min(this.timing.requestTimeoutMs, left)));
      if (applied !== undefined && applied >= index) return true;
      await sleep(this.timing.retryPauseMs);
    }
  }

  /** GET /cluster's body (Qdrant's ClusterStatus). */
  statusBody(): ClusterStatusBody {
    return clusterStatusBody(this.driver.status());
  }

  /** true once this node has applied everything the leader had committed when it asked (then stays true). */
  get ready(): boolean {
    return this.readyValue && this.driver.status().thread.status === 'working';
  }

  /** Removes a peer from the cluster (through the leader); refuses to remove the last voter. */
  async removePeer(peer: number): Promise<void> {
    const reply = await this.onLeader('remove', { peer }, monotonic.nowMs() + this.timing.proposalTimeoutMs);
    if (reply.outcome === 'refused') throw new ShoalError(reply.kind, reply.reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.source?.close();
    await this.driver.close(); // closes the transport too
  }

  // ------------------------------------------------------------------ ticking and housekeeping

  private tick(): void {
    this.driver.tick();
    this.ticksSinceHousekeeping += 1;
    if (this.ticksSinceHousekeeping < this.timing.housekeepingTicks || this.housekeeping) return;
    this.ticksSinceHousekeeping = 0;
    this.housekeeping = true;
    this.housekeep()
      .catch((error: unknown) => this.options.log('warn', 'cluster housekeeping failed', { err: String(error) }))
      .finally(() => (this.housekeeping = false));
  }

  private async housekeep(): Promise<void> {
    const s = this.driver.status();
    if (s.confState.voters.length === 0 && s.confState.learners.length === 0 && s.peers.size === 0) return this.join();
    if (s.role === 'Leader') await this.promoteLearners();
    if (!this.readyValue) await this.checkReady();
  }

  /** Not yet a member: ask the bootstrap peer to add this node as a learner (repeated until it is one). */
  private async join(): Promise<void> {
    const uri = this.options.bootstrapUri;
    if (uri === undefined) return;
    const body = { peer: this.options.peerId, uri: this.options.uri };
    const reply = parse(await this.transport.control(uri, 'join', json(body), this.timing.requestTimeoutMs)) as MembershipReply;
    this.options.log(reply.outcome === 'ok' ? 'info' : 'warn', 'asked to join the cluster', { bootstrap: uri, reply });
  }

  /** The leader promotes every learner that has caught up (the driver refuses one that lags). */
  private async promoteLearners(): Promise<void> {
    for (const learner of this.driver.status().confState.learners) {
      const r = await this.driver.promote(learner, monotonic.nowMs() + this.timing.requestTimeoutMs);
      if (r.outcome === 'applied') this.options.log('info', 'learner promoted to voter', { peer: learner });
    }
  }

  private async checkReady(): Promise<void> {
    const s = this.driver.status();
    if (s.thread.status !== 'working' || s.leader === undefined || !s.isVoter && s.confState.learners.length === 0) return;
    let leaderCommit = s.commit;
    if (s.leader !== this.driver.id) {
      const uri = s.peers.get(s.leader);
      if (uri === undefined) return;
      const reply = parse(await this.transport.control(uri, 'commit', json({}), this.timing.requestTimeoutMs));
      if (typeof reply['commit'] !== 'number') return;
      leaderCommit = reply['commit'];
    }
    await this.waitApplied(leaderCommit);
  }

  private async waitApplied(index: number): Promise<void> {
    const deadline = monotonic.nowMs() + this.timing.requestTimeoutMs;
    while (monotonic.nowMs() < deadline && !this.closed) {
      if (this.driver.appliedIndex() >= index && (this.source?.pendingDeliveries ?? 0) === 0) {
        this.readyValue = true;
        this.options.log('info', 'caught up with the leader', { commit: index });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.timing.retryPauseMs));
    }
  }

  // ------------------------------------------------------------------ requests between nodes

  /** Serves one Control request from another node. */
  private async answer(kind: string, body: Record<string, unknown>): Promise<unknown> {
    const deadlineMs = monotonic.nowMs() + this.timing.requestTimeoutMs;
    switch (kind) {
      case 'propose': {
        if (typeof body['op'] !== 'string') throw badRequest('propose without op');
        const op = decodeOperation(Buffer.from(body['op'], 'base64'));
        return this.driver.propose(op, deadlineMs);
      }
      case 'commit': {
        const s = this.driver.status();
        return { commit: s.commit, leader: s.leader ?? null, term: s.term };
      }
      case 'applied':
        return { applied: this.source?.actedIndex ?? 0 };
      case 'join':
      case 'remove':
        return this.onLeader(kind, body, deadlineMs);
      default:
        throw badRequest(`unknown request ${kind}`);
    }
  }

  /** Runs a membership request on the leader: here when this node leads, else forwarded there. */
  private async onLeader(kind: 'join' | 'remove', body: Record<string, unknown>, deadlineMs: number): Promise<MembershipReply> {
    for (;;) {
      const s = this.driver.status();
      let reply: MembershipReply;
      if (s.leader === this.driver.id) reply = await this.membershipHere(kind, body, deadlineMs);
      else if (s.leader === undefined || s.peers.get(s.leader) === undefined) reply = { outcome: 'not_leader', leader: null };
      else {
        const timeout = Math.max(1, Math.min(this.timing.requestTimeoutMs, deadlineMs - monotonic.nowMs()));
        reply = parse(await this.transport.control(s.peers.get(s.leader) as string, kind, json(body), timeout)) as MembershipReply;
      }
      if (reply.outcome !== 'not_leader') return reply;
      if (monotonic.nowMs() + this.timing.retryPauseMs >= deadlineMs) {
        return { outcome: 'refused', kind: 'unavailable', reason: 'Service unavailable: no leader is known (an election may be under way)' };
      }
      await new Promise((resolve) => setTimeout(resolve, this.timing.retryPauseMs));
    }
  }

  private async membershipHere(kind: 'join' | 'remove', body: Record<string, unknown>, deadlineMs: number): Promise<MembershipReply> {
    const peer = body['peer'];
    if (typeof peer !== 'number' || !Number.isSafeInteger(peer) || peer < 1) return refused('bad_request', `Bad request: bad peer id ${String(peer)}`);
    const id = peerId(peer);
    const cs = this.driver.status().confState;
    const members = new Set<number>([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
    let r: ProposalResult;
    if (kind === 'join') {
      const uri = body['uri'];
      if (typeof uri !== 'string' || uri === '') return refused('bad_request', 'Bad request: join without uri');
      if (members.has(id)) return { outcome: 'ok' }; // asked again (a lost answer, a restart before the snapshot)
      r = await this.driver.addLearner(id, uri, deadlineMs);
      if (r.outcome === 'applied') this.options.log('info', 'peer joined as a learner', { peer, uri });
    } else {
      if (!members.has(id)) return refused('not_found', `Not found: peer ${peer} is not a member of the cluster`);
      if (cs.voters.length === 1 && cs.voters[0] === id) return refused('bad_request', `Bad request: peer ${peer} is the last voter; a cluster cannot remove its last voter`);
      r = await this.driver.removePeer(id, deadlineMs);
      if (r.outcome === 'applied') this.options.log('info', 'peer removed', { peer });
    }
    return membershipReply(r);
  }

  /** Proposes on the leader: this node's driver, or the leader's through a forwarded request. */
  private async proposeToLeader(op: MetaOperation, deadlineMs: number): Promise<ProposalResult> {
    const local = await this.driver.propose(op, deadlineMs);
    if (local.outcome !== 'not_leader' || local.leader === undefined || local.leader === this.driver.id) return local;
    const uri = this.driver.status().peers.get(local.leader as PeerId);
    if (uri === undefined) return { outcome: 'not_leader', leader: undefined };
    const timeout = Math.max(1, deadlineMs - monotonic.nowMs());
    const body = { op: Buffer.from(encodeOperation(op)).toString('base64') };
    return parse(await this.transport.control(uri, 'propose', json(body), timeout)) as unknown as ProposalResult;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function refused(kind: 'bad_request' | 'not_found' | 'unavailable', reason: string): MembershipReply {
  return { outcome: 'refused', kind, reason };
}

function membershipReply(r: ProposalResult): MembershipReply {
  switch (r.outcome) {
    case 'applied':
      return { outcome: 'ok' };
    case 'not_leader':
      return { outcome: 'not_leader', leader: r.leader ?? null };
    case 'overwritten':
      return { outcome: 'not_leader', leader: null };
    case 'timeout':
      return refused('unavailable', 'Service unavailable: the membership change was not applied in time');
    case 'dropped':
    case 'unknown':
    case 'unavailable':
      return refused('unavailable', `Service unavailable: ${r.reason}`);
  }
}
