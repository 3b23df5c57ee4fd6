// shoal drain <peer> | rebalance: plan with the pure planners, then run the steps one at a time,
// each transfer followed to its end before the next starts.
import type { Command } from 'commander';
import { show, table, type Context } from '../context.js';
import { CommandError } from '../errors.js';
import { peerIdArg, peerIdToJson, type PeerId } from '../ids.js';
import { prettyJson } from '../json-text.js';
import { fetchLayout } from '../layout.js';
import { TRANSFER_WAIT_S_DEFAULT } from '../limits.js';
import { describeStep } from '../operations.js';
import { planDrain, planRebalance, type Plan, type Step } from '../plan.js';
import { runStep } from '../transfer.js';
import { action, transferOptions, type CliDeps, type TransferOptions } from './common.js';

export function registerPlacement(program: Command, deps: CliDeps): void {
  transferOptions(
    program
      .command('drain')
      .description('move every replica off a peer onto the least-loaded other peers, one transfer at a time')
      .argument('<peer>', 'peer id', peerIdArg),
    false,
  ).action(action(deps, async (ctx, [peer], options: TransferOptions) => {
    const id = peer as PeerId;
    const plan = planDrain(await fetchLayout(ctx.client), id);
    await carryOut(ctx, plan, options, `peer ${id} holds no replicas: nothing to move`);
    if (plan.blocked.length > 0) {
      throw new CommandError(`drain of peer ${id} is incomplete: ${plan.blocked.length} replica(s) could not be moved (listed above)`);
    }
  }));
  transferOptions(
    program.command('rebalance').description('move replicas so that every peer holds about the same number, one transfer at a time'),
    false,
  ).action(action(deps, async (ctx, _args, options: TransferOptions) => {
    await carryOut(ctx, planRebalance(await fetchLayout(ctx.client)), options, 'replicas are balanced: nothing to move');
  }));
}

function stepJson(step: Step): Record<string, unknown> {
  const base = { action: step.kind, collection: step.collection, shard_id: step.shardId };
  return step.kind === 'drop'
    ? { ...base, peer_id: peerIdToJson(step.peer) }
    : { ...base, from_peer_id: peerIdToJson(step.from), to_peer_id: peerIdToJson(step.to) };
}

function planJson(plan: Plan, done: number | null): Record<string, unknown> {
  return {
    steps: plan.steps.map(stepJson),
    blocked: plan.blocked.map((b) => ({ collection: b.collection, shard_id: b.shardId, peer_id: peerIdToJson(b.peer), reason: b.reason })),
    ...(done === null ? {} : { done }),
  };
}

function planTable(plan: Plan): string {
  return table(
    ['#', 'action', 'collection', 'shard', 'from', 'to'],
    plan.steps.map((s, i) => [i + 1, s.kind, s.collection, s.shardId, s.kind === 'drop' ? s.peer : s.from, s.kind === 'drop' ? null : s.to]),
  );
}

/** Prints the plan (--dry-run stops there), then runs it step by step. */
async function carryOut(ctx: Context, plan: Plan, options: TransferOptions, nothing: string): Promise<void> {
  for (const b of plan.blocked) ctx.io.err(`cannot move ${b.collection} shard ${b.shardId} off peer ${b.peer}: ${b.reason}`);
  if (options.dryRun === true || plan.steps.length === 0) {
    show(ctx, planJson(plan, null), () => (plan.steps.length === 0 ? (plan.blocked.length === 0 ? nothing : 'no step can be planned') : planTable(plan)));
    return;
  }
  if (!ctx.json) ctx.io.out(planTable(plan));
  const timeoutMs = (options.timeout ?? TRANSFER_WAIT_S_DEFAULT) * 1000;
  let done = 0;
  for (const step of plan.steps) {
    ctx.io.err(`[${done + 1}/${plan.steps.length}] ${describeStep(step)}`);
    try {
      await runStep(ctx, step, { method: options.method ?? null, timeoutMs, wait: true });
    } catch (error) {
      if (ctx.json) ctx.io.out(prettyJson(planJson(plan, done)));
      throw error instanceof Error ? new CommandError(`step ${done + 1} of ${plan.steps.length} failed, ${done} done: ${error.message}`) : error;
    }
    done++;
  }
  show(ctx, planJson(plan, done), () => `${done} step(s) done`);
}
