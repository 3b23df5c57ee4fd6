// Running one step against the node and, for transfers, following it to the end: poll the
// collection's shard_transfers and replica states until the target replica is Active (done),
// the transfer is gone without it (failed), or the wait runs out.
import type { Context } from './context.js';
import { CommandError } from './errors.js';
import { fetchCollectionCluster } from './layout.js';
import { PROGRESS_REPEAT_MS, TRANSFER_APPEAR_MS_MAX } from './limits.js';
import type { CollectionCluster } from './model.js';
import { clusterOperationPath, describeStep, stepBody, type TransferMethod } from './operations.js';
import type { Step } from './plan.js';

export type TransferStep = Extract<Step, { kind: 'move' | 'replicate' }>;

export type TransferProgress =
  | { readonly state: 'running'; readonly comment: string | null }
  | { readonly state: 'done' }
  | { readonly state: 'failed'; readonly reason: string }
  /** Neither listed nor finished: not visible on this node yet. */
  | { readonly state: 'unseen' };

/**
 * Where a transfer stands in one reading of the collection's cluster info. `seen`: it was
 * listed (or its target replica present) in an earlier reading, so its absence now is an end.
 */
export function transferProgress(info: CollectionCluster, step: TransferStep, seen: boolean): TransferProgress {
  const listed = info.transfers.find((t) => t.shardId === step.shardId && t.from === step.from && t.to === step.to);
  if (listed !== undefined) return { state: 'running', comment: listed.comment };
  const replicas = info.shards.find((s) => s.shardId === step.shardId)?.replicas ?? [];
  const target = replicas.find((r) => r.peer === step.to)?.state;
  const sourceRemains = replicas.some((r) => r.peer === step.from);
  if (target === 'Active') {
    // A move ends by removing the source replica; until then it is finishing.
    return step.kind === 'move' && sourceRemains ? { state: 'running', comment: null } : { state: 'done' };
  }
  if (target === undefined || target === 'Dead') {
    if (!seen) return { state: 'unseen' };
    return { state: 'failed', reason: `the transfer ended and the replica on peer ${step.to} is ${target === undefined ? 'gone' : 'Dead'}` };
  }
  return { state: 'running', comment: null };
}

export interface RunOptions {
  readonly method: TransferMethod | null;
  /** Longest wait for a transfer to finish, ms. */
  readonly timeoutMs: number;
  /** Follow transfers to the end (false: return once the node accepted the step). */
  readonly wait: boolean;
}

/** Sends one step; for a transfer, waits for its end with progress on stderr. */
export async function runStep(ctx: Context, step: Step, options: RunOptions): Promise<void> {
  expectTrue(await ctx.client.post(clusterOperationPath(step.collection), stepBody(step, options.method)), describeStep(step));
  if (step.kind === 'drop' || !options.wait) return;
  await waitForTransfer(ctx, step, options.timeoutMs);
}

/** Polls until `step` is done; throws CommandError when it fails or outlasts `timeoutMs`. */
export async function waitForTransfer(ctx: Context, step: TransferStep, timeoutMs: number): Promise<void> {
  const started = ctx.clock.now();
  const label = `${step.collection}/${step.shardId} ${step.from} -> ${step.to}`;
  let seen = false;
  let lastReport = '';
  let lastReportAt = -Infinity;
  for (;;) {
    const progress = transferProgress(await fetchCollectionCluster(ctx.client, step.collection), step, seen);
    const elapsed = ctx.clock.now() - started;
    if (progress.state === 'done') {
      ctx.io.err(`  ${label}: done in ${seconds(elapsed)}`);
      return;
    }
    if (progress.state === 'failed') throw new CommandError(`${describeStep(step)} failed: ${progress.reason}`);
    if (progress.state === 'unseen' && elapsed > TRANSFER_APPEAR_MS_MAX) {
      throw new CommandError(`${describeStep(step)}: the node accepted it but the transfer did not appear within ${seconds(TRANSFER_APPEAR_MS_MAX)}`);
    }
    if (progress.state === 'running') {
      seen = true;
      const report = progress.comment ?? 'running (progress is reported by the source peer)';
      if (report !== lastReport || ctx.clock.now() - lastReportAt >= PROGRESS_REPEAT_MS) {
        ctx.io.err(`  ${label}: ${report} [${seconds(elapsed)}]`);
        lastReport = report;
        lastReportAt = ctx.clock.now();
      }
    }
    if (elapsed >= timeoutMs) {
      throw new CommandError(
        `${describeStep(step)} still running after ${seconds(timeoutMs)}; it was not aborted ` +
          `(follow it with: shoal transfers list ${step.collection}; abort with: shoal transfers abort ${step.collection} ${step.shardId} --from ${step.from} --to ${step.to})`,
      );
    }
    await ctx.clock.sleep(Math.min(ctx.pollMs, Math.max(0, timeoutMs - elapsed)));
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The `true` a metadata change answers with, or a CommandError naming what was answered. */
export function expectTrue(result: unknown, what: string): void {
  if (result !== true) throw new CommandError(`${what}: the node answered ${JSON.stringify(result ?? null)} instead of true`);
}
