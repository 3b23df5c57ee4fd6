import { seededRng } from '@shoal/common';
import { describe, expect, it } from 'vitest';
import { raftConfig } from './config.js';
import { RaftLog } from './log.js';
import { applyConfChangeTo, confStateOf, membershipFromConfState } from './membership.js';
import type { ConfState, Entry, Snapshot } from './messages.js';
import { Inflights, Progress } from './progress.js';
import { jointIndex, jointVote, majorityIndex, majorityVote } from './quorum.js';
import { RaftNode } from './raft.js';
import { MemoryLogStorage } from './storage.js';
import { logIndex, peerId, term } from './types.js';

const p = peerId;
const ent = (index: number, t: number, data = ''): Entry => ({ kind: 'normal', index: logIndex(index), term: term(t), data: new TextEncoder().encode(data) });
const conf = (voters: number[], outgoing: number[] = [], learners: number[] = []): ConfState => ({
  voters: voters.map(p),
  votersOutgoing: outgoing.map(p),
  learners: learners.map(p),
  learnersNext: [],
  autoLeave: false,
});

function logWith(terms: number[]): RaftLog {
  const storage = MemoryLogStorage.fromSnapshot({ meta: { index: logIndex(0), term: term(0), confState: conf([1]) }, data: new Uint8Array() });
  storage.append(terms.map((t, k) => ent(k + 1, t)));
  return new RaftLog(storage, 1 << 20);
}

describe('RaftLog', () => {
  it('appends after a match, keeps matching entries and truncates only at the first conflict', () => {
    const log = logWith([1, 1, 2]);
    // A delayed, shorter append that matches must not truncate entry 3.
    expect(log.maybeAppend(logIndex(1), term(1), logIndex(0), [ent(2, 1)])).toBe(2);
    expect(log.lastIndex()).toBe(3);
    // A conflicting entry at 3 replaces the suffix from 3.
    expect(log.maybeAppend(logIndex(2), term(1), logIndex(0), [ent(3, 3), ent(4, 3)])).toBe(4);
    expect(log.term(logIndex(3))).toBe(3);
    // A mismatch at the previous entry is refused.
    expect(log.maybeAppend(logIndex(4), term(2), logIndex(0), [])).toBeUndefined();
  });

  it('bounds the follower commit by the last entry the message proved to match', () => {
    const log = logWith([1, 1, 1, 1]);
    log.maybeAppend(logIndex(1), term(1), logIndex(4), []);
    expect(log.committed).toBe(1);
  });

  it('refuses to truncate committed entries', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(logIndex(2));
    expect(() => log.maybeAppend(logIndex(1), term(1), logIndex(2), [ent(2, 2)])).toThrow(/conflicts with committed/);
  });

  it('commits by counting only entries of the current term (Figure 8)', () => {
    const log = logWith([1, 2, 2]);
    expect(log.maybeCommit(logIndex(3), term(3))).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(logIndex(3), term(2))).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('finds where a follower may match a leader entry of a given term, one term at a time', () => {
    const log = logWith([1, 1, 2, 2, 4, 4]);
    expect(log.findConflictByTerm(logIndex(6), term(3))).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(logIndex(6), term(1))).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(logIndex(6), term(0))).toEqual({ index: 0, term: 0 });
  });

  it('answers undefined for compacted entries so the leader sends a snapshot', () => {
    const storage = MemoryLogStorage.fromSnapshot({ meta: { index: logIndex(0), term: term(0), confState: conf([1]) }, data: new Uint8Array() });
    storage.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    storage.createSnapshot(logIndex(2), conf([1]), new Uint8Array());
    storage.compact(logIndex(2));
    const log = new RaftLog(storage, 1 << 20);
    expect(log.term(logIndex(1))).toBeUndefined();
    expect(log.term(logIndex(2))).toBe(1);
    expect(log.slice(logIndex(1), logIndex(4), 1 << 20)).toBeUndefined();
    expect(log.slice(logIndex(3), logIndex(4), 1 << 20)?.length).toBe(1);
  });

  it('cuts slices to the byte limit but always returns one entry', () => {
    const log = logWith([1, 1, 1]);
    expect(log.slice(logIndex(1), logIndex(4), 1)?.length).toBe(1);
  });
});

describe('Progress and Inflights', () => {
  it('pauses a follower whose inflight window is full and frees acknowledged messages', () => {
    const inf = new Inflights(2);
    inf.add(logIndex(3));
    inf.add(logIndex(5));
    expect(inf.full()).toBe(true);
    inf.freeLE(logIndex(4));
    expect(inf.count).toBe(1);
  });

  it('ignores stale rejections and backs off to the hint', () => {
    const pr = new Progress(logIndex(10), 4, false);
    pr.maybeUpdate(logIndex(5));
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(logIndex(4), logIndex(4))).toBe(false); // below match: stale
    expect(pr.maybeDecrTo(logIndex(8), logIndex(6))).toBe(true);
    expect(pr.next).toBe(6);
    pr.becomeProbe();
    expect(pr.maybeDecrTo(logIndex(9), logIndex(5))).toBe(false); // not the probe we sent
  });

  it('probes one message at a time', () => {
    const pr = new Progress(logIndex(3), 4, false);
    pr.sentEntries(logIndex(3));
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(logIndex(3));
    expect(pr.isPaused()).toBe(false);
  });
});

