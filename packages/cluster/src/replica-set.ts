// A shard's replicas: writes fan out to every replica that takes writes and need
// write_consistency_factor acknowledgements from Active ones, with every replica that missed the
// write marked Dead (a committed metadata entry) before the write is acknowledged; reads go to as
// many readable replicas as the read consistency asks, replacing those that fail.
import { ShoalError, type PointOperation } from '@shoal/common';
import { countsForWrites, receivesWrites, servesReads, type ReplicaMeta, type ShardMeta, type ShardTransfer } from '@shoal/meta';
import type { ApplyResult, SegmentContract } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import type { WalReader } from '@shoal/wal';
import { ClockPool, type ClockLease, type ClockOrigin } from './clocks.js';
import { ReplicaUnreachable, StaleView, type CallContext, type LeadOrdering, type ShardReplica } from './shard-replica.js';

/** What a replica set needs of one local replica of a shard: the segment's reads, plus writes and lifecycle. */
export interface Replica
  extends Pick<SegmentContract, 'retrieve' | 'search' | 'scroll' | 'scrollOrdered' | 'count' | 'facet' | 'payloadIndexes' | 'stats'> {
  /** A write, tagged by its coordinator's clock (a re-sent tag is acknowledged, not applied again). */
  update(op: PointOperation, tag?: ClockTag | null): Promise<{ readonly seq: number; readonly result: ApplyResult }>;
  /** The highest tick applied per (peer, epoch, clock) (LocalShard.appliedTicks). */
  appliedTicks?(): ClockTag[];
  /** Takes a transfer source's applied ticks before its forwarded writes (LocalShard.installTicks). */
  installTicks?(ticks: readonly ClockTag[]): Promise<void>;
  /** A record of a source replica's WAL sent again by a `wal_delta` transfer (LocalShard.redo). */
  redo?(op: PointOperation, tag: ClockTag | null): Promise<{ readonly seq: number; readonly result: ApplyResult }>;
  /** What a replica with these applied ticks lacks of this one (LocalShard.deltaFor). */
  deltaFor?(ticks: readonly ClockTag[]): Promise<{ readonly reader: WalReader } | { readonly refused: string }>;
  /** Resolves once every write accepted so far is applied or failed (LocalShard.settled). */
  settled?(): Promise<void>;
  /** Writes applied past a missing tick of their clock since the replica opened (LocalShard.clockGapsSeen). */
  clockGapsSeen?(): number;
  /** Seq of the last write applied (LocalShard.lastAppliedSeq). */
  lastAppliedSeq?(): number;
  /** Why the replica takes no writes (a failed WAL or segment), or null (LocalShard.info().failure). */
  writeFailure?(): Error | null;
  close(): Promise<void>;
  drop(): Promise<void>;
}

export type { ReplicaState } from '@shoal/meta';

/**
 * Read consistency (Qdrant's `consistency`): `factor` asks that many readable replicas and keeps
 * what all of them return; `majority` asks half of them plus one, same rule; `all` asks all, same
 * rule; `quorum` asks all and keeps what more than half of them return.
 */
export type ReadConsistency =
  | { readonly kind: 'factor'; readonly n: number }
  | { readonly kind: 'majority' }
  | { readonly kind: 'quorum' }
  | { readonly kind: 'all' };

export const DEFAULT_READ_CONSISTENCY: ReadConsistency = { kind: 'factor', n: 1 };

/**
 * Share of a write's remaining time its replicas get to answer; the rest is left for marking the
 * replicas that did not answer Dead (a Raft commit, which may wait for an election). A silent
 * replica costs a write two thirds of its timeout, not all of it and then a failure.
 */
const REPLICA_SHARE_OF_WRITE = 2 / 3;

/**
 * Rounds of one write or read that replicas refused as decided on old metadata (StaleView), each
 * followed by catching up: a shard's replicas change a few times per transfer, so a round or two
 * covers what happens during one request; more means the metadata keeps moving under it.
 */
const STALE_ROUNDS_MAX = 4;

export type WriteOrdering = 'weak' | 'medium' | 'strong';

export interface WritePolicy {
  readonly writeConsistencyFactor: number;
  readonly ordering: WriteOrdering;
  /**
   * false: answer once this node's own replica made the write durable (its WAL), the other
   * replicas following in the background (their failures still get them marked Dead). Without a
   * replica here, the part waits for the replicas as with wait=true.
   */
  readonly wait: boolean;
}

