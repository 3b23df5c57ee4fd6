import {
  ShoalError,
  assert,
  writeFileAtomic,
  type Clock,
  type FacetHit,
  type FileSystem,
  type Filter,
  type PointId,
  type PointOperation,
  type Record_,
  type ScoredPoint,
  type WithPayload,
  type WithVector,
} from '@shoal/common';
import {
  loadSegment,
  type ApplyResult,
  type FacetParams,
  type OrderedRecord,
  type OrderedScrollParams,
  type PayloadIndexInfo,
  type ScrollPage,
  type ScrollParams,
  type SearchParams,
  type Segment,
  type SegmentOptions,
  type SegmentSchema,
  type SegmentStats,
} from '@shoal/segment';
import { Wal, ensureDirDurable, parentDir, type WalOptions, type WalReader } from '@shoal/wal';
import { decodeRecord, encodeOperation, recordSelectsByFilter, recordTag, type ClockTag } from './codec.js';
import { defaultOptimizerConfig, vectorConfig, type OptimizerConfig } from './config.js';
import type { JobExecutor } from './executor.js';
import { decodeImage, encodeImage, yieldToEventLoop } from './image.js';
import { decodeManifestParts, encodeManifestParts, type Manifest } from './manifest.js';
import { Optimizer, REAL_SCHEDULER, type OptimizerInfo, type OptimizerScheduler } from './optimizer.js';
import { loadSealedSegment, tombstoneBits } from './sealed-load.js';
import { SegmentSet, type SetEntry } from './segment-set.js';
import { validateOperation } from './validate.js';
import { sharedWorkerPool } from './worker-pool.js';

export interface FlushPolicy {
  /**
   * Write a segment image once this many WAL bytes were applied since the last one. Lower
   * means shorter replays on restart and a shorter WAL, but more image writes.
   */
  readonly walBytesMax: number;
  /** Also write one this often when anything changed (Qdrant's flush_interval_sec); null: never by time. */
  readonly intervalMs: number | null;
}

export const DEFAULT_FLUSH_POLICY: FlushPolicy = { walBytesMax: 64 * 1024 * 1024, intervalMs: 5_000 };

/** Shortest flush interval honoured: a 0 s flush_interval_sec would write an image per update. */
export const FLUSH_INTERVAL_MS_MIN = 100;

/** Records the WAL keeps below the last image by default, for replicas recovering from it. */
export const DEFAULT_WAL_KEEP_TAIL = 1_000;

/** Bytes of WAL records read per step while looking for the first record a replica lacks. */
const DELTA_SCAN_BYTES = 4 * 1024 * 1024;

export interface ShardLogEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly cause?: unknown;
}

export interface LocalShardOptions {
  readonly fs: FileSystem;
  /** The shard's own directory (holds `segment.img`, `wal/` and `segments/`). */
  readonly dir: string;
  readonly schema: SegmentSchema;
  /** How segments keep vectors (kernel choice in tests); default: what a server runs with. */
  readonly segmentOptions?: SegmentOptions;
  /** Indexing, merging and vacuuming; default: Qdrant's defaults. */
  readonly optimizer?: OptimizerConfig;
  /** Where optimization jobs run; default: the process's worker thread pool. */
  readonly executor?: JobExecutor;
  /** How the optimizer yields between slices of main-thread work and waits before retries. */
  readonly scheduler?: OptimizerScheduler;
  readonly walOptions?: Partial<WalOptions>;
  readonly flushPolicy?: Partial<FlushPolicy>;
  readonly walKeepTail?: number;
  /** Bytes of WAL records read per step while telling what a replica lacks (deltaFor); default 4 MiB. */
  readonly deltaScanBytes?: number;
  readonly clock?: Clock;
  readonly log?: (event: ShardLogEvent) => void;
}

export interface ShardUpdateResult {
  readonly seq: number;
  readonly result: ApplyResult;
  /** The write's clock tag was accepted before: not applied again (seq: the earlier write's, when known). */
  readonly duplicate?: boolean;
}

export interface ShardInfo {
  /** Seq of the last operation applied to the segments (== the WAL's last durable seq). */
  readonly appliedSeq: number;
  /** Seq covered by the image on disk (0: no image yet). */
  readonly imageSeq: number;
  readonly walFirstSeq: number;
  readonly walFiles: number;
  readonly walBytesSinceFlush: number;
  /** Sealed segments (with files) and frozen ones (waiting to be sealed), besides the appendable one. */
  readonly sealedSegments: number;
  readonly frozenSegments: number;
  /** Why the shard stopped taking writes, or null. */
  readonly failure: ShoalError | null;
  /** Tagged writes acknowledged without applying them (their tick was accepted before). */
  readonly duplicateWrites: number;
  /** Tagged writes whose tick skipped ticks of their clock this shard never accepted (applied anyway). */
  readonly clockGaps: number;
}

interface Waiting {
  readonly op: PointOperation;
  readonly tag: ClockTag | null;
  readonly bytes: number;
  readonly resolve: (value: ShardUpdateResult) => void;
  readonly reject: (error: unknown) => void;
}

