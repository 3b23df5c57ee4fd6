import { createHash } from 'node:crypto';
import { ShoalError } from '@shoal/common';
import {
  EMPTY_META_STATE,
  apply as applyMeta,
  decodeOperation,
  decodeState,
  encodeOperation,
  encodeState,
  type ApplyOutcome,
  type MetaOperation,
  type MetaState,
} from '@shoal/meta';
import { isPeerId, type LogIndex, type PeerId } from '@shoal/raft';
import { Reader, Writer } from './raft-codec.js';

/**
 * What the consensus log drives: the metadata state machine plus the peer address book (id ->
 * p2p URI). Both change only by applying log entries, so every node that applied the same index
 * holds the same value, and its hash.
 *
 * A normal entry's data is one tag byte then the body:
 *   (empty)  the no-op a new leader appends
 *   1        a MetaOperation (meta's canonical encoding)
 *   2        a peer address {id, uri}, proposed before the conf change that adds the peer
 */
export interface AppliedState {
  readonly meta: MetaState;
  /** Every peer with a known address, this node included. */
  readonly peers: ReadonlyMap<PeerId, string>;
}

export type EntryCommand =
  | { readonly kind: 'noop' }
  | { readonly kind: 'meta'; readonly op: MetaOperation }
  | { readonly kind: 'peer_address'; readonly peer: PeerId; readonly uri: string };

/** The result of applying one entry: meta's outcome, or why the entry was not understood. */
export type EntryOutcome = ApplyOutcome | { readonly ok: false; readonly refusal: { readonly code: 'undecodable'; readonly reason: string } };

const TAG_META = 1;
const TAG_PEER = 2;
const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(cmd: EntryCommand): Uint8Array {
  if (cmd.kind === 'noop') return new Uint8Array(0);
  const body = cmd.kind === 'meta' ? encodeOperation(cmd.op) : utf8.encode(JSON.stringify({ id: cmd.peer, uri: cmd.uri }));
  const out = new Uint8Array(body.length + 1);
  out[0] = cmd.kind === 'meta' ? TAG_META : TAG_PEER;
  out.set(body, 1);
  return out;
}

/** ShoalError when the bytes are not a command (every node fails the same way on the same bytes). */
export function decodeCommand(data: Uint8Array): EntryCommand {
  if (data.byteLength === 0) return { kind: 'noop' };
  const body = data.subarray(1);
  if (data[0] === TAG_META) return { kind: 'meta', op: decodeOperation(body) };
  if (data[0] === TAG_PEER) {
    const parsed: unknown = JSON.parse(utf8Decode.decode(body));
    const p = parsed as { id?: unknown; uri?: unknown };
    if (typeof p.id === 'number' && isPeerId(p.id) && typeof p.uri === 'string') return { kind: 'peer_address', peer: p.id, uri: p.uri };
  }
  throw new ShoalError('bad_request', `unknown log command tag ${data[0]}`);
}

/** The state after applying entry `index`; `data` undefined for a conf-change entry. */
export function applyEntry(state: AppliedState, index: LogIndex, data: Uint8Array | undefined): { state: AppliedState; outcome: EntryOutcome } {
  let cmd: EntryCommand;
  try {
    cmd = data === undefined ? { kind: 'noop' } : decodeCommand(data);
  } catch (error) {
    // Deterministic: every node refuses the same bytes the same way, so states do not diverge.
    const reason = error instanceof Error ? error.message : String(error);
    return { state: advanceTo(state, index), outcome: { ok: false, refusal: { code: 'undecodable', reason } } };
  }
  switch (cmd.kind) {
    case 'noop':
      return { state: advanceTo(state, index), outcome: { ok: true } };
    case 'meta': {
      const applied = applyMeta(state.meta, index, cmd.op);
      return { state: { meta: applied.state, peers: state.peers }, outcome: applied.outcome };
    }
    case 'peer_address': {
      const peers = new Map(state.peers);
      peers.set(cmd.peer, cmd.uri);
      return { state: { meta: advanceTo(state, index).meta, peers }, outcome: { ok: true } };
    }
  }
}

/** Every entry (no-ops and conf changes too) moves meta's applied index, so hashes compare per index. */
export function advanceTo(state: AppliedState, index: LogIndex): AppliedState {
  return { meta: { ...state.meta, appliedIndex: index }, peers: state.peers };
}

export function withoutPeer(state: AppliedState, peer: PeerId): AppliedState {
  const peers = new Map(state.peers);
  peers.delete(peer);
  return { meta: state.meta, peers };
}

/** Deterministic bytes: meta's canonical encoding, then peers sorted by id. Snapshot data. */
export function encodeAppliedState(state: AppliedState): Uint8Array {
  const w = new Writer();
  w.bytes(encodeState(state.meta));
  const peers = [...state.peers].sort(([a], [b]) => a - b);
  w.u32(peers.length);
  for (const [id, uri] of peers) {
    w.int(id);
    w.string(uri);
  }
  return w.finish();
}

export function decodeAppliedState(data: Uint8Array): AppliedState {
  if (data.byteLength === 0) return { meta: EMPTY_META_STATE, peers: new Map() };
  const r = new Reader(data, 'snapshot data');
  const meta = decodeState(r.bytes());
  const n = r.u32();
  const peers = new Map<PeerId, string>();
  for (let i = 0; i < n; i++) peers.set(r.peer(), r.string());
  r.done();
  return { meta, peers };
}

/** sha-256 of the snapshot encoding: the value nodes compare at the same applied index. */
export function hashAppliedState(state: AppliedState): string {
  return hashBytes(encodeAppliedState(state));
}

export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