/** A replica to mark Dead, at the state and generation the write saw. */
export interface FailedReplica {
  readonly peer: number;
  readonly replica: ReplicaMeta;
}

/**
 * done: every replica is Dead now; refused: the mark was not applied (it would leave the shard
 * without an Active replica, the collection is gone, or the replica changed meanwhile: removed,
 * or brought back by a transfer whose copy may lack the write); timeout: not committed before the deadline (the mark goes on in the
 * background, so the replica still leaves the write set).
 */
export type DeadMarkOutcome = 'done' | 'refused' | 'timeout';

/** What a replica set needs from its node. */
export interface ReplicaSetHost {
  /** Whether the replica on `peer` is this node's own. */
  isLocal(peer: number): boolean;
  /** The current placement of this shard (it changes with the metadata). */
  shard(): ShardMeta | undefined;
  /** The collection's running transfers (their targets take no direct writes). */
  transfers(): readonly ShardTransfer[];
  /** The metadata index `shard()` and `transfers()` come from. */
  metaIndex(): number;
  /** Waits until this node has applied `index` (a replica refused a request as decided before it). */
  catchUpTo(index: number, deadlineMs: number): Promise<void>;
  /** A handle on the replica of this shard on `peer` (the local adapter for this node). */
  replica(peer: number): ShardReplica;
  markDead(failed: readonly FailedReplica[], deadlineMs: number): Promise<DeadMarkOutcome>;
  /** A write left running after wait=false failed in the background. */
  backgroundFailure(error: unknown): void;
  /** Who tags the writes this node coordinates (absent: writes go untagged). */
  clockOrigin?(): ClockOrigin;
}

type Outcome<T> = { readonly ok: true; readonly replica: ReplicaMeta; readonly value: T } | { readonly ok: false; readonly replica: ReplicaMeta; readonly error: unknown };

export class ReplicaSet {
  /** Writes this node leads for the shard run one at a time, in arrival order. */
  private leadTail: Promise<unknown> = Promise.resolve();
  /** Rotates which remote replica serves a read first, spreading reads over them. */
  private readTurn = 0;
  /** This node's clocks for the writes it coordinates on this shard. */
  private clockPool: ClockPool | null = null;

  constructor(
    readonly shardId: number,
    private readonly host: ReplicaSetHost,
  ) {}

  private current(): ShardMeta {
    const shard = this.host.shard();
    if (shard === undefined) throw new ShoalError('unavailable', `Service unavailable: shard ${this.shardId} no longer exists`);
    return shard;
  }

  // ----- writes ------------------------------------------------------------------------------

