import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import { logIndex, peerId, term, type Message } from '@shoal/raft';
import { decodeMessage, encodeMessage } from './raft-codec.js';

const env = { from: peerId(2 ** 53 - 1), to: peerId(1), term: term(7) };
const messages: Message[] = [
  {
    ...env,
    type: 'app',
    index: logIndex(4),
    logTerm: term(6),
    commit: logIndex(3),
    entries: [
      { kind: 'normal', term: term(7), index: logIndex(5), data: Uint8Array.of(1, 2, 3) },
      { kind: 'confChange', term: term(7), index: logIndex(6), change: { transition: 'implicit', changes: [{ type: 'removeNode', peer: peerId(3) }] } },
    ],
  },
  { ...env, type: 'appResp', index: logIndex(9), reject: true, rejectHint: logIndex(4), logTerm: term(2) },
  { ...env, type: 'preVote', index: logIndex(9), logTerm: term(6), transfer: false },
  { ...env, type: 'vote', index: logIndex(9), logTerm: term(6), transfer: true },
  { ...env, type: 'voteResp', reject: false },
  { ...env, type: 'preVoteResp', reject: true },
  { ...env, type: 'heartbeat', commit: logIndex(8), context: 'ctx-é' },
  { ...env, type: 'heartbeatResp', context: '' },
  {
    ...env,
    type: 'snap',
    snapshot: {
      meta: { index: logIndex(12), term: term(5), confState: { voters: [peerId(1), peerId(2)], votersOutgoing: [peerId(3)], learners: [], learnersNext: [peerId(3)], autoLeave: true } },
      data: Uint8Array.of(9, 9),
    },
  },
  { ...env, type: 'timeoutNow', commit: logIndex(3) },
  { ...env, type: 'readIndex', context: '1:4' },
  { ...env, type: 'readIndexResp', index: logIndex(10), context: '1:4' },
];

describe('raft message codec', () => {
  it('round-trips every message type exactly, ids up to 2^53 - 1 included', () => {
    for (const m of messages) expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('refuses malformed bytes with a typed error instead of an assertion', () => {
    const bytes = encodeMessage(messages[0]!);
    for (const bad of [bytes.subarray(0, bytes.length - 1), Uint8Array.of(99), new Uint8Array(0), Uint8Array.of(...bytes, 0)]) {
      expect(() => decodeMessage(bad)).toThrow(ShoalError);
    }
    const zeroFrom = encodeMessage(messages[4]!);
    new DataView(zeroFrom.buffer).setFloat64(1, 0, true);
    expect(() => decodeMessage(zeroFrom)).toThrow(/bad peer id/);
  });
});