/** A clock's highest tick appended to the WAL, and the write that carries it while it is not applied yet. */
interface Accepted {
  readonly tick: number;
  /** Resolves once that write is applied (null: applied, or known from the image, the WAL or a seed). */
  done: Promise<ShardUpdateResult> | null;
  seq: number | null;
}

/** The applied-ticks map's key of a tag. */
function clockKey(tag: ClockTag): string {
  return `${tag.peer}/${tag.epoch}/${tag.clock}`;
}

const IMAGE = 'segment.img';
const SEGMENTS = 'segments';
const systemClock: Clock = { nowMs: () => performance.now() };

/** Files waiting to be deleted until an image taken after `after` snapshots is durable. */
interface Retired {
  readonly file: string;
  readonly after: number;
}

/**
 * The shard as of one seq, taken in one synchronous step for an export (a shard archive): the
 * image parts (manifest, tombstones, appendable segment; copies, so later updates do not change
 * them) and the sealed segments' files, which stay on disk until `release()` (a pin).
 */
export interface ShardCapture {
  /** Seq of the last WAL record applied to the captured state. */
  readonly seq: number;
  /** What `segment.img` holds at `seq` (the container is written by the archive). */
  readonly imageParts: readonly Uint8Array[];
  /** Per (peer, epoch, clock) the highest tick applied at `seq` (also in the image's manifest). */
  readonly appliedTicks: readonly { readonly peer: number; readonly epoch: number; readonly clock: number; readonly tick: number }[] | null;
  /** File names under `segments/` that the image names. */
  readonly files: readonly string[];
  /** Reads one of `files` (whole). */
  readFile(name: string): Promise<Uint8Array>;
  /** Lets retired files go again; idempotent. */
  release(): void;
}

/** A capture, or what keeps one from being taken now (wait for `ready`, outside any lock, then try again). */
export type CaptureAttempt =
  | { readonly capture: ShardCapture }
  | { readonly blocked: string; readonly ready: Promise<void> };

/**
 * One local shard: every update is written to the WAL and fsynced before it is applied to
 * the in-memory segments and acknowledged. The segments are one appendable segment plus sealed
 * ones (SegmentSet), rebuilt in the background by the Optimizer. From time to time an image is
 * written (the appendable segment, the list of sealed segments and their tombstones, all as of
 * one seq), after which the WAL below it is truncated. Opening loads the image and the sealed
 * segments' files and replays the WAL records after the image.
 */
export class LocalShard {
  private appliedSeq: number;
  private imageSeq: number;
  private walBytesSinceFlush = 0;
  private lastFlushMs: number;
  private readonly waiting = new Map<number, Waiting>();
  private readonly inflight = new Set<Promise<unknown>>();
  private flushing: Promise<void> | null = null;
  private failure: ShoalError | null = null;
  /** An apply threw: the segment may be half-changed, so nothing more is applied to it. */
  private segmentBroken = false;
  private closing: Promise<void> | null = null;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly optimizer: Optimizer;
  /** Next number for a segment or file; numbers are never reused. */
  private nextNumber: number;
  /** Images snapshotted so far; a file retired after n of them goes once a later one is durable. */
  private snapshots = 0;
  private retired: Retired[] = [];
  /** Bumped by every swap, so that an image is written even when no update arrived. */
  private setVersion = 0;
  private imageSetVersion = 0;
  /**
   * Per (peer, epoch, clock), the highest tick applied to the segments: changed in the same step
   * as appliedSeq, stored in the image at its seq, rebuilt past it by the WAL replay.
   */
  private readonly applied = new Map<string, ClockTag>();
  /** Per (peer, epoch, clock), the highest tick appended to the WAL (ahead of `applied` while writes wait). */
  private readonly accepted = new Map<string, Accepted>();
  /** Bumped when ticks are installed from a seed, so that an image is written for them. */
  private ticksVersion = 0;
  private imageTicksVersion = 0;
  private duplicateWrites = 0;
  private clockGaps = 0;
  /** Exports reading sealed files: while any holds a pin, retired files are not deleted. */
  private exportPins = 0;
  /** The latest durable image whose retired files wait for the pins to go. */
  private retireDeferred: number | null = null;

  private constructor(
    private readonly options: LocalShardOptions,
    private readonly flushPolicy: FlushPolicy,
    private readonly clock: Clock,
    private readonly set: SegmentSet,
    private readonly wal: Wal,
    imageSeq: number,
    nextNumber: number,
    optimizer: (shard: LocalShard) => Optimizer,
  ) {
    this.imageSeq = imageSeq;
    this.appliedSeq = wal.lastSeq;
    this.nextNumber = nextNumber;
    this.lastFlushMs = clock.nowMs();
    this.optimizer = optimizer(this);
    if (flushPolicy.intervalMs !== null) {
      this.timer = setInterval(() => this.flushInBackground(), flushPolicy.intervalMs);
      this.timer.unref();
    }
  }