  /** Applies `op` to this shard's replicas under `policy`; resolves only once the write is safe to acknowledge. */
  async write(op: PointOperation, policy: WritePolicy, ctx: CallContext): Promise<ApplyResult> {
    if (policy.ordering === 'weak') return this.fanOut(op, policy, ctx);
    const shard = this.current();
    // The shard's leading replica is the one on the highest peer id (Qdrant's rule): strong waits
    // for it; medium falls back to the next Active replica down that order.
    const byPeer = [...shard.replicas].sort((a, b) => b.peer - a.peer);
    const candidates = policy.ordering === 'strong' ? byPeer.slice(0, 1) : byPeer.filter((r) => countsForWrites(r.state));
    let lastError: unknown = new ShoalError('unavailable', `Service unavailable: shard ${this.shardId} has no Active replica to lead the write`);
    for (const leader of candidates) {
      if (!countsForWrites(leader.state)) {
        throw new ShoalError('unavailable', `Service unavailable: the leading replica of shard ${this.shardId} (peer ${leader.peer}) is ${leader.state}; ordering=strong waits for it`);
      }
      if (this.host.isLocal(leader.peer)) return this.lead(op, policy.ordering, policy, ctx);
      try {
        return await this.host.replica(leader.peer).update(op, policy.ordering, { ...ctx, metaIndex: this.host.metaIndex() });
      } catch (error) {
        // medium: the next Active replica leads; strong: the shard waits for its leader.
        if (!(error instanceof ReplicaUnreachable) || policy.ordering === 'strong') throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  /** This node leads a write (it holds the shard's leading replica): one led write at a time. */
  lead(op: PointOperation, _ordering: LeadOrdering, policy: WritePolicy, ctx: CallContext): Promise<ApplyResult> {
    const run = (): Promise<ApplyResult> => this.fanOut(op, { ...policy, ordering: 'weak', wait: true }, ctx);
    const result = this.leadTail.then(run, run);
    this.leadTail = result.catch(() => undefined);
    return result;
  }

  private async fanOut(op: PointOperation, policy: WritePolicy, ctx: CallContext): Promise<ApplyResult> {
    for (let round = 1; ; round++) {
      try {
        return await this.fanOutRound(op, policy, ctx);
      } catch (error) {
        if (!(error instanceof StaleView) || round >= STALE_ROUNDS_MAX) throw error;
        // A replica's shard changed after this node decided where the write goes: decide again.
        await this.host.catchUpTo(error.index, ctx.deadlineMs);
      }
    }
  }

  /**
   * One round: the write goes to every replica that takes direct writes in this node's current
   * view (a transfer's target gets it from the source instead), with the view's index.
   */
  private async fanOutRound(op: PointOperation, policy: WritePolicy, ctx: CallContext): Promise<ApplyResult> {
    const shard = this.current();
    const metaIndex = this.host.metaIndex();
    const transfers = this.host.transfers().filter((t) => t.shard === this.shardId);
    const targets = shard.replicas.filter((r) => receivesWrites(r.state) && !transfers.some((t) => t.to === r.peer));
    const active = targets.filter((r) => countsForWrites(r.state)).length;
    // A shard placed on fewer peers than the factor asks (a cluster smaller than the replication
    // factor) needs acknowledgements from all of its replicas, not more than it has; a replica a
    // transfer is creating does not count until it is there.
    const placed = shard.replicas.filter((r) => !transfers.some((t) => t.to === r.peer && t.createdTarget)).length;
    const required = Math.max(1, Math.min(policy.writeConsistencyFactor, placed));
    if (active < required) {
      throw new ShoalError('unavailable', `Service unavailable: shard ${this.shardId} has ${active} Active replicas, write_consistency_factor needs ${required}`);
    }
    // Replicas get part of the budget: what is left is for marking the ones that fail Dead.
    const replicaCtx: CallContext = { ...ctx, metaIndex, deadlineMs: performance.now() + (ctx.deadlineMs - performance.now()) * REPLICA_SHARE_OF_WRITE };
    // A leased clock that never settles (an exception below) is never leased again, like a retired one.
    const lease = this.leaseClock();
    const tag = lease?.tag ?? null;
    const calls = targets.map((r) => settle(r, this.host.replica(r.peer).update(op, null, replicaCtx, tag)));
    if (lease !== null) {
      void Promise.all(calls).then((outcomes) => (outcomes.every((o) => o.ok) ? lease.release() : lease.retire()));
    }
    const local = targets.findIndex((r) => this.host.isLocal(r.peer) && countsForWrites(r.state));
    if (!policy.wait && local >= 0) {
      const own = await calls[local]!;
      // The local replica did not take it, but others may have: judge the write as with wait=true
      // (so a replica that lacks what others applied is marked Dead, not left diverged).
      if (!own.ok) return this.complete(calls, required, ctx, targets);
      void this.complete(calls, required, ctx, targets).catch((error: unknown) => {
        // Another replica was decided on an old view: the write goes again to the current one.
        if (error instanceof StaleView) return this.fanOut(op, { ...policy, wait: true }, ctx).catch((e: unknown) => this.host.backgroundFailure(e));
        this.host.backgroundFailure(error);
      });
      return own.value;
    }
    return this.complete(calls, required, ctx, targets);
  }

  private leaseClock(): ClockLease | null {
    if (this.clockPool === null) {
      const origin = this.host.clockOrigin?.();
      if (origin === undefined) return null;
      this.clockPool = new ClockPool(origin);
    }
    return this.clockPool.lease();
  }

  /** This shard's clock pool here (null until the first tagged write). */
  get clocks(): ClockPool | null {
    return this.clockPool;
  }

  /**
   * Waits for every replica, marks the failed ones Dead, then judges the write. A round in which
   * a replica refused the write as decided on an old view is judged by nothing: it is sent again
   * (the replicas that applied it apply it again, which changes nothing).
   *
   * A replica is marked Dead only when it may lack a write another replica applied. A definite
   * refusal (see isRefusal: bad input, too large, overloaded …) means the replica did not apply
   * it; when no replica applied it, every replica is as it was, nobody is marked and the refusal
   * is the answer (a 4xx, or 503 for overloaded), not a failure of the replicas. When other
   * replicas did apply it, the refusing one is now behind them and is marked Dead like a failed
   * one, so it converges by recovery instead of staying diverged.
   */
  private async complete(calls: readonly Promise<Outcome<ApplyResult>>[], required: number, ctx: CallContext, targets: readonly ReplicaMeta[]): Promise<ApplyResult> {
    const outcomes = await Promise.all(calls);
    const stale = outcomes.flatMap((o) => (!o.ok && o.error instanceof StaleView ? [o.error] : []));
    if (stale.length > 0) throw stale.reduce((a, b) => (b.index > a.index ? b : a));
    const acked = outcomes.filter((o): o is Extract<Outcome<ApplyResult>, { ok: true }> => o.ok);
    const failed = outcomes.filter((o): o is Extract<Outcome<ApplyResult>, { ok: false }> => !o.ok);
    // Nobody took it: nothing diverged that we know of (a replica that timed out may have
    // applied it; its outcome is unknown, like the write's).
    if (acked.length === 0) {
      const refusal = failed.find((f) => isRefusal(f.error));
      throw (refusal ?? failed[0])?.error ?? new ShoalError('unavailable', `Service unavailable: no replica of shard ${this.shardId} takes writes`);
    }
    if (failed.length > 0) {
      const marked = await this.host.markDead(failed.map((f) => ({ peer: f.replica.peer, replica: f.replica })), ctx.deadlineMs);
      // The marks are applied here now, and with them everything committed before them: a
      // replica that joined the shard's writers since the write was routed (a transfer that
      // finished while its source failed on this write) never got it, and marking the source
      // Dead does not help it. The write goes again to the shard as it is now (the replicas that
      // applied it apply it again, which changes nothing).
      if (marked !== 'timeout') {
        const joined = this.joinedSince(targets);
        if (joined !== undefined) throw new StaleView(this.host.metaIndex(), `Service unavailable: the replica of shard ${this.shardId} on peer ${joined.peer} became ${joined.state} after the write was routed; the write goes to it again`);
      }
      if (marked !== 'done') {
        const peers = failed.map((f) => f.replica.peer).join(', ');
        const why = marked === 'timeout' ? 'the change was not committed in time' : 'that would leave the shard without an Active replica, or the replica changed meanwhile';
        throw new ShoalError('unavailable', `Service unavailable: replicas of shard ${this.shardId} on peers ${peers} missed the write and could not be marked Dead (${why}); the write may be applied on some replicas, retry it (${errorMessage(failed[0]!.error)})`);
      }
    }
    const activeAcks = acked.filter((o) => countsForWrites(o.replica.state)).length;
    if (activeAcks < required) {
      throw new ShoalError('unavailable', `Service unavailable: the write was applied on ${activeAcks} Active replicas of shard ${this.shardId}, write_consistency_factor needs ${required}; retry it (${errorMessage(failed[0]?.error)})`);
    }
    const own = acked.find((o) => this.host.isLocal(o.replica.peer)) ?? acked[0]!;
    return own.value;
  }

  /**
   * A replica that takes direct writes in this node's current view but was not among `targets`
   * (or was, at another generation): it may lack a write routed to `targets`.
   */
  private joinedSince(targets: readonly ReplicaMeta[]): ReplicaMeta | undefined {
    const shard = this.host.shard();
    if (shard === undefined) return undefined;
    const transfers = this.host.transfers().filter((t) => t.shard === this.shardId);
    return shard.replicas.find(
      (r) => receivesWrites(r.state) && !transfers.some((t) => t.to === r.peer) && !targets.some((t) => t.peer === r.peer && t.generation === r.generation),
    );
  }

  // ----- reads -------------------------------------------------------------------------------

  /**
   * Runs `call` on as many readable replicas as `consistency` asks, replacing a replica that fails
   * by the next one while the deadline allows, and combines the answers: `combine(answers,
   * threshold)` keeps what at least `threshold` answers hold.
   */
  async read<T>(
    consistency: ReadConsistency,
    ctx: CallContext,
    call: (r: ShardReplica, ctx: CallContext) => Promise<T>,
    combine: (answers: T[], threshold: number) => T,
  ): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await this.readRound(consistency, ctx, call, combine);
      } catch (error) {
        if (!(error instanceof StaleView) || round >= STALE_ROUNDS_MAX) throw error;
        await this.host.catchUpTo(error.index, ctx.deadlineMs);
      }
    }
  }

