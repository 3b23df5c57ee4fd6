import type { LogIndex, PeerId, Term } from './types.js';

/**
 * Everything the Raft core exchanges with its driver and its peers: plain data objects (no
 * classes, no functions) so the driver can encode them to protobuf unchanged.
 */

export interface NormalEntry {
  readonly kind: 'normal';
  readonly term: Term;
  readonly index: LogIndex;
  /** Opaque to Raft. Empty data is the no-op a new leader appends. */
  readonly data: Uint8Array;
}

export interface ConfChangeEntry {
  readonly kind: 'confChange';
  readonly term: Term;
  readonly index: LogIndex;
  readonly change: ConfChange;
}

export type Entry = NormalEntry | ConfChangeEntry;

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly peer: PeerId;
}

/**
 * 'auto': one voter change is applied directly, anything bigger goes through a joint config that
 * the leader leaves by itself. 'implicit': always joint, left automatically. 'explicit': always
 * joint, left only by proposing a change with no `changes`.
 */
export type ConfTransition = 'auto' | 'implicit' | 'explicit';

export interface ConfChange {
  readonly transition: ConfTransition;
  /** Empty: leave the joint configuration. */
  readonly changes: readonly ConfChangeSingle[];
}

/** The membership, as persisted in snapshots. Ids are sorted ascending. */
export interface ConfState {
  readonly voters: readonly PeerId[];
  /** Non-empty only while in a joint configuration (the old voters). */
  readonly votersOutgoing: readonly PeerId[];
  readonly learners: readonly PeerId[];
  /** Voters of the outgoing config that become learners once the joint config is left. */
  readonly learnersNext: readonly PeerId[];
  readonly autoLeave: boolean;
}

export interface HardState {
  readonly term: Term;
  readonly vote: PeerId | undefined;
  readonly commit: LogIndex;
}

export interface SnapshotMeta {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application state at meta.index; opaque to Raft. */
  readonly data: Uint8Array;
}

interface Envelope {
  readonly from: PeerId;
  readonly to: PeerId;
  readonly term: Term;
}

/** Append entries after (index, logTerm); also tells the follower the leader's commit. */
export interface AppMsg extends Envelope {
  readonly type: 'app';
  readonly index: LogIndex;
  readonly logTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
}

/**
 * Accept: `index` is the follower's last matching index. Reject: `index` is the rejected
 * prev index; (rejectHint, logTerm) is the follower's guess of where the logs may match.
 */
export interface AppRespMsg extends Envelope {
  readonly type: 'appResp';
  readonly index: LogIndex;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  readonly logTerm: Term;
}

/** (index, logTerm) is the candidate's last entry; `transfer` bypasses the leader lease. */
export interface VoteMsg extends Envelope {
  readonly type: 'vote' | 'preVote';
  readonly index: LogIndex;
  readonly logTerm: Term;
  readonly transfer: boolean;
}

export interface VoteRespMsg extends Envelope {
  readonly type: 'voteResp' | 'preVoteResp';
  readonly reject: boolean;
}

/** `context` is the newest pending ReadIndex request ('' for none). */
export interface HeartbeatMsg extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: LogIndex;
  readonly context: string;
}

export interface HeartbeatRespMsg extends Envelope {
  readonly type: 'heartbeatResp';
  readonly context: string;
}

export interface SnapMsg extends Envelope {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

/** Leader transfer: campaign now. `commit` is what the leader knows is committed on the target. */
export interface TimeoutNowMsg extends Envelope {
  readonly type: 'timeoutNow';
  readonly commit: LogIndex;
}

/** A follower forwards a ReadIndex request to its leader. */
export interface ReadIndexMsg extends Envelope {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexRespMsg extends Envelope {
  readonly type: 'readIndexResp';
  readonly index: LogIndex;
  readonly context: string;
}

export type Message =
  | AppMsg
  | AppRespMsg
  | VoteMsg
  | VoteRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | SnapMsg
  | TimeoutNowMsg
  | ReadIndexMsg
  | ReadIndexRespMsg;

export type MessageType = Message['type'];

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly lead: PeerId | undefined;
  readonly role: Role;
}

/** A linearizable read may be served once the state machine applied `index`. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: string;
}

/**
 * What the driver must do, in this order: persist `hardState`, `entries` and `snapshot`
 * (synced when `mustSync`), then send `messages`, then apply `committedEntries` (calling
 * `applyConfChange` for conf-change entries), then call `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}

export type ProposeResult =
  | { readonly outcome: 'ok'; readonly index: LogIndex; readonly term: Term }
  | { readonly outcome: 'dropped'; readonly reason: string }
  | { readonly outcome: 'not_leader'; readonly leader: PeerId | undefined };

export type RequestResult =
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'dropped'; readonly reason: string }
  | { readonly outcome: 'not_leader'; readonly leader: PeerId | undefined };
