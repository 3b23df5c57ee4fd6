// Optimization jobs on worker threads. Workers start on demand and stay for the next job; an idle
// worker does not keep the process alive. Urgent jobs (sealing a frozen segment, which holds back
// WAL truncation) go first and may use one thread beyond the pool's size, so a long index build
// never delays them. Aborting a running job terminates its worker; the next job starts a new one.
import { Worker } from 'node:worker_threads';
import { ShoalError, type ErrorKind } from '@shoal/common';
import { cpuCount } from './config.js';
import type { JobExecutor } from './executor.js';
import type { JobInput, JobOutput } from './job.js';
import { WORKER_IDLE_MS } from './limits.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

interface Pending {
  readonly id: number;
  readonly input: JobInput;
  readonly urgent: boolean;
  readonly signal: AbortSignal;
  readonly resolve: (output: JobOutput) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
}

interface PoolWorker {
  readonly worker: Worker;
  job: Pending | null;
  idleTimer: ReturnType<typeof setTimeout> | null;
}

/** The compiled worker script; tests run this file from src/, the script from dist/. */
function workerScript(): URL {
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? '../dist/worker.js' : './worker.js', import.meta.url);
}

export class WorkerPool implements JobExecutor {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Jobs completed by workers (each one built its graphs in a worker, never on this thread). */
  jobsRun = 0;

  constructor(
    private size: number,
    private readonly script: URL = workerScript(),
  ) {}

  /** Grow (never shrink) the number of threads ordinary jobs may use. */
  ensureSize(size: number): void {
    this.size = Math.max(this.size, size);
    this.dispatch();
  }

  get threads(): number {
    return this.workers.length;
  }

  run(input: JobInput, signal: AbortSignal, urgent = false): Promise<JobOutput> {
    if (this.closed) return Promise.reject(new ShoalError('unavailable', 'the optimizer pool is closed'));
    return new Promise<JobOutput>((resolve, reject) => {
      const onAbort = (): void => this.abort(job);
      const job: Pending = { id: this.nextId++, input, urgent, signal, resolve, reject, onAbort };
      if (signal.aborted) return reject(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
      if (urgent) this.queue.splice(this.queue.filter((j) => j.urgent).length, 0, job);
      else this.queue.push(job);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, null, cancelled());
    await Promise.all(this.workers.splice(0).map(({ worker, job }) => {
      if (job !== null) this.settle(job, null, cancelled());
      return worker.terminate();
    }));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const job = this.queue[0] as Pending;
      let slot = this.workers.find((w) => w.job === null);
      if (slot === undefined && this.workers.length < this.size + (job.urgent ? 1 : 0)) slot = this.spawn();
      if (slot === undefined) return;
      this.queue.shift();
      slot.job = job;
      if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      slot.worker.ref();
      const request: WorkerRequest = { id: job.id, input: job.input };
      slot.worker.postMessage(request, inputTransferList(job.input));
    }
  }

  private spawn(): PoolWorker {
    const slot: PoolWorker = { worker: new Worker(this.script), job: null, idleTimer: null };
    slot.worker.unref();
    slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    slot.worker.on('error', (error) => this.drop(slot, error));
    slot.worker.on('exit', (code) => this.drop(slot, new ShoalError('unavailable', `optimizer worker exited with code ${code}`)));
    this.workers.push(slot);
    return slot;
  }

  private onReply(slot: PoolWorker, reply: WorkerReply): void {
    const job = slot.job;
    if (job === null || job.id !== reply.id) return;
    slot.job = null;
    slot.worker.unref();
    // An idle worker ends after a while: its heap (and the shared memories of indexes it built or
    // read, which stay alive until that heap is collected) goes with it.
    slot.idleTimer = setTimeout(() => {
      if (slot.job === null) this.drop(slot, null);
    }, WORKER_IDLE_MS);
    slot.idleTimer.unref();
    if ('output' in reply) {
      this.jobsRun++;
      this.settle(job, reply.output, null);
    } else {
      this.settle(job, null, new ShoalError((reply.kind as ErrorKind | null) ?? 'storage', `optimizer job failed: ${reply.error}`));
    }
    this.dispatch();
  }

  /** A worker died (or was terminated): its job fails, the next job gets a new worker. */
  private drop(slot: PoolWorker, error: unknown): void {
    const at = this.workers.indexOf(slot);
    if (at < 0) return;
    this.workers.splice(at, 1);
    if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
    if (slot.job !== null) this.settle(slot.job, null, error);
    slot.job = null;
    void slot.worker.terminate();
    this.dispatch();
  }

  private abort(job: Pending): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, null, cancelled());
      return;
    }
    const slot = this.workers.find((w) => w.job === job);
    if (slot !== undefined) this.drop(slot, cancelled());
  }

  private settle(job: Pending, output: JobOutput | null, error: unknown): void {
    job.signal.removeEventListener('abort', job.onAbort);
    if (output !== null) job.resolve(output);
    else job.reject(error);
  }
}

function cancelled(): ShoalError {
  return new ShoalError('unavailable', 'optimization job cancelled');
}

function inputTransferList(input: JobInput): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const source of input.sources) {
    for (const slice of source.points) if (slice.bytes.buffer instanceof ArrayBuffer) buffers.add(slice.bytes.buffer);
  }
  return [...buffers];
}

let shared: WorkerPool | null = null;

/**
 * The process's pool, shared by every shard: Qdrant's max_optimization_threads null means one
 * thread while serving; a shard asking for more grows it, up to the number of CPUs.
 */
export function sharedWorkerPool(threads = 1): WorkerPool {
  shared ??= new WorkerPool(1);
  shared.ensureSize(Math.min(Math.max(1, threads), cpuCount()));
  return shared;
}