  get dir(): string {
    return this.options.dir;
  }

  get schema(): SegmentSchema {
    return this.set.schema;
  }

  private get segmentsDir(): string {
    return `${this.options.dir}/${SEGMENTS}`;
  }

  /**
   * Load the image (if any) and the sealed segments it names, replay the WAL after it, delete
   * segment files nothing names (left by a crash). A bad image, segment file or WAL is
   * ShoalError('storage').
   */
  static async open(options: LocalShardOptions): Promise<LocalShard> {
    const { fs, dir } = options;
    const merged = { ...DEFAULT_FLUSH_POLICY, ...options.flushPolicy };
    const flushPolicy: FlushPolicy = {
      walBytesMax: merged.walBytesMax,
      intervalMs: merged.intervalMs === null ? null : Math.max(merged.intervalMs, FLUSH_INTERVAL_MS_MIN),
    };
    await ensureDirDurable(fs, dir);
    await ensureDirDurable(fs, `${dir}/${SEGMENTS}`);
    const { set, imageSeq, manifest } = await loadImage(options);
    await removeOrphans(fs, `${dir}/${SEGMENTS}`, manifest);
    const config = options.optimizer ?? defaultOptimizerConfig(options.schema);
    const wal = await Wal.open(fs, `${dir}/wal`, options.walOptions);
    if (wal.recovery.truncatedBytes > 0) {
      options.log?.({ level: 'warn', message: `shard ${dir}: cut a torn WAL tail of ${wal.recovery.truncatedBytes} bytes (${wal.recovery.problem ?? ''})` });
    }
    const next = Math.max(manifest.next, 1 + Math.max(0, ...set.entries.map((e) => e.number)));
    const executor = options.executor ?? sharedWorkerPool(config.maxOptimizationThreads);
    const shard = new LocalShard(options, flushPolicy, options.clock ?? systemClock, set, wal, imageSeq, next, (self) =>
      new Optimizer(self.optimizerHost(), executor, config, options.scheduler ?? REAL_SCHEDULER));
    for (const tag of manifest.ticks ?? []) shard.applied.set(clockKey(tag), tag);
    try {
      await replayWal(wal, (op, tag) => shard.replayOne(op, tag), imageSeq, dir);
    } catch (error) {
      await wal.close().catch(() => undefined);
      throw error;
    }
    for (const [key, tag] of shard.applied) shard.accepted.set(key, { tick: tag.tick, done: null, seq: null });
    shard.optimizer.start();
    return shard;
  }

  private optimizerHost(): ConstructorParameters<typeof Optimizer>[0] {
    return {
      set: this.set,
      fs: this.options.fs,
      segmentsDir: this.segmentsDir,
      schema: this.set.schema,
      segmentOptions: this.options.segmentOptions ?? {},
      allocateNumber: () => this.nextNumber++,
      retire: (files) => {
        for (const file of files) this.retired.push({ file, after: this.snapshots });
      },
      swapped: () => {
        this.setVersion++;
        this.flushInBackground();
      },
      failed: () => this.failure !== null || this.state !== 'open',
      log: (event) => this.options.log?.(event),
    };
  }

  /** Apply one operation replayed from the WAL at open. */
  private replayOne(op: PointOperation, tag: ClockTag | null): void {
    this.set.apply(op);
    this.optimizer.afterApply();
    if (tag !== null) this.noteApplied(tag);
  }

  // ---------------------------------------------------------------------------------------
  // Updates

  /**
   * Write `op` to the WAL, and once it is durable apply it, in seq order; resolves after both.
   * The WAL append happens synchronously in this call, so updates are applied in call order.
   *
   * A write tagged with a tick this shard accepted before for its (peer, epoch, clock) is not
   * applied again: it resolves (`duplicate`) once the write that carried that clock's latest
   * accepted tick is applied, so it is never acknowledged ahead of the data. A tick past the
   * next one (a gap: a write of that clock never reached this shard) is counted and logged, and
   * applied.
   */
  update(op: PointOperation, tag: ClockTag | null = null): Promise<ShardUpdateResult> {
    return this.write(op, tag, false);
  }

  /**
   * A write sent again as part of a source replica's WAL (a `wal_delta` transfer replays the
   * source's records from the first one this replica lacks, in the source's order): applied even
   * when its tick was accepted before, so that records this replica already holds land again
   * after the older ones it missed, as they did on the source. Ticks only ever rise.
   */
  redo(op: PointOperation, tag: ClockTag | null): Promise<ShardUpdateResult> {
    return this.write(op, tag, true);
  }

