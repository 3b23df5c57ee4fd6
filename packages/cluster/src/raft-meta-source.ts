// A node's metadata in a cluster: Raft orders the operations (ConsensusDriver), and this source
// hands each applied one to the node's listener in log order, as the standalone MetadataStore
// does with its local log.
import { ShoalError, type Clock } from '@shoal/common';
import type { ApplyListener, ConsensusDriver, EntryOutcome, ProposalResult } from '@shoal/consensus';
import type { ApplyOutcome, CollectionMeta, MetaOperation, MetaState } from '@shoal/meta';
import type { MetaListener, MetaSource } from './metadata-store.js';

/** Proposes `op` to the leader (here or forwarded) and settles when the leader applied it. */
export type LeaderPropose = (op: MetaOperation, deadlineMs: number) => Promise<ProposalResult>;

export interface RaftMetaSourceOptions {
  readonly driver: ConsensusDriver;
  readonly clock: Clock;
  readonly proposeToLeader: LeaderPropose;
  /** A metadata proposal's whole budget, ms: to the leader, applied there, then applied here. */
  readonly proposalTimeoutMs: number;
  /** Pause between retries while there is no leader (an election is under way), ms. */
  readonly retryPauseMs: number;
  /** The listener failed on an operation (e.g. a shard did not open): the node's data is behind its metadata. */
  readonly onListenerError: (error: unknown, op: MetaOperation | undefined, index: number) => void;
}

interface IndexWaiter {
  readonly index: number;
  readonly resolve: () => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RaftMetaSource implements MetaSource {
  private stateValue: MetaState;
  /** Highest index whose operation the listener has finished with (or that a snapshot covered). */
  private doneIndex: number;
  private waiting: IndexWaiter[] = [];
  /** Deliveries wait for this until the node has opened what `state` holds (start()). */
  private gate: Promise<void>;
  private openGate: () => void = () => undefined;
  /** Deliveries handed over by the driver and not finished yet. */
  private inFlight = 0;

  private constructor(
    private readonly options: RaftMetaSourceOptions,
    private readonly listener: MetaListener,
  ) {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    const events: ApplyListener = {
      applied: (state, op, index, outcome) => this.deliver(index, state, () => this.applied(state, op, index, outcome)),
      snapshot: (state, index) => this.deliver(index, state, (before) => this.jumped(before, state, index)),
    };
    this.stateValue = options.driver.setApplyListener(events);
    this.doneIndex = this.stateValue.appliedIndex;
  }

  /** The source over a started driver; deliveries begin at start(). */
  static open(options: RaftMetaSourceOptions, listener: MetaListener): RaftMetaSource {
    return new RaftMetaSource(options, listener);
  }

  /** The node has acted on `state` (opened its collections): operations applied since then may reach it now. */
  start(): void {
    this.openGate();
  }

  get state(): MetaState {
    return this.stateValue;
  }

  /** Operations handed over by Raft that the node has not finished acting on. */
  get pendingDeliveries(): number {
    return this.inFlight;
  }

  /** Highest log index this node has acted on (its listener finished with it, or it carries no operation). */
  get actedIndex(): number {
    const applied = this.options.driver.appliedIndex();
    return this.inFlight === 0 ? Math.max(this.doneIndex, applied) : this.doneIndex;
  }

  /** Waits until this node has acted on `index`; a 'timeout' ShoalError past the deadline. */
  waitActed(index: number, deadlineMs: number): Promise<void> {
    return this.appliedHere(index, deadlineMs);
  }

  /**
   * Proposes `op` (forwarded to the leader when this node is not), then waits until this node has
   * applied it too, so the caller can read its write through this node next.
   */
  async propose(op: MetaOperation): Promise<ApplyOutcome> {
    const deadlineMs = this.options.clock.nowMs() + this.options.proposalTimeoutMs;
    for (;;) {
      const r = await this.options.proposeToLeader(op, deadlineMs);
      switch (r.outcome) {
        case 'applied':
          await this.appliedHere(r.index, deadlineMs);
          return applyOutcome(r.result);
        case 'not_leader': // no leader yet, or it moved: nothing was proposed
        case 'overwritten': // cut off by a new leader: never applied
        case 'unavailable': // this node's consensus is reloading after a storage error
          if (this.options.clock.nowMs() + this.options.retryPauseMs >= deadlineMs) throw noLeader(r);
          await sleep(this.options.retryPauseMs);
          continue;
        case 'dropped':
          throw new ShoalError('overloaded', `Service unavailable: metadata proposal refused (${r.reason}), retry later`);
        case 'timeout':
          throw new ShoalError('timeout', 'Timeout: the metadata operation was not applied in time; it may still be applied');
        case 'unknown':
          throw new ShoalError('unavailable', `Service unavailable: the metadata operation may or may not be applied (${r.reason})`);
      }
    }
  }

  async close(): Promise<void> {
    this.openGate(); // let queued deliveries drain; the owner closes the driver, which awaits them
    for (const w of this.waiting.splice(0)) w.resolve();
  }

  private async deliver(index: number, state: MetaState, act: (before: MetaState) => Promise<void>): Promise<void> {
    this.inFlight += 1;
    try {
      await this.gate;
      const before = this.stateValue;
      this.stateValue = state;
      await act(before);
    } finally {
      this.inFlight -= 1;
      this.done(index);
    }
  }

  private async applied(state: MetaState, op: MetaOperation, index: number, outcome: EntryOutcome): Promise<void> {
    const o = applyOutcomeOrUndefined(outcome);
    if (o === undefined) return;
    try {
      await this.listener(state, op, index, o);
    } catch (error) {
      this.options.onListenerError(error, op, index);
    }
  }

  /** A snapshot replaced the state: tell the node the differences as operations. */
  private async jumped(before: MetaState, next: MetaState, index: number): Promise<void> {
    for (const op of operationsBetween(before, next)) {
      try {
        await this.listener(next, op, index, { ok: true });
      } catch (error) {
        this.options.onListenerError(error, op, index);
      }
    }
  }

  private done(index: number): void {
    if (index > this.doneIndex) this.doneIndex = index;
    const ready = this.waiting.filter((w) => w.index <= this.doneIndex);
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.index > this.doneIndex);
    for (const w of ready) w.resolve();
  }