describe('quorum', () => {
  const set = (...ids: number[]) => new Set(ids.map(p));
  it('commits the index held by a majority', () => {
    const match = new Map([[p(1), 5], [p(2), 3], [p(3), 1]]);
    expect(majorityIndex(set(1, 2, 3), (id) => match.get(id))).toBe(3);
    expect(majorityIndex(set(1, 2, 3, 4), (id) => match.get(id))).toBe(1);
  });

  it('needs a majority of both halves of a joint config', () => {
    const match = new Map([[p(1), 9], [p(2), 9], [p(3), 2], [p(4), 2], [p(5), 2]]);
    expect(jointIndex({ incoming: set(1, 2, 3), outgoing: set(3, 4, 5) }, (id) => match.get(id))).toBe(2);
    expect(jointIndex({ incoming: set(1, 2, 3), outgoing: new Set() }, (id) => match.get(id))).toBe(9);
  });

  it('decides votes: won, lost, or pending while enough are missing', () => {
    expect(majorityVote(set(1, 2, 3), new Map([[p(1), true]]))).toBe('pending');
    expect(majorityVote(set(1, 2, 3), new Map([[p(1), true], [p(2), true]]))).toBe('won');
    expect(majorityVote(set(1, 2, 3), new Map([[p(1), false], [p(2), false]]))).toBe('lost');
    const joint = { incoming: set(1, 2, 3), outgoing: set(4, 5, 6) };
    expect(jointVote(joint, new Map([[p(1), true], [p(2), true]]))).toBe('pending');
    expect(jointVote(joint, new Map([[p(1), true], [p(2), true], [p(4), false], [p(5), false]]))).toBe('lost');
  });
});

describe('membership changes', () => {
  const m = membershipFromConfState(conf([1, 2, 3]));
  it('applies one voter change directly and refuses two without a joint config', () => {
    const one = applyConfChangeTo(m, { transition: 'auto', changes: [{ type: 'addVoter', peer: p(4) }] });
    expect(one.ok && confStateOf(one.membership).voters).toEqual([1, 2, 3, 4]);
    const two = applyConfChangeTo(m, { transition: 'auto', changes: [{ type: 'addVoter', peer: p(4) }, { type: 'removeNode', peer: p(1) }] });
    expect(two.ok && confStateOf(two.membership)).toMatchObject({ voters: [2, 3, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
  });

  it('demotes an outgoing voter to learner only when the joint config is left', () => {
    const joint = applyConfChangeTo(m, { transition: 'explicit', changes: [{ type: 'addLearner', peer: p(3) }] });
    expect(joint.ok).toBe(true);
    if (!joint.ok) return;
    expect(confStateOf(joint.membership)).toMatchObject({ voters: [1, 2], votersOutgoing: [1, 2, 3], learnersNext: [3] });
    const left = applyConfChangeTo(joint.membership, { transition: 'auto', changes: [] });
    expect(left.ok && confStateOf(left.membership)).toMatchObject({ voters: [1, 2], votersOutgoing: [], learners: [3] });
  });

  it('refuses removing every voter, and leaving a config that is not joint', () => {
    const single = membershipFromConfState(conf([1]));
    expect(applyConfChangeTo(single, { transition: 'auto', changes: [{ type: 'removeNode', peer: p(1) }] })).toEqual({ ok: false, reason: 'removed all voters' });
    expect(applyConfChangeTo(m, { transition: 'auto', changes: [] }).ok).toBe(false);
  });
});

describe('RaftNode', () => {
  const boot = (): MemoryLogStorage => {
    const snap: Snapshot = { meta: { index: logIndex(1), term: term(1), confState: conf([1, 2, 3]) }, data: new Uint8Array() };
    return MemoryLogStorage.fromSnapshot(snap);
  };

  it('refuses ready() twice without advance()', () => {
    const node = new RaftNode(raftConfig(p(1)), boot(), seededRng(1));
    node.campaign();
    node.ready();
    expect(() => node.ready()).toThrow(/before advance/);
  });

  it('times out within [electionTicks, 2*electionTicks) ticks', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const node = new RaftNode(raftConfig(p(1), { electionTicks: 10 }), boot(), seededRng(seed));
      let ticks = 0;
      while (node.status().role === 'follower' && ticks < 100) {
        node.tick();
        ticks += 1;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
    }
  });

  it('keeps its persisted vote across a restart and does not vote twice in a term', () => {
    const storage = boot();
    const node = new RaftNode(raftConfig(p(1)), storage, seededRng(1));
    node.step({ type: 'vote', from: p(2), to: p(1), term: term(2), index: logIndex(1), logTerm: term(1), transfer: false });
    const rd = node.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: 2 });
    expect(rd.mustSync).toBe(true);
    storage.setHardState(rd.hardState!);
    node.advance(rd);
    const again = new RaftNode(raftConfig(p(1)), storage, seededRng(2));
    again.step({ type: 'vote', from: p(3), to: p(1), term: term(2), index: logIndex(1), logTerm: term(1), transfer: false });
    const msgs = again.ready().messages;
    expect(msgs).toEqual([{ type: 'voteResp', from: p(1), to: p(3), term: term(2), reject: true }]);
  });
});
