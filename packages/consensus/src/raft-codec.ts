import { ShoalError, assert } from '@shoal/common';
import {
  isPeerId,
  type ConfChange,
  type ConfChangeSingle,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type Message,
  type PeerId,
  type Snapshot,
  type SnapshotMeta,
  type Term,
} from '@shoal/raft';

/**
 * Binary encoding of Raft messages, entries, hard states and snapshots, shared by the wire (the
 * transport carries these bytes) and the durable log. Numbers that may reach 2^53 (ids, terms,
 * indexes) are float64, which holds every safe integer exactly. Decoding checks every field and
 * throws ShoalError('bad_request') on anything malformed: bytes from the network are untrusted,
 * and a corrupt log record must surface as an error, never as an assertion.
 */

const MSG_TYPES = [
  'app',
  'appResp',
  'vote',
  'preVote',
  'voteResp',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
] as const;
const TRANSITIONS = ['auto', 'implicit', 'explicit'] as const;
const CHANGE_TYPES = ['addVoter', 'addLearner', 'removeNode'] as const;

const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder('utf-8', { fatal: true });

export class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }

  u32(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, `u32 out of range: ${v}`);
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }

  /** A safe integer (ids, terms, indexes) as float64: exact below 2^53. */
  int(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, `not a non-negative safe integer: ${v}`);
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }

  bytes(v: Uint8Array): void {
    this.u32(v.byteLength);
    this.reserve(v.byteLength);
    this.buf.set(v, this.len);
    this.len += v.byteLength;
  }

  string(v: string): void {
    this.bytes(utf8.encode(v));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(why: string): never {
    throw new ShoalError('bad_request', `malformed ${this.what}: ${why}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.byteLength) this.fail(`truncated at byte ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    const v = this.view.getUint8(this.pos);
    this.pos += 1;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  int(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    if (!Number.isSafeInteger(v) || v < 0) this.fail(`bad integer ${v}`);
    return v;
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) this.fail(`bad boolean ${v}`);
    return v === 1;
  }

  /** A copy: callers may keep it after the input buffer is reused. */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const v = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  string(): string {
    try {
      return utf8Decode.decode(this.bytes());
    } catch (cause) {
      if (cause instanceof ShoalError) throw cause;
      return this.fail('invalid utf-8');
    }
  }

  peer(): PeerId {
    const v = this.int();
    if (!isPeerId(v)) this.fail(`bad peer id ${v}`);
    return v;
  }

  optionalPeer(): PeerId | undefined {
    const v = this.int();
    if (v === 0) return undefined;
    if (!isPeerId(v)) this.fail(`bad peer id ${v}`);
    return v;
  }

  term(): Term {
    return this.int() as Term;
  }

  index(): LogIndex {
    return this.int() as LogIndex;
  }

  pick<T>(options: readonly T[], name: string): T {
    const k = this.u8();
    const v = options[k];
    if (v === undefined) this.fail(`bad ${name} ${k}`);
    return v;
  }

  done(): void {
    if (this.pos !== this.buf.byteLength) this.fail(`${this.buf.byteLength - this.pos} trailing bytes`);
  }
}

function indexOf<T>(options: readonly T[], v: T): number {
  const k = options.indexOf(v);
  assert(k >= 0, `unknown enum value ${String(v)}`);
  return k;
}

function writeIds(w: Writer, ids: readonly PeerId[]): void {
  w.u32(ids.length);
  for (const id of ids) w.int(id);
}

function readIds(r: Reader): PeerId[] {
  const n = r.u32();
  const out: PeerId[] = [];
  for (let i = 0; i < n; i++) out.push(r.peer());
  return out;
}

export function writeConfState(w: Writer, cs: ConfState): void {
  writeIds(w, cs.voters);
  writeIds(w, cs.votersOutgoing);
  writeIds(w, cs.learners);
  writeIds(w, cs.learnersNext);
  w.u8(cs.autoLeave ? 1 : 0);
}

export function readConfState(r: Reader): ConfState {
  return { voters: readIds(r), votersOutgoing: readIds(r), learners: readIds(r), learnersNext: readIds(r), autoLeave: r.bool() };
}

function writeConfChange(w: Writer, cc: ConfChange): void {
  w.u8(indexOf(TRANSITIONS, cc.transition));
  w.u32(cc.changes.length);
  for (const c of cc.changes) {
    w.u8(indexOf(CHANGE_TYPES, c.type));
    w.int(c.peer);
  }
}

function readConfChange(r: Reader): ConfChange {
  const transition = r.pick(TRANSITIONS, 'transition');
  const n = r.u32();
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < n; i++) changes.push({ type: r.pick(CHANGE_TYPES, 'change type'), peer: r.peer() });
  return { transition, changes };
}

