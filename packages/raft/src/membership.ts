import type { ConfChange, ConfChangeSingle, ConfState } from './messages.js';
import type { Voters } from './quorum.js';
import { byId, type PeerId } from './types.js';

/** A membership configuration (the mutable-free form of ConfState used by the tracker). */
export interface Membership extends Voters {
  readonly learners: ReadonlySet<PeerId>;
  readonly learnersNext: ReadonlySet<PeerId>;
  readonly autoLeave: boolean;
}

export type ChangeOutcome = { readonly ok: true; readonly membership: Membership } | { readonly ok: false; readonly reason: string };

export function isJoint(m: Membership): boolean {
  return m.outgoing.size > 0;
}

export function isVoter(m: Membership, id: PeerId): boolean {
  return m.incoming.has(id) || m.outgoing.has(id);
}

/** Every peer the leader replicates to. */
export function allPeers(m: Membership): PeerId[] {
  const ids = new Set<PeerId>([...m.incoming, ...m.outgoing, ...m.learners, ...m.learnersNext]);
  return [...ids].sort(byId);
}

export function membershipFromConfState(cs: ConfState): Membership {
  return {
    incoming: new Set(cs.voters),
    outgoing: new Set(cs.votersOutgoing),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

export function confStateOf(m: Membership): ConfState {
  const sorted = (s: ReadonlySet<PeerId>): PeerId[] => [...s].sort(byId);
  return {
    voters: sorted(m.incoming),
    votersOutgoing: sorted(m.outgoing),
    learners: sorted(m.learners),
    learnersNext: sorted(m.learnersNext),
    autoLeave: m.autoLeave,
  };
}

interface Draft {
  incoming: Set<PeerId>;
  outgoing: Set<PeerId>;
  learners: Set<PeerId>;
  learnersNext: Set<PeerId>;
  autoLeave: boolean;
}

function draftOf(m: Membership): Draft {
  return {
    incoming: new Set(m.incoming),
    outgoing: new Set(m.outgoing),
    learners: new Set(m.learners),
    learnersNext: new Set(m.learnersNext),
    autoLeave: m.autoLeave,
  };
}

function applySingle(d: Draft, c: ConfChangeSingle): void {
  const id = c.peer;
  d.incoming.delete(id);
  d.learners.delete(id);
  d.learnersNext.delete(id);
  if (c.type === 'addVoter') d.incoming.add(id);
  // A voter of the outgoing config cannot become a learner before the joint config is left.
  else if (c.type === 'addLearner') (d.outgoing.has(id) ? d.learnersNext : d.learners).add(id);
}

function check(d: Draft): string | undefined {
  if (d.incoming.size === 0) return 'removed all voters';
  for (const id of d.learners) if (d.incoming.has(id) || d.outgoing.has(id)) return `peer ${id} is both voter and learner`;
  for (const id of d.learnersNext) if (!d.outgoing.has(id)) return `peer ${id} in learnersNext is not an outgoing voter`;
  if (d.autoLeave && d.outgoing.size === 0) return 'autoLeave outside a joint config';
  return undefined;
}

function done(d: Draft): ChangeOutcome {
  const reason = check(d);
  return reason === undefined ? { ok: true, membership: d } : { ok: false, reason };
}

function symmetricDifference(a: ReadonlySet<PeerId>, b: ReadonlySet<PeerId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n += 1;
  for (const id of b) if (!a.has(id)) n += 1;
  return n;
}

/** One voter change at most, applied directly (a majority of the old and new configs overlap). */
function simple(m: Membership, changes: readonly ConfChangeSingle[]): ChangeOutcome {
  if (isJoint(m)) return { ok: false, reason: 'cannot apply a simple change in a joint config' };
  const d = draftOf(m);
  for (const c of changes) applySingle(d, c);
  if (symmetricDifference(m.incoming, d.incoming) > 1) return { ok: false, reason: 'more than one voter changed without a joint config' };
  return done(d);
}

function enterJoint(m: Membership, autoLeave: boolean, changes: readonly ConfChangeSingle[]): ChangeOutcome {
  if (isJoint(m)) return { ok: false, reason: 'already in a joint config' };
  if (m.incoming.size === 0) return { ok: false, reason: 'cannot enter a joint config from no voters' };
  const d = draftOf(m);
  d.outgoing = new Set(m.incoming);
  for (const c of changes) applySingle(d, c);
  d.autoLeave = autoLeave;
  return done(d);
}

function leaveJoint(m: Membership): ChangeOutcome {
  if (!isJoint(m)) return { ok: false, reason: 'not in a joint config' };
  const d = draftOf(m);
  for (const id of d.learnersNext) d.learners.add(id);
  d.learnersNext.clear();
  d.outgoing.clear();
  d.autoLeave = false;
  return done(d);
}

/** The membership after `cc`, or why `cc` is not allowed from `m`. Pure. */
export function applyConfChangeTo(m: Membership, cc: ConfChange): ChangeOutcome {
  if (cc.changes.length === 0) return leaveJoint(m);
  if (cc.transition === 'auto' && cc.changes.length === 1) return simple(m, cc.changes);
  if (cc.transition === 'auto') {
    // Several changes touching at most one voter are still safe as a simple change.
    const attempt = simple(m, cc.changes);
    if (attempt.ok) return attempt;
  }
  return enterJoint(m, cc.transition !== 'explicit', cc.changes);
}
