// The standalone node's source of metadata: a local durable log feeding the pure state machine
// of @shoal/meta. In a cluster, Raft takes this log's place and feeds the same `apply`.
import { writeFileAtomic, type FileSystem } from '@shoal/common';
import {
  apply,
  decodeOperation,
  decodeState,
  EMPTY_META_STATE,
  encodeOperation,
  encodeState,
  type ApplyOutcome,
  type MetaOperation,
  type MetaState,
} from '@shoal/meta';

/** A durable, ordered log of byte records (the WAL, here; Raft, later). */
export interface MetaLog {
  /** Resolves once the record is durable, with its index (1, 2, …). */
  append(record: Uint8Array): Promise<number>;
  /** Visit records with index >= from, in order. */
  replay(from: number, visit: (index: number, record: Uint8Array) => void): Promise<void>;
  /** Records below `index` are no longer needed. */
  truncateBefore(index: number): Promise<void>;
  close(): Promise<void>;
}

export type MetaListener = (state: MetaState, op: MetaOperation, index: number, outcome: ApplyOutcome) => Promise<void>;

/**
 * Where a node's metadata comes from: a local durable log on a standalone node (MetadataStore),
 * Raft in a cluster. Either way every applied operation reaches the listener, in log order, and
 * the next one waits until the listener is done.
 */
export interface MetaSource {
  readonly state: MetaState;
  /** Order `op` durably, apply it, run the listener; resolves with the deterministic outcome. */
  propose(op: MetaOperation): Promise<ApplyOutcome>;
  close(): Promise<void>;
}

/** Opens a node's metadata source, given the listener that acts on applied operations. */
export type MetaSourceOpener = (listener: MetaListener) => Promise<MetaSource>;

/** Entries between snapshots of the state; each snapshot lets the log drop what it covers. */
const SNAPSHOT_EVERY_ENTRIES = 256;
const SNAPSHOT_FILE = 'state.snapshot';

export class MetadataStore implements MetaSource {
  private stateValue: MetaState;
  private entriesSinceSnapshot = 0;
  /** Proposals are applied one at a time, in log order, listeners included. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly log: MetaLog,
    state: MetaState,
    private readonly listener: MetaListener,
  ) {
    this.stateValue = state;
  }

  static async open(fs: FileSystem, dir: string, log: MetaLog, listener: MetaListener): Promise<MetadataStore> {
    await fs.mkdirp(dir);
    const snapshot = await fs.readFile(`${dir}/${SNAPSHOT_FILE}`);
    let state = snapshot === null ? EMPTY_META_STATE : decodeState(snapshot);
    await log.replay(state.appliedIndex + 1, (index, record) => {
      state = apply(state, index, decodeOperation(record)).state;
    });
    return new MetadataStore(fs, dir, log, state, listener);
  }

  get state(): MetaState {
    return this.stateValue;
  }

  /**
   * Make `op` durable, apply it, and let the listener act on it (open or drop shards) before the
   * next proposal applies. Resolves with the deterministic outcome.
   */
  propose(op: MetaOperation): Promise<ApplyOutcome> {
    const run = async (): Promise<ApplyOutcome> => {
      const index = await this.log.append(encodeOperation(op));
      const applied = apply(this.stateValue, index, op);
      this.stateValue = applied.state;
      await this.listener(applied.state, op, index, applied.outcome);
      this.entriesSinceSnapshot += 1;
      if (this.entriesSinceSnapshot >= SNAPSHOT_EVERY_ENTRIES) await this.snapshot();
      return applied.outcome;
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Persist the state, then let the log forget what the snapshot covers. */
  async snapshot(): Promise<void> {
    const state = this.stateValue;
    await writeFileAtomic(this.fs, `${this.dir}/${SNAPSHOT_FILE}`, [encodeState(state)]);
    await this.log.truncateBefore(state.appliedIndex + 1);
    this.entriesSinceSnapshot = 0;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.log.close();
  }
}
