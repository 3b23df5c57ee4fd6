// Marks replicas that missed a write Dead through the metadata log. Marks for one collection are
// batched into one proposal at a time, so a partition that fails thousands of writes produces a
// handful of proposals, not a storm; a mark that cannot commit before its write's deadline keeps
// being proposed in the background until the replica is Dead or has moved on.
import type { ApplyOutcome, MetaOperation, MetaState, ReplicaChange } from '@shoal/meta';
import type { DeadMarkOutcome, FailedReplica } from './replica-set.js';

export interface DeadMarkerOptions {
  /** Proposes a metadata operation and resolves once it is applied on this node. */
  readonly propose: (op: MetaOperation) => Promise<ApplyOutcome>;
  /** This node's applied metadata. */
  readonly state: () => MetaState;
  /** Pause before proposing again after a failed proposal (no leader, timeout), ms; doubles up to retryPauseMsMax. */
  readonly retryPauseMs: number;
  readonly retryPauseMsMax: number;
  readonly onError: (error: unknown, collection: string) => void;
}

interface Mark {
  readonly shard: number;
  readonly replica: FailedReplica['replica'];
  readonly waiters: Array<(outcome: 'done' | 'refused') => void>;
}

interface Batch {
  readonly collection: string;
  readonly incarnation: number;
  /** Marks not yet settled, by "shard/peer/generation". */
  readonly marks: Map<string, Mark>;
  proposing: boolean;
  pauseMs: number;
}

export class DeadMarker {
  private readonly batches = new Map<string, Batch>();
  private closed = false;

  constructor(private readonly options: DeadMarkerOptions) {}

  /** Marks `failed` replicas of one shard Dead; settles with the outcome or 'timeout' at the deadline. */
  mark(collection: string, incarnation: number, shard: number, failed: readonly FailedReplica[], deadlineMs: number): Promise<DeadMarkOutcome> {
    if (failed.length === 0) return Promise.resolve('done');
    const key = `${collection}@${incarnation}`;
    let batch = this.batches.get(key);
    if (batch === undefined) {
      batch = { collection, incarnation, marks: new Map(), proposing: false, pauseMs: this.options.retryPauseMs };
      this.batches.set(key, batch);
    }
    const settled = failed.map((f) => {
      const id = `${shard}/${f.peer}/${f.replica.generation}`;
      let mark = batch.marks.get(id);
      if (mark === undefined) {
        mark = { shard, replica: f.replica, waiters: [] };
        batch.marks.set(id, mark);
      }
      const m = mark;
      return new Promise<'done' | 'refused'>((resolve) => m.waiters.push(resolve));
    });
    this.pump(key);
    const all = Promise.all(settled).then((outcomes) => (outcomes.every((o) => o === 'done') ? 'done' : 'refused') as DeadMarkOutcome);
    const left = deadlineMs - performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<DeadMarkOutcome>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, left))));
    return Promise.race([all, timeout]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.closed = true;
  }

  /** Marks of one collection: one proposal in flight; what queued meanwhile goes in the next. */
  private pump(key: string): void {
    const batch = this.batches.get(key);
    if (batch === undefined || batch.proposing || this.closed) return;
    this.settleFromState(batch);
    if (batch.marks.size === 0) {
      this.batches.delete(key);
      return;
    }
    batch.proposing = true;
    const included = new Set(batch.marks.keys());
    const marks = [...batch.marks.values()];
    const changes: ReplicaChange[] = marks.map((m) => ({
      shard: m.shard,
      peer: m.replica.peer,
      expect: { state: m.replica.state, generation: m.replica.generation },
      state: 'Dead',
    }));
    const op: MetaOperation = { kind: 'set_replica_states', collection: batch.collection, incarnation: batch.incarnation, changes };
    this.options.propose(op).then(
      (outcome) => {
        batch.proposing = false;
        batch.pauseMs = this.options.retryPauseMs;
        if (!outcome.ok) {
          // The collection (this incarnation) is gone: nothing left to mark.
          for (const m of batch.marks.values()) for (const w of m.waiters) w('refused');
          batch.marks.clear();
        }
        this.settleFromState(batch, included);
        this.pump(key);
      },
      (error: unknown) => {
        batch.proposing = false;
        this.options.onError(error, batch.collection);
        const pause = batch.pauseMs;
        batch.pauseMs = Math.min(batch.pauseMs * 2, this.options.retryPauseMsMax);
        setTimeout(() => this.pump(key), pause).unref();
      },
    );
  }

  /**
   * Settles marks by the applied state: Dead (at any generation) is done. Gone, or moved to
   * another state at a newer generation, is refused: the replica changed after the write missed
   * it (removed with a move, re-activated by a transfer whose copy may have been read before the
   * write), so nothing proves the write reached the replicas that count now, and the write fails
   * rather than being acknowledged. Still at the generation the write saw after a proposal that
   * included it applied means apply skipped it (it would have left no Active replica): refused.
   */
  private settleFromState(batch: Batch, proposed: ReadonlySet<string> = new Set()): void {
    const meta = this.options.state().collections.get(batch.collection);
    for (const [id, mark] of batch.marks) {
      let outcome: 'done' | 'refused' | null = null;
      if (meta === undefined || meta.createdIndex !== batch.incarnation) outcome = 'refused';
      else {
        const now = meta.shards.get(mark.shard)?.replicas.find((r) => r.peer === mark.replica.peer);
        if (now?.state === 'Dead') outcome = 'done';
        else if (now === undefined || now.generation !== mark.replica.generation) outcome = 'refused';
        else if (proposed.has(id)) outcome = 'refused';
      }
      if (outcome === null) continue;
      batch.marks.delete(id);
      for (const w of mark.waiters) w(outcome);
    }
  }
}