  /** Waits until this node's listener is done with `index`; a 'timeout' error past the deadline. */
  private async appliedHere(index: number, deadlineMs: number): Promise<void> {
    // Entries that are not operations (no-ops, membership) never reach the listener: the driver's
    // applied index covers them.
    const covered = (): boolean => this.doneIndex >= index || (this.options.driver.appliedIndex() >= index && this.inFlight === 0);
    while (!covered()) {
      const left = deadlineMs - this.options.clock.nowMs();
      if (left <= 0) throw new ShoalError('timeout', `Timeout: the metadata operation is committed (index ${index}) but not yet applied on this node`);
      await new Promise<void>((resolve) => {
        const w: IndexWaiter = { index, resolve };
        this.waiting.push(w);
        // Also wake on a timer: the driver may apply a covering non-operation entry without telling us.
        setTimeout(() => {
          this.waiting = this.waiting.filter((x) => x !== w);
          resolve();
        }, Math.min(left, this.options.retryPauseMs));
      });
    }
  }
}

function noLeader(r: ProposalResult): ShoalError {
  const why = r.outcome === 'unavailable' ? r.reason : 'no leader is known (an election may be under way)';
  return new ShoalError('unavailable', `Service unavailable: metadata cannot be changed now: ${why}`);
}

function applyOutcomeOrUndefined(outcome: EntryOutcome): ApplyOutcome | undefined {
  if (!outcome.ok && outcome.refusal.code === 'undecodable') return undefined;
  return outcome as ApplyOutcome;
}

function applyOutcome(outcome: EntryOutcome): ApplyOutcome {
  const o = applyOutcomeOrUndefined(outcome);
  if (o === undefined) throw new ShoalError('bad_request', 'the metadata operation could not be decoded by the cluster');
  return o;
}

/**
 * Operations that take a node from `before` to `after` as far as a node acts on them: collections
 * gone (or replaced by a new incarnation) are deleted, new ones created, and changed ones get
 * their config and payload indexes refreshed. Aliases need no action.
 */
export function operationsBetween(before: MetaState, after: MetaState): MetaOperation[] {
  const ops: MetaOperation[] = [];
  for (const [name, meta] of before.collections) {
    const now = after.collections.get(name);
    if (now === undefined || now.createdIndex !== meta.createdIndex) ops.push({ kind: 'delete_collection', name });
  }
  for (const [name, meta] of after.collections) {
    const was = before.collections.get(name);
    if (was === undefined || was.createdIndex !== meta.createdIndex) ops.push({ kind: 'create_collection', name, config: meta.config });
    else if (was !== meta) ops.push(...refreshOps(was, meta));
  }
  return ops;
}

function refreshOps(was: CollectionMeta, now: CollectionMeta): MetaOperation[] {
  const ops: MetaOperation[] = [{ kind: 'update_collection', name: now.name, patch: EMPTY_PATCH }];
  // One index operation makes the node reconcile all of the collection's payload indexes.
  const [field, params] = [...now.payloadIndexes][0] ?? [];
  if (field !== undefined && params !== undefined) ops.push({ kind: 'create_field_index', collection: now.name, field, params });
  else {
    const gone = [...was.payloadIndexes.keys()][0];
    if (gone !== undefined) ops.push({ kind: 'delete_field_index', collection: now.name, field: gone });
  }
  return ops;
}

const EMPTY_PATCH = { vectors: null, params: null, hnsw: null, optimizers: null, quantization: null, strictMode: null, metadata: null } as const;