  private write(op: PointOperation, tag: ClockTag | null, redo: boolean): Promise<ShardUpdateResult> {
    const blocked = this.writeBlocked();
    if (blocked !== null) return Promise.reject(blocked);
    const key = tag === null ? null : clockKey(tag);
    const before = key === null ? undefined : this.accepted.get(key);
    const seen = tag !== null && before !== undefined && tag.tick <= before.tick;
    if (seen && !redo) return this.duplicateOf(before);
    let record: Uint8Array;
    try {
      validateOperation(op, this.set.schema);
      record = encodeOperation(op, tag);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!redo && tag !== null && tag.tick > (before?.tick ?? 0) + 1) this.noteGap(tag, before?.tick ?? 0);
    const done = this.wal.append(record).then(
      (seq) => this.applyInOrder(seq, { op, tag, bytes: record.length }),
      (error: unknown) => {
        // 'overloaded' and 'too_large' are answers to this update only; a failed WAL stops the shard.
        const walFailure = this.wal.failed;
        if (walFailure !== null) this.markFailed(walFailure, error);
        throw error;
      },
    );
    if (key !== null && tag !== null && !seen) this.accept(key, tag, before, done);
    const tracked = done.catch(() => undefined);
    this.inflight.add(tracked);
    void tracked.then(() => this.inflight.delete(tracked));
    return done;
  }

  /** Records `tag` as accepted in the step of its WAL append; a write that failed gives its tick back. */
  private accept(key: string, tag: ClockTag, before: Accepted | undefined, done: Promise<ShardUpdateResult>): void {
    const entry: Accepted = { tick: tag.tick, done, seq: null };
    this.accepted.set(key, entry);
    done.then(
      (value) => {
        entry.done = null;
        entry.seq = value.seq;
      },
      () => {
        // Not in the WAL (refused), or the shard failed: the clock's earlier tick is its latest again.
        if (this.accepted.get(key) !== entry) return;
        if (before === undefined) this.accepted.delete(key);
        else this.accepted.set(key, before);
      },
    );
  }

  private duplicateOf(entry: Accepted): Promise<ShardUpdateResult> {
    this.duplicateWrites++;
    const earlier = entry.done;
    if (earlier === null) return Promise.resolve({ seq: entry.seq ?? this.appliedSeq, result: { ok: true }, duplicate: true });
    return earlier.then((value) => ({ seq: value.seq, result: value.result, duplicate: true }));
  }

  private noteGap(tag: ClockTag, last: number): void {
    this.clockGaps++;
    this.options.log?.({
      level: 'warn',
      message: `shard ${this.dir}: clock gap: peer ${tag.peer} epoch ${tag.epoch} clock ${tag.clock} sent tick ${tag.tick}, the last accepted here is ${last}`,
    });
  }

  /** In the step that applies a tagged write (or replays it). */
  private noteApplied(tag: ClockTag): void {
    const key = clockKey(tag);
    const current = this.applied.get(key);
    if (current === undefined || tag.tick > current.tick) this.applied.set(key, tag);
  }

  /**
   * A copy of the applied-ticks map: per (peer, epoch, clock), the highest tick applied to the
   * segments, as of the last applied seq (sorted by peer, epoch, clock).
   */
  appliedTicks(): ClockTag[] {
    return [...this.applied.values()].sort((a, b) => a.peer - b.peer || a.epoch - b.epoch || a.clock - b.clock);
  }