export function writeEntries(w: Writer, entries: readonly Entry[]): void {
  w.u32(entries.length);
  for (const e of entries) {
    w.int(e.term);
    w.int(e.index);
    if (e.kind === 'normal') {
      w.u8(0);
      w.bytes(e.data);
    } else {
      w.u8(1);
      writeConfChange(w, e.change);
    }
  }
}

export function readEntries(r: Reader): Entry[] {
  const n = r.u32();
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const term = r.term();
    const index = r.index();
    const kind = r.u8();
    if (kind === 0) out.push({ kind: 'normal', term, index, data: r.bytes() });
    else if (kind === 1) out.push({ kind: 'confChange', term, index, change: readConfChange(r) });
    else r.fail(`bad entry kind ${kind}`);
    const prev = out[out.length - 2];
    if (prev !== undefined && index !== prev.index + 1) r.fail('entries not contiguous');
  }
  return out;
}

export function writeHardState(w: Writer, hs: HardState): void {
  w.int(hs.term);
  w.int(hs.vote ?? 0);
  w.int(hs.commit);
}

export function readHardState(r: Reader): HardState {
  return { term: r.term(), vote: r.optionalPeer(), commit: r.index() };
}

export function writeSnapshotMeta(w: Writer, m: SnapshotMeta): void {
  w.int(m.index);
  w.int(m.term);
  writeConfState(w, m.confState);
}

export function readSnapshotMeta(r: Reader): SnapshotMeta {
  return { index: r.index(), term: r.term(), confState: readConfState(r) };
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  writeSnapshotMeta(w, s.meta);
  w.bytes(s.data);
}

function readSnapshot(r: Reader): Snapshot {
  return { meta: readSnapshotMeta(r), data: r.bytes() };
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(indexOf(MSG_TYPES, m.type));
  w.int(m.from);
  w.int(m.to);
  w.int(m.term);
  writeBody(w, m);
  return w.finish();
}

function writeBody(w: Writer, m: Message): void {
  switch (m.type) {
    case 'app':
      w.int(m.index); w.int(m.logTerm); w.int(m.commit); writeEntries(w, m.entries);
      return;
    case 'appResp':
      w.int(m.index); w.u8(m.reject ? 1 : 0); w.int(m.rejectHint); w.int(m.logTerm);
      return;
    case 'vote':
    case 'preVote':
      w.int(m.index); w.int(m.logTerm); w.u8(m.transfer ? 1 : 0);
      return;
    case 'voteResp':
    case 'preVoteResp':
      w.u8(m.reject ? 1 : 0);
      return;
    case 'heartbeat':
      w.int(m.commit); w.string(m.context);
      return;
    case 'heartbeatResp':
    case 'readIndex':
      w.string(m.context);
      return;
    case 'snap':
      writeSnapshot(w, m.snapshot);
      return;
    case 'timeoutNow':
      w.int(m.commit);
      return;
    case 'readIndexResp':
      w.int(m.index); w.string(m.context);
      return;
  }
}

/** Decodes one message; ShoalError('bad_request') when it is malformed. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes, 'raft message');
  const type = r.pick(MSG_TYPES, 'message type');
  const env = { from: r.peer(), to: r.peer(), term: r.term() };
  const m = readBody(r, type, env);
  r.done();
  return m;
}

type Env = { from: PeerId; to: PeerId; term: Term };

function readBody(r: Reader, type: Message['type'], env: Env): Message {
  switch (type) {
    case 'app':
      return { ...env, type, index: r.index(), logTerm: r.term(), commit: r.index(), entries: readEntries(r) };
    case 'appResp':
      return { ...env, type, index: r.index(), reject: r.bool(), rejectHint: r.index(), logTerm: r.term() };
    case 'vote':
    case 'preVote':
      return { ...env, type, index: r.index(), logTerm: r.term(), transfer: r.bool() };
    case 'voteResp':
    case 'preVoteResp':
      return { ...env, type, reject: r.bool() };
    case 'heartbeat':
      return { ...env, type, commit: r.index(), context: r.string() };
    case 'heartbeatResp':
    case 'readIndex':
      return { ...env, type, context: r.string() };
    case 'snap':
      return { ...env, type, snapshot: readSnapshot(r) };
    case 'timeoutNow':
      return { ...env, type, commit: r.index() };
    case 'readIndexResp':
      return { ...env, type, index: r.index(), context: r.string() };
  }
}
