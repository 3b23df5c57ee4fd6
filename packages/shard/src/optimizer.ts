// The optimizer of one shard: decides which segments to rebuild, hands the heavy part to a job
// executor (worker threads), and swaps the result in with one synchronous step.
//
// Jobs, in order of priority:
//   seal    a frozen segment (the appendable one, frozen when it reached indexing_threshold, or
//           max_segment_size when indexing is off) becomes a sealed segment without graphs, in
//           files of its own, so that the WAL below it can go. Runs even when optimization is
//           disabled: it is part of persistence.
//   vacuum  a sealed segment whose tombstoned fraction passed deleted_threshold (and that holds
//           at least vacuum_min_vector_number points) is rebuilt without the dead points.
//   merge   while there are more sealed segments than default_segment_number, the smallest ones
//           are merged, up to max_segment_size.
//   index   a sealed segment of at least indexing_threshold gets an HNSW graph per vector (or a
//           new one when hnsw_config / quantization changed); points stay where they are.
//
// No write is lost, stale or resurrected across a swap: a source takes only tombstones while a
// job copies it (copy-on-write moves every other change to the appendable segment); the job
// snapshots the live points and starts recording tombstones by point id in the same synchronous
// step, and the recorded ids are tombstoned in the result in the synchronous step that swaps it
// in. Payload indexes of the result are built from the shard's definitions, and checked again
// right before the swap. Files are durable before the swap; the sources' files are deleted only
// once an image that no longer names them is durable.
import { ShoalError, assert, encodeJson, writeFileAtomic, type FileSystem, type PayloadIndexParams, type PointId } from '@shoal/common';
import {
  DenseSpace,
  Segment,
  denseMetric,
  openDenseIndex,
  subsetPointsMin,
  vectorsInKb,
  type DenseIndexParams,
  type SegmentOptions,
  type SegmentSchema,
} from '@shoal/segment';
import { vectorConfig, type OptimizerConfig } from './config.js';
import type { JobExecutor } from './executor.js';
import type { JobInput, JobOutput, JobSource, JobVector, SourceVectors } from './job.js';
import { COPY_SLICE_BYTES, INDEX_SLICE, MERGE_SOURCES_MAX, POINT_SLICE, RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN } from './limits.js';
import { segmentVectorKb, type SegmentFiles, type SegmentSet, type SetEntry } from './segment-set.js';
import type { ShardLogEvent } from './shard.js';

export type OptimizerStatus = 'green' | 'yellow' | 'grey' | 'red';

export interface OptimizerInfo {
  readonly status: OptimizerStatus;
  /** Why the last job failed, until one succeeds. */
  readonly error: string | null;
  readonly running: number;
  /** A job is due but not running (waiting for a thread, a retry, or disabled). */
  readonly pending: boolean;
}

/** How the optimizer gives the event loop back between slices of main-thread work, and waits. */
export interface OptimizerScheduler {
  yield(): Promise<void>;
  sleep(ms: number): Promise<void>;
}

