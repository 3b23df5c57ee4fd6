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
import type {
  ApplyResult,
  FacetParams,
  OrderedRecord,
  OrderedScrollParams,
  PayloadIndexInfo,
  ScrollPage,
  ScrollParams,
  SearchParams,
  SegmentContract,
  SegmentSchema,
  SegmentStats,
} from '@shoal/segment';
import { Wal, ensureDirDurable, parentDir, type WalOptions } from '@shoal/wal';
import { decodeOperation, encodeOperation } from './codec.js';
import { decodeImage, encodeImage } from './image.js';
import { validateOperation } from './validate.js';

/** How the shard makes and restores segments; the server passes the real segment implementation. */
export interface SegmentFactory {
  createSegment(schema: SegmentSchema): SegmentContract;
  /** Rebuild a segment from the parts its serialize() returned. */
  loadSegment(schema: SegmentSchema, bytes: Uint8Array[] | Uint8Array): SegmentContract;
}

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

export interface ShardLogEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly cause?: unknown;
}

export interface LocalShardOptions {
  readonly fs: FileSystem;
  /** The shard's own directory (holds `segment.img` and `wal/`). */
  readonly dir: string;
  readonly schema: SegmentSchema;
  readonly segmentFactory: SegmentFactory;
  readonly walOptions?: Partial<WalOptions>;
  readonly flushPolicy?: Partial<FlushPolicy>;
  readonly walKeepTail?: number;
  readonly clock?: Clock;
  readonly log?: (event: ShardLogEvent) => void;
}

export interface ShardUpdateResult {
  readonly seq: number;
  readonly result: ApplyResult;
}

export interface ShardInfo {
  /** Seq of the last operation applied to the segment (== the WAL's last durable seq). */
  readonly appliedSeq: number;
  /** Seq covered by the image on disk (0: no image yet). */
  readonly imageSeq: number;
  readonly walFirstSeq: number;
  readonly walFiles: number;
  readonly walBytesSinceFlush: number;
  /** Why the shard stopped taking writes, or null. */
  readonly failure: ShoalError | null;
}

interface Waiting {
  readonly op: PointOperation;
  readonly bytes: number;
  readonly resolve: (value: ShardUpdateResult) => void;
  readonly reject: (error: unknown) => void;
}

const IMAGE = 'segment.img';
const systemClock: Clock = { nowMs: () => performance.now() };