  private async readRound<T>(
    consistency: ReadConsistency,
    ctx: CallContext,
    call: (r: ShardReplica, ctx: CallContext) => Promise<T>,
    combine: (answers: T[], threshold: number) => T,
  ): Promise<T> {
    const metaIndex = this.host.metaIndex();
    const readable = this.readOrder(this.current().replicas.filter((r) => servesReads(r.state)));
    const total = readable.length;
    if (total === 0) throw new ShoalError('unavailable', `Service unavailable: shard ${this.shardId} has no Active replica to read from`);
    const plan = readPlan(consistency, total);
    if (plan.answers > total) {
      throw new ShoalError('unavailable', `Service unavailable: read consistency asks ${plan.answers} replicas of shard ${this.shardId}, ${total} are Active`);
    }
    const answers: T[] = [];
    const errors: unknown[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (answers.length < plan.answers && next < total) {
        const replica = readable[next++]!;
        // While other replicas could stand in, one gets half of the time left: a silent replica
        // (a partition, a frozen process) is replaced before the read's deadline.
        const now = performance.now();
        const attempt = next < total ? { ...ctx, metaIndex, deadlineMs: now + (ctx.deadlineMs - now) / 2 } : { ...ctx, metaIndex };
        try {
          answers.push(await call(this.host.replica(replica.peer), attempt));
          return;
        } catch (error) {
          // A refusal of the request itself (bad input) is the same on every replica.
          if (error instanceof ShoalError && !(error instanceof ReplicaUnreachable) && !(error instanceof StaleView) && isRequestError(error)) throw error;
          errors.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: plan.parallel }, worker));
    if (answers.length < plan.answers) {
      // A replica that moved away since this node's view: catch up and read again.
      const stale = errors.find((e): e is StaleView => e instanceof StaleView);
      if (stale !== undefined) throw stale;
      throw new ShoalError('unavailable', `Service unavailable: ${answers.length} of the ${plan.answers} replicas of shard ${this.shardId} the read needs answered (${errorMessage(errors[0])})`);
    }
    return answers.length === 1 ? answers[0]! : combine(answers, plan.threshold);
  }