export const REAL_SCHEDULER: OptimizerScheduler = {
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

/** What the optimizer needs of its shard. */
export interface OptimizerHost {
  readonly set: SegmentSet;
  readonly fs: FileSystem;
  /** Directory of the sealed segments' files. */
  readonly segmentsDir: string;
  readonly schema: SegmentSchema;
  readonly segmentOptions: SegmentOptions;
  /** A number never used before by this shard, for a segment or a file. */
  allocateNumber(): number;
  /** Files no segment names any more, to delete once an image without them is durable. */
  retire(files: readonly string[]): void;
  /** A swap happened: write an image so the set on disk follows. */
  swapped(): void;
  /** The shard stopped taking writes: swaps would never become durable. */
  failed(): boolean;
  log(event: ShardLogEvent): void;
}

type JobSpec =
  | { readonly kind: 'build'; readonly reason: 'seal' | 'vacuum' | 'merge'; readonly sources: readonly SetEntry[] }
  | { readonly kind: 'index'; readonly reason: 'index'; readonly sources: readonly SetEntry[]; readonly vectors: readonly string[] };

interface Running {
  readonly spec: JobSpec;
  readonly controller: AbortController;
  done: Promise<void>;
}

const cancelled = (): ShoalError => new ShoalError('unavailable', 'optimization cancelled: the shard is closing');

export class Optimizer {
  private readonly running = new Set<Running>();
  private error: string | null = null;
  private failures = 0;
  /** After a failure, no optimization starts until the backoff delay passed. */
  private backingOff = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly host: OptimizerHost,
    private readonly executor: JobExecutor,
    private config: OptimizerConfig,
    private readonly scheduler: OptimizerScheduler = REAL_SCHEDULER,
  ) {}

  get currentConfig(): OptimizerConfig {
    return this.config;
  }

  /** Begin running jobs (after the shard finished opening). */
  start(): void {
    this.started = true;
    this.kick();
  }

  setConfig(config: OptimizerConfig): void {
    this.config = config;
    this.kick();
  }

  /** After every applied write: freeze a full appendable segment (synchronously), then plan. */
  afterApply(): void {
    this.maybeFreeze();
    this.kick();
  }

  private maybeFreeze(): void {
    if (this.appendableFull() && this.config.maxOptimizationThreads > 0) this.host.set.freeze(this.host.allocateNumber());
  }

  info(): OptimizerInfo {
    const pending = this.planJob(true) !== null || this.appendableFull();
    let status: OptimizerStatus = 'green';
    if (this.error !== null) status = 'red';
    else if (this.running.size > 0) status = 'yellow';
    else if (pending) status = this.config.maxOptimizationThreads === 0 ? 'grey' : 'yellow';
    return { status, error: this.error, running: this.running.size, pending };
  }

  /** Cancel running jobs and wait until none touches the shard any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.running) job.controller.abort();
    await Promise.all([...this.running].map((job) => job.done));
  }

  /** Wait until no job runs and none is due (tests and tools). */
  async idle(): Promise<void> {
    for (;;) {
      const jobs = [...this.running];
      if (jobs.length === 0) return;
      await Promise.all(jobs.map((job) => job.done));
    }
  }

  private appendableFull(): boolean {
    const appendable = this.host.set.appendable;
    if (appendable.stats().points === 0) return false;
    const { indexingThresholdKb, maxSegmentSizeKb } = this.config;
    const limit = indexingThresholdKb > 0 ? Math.min(indexingThresholdKb, maxSegmentSizeKb) : maxSegmentSizeKb;
    return segmentVectorKb(appendable) >= limit;
  }

  // ---------------------------------------------------------------------------------------
  // Planning

  private kick(): void {
    if (!this.started || this.stopped || this.host.failed()) return;
    this.maybeFreeze();
    for (let spec = this.planJob(false); spec !== null; spec = this.planJob(false)) this.launch(spec);
  }

  /** The next job to start, or (ignoreLimits) any job that is due at all. */
  private planJob(ignoreLimits: boolean): JobSpec | null {
    const idle = this.host.set.entries.filter((e) => !e.busy);
    const frozen = idle.find((e) => e.state === 'frozen');
    if (frozen !== undefined) return { kind: 'build', reason: 'seal', sources: [frozen] };
    if (!ignoreLimits) {
      const optimizing = [...this.running].filter((job) => job.spec.reason !== 'seal').length;
      if (optimizing >= this.config.maxOptimizationThreads || this.backingOff) return null;
    }
    const sealed = idle.filter((e) => e.state === 'sealed');
    return this.planVacuum(sealed) ?? this.planMerge(sealed) ?? this.planIndex(sealed);
  }

  private planVacuum(sealed: readonly SetEntry[]): JobSpec | null {
    const { vacuumMinVectorNumber, deletedThreshold } = this.config;
    for (const entry of sealed) {
      const total = entry.segment.offsetCount;
      if (total >= vacuumMinVectorNumber && total > 0 && entry.segment.deadCount / total > deletedThreshold) {
        return { kind: 'build', reason: 'vacuum', sources: [entry] };
      }
    }
    return null;
  }

  private planMerge(sealed: readonly SetEntry[]): JobSpec | null {
    if (this.host.set.entries.length <= this.config.defaultSegmentNumber) return null;
    const bySize = sealed.map((entry) => ({ entry, kb: segmentVectorKb(entry.segment) })).sort((a, b) => a.kb - b.kb);
    const picked: SetEntry[] = [];
    let kb = 0;
    for (const candidate of bySize) {
      if (picked.length >= MERGE_SOURCES_MAX || kb + candidate.kb > this.config.maxSegmentSizeKb) break;
      picked.push(candidate.entry);
      kb += candidate.kb;
    }
    return picked.length >= 2 ? { kind: 'build', reason: 'merge', sources: picked } : null;
  }

  private planIndex(sealed: readonly SetEntry[]): JobSpec | null {
    for (const entry of sealed) {
      if (!this.wantsGraphs(segmentVectorKb(entry.segment))) continue;
      const vectors = [...this.host.schema.vectors.keys()].filter((name) => {
        const space = entry.segment.space(name);
        return space instanceof DenseSpace && !sameIndexParams(space.indexParams, this.targetParams(name, true, space.indexParams.seed));
      });
      if (vectors.length > 0) return { kind: 'index', reason: 'index', sources: [entry], vectors };
    }
    return null;
  }

  private wantsGraphs(kb: number): boolean {
    return this.config.indexingThresholdKb > 0 && kb >= this.config.indexingThresholdKb;
  }

  /** The DenseIndex parameters a segment should have for vector `name`. */
  private targetParams(name: string, graph: boolean, seed: number): DenseIndexParams {
    const vector = this.host.schema.vectors.get(name);
    assert(vector !== undefined, `no vector ${name}`);
    const wanted = vectorConfig(this.config, name);
    const payloadM = graph ? (wanted.payloadM ?? wanted.m) : 0;
    return {
      dim: vector.size,
      metric: denseMetric(vector.distance),
      m: graph ? wanted.m : 0,
      efConstruct: wanted.efConstruct,
      quantization: graph ? wanted.quantization : null,
      seed,
      ...(payloadM > 0 ? { payloadM } : {}),
    };
  }

  /** Smallest payload block of vector `name` that gets a subset graph: full_scan_threshold, in points. */
  private subsetPointsMin(name: string): number {
    const vector = this.host.schema.vectors.get(name);
    assert(vector !== undefined, `no vector ${name}`);
    return subsetPointsMin(vectorsInKb(vectorConfig(this.config, name).fullScanThresholdKb, vector.size));
  }

  // ---------------------------------------------------------------------------------------
  // Running

  private launch(spec: JobSpec): void {
    const controller = new AbortController();
    for (const entry of spec.sources) entry.busy = true;
    // The snapshot of live points and the recording of later tombstones start in this same
    // synchronous step: every tombstone after the snapshot is recorded.
    const selections = spec.sources.map((entry) => liveOffsets(entry.segment));
    const recorders = spec.sources.map((entry) => {
      const recorder: PointId[] = [];
      if (spec.kind === 'build') entry.recorders.add(recorder);
      return recorder;
    });
    const job: Running = { spec, controller, done: Promise.resolve() };
    const work = spec.kind === 'index' ? this.runIndex(spec, controller.signal) : this.runBuild(spec, selections, recorders, controller.signal);
    job.done = work.then(
      () => this.succeeded(),
      (error: unknown) => this.failed(spec, error),
    ).finally(() => {
      spec.sources.forEach((entry, i) => {
        entry.busy = false;
        entry.recorders.delete(recorders[i] as PointId[]);
      });
      this.running.delete(job);
      this.kick();
    });
    this.running.add(job);
  }

  private succeeded(): void {
    this.error = null;
    this.failures = 0;
  }

  private failed(spec: JobSpec, error: unknown): void {
    if (this.stopped) return;
    const message = error instanceof Error ? error.message : String(error);
    this.error = `${spec.reason} of segment ${spec.sources.map((e) => e.number).join('+')} failed: ${message}`;
    this.failures++;
    const delay = Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** (this.failures - 1));
    this.backingOff = true;
    this.host.log({ level: 'error', message: `${this.error}; retrying in ${delay} ms`, cause: error });
    void this.scheduler.sleep(delay).then(() => {
      this.backingOff = false;
      this.kick();
    });
  }

  private alive(signal: AbortSignal): void {
    if (signal.aborted || this.stopped) throw cancelled();
    if (this.host.failed()) throw new ShoalError('unavailable', 'the shard has failed');
  }

  private async runBuild(spec: JobSpec, selections: readonly Uint32Array[], recorders: readonly PointId[][], signal: AbortSignal): Promise<void> {
    const total = selections.reduce((sum, s) => sum + s.length, 0);
    if (total === 0) {
      // Nothing left alive: the sources simply go.
      this.replace(spec.sources, null);
      return;
    }
    const number = this.host.allocateNumber();
    const kb = spec.sources.reduce((sum, e) => sum + segmentVectorKb(e.segment), 0);
    const graph = spec.reason !== 'seal' && this.wantsGraphs(kb);
    const vectors: JobVector[] = [...this.host.schema.vectors.keys()].map((name) => ({
      name, params: this.targetParams(name, graph, number), subsetPointsMin: this.subsetPointsMin(name),
    }));
    const sources: JobSource[] = [];
    for (let i = 0; i < spec.sources.length; i++) {
      sources.push(await this.snapshot((spec.sources[i] as SetEntry).segment, selections[i] as Uint32Array, signal));
    }
    this.alive(signal);
    const payloadIndexes = graph ? this.host.set.appendable.indexDefinitions() : [];
    const output = await this.executor.run({ kind: 'build', vectors, sources, payloadIndexes }, signal, spec.reason === 'seal');
    this.alive(signal);
    const result = await this.assemble(spec.sources, selections, output, signal);
    const files = await this.writeFiles(number, output, signal);
    await this.matchIndexes(result, signal);
    // From here to the end: one synchronous step.
    this.alive(signal);
    const dead = recorders.flat().filter((id) => result.offsetOfId(id) !== undefined);
    if (dead.length > 0) result.apply({ kind: 'delete_points', selector: { kind: 'ids', ids: dead } });
    this.replace(spec.sources, { number, segment: result, state: 'sealed', files, recorders: new Set(), busy: false });
  }

  /** Swap `sources` for `result` (or nothing) in the set, retiring their files. */
  private replace(sources: readonly SetEntry[], result: SetEntry | null): void {
    const entries = this.host.set.entries;
    const at = entries.indexOf(sources[0] as SetEntry);
    for (const source of sources) entries.splice(entries.indexOf(source), 1);
    if (result !== null) entries.splice(Math.max(0, Math.min(at, entries.length)), 0, result);
    this.host.retire(sources.flatMap((s) => (s.files === null ? [] : [s.files.points, ...s.files.dense.values()])));
    this.host.swapped();
  }

  private async runIndex(spec: JobSpec & { kind: 'index' }, signal: AbortSignal): Promise<void> {
    const entry = spec.sources[0] as SetEntry;
    const segment = entry.segment;
    const vectors: JobVector[] = [];
    const sourceVectors = new Map<string, SourceVectors>();
    for (const name of spec.vectors) {
      const space = segment.space(name) as DenseSpace;
      const params = this.targetParams(name, true, space.indexParams.seed);
      // The sealed segment's payload indexes say which values get subset graphs (payload_m).
      const subsets = (params.payloadM ?? 0) > 0 ? segment.payloadSubsets(name, this.subsetPointsMin(name)) : [];
      vectors.push({ name, params, subsets });
      sourceVectors.set(name, { kind: 'dense', handle: space.index.handle(), ids: new Int32Array(0) });
    }
    const input: JobInput = { kind: 'index', vectors, sources: [{ count: segment.offsetCount, points: [], vectors: sourceVectors }] };
    const output = await this.executor.run(input, signal);
    this.alive(signal);
    const spaces = output.vectors.map((v) => ({ name: v.name, index: openDenseIndex(v.handle), file: v.file }));
    const written = new Map<string, string>();
    for (const space of spaces) {
      const file = `${entry.number}-${this.host.allocateNumber()}.dense`;
      await this.write(file, space.file, signal);
      written.set(space.name, file);
    }
    // One synchronous step: tombstones carry over from the spaces being replaced.
    this.alive(signal);
    const old = entry.files as SegmentFiles;
    for (const space of spaces) segment.replaceSpace(space.name, (segment.space(space.name) as DenseSpace).withIndex(space.index));
    entry.files = { points: old.points, dense: new Map([...old.dense, ...written]) };
    this.host.retire([...written.keys()].map((name) => old.dense.get(name) as string));
    this.host.swapped();
  }

  /** The selected points of a source as job input, built in slices. */
  private async snapshot(segment: Segment, selection: Uint32Array, signal: AbortSignal): Promise<JobSource> {
    const points: { bytes: Uint8Array; hasBigint: boolean }[] = [];
    const encoder = new TextEncoder();
    for (let start = 0; start < selection.length; start += POINT_SLICE) {
      const slice = selection.subarray(start, start + POINT_SLICE);
      const ids = Array.from(slice, (offset) => segment.idAt(offset));
      const payloads = Array.from(slice, (offset) => segment.payloadAt(offset));
      const json = encodeJson([ids, payloads]);
      points.push({ bytes: encoder.encode(json.text), hasBigint: json.hasBigint });
      await this.scheduler.yield();
      this.alive(signal);
    }
    const vectors = new Map<string, SourceVectors>();
    for (const [name, params] of this.host.schema.vectors) {
      const space = segment.space(name);
      if (space === undefined) continue;
      if (space instanceof DenseSpace) {
        vectors.set(name, { kind: 'dense', handle: space.index.handle(), ids: Int32Array.from(selection, (offset) => space.idOf[offset] as number) });
        continue;
      }
      const present = new Uint8Array((selection.length + 7) >>> 3);
      let count = 0;
      selection.forEach((offset, j) => {
        if (!space.has(offset)) return;
        present[j >>> 3] = (present[j >>> 3] as number) | (1 << (j & 7));
        count++;
      });
      const dim = params.size;
      // Shared, so that posting it to a worker does not copy it again.
      const rows = new Float32Array(new SharedArrayBuffer(Math.max(1, count) * dim * 4), 0, count * dim);
      const perSlice = Math.max(1, Math.floor(COPY_SLICE_BYTES / (dim * 4)));
      let row = 0;
      for (let j = 0; j < selection.length; j++) {
        const offset = selection[j] as number;
        if (!space.has(offset)) continue;
        rows.set(space.row(offset), row * dim);
        row++;
        if (row % perSlice === 0) {
          await this.scheduler.yield();
          this.alive(signal);
        }
      }
      vectors.set(name, { kind: 'rows', rows, present });
    }
    return { count: selection.length, points, vectors };
  }

  /** The sealed segment of a build job's output, points added in slices. */
  private async assemble(sources: readonly SetEntry[], selections: readonly Uint32Array[], output: JobOutput, signal: AbortSignal): Promise<Segment> {
    const spaces = new Map<string, DenseSpace>();
    for (const vector of output.vectors) {
      const params = this.host.schema.vectors.get(vector.name);
      assert(params !== undefined, `job returned unknown vector ${vector.name}`);
      spaces.set(vector.name, new DenseSpace(params, openDenseIndex(vector.handle), vector.idOf, vector.offsetOfId));
    }
    const result = Segment.sealed(this.host.schema, spaces, this.host.segmentOptions);
    const count = output.sourceOf.length;
    for (let start = 0; start < count; start += POINT_SLICE) {
      const end = Math.min(count, start + POINT_SLICE);
      for (let i = start; i < end; i++) {
        const s = output.sourceOf[i] as number;
        const offset = (selections[s] as Uint32Array)[output.indexOf[i] as number] as number;
        const source = (sources[s] as SetEntry).segment;
        result.appendSealedPoint(source.idAt(offset), source.payloadAt(offset));
      }
      await this.scheduler.yield();
      this.alive(signal);
    }
    return result;
  }

  private async writeFiles(number: number, output: JobOutput, signal: AbortSignal): Promise<SegmentFiles> {
    const points = `${number}.points`;
    await this.write(points, output.pointsFile ?? [], signal);
    const dense = new Map<string, string>();
    for (const vector of output.vectors) {
      const file = `${number}-${this.host.allocateNumber()}.dense`;
      await this.write(file, vector.file, signal);
      dense.set(vector.name, file);
    }
    return { points, dense };
  }

  private async write(file: string, chunks: readonly Uint8Array[], signal: AbortSignal): Promise<void> {
    this.alive(signal);
    await writeFileAtomic(this.host.fs, `${this.host.segmentsDir}/${file}`, chunks);
  }

  /**
   * Give `result` exactly the shard's payload indexes (they may have changed while the job ran).
   * Returns in the same synchronous step as its last check, so the caller can swap right after.
   */
  private async matchIndexes(result: Segment, signal: AbortSignal): Promise<void> {
    for (;;) {
      this.alive(signal);
      const wanted = new Map(this.host.set.appendable.indexDefinitions().map((d) => [d.field, d.params]));
      const have = new Map(result.indexDefinitions().map((d) => [d.field, d.params]));
      for (const field of have.keys()) if (!wanted.has(field)) result.apply({ kind: 'delete_field_index', field });
      const missing = [...wanted].filter(([field, params]) => !sameJson(have.get(field), params));
      if (missing.length === 0) return;
      for (const [field, params] of missing) await this.buildIndex(result, field, params, signal);
    }
  }

  private async buildIndex(result: Segment, field: string, params: PayloadIndexParams, signal: AbortSignal): Promise<void> {
    const build = result.startIndex(field, params);
    while (!build.step(INDEX_SLICE)) {
      await this.scheduler.yield();
      this.alive(signal);
    }
  }
}

function liveOffsets(segment: Segment): Uint32Array {
  return Uint32Array.from(segment.liveOffsets());
}

function sameJson(a: unknown, b: unknown): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function sameIndexParams(a: DenseIndexParams, b: DenseIndexParams): boolean {
  if (a.m !== b.m || (a.payloadM ?? 0) !== (b.payloadM ?? 0)) return false;
  if (a.m === 0) return true;
  return a.efConstruct === b.efConstruct && JSON.stringify(a.quantization) === JSON.stringify(b.quantization);
}
