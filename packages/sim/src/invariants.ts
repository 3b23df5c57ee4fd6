import type { Entry, HardState, Message, PeerId } from '@shoal/raft';
import { entryDigest } from './digest.js';
import type { NodeView, SimNode } from './node.js';

/** The name of a checked property; a violation names one. */
export type Invariant =
  | 'one-leader-per-term'
  | 'log-matching'
  | 'leader-completeness'
  | 'leader-commits-own-term'
  | 'committed-entries-never-change'
  | 'same-applied-sequence'
  | 'same-state-hash'
  | 'vote-persisted-before-sent'
  | 'liveness'
  | 'node-failure';

/** Thrown by a check; the world adds the seed, step, trace and replay command. */
export class InvariantBroken extends Error {
  constructor(
    readonly invariant: Invariant,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

interface Committed {
  readonly digest: string;
  /** The term of the node that first reported it committed: leaders of later terms must hold it. */
  readonly seenInTerm: number;
}

interface NodeWatermarks {
  /** Log entries up to here were checked for log matching, when the entry there had this term. */
  checkedTo: number;
  checkedTerm: number | undefined;
  /** Committed entries up to here were compared with the first-seen committed ones. */
  commitCheckedTo: number;
  /** Applied indexes up to here were compared with what other nodes applied there. */
  appliedCheckedTo: number;
}

const freshMarks = (): NodeWatermarks => ({ checkedTo: 0, checkedTerm: undefined, commitCheckedTo: 0, appliedCheckedTo: 0 });

/** How far below the commit index each step re-reads committed entries for changes. */
const COMMITTED_RECHECK_WINDOW = 8;

/**
 * Global knowledge across nodes and time, and the checks against it. Every check is incremental
 * (only what changed since the last step), so it can run after every step.
 */
export class Checker {
  constructor(private readonly skip: readonly Invariant[] = []) {}

  private readonly leaders = new Map<number, PeerId>();
  private readonly committed = new Map<number, Committed>();
  /** `${index}/${term}` -> digest of the entry and the term of the entry before it. */
  private readonly logEntries = new Map<string, { digest: string; prevTerm: number | undefined }>();
  private readonly applied = new Map<number, { digest: string | undefined; hash: string; node: PeerId }>();
  private readonly votesSent = new Map<PeerId, Map<number, PeerId>>();
  private readonly marks = new Map<PeerId, NodeWatermarks>();
  /** The last view of each node as a leader (term and commit), to see its commit index move. */
  private readonly leading = new Map<PeerId, { term: number; commit: number }>();
  commitsSeen = 0;

  leaderTerms(): number {
    return this.leaders.size;
  }

  /** A node (re)started: its checks start again from its log's first entry. */
  restarted(id: PeerId, recovered: HardState): void {
    this.marks.set(id, freshMarks());
    this.leading.delete(id);
    for (const [t, candidate] of this.votesSent.get(id) ?? []) {
      const kept = recovered.term > t || (recovered.term === t && recovered.vote === candidate);
      if (!kept) {
        throw new InvariantBroken(
          'vote-persisted-before-sent',
          `node ${id} voted for ${candidate} in term ${t}, but restarted with term ${recovered.term} vote ${recovered.vote ?? 'none'}`,
        );
      }
    }
  }

  /** A message leaves `from`: a vote (or a candidate's request, its vote for itself) must already be durable. */
  sent(m: Message, durable: HardState): void {
    const candidate = m.type === 'vote' ? m.from : m.type === 'voteResp' && !m.reject ? m.to : undefined;
    if (candidate === undefined) return;
    const ok = durable.term > m.term || (durable.term === m.term && durable.vote === candidate);
    if (!ok) {
      throw new InvariantBroken(
        'vote-persisted-before-sent',
        `node ${m.from} sent ${m.type} for ${candidate} in term ${m.term} while its durable hard state is term ${durable.term} vote ${durable.vote ?? 'none'}`,
      );
    }
    let votes = this.votesSent.get(m.from);
    if (votes === undefined) this.votesSent.set(m.from, (votes = new Map()));
    votes.set(m.term, candidate);
  }

  /** After a step, for every live node. */
  checkNode(n: SimNode): void {
    const v = n.view();
    if (v.isLeader) {
      this.checkLeader(n, v.term, v.firstIndex, v.lastIndex);
      this.checkLeaderCommit(n, v);
    } else this.leading.delete(n.id);
    let marks = this.marks.get(n.id);
    if (marks === undefined) this.marks.set(n.id, (marks = freshMarks()));
    this.checkLog(n, marks, v.firstIndex, v.lastIndex, v.commit);
    this.checkCommitted(n, marks, v);
    this.checkApplied(n, marks, v);
  }

  /** Every index a node applied: the same entry and the same state hash as on every other node. */
  private checkApplied(n: SimNode, marks: NodeWatermarks, v: NodeView): void {
    for (let i = marks.appliedCheckedTo + 1; i <= v.applied; i++) {
      const hash = n.stateHashAt(i);
      if (hash === undefined) continue; // jumped over by a snapshot, or before the node's snapshot
      const e = i >= v.firstIndex && i <= v.lastIndex ? n.entries(i, i + 1)[0] : undefined;
      const digest = e === undefined ? undefined : entryDigest(e);
      const seen = this.applied.get(i);
      if (seen === undefined) {
        this.applied.set(i, { digest, hash, node: n.id });
        continue;
      }
      if (digest !== undefined && seen.digest !== undefined && seen.digest !== digest) {
        throw new InvariantBroken('same-applied-sequence', `node ${n.id} applied ${digest} at ${i}, node ${seen.node} applied ${seen.digest}`);
      }
      if (seen.digest === undefined && digest !== undefined) seen.digest = digest;
      if (seen.hash !== hash) {
        throw new InvariantBroken('same-state-hash', `node ${n.id} has state ${hash.slice(0, 12)} at ${i}, node ${seen.node} had ${seen.hash.slice(0, 12)}`);
      }
    }
    marks.appliedCheckedTo = Math.max(marks.appliedCheckedTo, v.applied);
  }

  private checkLeader(n: SimNode, t: number, firstIndex: number, lastIndex: number): void {
    const other = this.leaders.get(t);
    if (other !== undefined) {
      if (other !== n.id) throw new InvariantBroken('one-leader-per-term', `nodes ${other} and ${n.id} both lead term ${t}`);
      return;
    }
    this.leaders.set(t, n.id);
    // First sight of this leader: it must hold every entry committed before its term.
    for (const [index, c] of this.committed) {
      if (c.seenInTerm >= t || index < firstIndex) continue;
      const e = index <= lastIndex ? n.entries(index, index + 1)[0] : undefined;
      const digest = e === undefined ? 'nothing' : entryDigest(e);
      if (digest !== c.digest) {
        throw new InvariantBroken('leader-completeness', `leader ${n.id} of term ${t} holds ${digest} at ${index}, committed there (seen in term ${c.seenInTerm}) was ${c.digest}`);
      }
    }
  }

  /**
   * The Figure 8 rule, seen from outside: a leader's commit index moves only onto an entry of its
   * own term (an entry of an earlier term is committed only by committing a later one of its own).
   * Counting replicas of an older entry commits what a later leader may still overwrite.
   */
  private checkLeaderCommit(n: SimNode, v: NodeView): void {
    const prev = this.leading.get(n.id);
    this.leading.set(n.id, { term: v.term, commit: v.commit });
    if (this.skip.includes('leader-commits-own-term')) return;
    if (prev === undefined || prev.term !== v.term || v.commit <= prev.commit) return;
    if (v.commit < v.firstIndex || v.commit > v.lastIndex) return; // compacted right away: not visible
    const e = n.entries(v.commit, v.commit + 1)[0];
    if (e !== undefined && e.term !== v.term) {
      throw new InvariantBroken('leader-commits-own-term', `leader ${n.id} of term ${v.term} moved its commit index to ${v.commit}, an entry of term ${e.term}`);
    }
  }

  /** Same (index, term) on two nodes: same entry, and the same term before it (so, by induction, the same prefix). */
  private checkLog(n: SimNode, marks: NodeWatermarks, firstIndex: number, lastIndex: number, commit: number): void {
    if (marks.checkedTo > lastIndex || (marks.checkedTo >= firstIndex && marks.checkedTo > 0 && n.entries(marks.checkedTo, marks.checkedTo + 1)[0]?.term !== marks.checkedTerm)) {
      marks.checkedTo = Math.min(commit, lastIndex); // the tail was rewritten (committed entries cannot be)
    }
    const lo = Math.max(firstIndex, marks.checkedTo + 1);
    if (lo > lastIndex) return;
    const from = lo - 1 >= firstIndex ? lo - 1 : lo;
    const ents = n.entries(from, lastIndex + 1);
    let prev: Entry | undefined;
    for (const e of ents) {
      if (e.index >= lo) {
        const key = `${e.index}/${e.term}`;
        const digest = entryDigest(e);
        const prevTerm = prev?.term;
        const seen = this.logEntries.get(key);
        if (seen === undefined) this.logEntries.set(key, { digest, prevTerm });
        else if (seen.digest !== digest || (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm)) {
          throw new InvariantBroken('log-matching', `node ${n.id} holds ${digest} after term ${prevTerm} at ${key}; another log holds ${seen.digest} after term ${seen.prevTerm}`);
        }
      }
      prev = e;
    }
    marks.checkedTo = lastIndex;
    marks.checkedTerm = prev?.term;
  }

  private checkCommitted(n: SimNode, marks: NodeWatermarks, v: NodeView): void {
    const { firstIndex, commit, term: t } = v;
    const lo = Math.max(firstIndex, Math.min(marks.commitCheckedTo + 1, commit - COMMITTED_RECHECK_WINDOW));
    if (lo > commit) return;
    for (const e of n.entries(lo, Math.min(commit, v.lastIndex) + 1)) {
      const digest = entryDigest(e);
      const seen = this.committed.get(e.index);
      if (seen === undefined) {
        this.committed.set(e.index, { digest, seenInTerm: t });
        this.commitsSeen += 1;
      } else if (seen.digest !== digest) {
        throw new InvariantBroken('committed-entries-never-change', `node ${n.id} holds ${digest} at committed index ${e.index}; it was committed as ${seen.digest}`);
      }
    }
    marks.commitCheckedTo = Math.max(marks.commitCheckedTo, commit);
  }
}
