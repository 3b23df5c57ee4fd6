import type { RaftTestHooks } from '@shoal/raft';
import { consensusNodeFactory } from './consensus-node.js';
import type { SimOptions } from './world.js';

/**
 * The simulation settings for a seed, derived from the seed alone so that SIM_SEED replays a
 * run exactly. Seeds rotate through cluster sizes and message sizes: 5 or 3 founding voters,
 * every third seed one entry per append message (slow catch-up, many partial acknowledgements),
 * and half of the seeds change membership under the faults (join, promote, remove, the leader too).
 */
export function optionsForSeed(seed: number, steps: number): SimOptions {
  return {
    seed,
    steps,
    factory: consensusNodeFactory,
    nodes: seed % 2 === 0 ? 3 : 5,
    raft: seed % 3 === 0 ? { msgBytesMax: 1, inflightMsgsMax: 2 } : { inflightMsgsMax: 8 },
    membershipRate: seed % 4 < 2 ? 0.004 : 0,
  };
}

/** A bug planted in every node's Raft core through RaftConfig.testHooks, and where to look for it. */
export interface PlantedBug {
  /** Names the run in the replay command (SIM_BUG=…). */
  readonly name: string;
  readonly hook: keyof RaftTestHooks;
  readonly what: string;
  /** Settings under which the bug shows up quickly (still random faults, still one seed). */
  readonly options: (seed: number, steps: number) => SimOptions;
}

export const PLANTED_BUGS: readonly PlantedBug[] = [
  {
    name: 'commitEarlierTerms',
    hook: 'commitEarlierTerms',
    what: 'skip the Figure 8 check (commit an earlier-term entry by counting replicas)',
    options: (seed, steps) => ({ ...optionsForSeed(seed, steps), nodes: 3, raft: { msgBytesMax: 1, inflightMsgsMax: 2 } }),
  },
  {
    // The same bug, without the commit-rule invariant: its real outcome, a committed entry that a
    // later leader does not hold. Leaders are cut off right after their commit index moves.
    name: 'commitEarlierTermsOutcome',
    hook: 'commitEarlierTerms',
    what: 'skip the Figure 8 check, caught by its outcome (a committed entry lost)',
    options: (seed, steps) => ({
      ...optionsForSeed(seed, steps),
      nodes: 3,
      raft: { msgBytesMax: 1, inflightMsgsMax: 2 },
      isolateAfterCommitRate: 0.3,
      skipInvariants: ['leader-commits-own-term'],
    }),
  },
  {
    name: 'voteNotPersisted',
    hook: 'voteNotPersisted',
    what: 'send a vote before it is persisted',
    options: (seed, steps) => optionsForSeed(seed, steps),
  },
  {
    name: 'applyUncommitted',
    hook: 'applyUncommitted',
    what: 'apply an entry that is not committed',
    options: (seed, steps) => ({ ...optionsForSeed(seed, steps), nodes: 5, raft: { msgBytesMax: 1, inflightMsgsMax: 2 } }),
  },
];

/** The options of a planted-bug run: the bug switched on and named in the replay command. */
export function bugOptions(bug: PlantedBug, seed: number, steps: number): SimOptions {
  return { ...bug.options(seed, steps), hooks: { [bug.hook]: true }, bugName: bug.name };
}
