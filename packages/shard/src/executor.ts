// Where optimization jobs run. The server runs them on a pool of worker threads (worker-pool.ts);
// tests run them in the calling thread, either at once or when the test says (ManualExecutor), so
// that a seeded test decides when each job completes or fails relative to the writes around it.
import { ShoalError } from '@shoal/common';
import { runJob, type JobInput, type JobOutput } from './job.js';

export interface JobExecutor {
  /**
   * Run one job; rejects when it fails or `signal` aborts it (its output is then never used).
   * `urgent` jobs (sealing, which holds back WAL truncation) go before the others.
   */
  run(input: JobInput, signal: AbortSignal, urgent?: boolean): Promise<JobOutput>;
}

function aborted(): ShoalError {
  return new ShoalError('unavailable', 'optimization job cancelled');
}

/** Runs each job in this thread on the next macrotask (tests, tools). */
export class InlineExecutor implements JobExecutor {
  jobsRun = 0;

  run(input: JobInput, signal: AbortSignal): Promise<JobOutput> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        if (signal.aborted) return reject(aborted());
        try {
          this.jobsRun++;
          resolve(runJob(input));
        } catch (error) {
          reject(error);
        }
      });
    });
  }
}

export interface ManualJob {
  readonly input: JobInput;
  /** Compute the job here and hand over its output. */
  complete(): void;
  fail(error: unknown): void;
}

/**
 * Holds every job until the test completes or fails it, in whatever order the test picks; jobs
 * aborted by their shard (close) leave the queue rejected.
 */
export class ManualExecutor implements JobExecutor {
  readonly queue: ManualJob[] = [];
  jobsRun = 0;

  run(input: JobInput, signal: AbortSignal): Promise<JobOutput> {
    return new Promise((resolve, reject) => {
      const remove = (): void => {
        const at = this.queue.indexOf(job);
        if (at >= 0) this.queue.splice(at, 1);
      };
      const job: ManualJob = {
        input,
        complete: () => {
          remove();
          try {
            this.jobsRun++;
            resolve(runJob(input));
          } catch (error) {
            reject(error);
          }
        },
        fail: (error) => {
          remove();
          reject(error);
        },
      };
      if (signal.aborted) return reject(aborted());
      signal.addEventListener('abort', () => job.fail(aborted()), { once: true });
      this.queue.push(job);
    });
  }
}