  /** Local replica first (no hop), then the others from a rotating start. */
  private readOrder(readable: readonly ReplicaMeta[]): ReplicaMeta[] {
    const local = readable.filter((r) => this.host.isLocal(r.peer));
    const remote = readable.filter((r) => !this.host.isLocal(r.peer));
    const turn = remote.length === 0 ? 0 : this.readTurn++ % remote.length;
    return [...local, ...remote.slice(turn), ...remote.slice(0, turn)];
  }
}

interface ReadPlan {
  /** Answers needed. */
  readonly answers: number;
  /** Calls in flight at once. */
  readonly parallel: number;
  /** Answers an item must be in to be kept. */
  readonly threshold: number;
}

function readPlan(consistency: ReadConsistency, total: number): ReadPlan {
  const majority = Math.floor(total / 2) + 1;
  switch (consistency.kind) {
    case 'factor':
      return { answers: consistency.n, parallel: consistency.n, threshold: consistency.n };
    case 'majority':
      return { answers: majority, parallel: majority, threshold: majority };
    case 'all':
      return { answers: total, parallel: total, threshold: total };
    case 'quorum':
      return { answers: majority, parallel: total, threshold: majority };
  }
}

/**
 * A replica's definite refusal of a write: it answered, and it did not apply the write (its
 * checks or its WAL's admission refused it). Anything else (no answer, a timeout, unavailable,
 * a storage failure, an unexpected error) leaves the replica's state unknown: a failure.
 * not_found is a failure too: a replica asked for a shard it does not hold is not serving it.
 */
export function isRefusal(error: unknown): boolean {
  if (!(error instanceof ShoalError) || error instanceof ReplicaUnreachable || error instanceof StaleView) return false;
  switch (error.kind) {
    case 'bad_request':
    case 'validation':
    case 'conflict':
    case 'too_large':
    case 'overloaded':
    case 'unsupported':
      return true;
    case 'not_found':
    case 'timeout':
    case 'unavailable':
    case 'storage':
      return false;
  }
}

function isRequestError(error: ShoalError): boolean {
  return error.kind === 'bad_request' || error.kind === 'validation' || error.kind === 'unsupported' || error.kind === 'too_large';
}

function settle<T>(replica: ReplicaMeta, promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true, replica, value }),
    (error: unknown) => ({ ok: false, replica, error }),
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