/**
 * One local shard: every update is written to the WAL and fsynced before it is applied to
 * the in-memory segment and acknowledged; the segment is written to an image file from time
 * to time, after which the WAL below it is truncated. Opening loads the image and replays the
 * WAL records after it.
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

  private constructor(
    private readonly options: LocalShardOptions,
    private readonly flushPolicy: FlushPolicy,
    private readonly clock: Clock,
    private segment: SegmentContract,
    private readonly wal: Wal,
    imageSeq: number,
  ) {
    this.imageSeq = imageSeq;
    this.appliedSeq = wal.lastSeq;
    this.lastFlushMs = clock.nowMs();
    if (flushPolicy.intervalMs !== null) {
      this.timer = setInterval(() => this.flushInBackground(), flushPolicy.intervalMs);
      this.timer.unref();
    }
  }

  get dir(): string {
    return this.options.dir;
  }

  get schema(): SegmentSchema {
    return this.segment.schema;
  }

  /** Load the image (if any) and replay the WAL after it. A bad image or WAL is ShoalError('storage'). */
  static async open(options: LocalShardOptions): Promise<LocalShard> {
    const { fs, dir } = options;
    const merged = { ...DEFAULT_FLUSH_POLICY, ...options.flushPolicy };
    const flushPolicy: FlushPolicy = {
      walBytesMax: merged.walBytesMax,
      intervalMs: merged.intervalMs === null ? null : Math.max(merged.intervalMs, FLUSH_INTERVAL_MS_MIN),
    };
    await ensureDirDurable(fs, dir);
    const { segment, imageSeq } = await loadImage(options);
    const wal = await Wal.open(fs, `${dir}/wal`, options.walOptions);
    if (wal.recovery.truncatedBytes > 0) {
      options.log?.({ level: 'warn', message: `shard ${dir}: cut a torn WAL tail of ${wal.recovery.truncatedBytes} bytes (${wal.recovery.problem ?? ''})` });
    }
    try {
      await replayWal(wal, segment, imageSeq, dir);
    } catch (error) {
      await wal.close().catch(() => undefined);
      throw error;
    }
    return new LocalShard(options, flushPolicy, options.clock ?? systemClock, segment, wal, imageSeq);
  }

  // ---------------------------------------------------------------------------------------
  // Updates

  /**
   * Write `op` to the WAL, and once it is durable apply it, in seq order; resolves after both.
   * The WAL append happens synchronously in this call, so updates are applied in call order.
   */
  update(op: PointOperation): Promise<ShardUpdateResult> {
    const blocked = this.writeBlocked();
    if (blocked !== null) return Promise.reject(blocked);
    let record: Uint8Array;
    try {
      validateOperation(op, this.segment.schema);
      record = encodeOperation(op);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = this.wal.append(record).then(
      (seq) => this.applyInOrder(seq, { op, bytes: record.length }),
      (error: unknown) => {
        // 'overloaded' and 'too_large' are answers to this update only; a failed WAL stops the shard.
        const walFailure = this.wal.failed;
        if (walFailure !== null) this.markFailed(walFailure, error);
        throw error;
      },
    );
    const tracked = done.catch(() => undefined);
    this.inflight.add(tracked);
    void tracked.then(() => this.inflight.delete(tracked));
    return done;
  }

  private writeBlocked(): ShoalError | null {
    if (this.state !== 'open') return new ShoalError('unavailable', `shard ${this.dir} is closed`);
    if (this.failure !== null) {
      return new ShoalError('storage', `shard ${this.dir} has failed: ${this.failure.message}`, { cause: this.failure });
    }
    return null;
  }

  private applyInOrder(seq: number, entry: { op: PointOperation; bytes: number }): Promise<ShardUpdateResult> {
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
        result = this.segment.apply(next.op);
      } catch (error) {
        // The record is durable but could not be applied: the segment may be half-changed.
        this.markFailed(null, error);
        this.segmentBroken = true;
        this.appliedSeq = seq;
        next.reject(this.failure);
        continue;
      }
      this.appliedSeq = seq;
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

  private flushInBackground(): void {
    if (this.appliedSeq === this.imageSeq || this.state !== 'open') return;
    this.flush().catch((error: unknown) => {
      this.options.log?.({ level: 'error', message: `shard ${this.dir}: flush failed: ${String(error)}`, cause: error });
    });
  }

  /**
   * Write the segment as of now to the image file (temp, fsync, rename, fsync dir), then
   * truncate the WAL below it. Concurrent calls share one run.
   */
  flush(): Promise<void> {
    this.flushing ??= this.writeImage().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async writeImage(): Promise<void> {
    if (this.state === 'closed') throw new ShoalError('unavailable', `shard ${this.dir} is closed`);
    if (this.failure !== null) throw this.writeBlocked();
    const seq = this.appliedSeq;
    this.lastFlushMs = this.clock.nowMs();
    if (seq === this.imageSeq) return;
    const bytesCovered = this.walBytesSinceFlush;
    // serialize() hands over buffers the segment no longer touches: updates that apply while
    // the file is checksummed and written do not change this image of the state as of `seq`.
    const parts = this.segment.serialize();
    await writeFileAtomic(this.options.fs, `${this.dir}/${IMAGE}`, await encodeImage(seq, parts));
    this.imageSeq = seq;
    this.walBytesSinceFlush -= bytesCovered;
    // Only now may the WAL below `seq` go: the image that replaces it is durable.
    await this.wal.truncateBefore(seq + 1, this.options.walKeepTail ?? DEFAULT_WAL_KEEP_TAIL);
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  private readable(): SegmentContract {
    if (this.state === 'closed') throw new ShoalError('unavailable', `shard ${this.dir} is closed`);
    return this.segment;
  }

  has(id: PointId): boolean {
    return this.readable().has(id);
  }
  retrieve(ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector): Record_[] {
    return this.readable().retrieve(ids, withPayload, withVector);
  }
  search(params: SearchParams): ScoredPoint[] {
    return this.readable().search(params);
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
    return this.readable().stats();
  }

  info(): ShardInfo {
    return {
      appliedSeq: this.appliedSeq,
      imageSeq: this.imageSeq,
      walFirstSeq: this.wal.firstSeq,
      walFiles: this.wal.fileCount,
      walBytesSinceFlush: this.walBytesSinceFlush,
      failure: this.failure,
    };
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
    await this.flushing?.catch(() => undefined);
    try {
      if (flush && this.failure === null && this.appliedSeq !== this.imageSeq) {
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

async function loadImage(options: LocalShardOptions): Promise<{ segment: SegmentContract; imageSeq: number }> {
  const path = `${options.dir}/${IMAGE}`;
  const bytes = await options.fs.readFile(path);
  if (bytes === null) return { segment: options.segmentFactory.createSegment(options.schema), imageSeq: 0 };
  const image = decodeImage(bytes, path);
  try {
    return { segment: options.segmentFactory.loadSegment(options.schema, image.parts), imageSeq: image.seq };
  } catch (error) {
    throw new ShoalError('storage', `segment image ${path} could not be loaded: ${String(error)}`, { cause: error });
  }
}

async function replayWal(wal: Wal, segment: SegmentContract, imageSeq: number, dir: string): Promise<void> {
  if (wal.lastSeq < imageSeq) {
    throw new ShoalError('storage', `shard ${dir}: the WAL ends at seq ${wal.lastSeq}, before the image's seq ${imageSeq}`);
  }
  if (wal.firstSeq > imageSeq + 1) {
    throw new ShoalError('storage', `shard ${dir}: the WAL starts at seq ${wal.firstSeq}, after the image's seq ${imageSeq}`);
  }
  await wal.replay(imageSeq + 1, (seq, payload) => {
    const op = decodeOperation(payload);
    try {
      segment.apply(op);
    } catch (error) {
      throw new ShoalError('storage', `shard ${dir}: replaying WAL seq ${seq} failed: ${String(error)}`, { cause: error });
    }
  });
}