  /**
   * What a replica of this shard that applied `ticks` (its applied-ticks map, read with no write
   * in flight there) lacks, as a reader of this shard's WAL from the first record it lacks; the
   * reader keeps the WAL from there on until it is closed. Every record from there on is to be
   * redone on that replica in this WAL's order (see redo()), and every record before it is one
   * the replica holds.
   *
   * A clock's ticks reach a shard one write at a time, in order, and a clock that failed anywhere
   * is never used again: what a replica holds of a clock is its ticks 1..t. So it lacks, of each
   * clock this shard applied further, the ticks from t + 1 on, and the first record of this WAL
   * with a tick above t must carry t + 1. Refused (the caller copies the shard instead):
   * - when such a record is not in the WAL (truncated, or this shard got the tick by a seed or a
   *   copy, untagged), or carries another tick;
   * - when the replica holds a tick this shard never applied, or this shard saw a clock gap;
   * - when the replica holds records after the first one it lacks ("extras", redone again in
   *   this order) and a filter-selected operation comes before the last of them: a filter picks
   *   points by their state, which differs between the replica and this shard until every extra
   *   is redone. Operations by id give the same points whatever the replica held: upserts and
   *   deletes replace a point, payload and vector operations set or delete keys.
   */
  async deltaFor(ticks: readonly ClockTag[]): Promise<{ readonly reader: WalReader } | { readonly refused: string }> {
    const blocked = this.writeBlocked();
    if (blocked !== null) throw blocked;
    if (this.clockGaps > 0) return { refused: `this replica applied ${this.clockGaps} write(s) past a missing tick of their clock` };
    // The writes accepted so far are in the WAL (or failed, their ticks given back) before the
    // ticks are compared; those accepted later land after the scan's end at the earliest.
    // The accepted ticks as of now, and the writes carrying them: once those settled they are in
    // the WAL (or failed, their ticks given back); writes accepted later land after them.
    const acceptedNow = new Map([...this.accepted].map(([key, entry]) => [key, entry.tick]));
    await Promise.all([...this.inflight]);
    const theirs = new Map<string, number>();
    for (const tag of ticks) theirs.set(clockKey(tag), tag.tick);
    // Accepted, not only applied: a write in the WAL but not applied yet is this shard's too.
    const mine = (key: string): number => Math.max(this.applied.get(key)?.tick ?? 0, acceptedNow.get(key) ?? 0);
    for (const [key, tick] of theirs) {
      if (mine(key) < tick) return { refused: `the replica holds tick ${tick} of clock ${key}, this one has ${mine(key) || 'none'} of it` };
    }
    const lacking = new Set<string>();
    for (const key of new Set([...this.applied.keys(), ...acceptedNow.keys()])) if ((theirs.get(key) ?? 0) < mine(key)) lacking.add(key);
    // Held from the first seq until the delta's reader is open: truncation takes nothing it needs.
    const pin = this.wal.reader(this.wal.firstSeq);
    const scan = this.wal.reader(this.wal.firstSeq);
    // Per clock, the first record past the replica's tick (clocks appended during the scan too).
    const first = new Map<string, { readonly tick: number; readonly seq: number }>();
    let lastExtra = 0;
    const filterSeqs: number[] = [];
    try {
      for (;;) {
        const piece = await scan.read(this.options.deltaScanBytes ?? DELTA_SCAN_BYTES);
        if (piece.length === 0) break;
        for (const record of piece) {
          if (recordSelectsByFilter(record.payload)) filterSeqs.push(record.seq);
          const tag = recordTag(record.payload);
          if (tag === null) continue;
          const key = clockKey(tag);
          if (tag.tick <= (theirs.get(key) ?? 0)) lastExtra = record.seq;
          else if (!first.has(key)) first.set(key, { tick: tag.tick, seq: record.seq });
        }
      }
      let from = scan.position;
      for (const [key, f] of first) {
        const have = theirs.get(key) ?? 0;
        if (f.tick !== have + 1) return { refused: `the first record of clock ${key} past tick ${have} in the WAL carries tick ${f.tick}` };
        from = Math.min(from, f.seq);
      }
      for (const key of lacking) {
        if (!first.has(key)) return { refused: `tick ${(theirs.get(key) ?? 0) + 1} of clock ${key} is not in the WAL (truncated, or this replica got it by a copy)` };
      }
      const racing = filterSeqs.find((seq) => seq >= from && seq < lastExtra);
      if (racing !== undefined) return { refused: `the replica already holds records after the first one it lacks, and record ${racing} selects points by a filter before the last of them` };
      return { reader: this.wal.reader(from) };
    } finally {
      scan.close();
      pin.close();
    }
  }

  /** Resolves once every write accepted so far is applied (or failed). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /**
   * Installs a transfer source's applied-ticks map (seeding a new replica before forwarded writes
   * arrive): each clock's tick becomes the higher of this shard's and the seed's, accepted and
   * applied. Resolves once an image holding it is durable; while a frozen segment waits for its
   * files the seed is only in memory until the next image.
   */
  async installTicks(ticks: readonly ClockTag[]): Promise<void> {
    const blocked = this.writeBlocked();
    if (blocked !== null) throw blocked;
    for (const tag of ticks) {
      const key = clockKey(tag);
      this.noteApplied(tag);
      const accepted = this.accepted.get(key);
      if (accepted === undefined || accepted.tick < tag.tick) this.accepted.set(key, { tick: tag.tick, done: null, seq: null });
    }
    this.ticksVersion++;
    await this.flush();
  }

  /** Writes applied past a missing tick of their clock since this shard opened (also in info()). */
  clockGapsSeen(): number {
    return this.clockGaps;
  }

  /** Seq of the last operation applied to the segments (every write before it in the WAL is applied). */
  lastAppliedSeq(): number {
    return this.appliedSeq;
  }

  /** Why this shard takes no writes now (closed, or failed), or null. */
  writeFailure(): ShoalError | null {
    return this.writeBlocked();
  }

  private writeBlocked(): ShoalError | null {
    if (this.state !== 'open') return new ShoalError('unavailable', `shard ${this.dir} is closed`);
    if (this.failure !== null) {
      return new ShoalError('storage', `shard ${this.dir} has failed: ${this.failure.message}`, { cause: this.failure });
    }
    return null;
  }

  private applyInOrder(seq: number, entry: { op: PointOperation; tag: ClockTag | null; bytes: number }): Promise<ShardUpdateResult> {
    return new Promise<ShardUpdateResult>((resolve, reject) => {
      assert(seq > this.appliedSeq && !this.waiting.has(seq), `WAL seq ${seq} was already applied`);
      this.waiting.set(seq, { ...entry, resolve, reject });
      this.drainApplies();
    });
  }

