// Shards, their replicas and the states a replica goes through, as the metadata holds them.
// Every node routes reads and writes by these records, so they change only through the log.

/** Qdrant's replica states (ReplicaState in the REST spec). */
export const REPLICA_STATES = [
  'Active',
  'Dead',
  'Partial',
  'Initializing',
  'Listener',
  'Recovery',
  'PartialSnapshot',
  'Resharding',
  'ReshardingScaleDown',
  'ActiveRead',
  'ManualRecovery',
] as const;

export type ReplicaState = (typeof REPLICA_STATES)[number];

export function isReplicaState(value: unknown): value is ReplicaState {
  return typeof value === 'string' && (REPLICA_STATES as readonly string[]).includes(value);
}

/**
 * States whose replica is sent every write. Dead and Recovery replicas missed writes (a transfer
 * brings them back); PartialSnapshot and ManualRecovery are being replaced wholesale, so a write
 * would be overwritten anyway.
 */
export function receivesWrites(state: ReplicaState): boolean {
  switch (state) {
    case 'Active':
    case 'Partial':
    case 'Initializing':
    case 'Listener':
    case 'Resharding':
    case 'ReshardingScaleDown':
    case 'ActiveRead':
      return true;
    case 'Dead':
    case 'Recovery':
    case 'PartialSnapshot':
    case 'ManualRecovery':
      return false;
  }
}

/**
 * States whose acknowledgement counts toward write_consistency_factor. Only an Active replica is
 * known to hold every acknowledged write, so only its acknowledgement makes a write safe: a Partial
 * replica that acknowledged may still be missing earlier points.
 */
export function countsForWrites(state: ReplicaState): boolean {
  return state === 'Active';
}

/**
 * States that serve reads. Active holds everything; ActiveRead and ReshardingScaleDown are Active
 * for readers during resharding. A Listener receives writes but is never searched (a backup).
 */
export function servesReads(state: ReplicaState): boolean {
  return state === 'Active' || state === 'ActiveRead' || state === 'ReshardingScaleDown';
}

/** A shard key of custom sharding: a keyword, or an integer below 2^53 (exact in JSON and in every client). */
export type ShardKey = string | number;

/** Equality of shard keys: 1 and "1" are different keys, as in Qdrant. */
export function sameShardKey(a: ShardKey | null, b: ShardKey | null): boolean {
  return a === b;
}

export function formatShardKey(key: ShardKey): string {
  return typeof key === 'string' ? `"${key}"` : String(key);
}

export interface ReplicaMeta {
  readonly peer: number;
  readonly state: ReplicaState;
  /**
   * Log index of the entry that last changed this replica's state. A state change names the
   * generation it expects, so a change decided on an old view (a Dead mark from a write that
   * failed before a transfer re-activated the replica) is refused instead of undoing a newer one.
   */
  readonly generation: number;
  /**
   * Which copy of the data this replica is: absent for the replica placed when its shard was
   * created, else the index of the transfer that filled it (a stream or snapshot transfer starts
   * its target on empty storage of its own). A node keeps the replica's files in a directory
   * named by it, so a transfer cut short by a crash never leaves half-copied data in the
   * directory of the next one.
   */
  readonly storage?: number;
  /**
   * The storage holds part of a transfer: set on the target of a stream or snapshot transfer,
   * cleared when it finishes, kept when it ends otherwise (the replica is Dead then); set too when
   * a `wal_delta` ends unfinished (part of the source's records redone, out of its order). Such a
   * replica is recovered only onto new storage, never by `wal_delta`, which sends only the writes
   * a replica missed and so needs one that held all the others in the source's order.
   */
  readonly unfilled?: true;
}

export interface ShardMeta {
  readonly id: number;
  /** The shard key that owns this shard (custom sharding), or null (auto sharding). */
  readonly key: ShardKey | null;
  /**
   * Replicas in placement order. The first one is the shard's permanent leader for
   * `ordering=strong` writes; `medium` uses the first one that is alive.
   */
  readonly replicas: readonly ReplicaMeta[];
  /**
   * Log index of the last entry that changed which replicas take this shard's writes directly
   * (a transfer started, finished or restarted, a replica removed); absent means 0. A replica
   * refuses a write decided on metadata older than this: the coordinator catches up and sends it
   * again to the replicas it then sees, so no write decided on an old view skips a new replica.
   */
  readonly fence?: number;
}

/**
 * How point ids map to shards. `modulo` is murmur3(id) % shard count, what collections created
 * before the ring existed use (a stored collection without a scheme decodes as modulo); `ring` is
 * a consistent-hash ring with `vnodes` virtual nodes per shard placed by murmur3 with `seed`.
 */
export type RoutingScheme = { readonly kind: 'modulo' } | { readonly kind: 'ring'; readonly vnodes: number; readonly seed: number };

export type TransferMethod = 'stream_records' | 'snapshot' | 'wal_delta' | 'resharding_stream_records';

/** A shard transfer in progress (the transfer itself runs between the two peers). */
export interface ShardTransfer {
  readonly shard: number;
  readonly from: number;
  readonly to: number;
  /** true: the source keeps its replica (replication); false: a move. */
  readonly sync: boolean;
  readonly method: TransferMethod;
  /**
   * Log index of the entry that started it (or last restarted it): the transfer's id. Finish and
   * abort name it, so an entry decided about an earlier transfer of the same shard does nothing.
   */
  readonly startedIndex: number;
  /** The source replica's generation at the start: a finish requires it unchanged (still Active, never Dead meanwhile). */
  readonly sourceGeneration: number;
  /** true: the start created the target replica, and an abort removes it; false: the target was Dead and goes back to Dead. */
  readonly createdTarget: boolean;
}

/** The transfer of `shard` in `transfers`, if one runs (at most one per shard). */
export function transferOfShard(transfers: readonly ShardTransfer[], shard: number): ShardTransfer | undefined {
  return transfers.find((t) => t.shard === shard);
}

/**
 * Whether the replica on `peer` is the target of a transfer that fills it from the source alone
 * (stream_records, snapshot): such a replica takes no direct writes, its source forwards them.
 */
export function isTransferTarget(transfers: readonly ShardTransfer[], shard: number, peer: number): boolean {
  return transfers.some((t) => t.shard === shard && t.to === peer);
}

/** A replica state change, applied only if the replica is still at `expect`. */
export interface ReplicaChange {
  readonly shard: number;
  readonly peer: number;
  readonly expect: { readonly state: ReplicaState; readonly generation: number };
  readonly state: ReplicaState;
}
