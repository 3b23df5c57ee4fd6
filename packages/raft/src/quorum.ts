import type { PeerId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The voters of a configuration: `incoming` always, `outgoing` only while joint. A decision in
 * a joint configuration needs a majority of each (Raft thesis §4.3).
 */
export interface Voters {
  readonly incoming: ReadonlySet<PeerId>;
  readonly outgoing: ReadonlySet<PeerId>;
}

/**
 * The largest index acknowledged by a majority of `voters`. An empty set returns +Infinity so
 * that it never limits a joint result (the outgoing half of a non-joint config is empty).
 */
export function majorityIndex(voters: ReadonlySet<PeerId>, acked: (id: PeerId) => number | undefined): number {
  if (voters.size === 0) return Number.POSITIVE_INFINITY;
  const values: number[] = [];
  for (const id of voters) values.push(acked(id) ?? 0);
  values.sort((a, b) => b - a);
  // With n voters, floor(n/2)+1 of them must hold the index: the (floor(n/2)+1)-th largest.
  return values[Math.floor(voters.size / 2)] ?? 0;
}

export function jointIndex(voters: Voters, acked: (id: PeerId) => number | undefined): number {
  return Math.min(majorityIndex(voters.incoming, acked), majorityIndex(voters.outgoing, acked));
}

export function majorityVote(voters: ReadonlySet<PeerId>, votes: ReadonlyMap<PeerId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing += 1;
    else if (v) granted += 1;
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

export function jointVote(voters: Voters, votes: ReadonlyMap<PeerId, boolean>): VoteResult {
  const a = majorityVote(voters.incoming, votes);
  const b = majorityVote(voters.outgoing, votes);
  if (a === 'won' && b === 'won') return 'won';
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}