  /** Apply waiting operations while the next seq is there: WAL order is apply order. */
  private drainApplies(): void {
    for (let next = this.waiting.get(this.appliedSeq + 1); next !== undefined; next = this.waiting.get(this.appliedSeq + 1)) {
      const seq = this.appliedSeq + 1;
      this.waiting.delete(seq);
      if (this.segmentBroken) {
        next.reject(this.failure);
        this.appliedSeq = seq;
        continue;
      }
      let result: ApplyResult;
      try {
        result = this.set.apply(next.op);
        this.optimizer.afterApply();
      } catch (error) {
        // The record is durable but could not be applied: the segment may be half-changed.
        this.markFailed(null, error);
        this.segmentBroken = true;
        this.appliedSeq = seq;
        next.reject(this.failure);
        continue;
      }
      this.appliedSeq = seq;
      if (next.tag !== null) this.noteApplied(next.tag);
      this.walBytesSinceFlush += next.bytes;
      next.resolve({ seq, result });
    }
    this.maybeFlush();
  }

  private markFailed(failure: ShoalError | null, cause: unknown): void {
    if (this.failure !== null) return;
    this.failure =
      failure ??
      new ShoalError('storage', `shard ${this.dir}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.options.log?.({ level: 'error', message: `shard ${this.dir} failed: ${this.failure.message}`, cause });
  }

  // ---------------------------------------------------------------------------------------
  // Flushing

  private maybeFlush(): void {
    const interval = this.flushPolicy.intervalMs;
    const due =
      this.walBytesSinceFlush >= this.flushPolicy.walBytesMax ||
      (interval !== null && this.clock.nowMs() - this.lastFlushMs >= interval);
    if (due && this.flushing === null) this.flushInBackground();
  }

  /** Whether the image is behind the shard (new updates, or a swap). */
  private get imageBehind(): boolean {
    return this.appliedSeq !== this.imageSeq || this.setVersion !== this.imageSetVersion || this.ticksVersion !== this.imageTicksVersion;
  }

  /**
   * An image can name only segments that have files: while a frozen segment waits to be sealed
   * no image is written, so the WAL keeps every record after the last image (the frozen
   * segment's points among them) until its files are durable.
   */
  private get canSnapshot(): boolean {
    return this.set.entries.every((entry) => entry.state === 'sealed');
  }

  private flushInBackground(): void {
    if (!this.imageBehind || !this.canSnapshot || this.state !== 'open') return;
    this.flush().catch((error: unknown) => {
      this.options.log?.({ level: 'error', message: `shard ${this.dir}: flush failed: ${String(error)}`, cause: error });
    });
  }

  /**
   * Write the image as of now (temp, fsync, rename, fsync dir), then truncate the WAL below it
   * and delete the files of segments it no longer names. Concurrent calls share one run.
   */
  flush(): Promise<void> {
    this.flushing ??= this.writeImage().then(
      () => {
        this.flushing = null;
        // A swap during this run is not in its image: write the next one, which lets the
        // swapped-out files go.
        if (this.setVersion !== this.imageSetVersion) this.flushInBackground();
      },
      (error: unknown) => {
        this.flushing = null;
        throw error;
      },
    );
    return this.flushing;
  }

  /** The manifest of `entries` (the sealed segments, in order) as of now: numbers, files, applied ticks. */
  private manifestOf(entries: readonly SetEntry[]): Manifest {
    return {
      next: this.nextNumber,
      ticks: this.appliedTicks(),
      segments: entries.map((entry) => {
        const files = entry.files as NonNullable<SetEntry['files']>;
        return { number: entry.number, points: files.points, dense: [...files.dense], offsets: entry.segment.offsetCount };
      }),
    };
  }

  private async writeImage(): Promise<void> {
    if (this.state === 'closed') throw new ShoalError('unavailable', `shard ${this.dir} is closed`);
    if (this.failure !== null) throw this.writeBlocked();
    this.lastFlushMs = this.clock.nowMs();
    if (!this.imageBehind || !this.canSnapshot) return;
    // One synchronous step: every part is the state as of `seq`. The manifest, the tombstone
    // bitsets and the appendable segment's capture are copies: updates that apply while the
    // image is encoded and written do not change them.
    const seq = this.appliedSeq;
    const setVersion = this.setVersion;
    const ticksVersion = this.ticksVersion;
    const bytesCovered = this.walBytesSinceFlush;
    const snapshot = ++this.snapshots;
    const entries = [...this.set.entries];
    const manifest = this.manifestOf(entries);
    const head = encodeManifestParts(manifest, entries.map((entry) => tombstoneBits(entry.segment)), []);
    const appendable = this.set.appendable.captureImage();
    // The end of the synchronous step: the appendable segment is encoded and checksummed in
    // steps, letting requests (and consensus) run between them.
    const encoded = await appendable.encode(yieldToEventLoop);
    const parts = [...head, ...encoded.chunks];
    // The appendable's bytes were checksummed as they were encoded: the image's CRC takes theirs.
    const image = await encodeImage(seq, parts, { from: head.length, crc: encoded.crc });
    await writeFileAtomic(this.options.fs, `${this.dir}/${IMAGE}`, image);
    this.imageSeq = seq;
    this.imageSetVersion = setVersion;
    this.imageTicksVersion = ticksVersion;
    this.walBytesSinceFlush -= bytesCovered;
    // Only now may the WAL below `seq` go: the image that replaces it is durable.
    await this.wal.truncateBefore(seq + 1, this.options.walKeepTail ?? DEFAULT_WAL_KEEP_TAIL);
    await this.deleteRetired(snapshot);
  }

  /** Files retired before image `snapshot` was taken: that image, now durable, does not name them. */
  private async deleteRetired(snapshot: number): Promise<void> {
    if (this.exportPins > 0) {
      this.retireDeferred = Math.max(this.retireDeferred ?? 0, snapshot);
      return;
    }
    const due = this.retired.filter((r) => r.after < snapshot);
    this.retired = this.retired.filter((r) => r.after >= snapshot);
    for (const { file } of due) await this.options.fs.remove(`${this.segmentsDir}/${file}`);
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  private readable(): SegmentSet {
    if (this.state === 'closed') throw new ShoalError('unavailable', `shard ${this.dir} is closed`);
    return this.set;
  }

  has(id: PointId): boolean {
    return this.readable().has(id);
  }
  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[] {
    return this.readable().retrieve(ids, withPayload, withVector);
  }
  /**
   * Every segment's best, merged. The vector's full_scan_threshold comes from the config unless
   * the caller sets it; `indexedOnly` skips segments still waiting for their graph.
   */
  search(params: SearchParams): ScoredPoint[] {
    const config = this.optimizer.currentConfig;
    const fullScanThresholdKb = params.fullScanThresholdKb ?? vectorConfig(config, params.vectorName).fullScanThresholdKb;
    return this.readable().search({ ...params, fullScanThresholdKb }, config.indexingThresholdKb);
  }
  scroll(params: ScrollParams): ScrollPage {
    return this.readable().scroll(params);
  }
  scrollOrdered(params: OrderedScrollParams): OrderedRecord[] {
    return this.readable().scrollOrdered(params);
  }
  count(filter: Filter | null): number {
    return this.readable().count(filter);
  }
  facet(params: FacetParams): FacetHit[] {
    return this.readable().facet(params);
  }
  payloadIndexes(): ReadonlyMap<string, PayloadIndexInfo> {
    return this.readable().payloadIndexes();
  }
  stats(): SegmentStats {
    const stats = this.readable().stats();
    const { status, error } = this.optimizer.info();
    return { ...stats, optimizer: { status: this.failure !== null ? 'red' : status, error: this.failure?.message ?? error } };
  }

  /** The optimizer's state: Qdrant's collection status and optimizer_status. */
  optimizerInfo(): OptimizerInfo {
    return this.optimizer.info();
  }

  /** New indexing / optimizer settings (a collection PATCH): mismatched segments are rebuilt. */
  reconfigure(config: OptimizerConfig): void {
    this.optimizer.setConfig(config);
  }

  /** Resolves once no optimization job runs (tests, tools). */
  optimizerIdle(): Promise<void> {
    return this.optimizer.idle();
  }

  info(): ShardInfo {
    return {
      appliedSeq: this.appliedSeq,
      imageSeq: this.imageSeq,
      walFirstSeq: this.wal.firstSeq,
      walFiles: this.wal.fileCount,
      walBytesSinceFlush: this.walBytesSinceFlush,
      sealedSegments: this.set.entries.filter((e) => e.state === 'sealed').length,
      frozenSegments: this.set.entries.filter((e) => e.state === 'frozen').length,
      failure: this.failure,
      duplicateWrites: this.duplicateWrites,
      clockGaps: this.clockGaps,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Export capture (shard archives)

  /**
   * Takes the shard as of now in one synchronous step (the caller holds the shard's update lock,
   * so no update is between its WAL append and its apply), pinning the sealed files it names.
   * While an update waits to be applied, or a frozen segment waits for its files, no clean
   * capture exists: the answer says what to wait for.
   */
  captureForExport(): CaptureAttempt {
    const blocked = this.writeBlocked();
    if (blocked !== null) throw blocked;
    if (this.waiting.size > 0 || this.wal.queued > 0 || this.appliedSeq !== this.wal.lastSeq) {
      return { blocked: 'updates are waiting to be applied', ready: Promise.all([...this.inflight]).then(() => undefined) };
    }
    if (!this.canSnapshot) return { blocked: 'a frozen segment waits to be sealed', ready: this.optimizer.idle() };
    const seq = this.appliedSeq;
    assert(seq === this.wal.lastSeq && this.waiting.size === 0, 'capture with updates waiting');
    const entries = [...this.set.entries];
    const manifest = this.manifestOf(entries);
    const imageParts = encodeManifestParts(manifest, entries.map((entry) => tombstoneBits(entry.segment)), this.set.appendable.serialize());
    const files = manifest.segments.flatMap((s) => [s.points, ...s.dense.map(([, file]) => file)]);
    this.exportPins++;
    let held = true;
    const fs = this.options.fs;
    const segmentsDir = this.segmentsDir;
    return {
      capture: {
        seq,
        imageParts,
        appliedTicks: manifest.ticks ?? [],
        files,
        readFile: async (name) => {
          if (!files.includes(name)) throw new ShoalError('storage', `segment file ${name} is not in the capture`);
          const bytes = await fs.readFile(`${segmentsDir}/${name}`);
          if (bytes === null) throw new ShoalError('storage', `segment file ${segmentsDir}/${name} is missing`);
          return bytes;
        },
        release: () => {
          if (!held) return;
          held = false;
          this.unpinExport();
        },
      },
    };
  }

  /** Exports holding sealed files now (tests, tools). */
  get exportsPinned(): number {
    return this.exportPins;
  }

  private unpinExport(): void {
    this.exportPins--;
    const deferred = this.retireDeferred;
    if (this.exportPins > 0 || deferred === null) return;
    this.retireDeferred = null;
    this.deleteRetired(deferred).catch((error: unknown) => {
      this.options.log?.({ level: 'warn', message: `shard ${this.dir}: deleting retired files failed: ${String(error)}`, cause: error });
    });
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle

  /** Finish accepted updates, write a last image (unless failed or `flush: false`), close the WAL. */
  close(options: { flush?: boolean } = {}): Promise<void> {
    this.closing ??= this.shutDown(options.flush ?? true);
    return this.closing;
  }

  private async shutDown(flush: boolean): Promise<void> {
    this.state = 'closing';
    if (this.timer !== null) clearInterval(this.timer);
    await Promise.all([...this.inflight]);
    // No swap after this: a job cut short leaves only files that no image names.
    await this.optimizer.stop();
    await this.flushing?.catch(() => undefined);
    try {
      if (flush && this.failure === null && this.imageBehind && this.canSnapshot) {
        this.flushing = this.writeImage();
        await this.flushing;
      }
    } finally {
      this.flushing = null;
      this.state = 'closed';
      await this.wal.close();
    }
  }

  /** Close and delete the shard's directory. */
  async drop(): Promise<void> {
    await this.close({ flush: false });
    await this.options.fs.removeDir(this.dir);
    await this.options.fs.syncDir(parentDir(this.dir));
  }
}

async function loadImage(options: LocalShardOptions): Promise<{ set: SegmentSet; imageSeq: number; manifest: Manifest }> {
  const path = `${options.dir}/${IMAGE}`;
  const segmentOptions = options.segmentOptions ?? {};
  const bytes = await options.fs.readFile(path);
  if (bytes === null) return { set: new SegmentSet(options.schema, segmentOptions), imageSeq: 0, manifest: { next: 1, segments: [] } };
  const image = decodeImage(bytes, path);
  const { manifest, tombstones, appendable: parts } = decodeManifestParts(image.parts, path);
  let appendable: Segment;
  try {
    appendable = loadSegment(options.schema, parts, segmentOptions);
  } catch (error) {
    throw new ShoalError('storage', `segment image ${path} could not be loaded: ${String(error)}`, { cause: error });
  }
  const set = new SegmentSet(options.schema, segmentOptions, appendable);
  const indexes = appendable.indexDefinitions();
  for (let i = 0; i < manifest.segments.length; i++) {
    const described = manifest.segments[i] as Manifest['segments'][number];
    const dir = `${options.dir}/${SEGMENTS}`;
    set.entries.push(await loadSealedSegment(options.fs, dir, options.schema, segmentOptions, described, tombstones[i] as Uint8Array, indexes));
  }
  return { set, imageSeq: image.seq, manifest };
}

/** Delete what the image does not name in the segments directory: files of jobs a crash cut short, retired files. */
async function removeOrphans(fs: FileSystem, dir: string, manifest: Manifest): Promise<void> {
  const named = new Set(manifest.segments.flatMap((s) => [s.points, ...s.dense.map(([, file]) => file)]));
  let removed = false;
  for (const name of await fs.list(dir)) {
    if (named.has(name)) continue;
    await fs.remove(`${dir}/${name}`);
    removed = true;
  }
  if (removed) await fs.syncDir(dir);
}

async function replayWal(wal: Wal, apply: (op: PointOperation, tag: ClockTag | null) => void, imageSeq: number, dir: string): Promise<void> {
  if (wal.lastSeq < imageSeq) {
    throw new ShoalError('storage', `shard ${dir}: the WAL ends at seq ${wal.lastSeq}, before the image's seq ${imageSeq}`);
  }
  if (wal.firstSeq > imageSeq + 1) {
    throw new ShoalError('storage', `shard ${dir}: the WAL starts at seq ${wal.firstSeq}, after the image's seq ${imageSeq}`);
  }
  await wal.replay(imageSeq + 1, (seq, payload) => {
    const { op, tag } = decodeRecord(payload);
    try {
      apply(op, tag);
    } catch (error) {
      throw new ShoalError('storage', `shard ${dir}: replaying WAL seq ${seq} failed: ${String(error)}`, { cause: error });
    }
  });
}
