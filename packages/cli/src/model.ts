// The parts of Qdrant's responses the CLI reasons about (GET /cluster, GET
// /collections/{name}/cluster), read into typed values.
import type { PeerId } from './ids.js';
import {
  arrayAt,
  booleanAt,
  countAt,
  objectAt,
  optionalCountAt,
  optionalPeerIdAt,
  optionalShardKeyAt,
  optionalStringAt,
  peerIdAt,
  peerIdKeyAt,
  stringAt,
  type ShardKey,
} from './shape.js';

export interface PeerInfo {
  readonly id: PeerId;
  /** The peer's p2p URI, as it announced it. */
  readonly uri: string;
}

export interface EnabledCluster {
  readonly enabled: true;
  readonly peerId: PeerId;
  readonly peers: readonly PeerInfo[];
  readonly term: number;
  readonly commit: number;
  readonly pendingOperations: number;
  readonly leader: PeerId | null;
  readonly role: string | null;
  readonly isVoter: boolean;
  /** working / stopped / stopped_with_err, with the error when there is one. */
  readonly consensus: string;
  readonly sendFailures: readonly { readonly uri: string; readonly count: number; readonly latestError: string | null }[];
}

export type ClusterStatus = { readonly enabled: false } | EnabledCluster;

/** GET /cluster's result. */
export function parseClusterStatus(result: unknown): ClusterStatus {
  const r = objectAt(result, 'result');
  const status = stringAt(r['status'], 'result.status');
  if (status === 'disabled') return { enabled: false };
  const raft = objectAt(r['raft_info'], 'result.raft_info');
  const thread = objectAt(r['consensus_thread_status'], 'result.consensus_thread_status');
  const threadStatus = stringAt(thread['consensus_thread_status'], 'result.consensus_thread_status.consensus_thread_status');
  const threadError = optionalStringAt(thread['err'], 'result.consensus_thread_status.err');
  const peers = Object.entries(objectAt(r['peers'], 'result.peers')).map(([key, info]) => ({
    id: peerIdKeyAt(key, 'result.peers'),
    uri: stringAt(objectAt(info, `result.peers.${key}`)['uri'], `result.peers.${key}.uri`),
  }));
  const failures = Object.entries(objectAt(r['message_send_failures'] ?? {}, 'result.message_send_failures')).map(([uri, value]) => {
    const f = objectAt(value, `result.message_send_failures.${uri}`);
    return { uri, count: countAt(f['count'], `result.message_send_failures.${uri}.count`), latestError: optionalStringAt(f['latest_error'], 'latest_error') };
  });
  return {
    enabled: true,
    peerId: peerIdAt(r['peer_id'], 'result.peer_id'),
    peers,
    term: countAt(raft['term'], 'result.raft_info.term'),
    commit: countAt(raft['commit'], 'result.raft_info.commit'),
    pendingOperations: countAt(raft['pending_operations'], 'result.raft_info.pending_operations'),
    leader: optionalPeerIdAt(raft['leader'], 'result.raft_info.leader'),
    role: optionalStringAt(raft['role'], 'result.raft_info.role'),
    isVoter: booleanAt(raft['is_voter'], 'result.raft_info.is_voter'),
    consensus: threadError === null ? threadStatus : `${threadStatus}: ${threadError}`,
    sendFailures: failures,
  };
}

export interface Replica {
  readonly peer: PeerId;
  /** Qdrant's ReplicaState: Active, Dead, Partial, ... */
  readonly state: string;
  /** Points in the replica; only known for the answering node's own replicas. */
  readonly points: number | null;
}

export interface ShardPlacement {
  readonly collection: string;
  readonly shardId: number;
  readonly shardKey: ShardKey | null;
  readonly replicas: readonly Replica[];
}

export interface TransferInfo {
  readonly collection: string;
  readonly shardId: number;
  /** Target shard when it differs (resharding transfers only). */
  readonly toShardId: number | null;
  readonly from: PeerId;
  readonly to: PeerId;
  /** true: the target keeps syncing as a replica (replicate); false: a move. */
  readonly sync: boolean;
  readonly method: string | null;
  /** Human-readable progress; Qdrant reports it on the source peer only. */
  readonly comment: string | null;
}

export interface CollectionCluster {
  /** The peer that answered. */
  readonly peerId: PeerId;
  readonly shardCount: number;
  readonly shards: readonly ShardPlacement[];
  readonly transfers: readonly TransferInfo[];
}

interface RawReplica {
  readonly shardId: number;
  readonly shardKey: ShardKey | null;
  readonly replica: Replica;
}

function readReplica(value: unknown, where: string, localPeer: PeerId | null): RawReplica {
  const s = objectAt(value, where);
  return {
    shardId: countAt(s['shard_id'], `${where}.shard_id`),
    shardKey: optionalShardKeyAt(s['shard_key'], `${where}.shard_key`),
    replica: {
      peer: localPeer ?? peerIdAt(s['peer_id'], `${where}.peer_id`),
      state: stringAt(s['state'], `${where}.state`),
      points: localPeer === null ? null : countAt(s['points_count'], `${where}.points_count`),
    },
  };
}

function readTransfer(collection: string, value: unknown, where: string): TransferInfo {
  const t = objectAt(value, where);
  return {
    collection,
    shardId: countAt(t['shard_id'], `${where}.shard_id`),
    toShardId: optionalCountAt(t['to_shard_id'], `${where}.to_shard_id`),
    from: peerIdAt(t['from'], `${where}.from`),
    to: peerIdAt(t['to'], `${where}.to`),
    sync: booleanAt(t['sync'], `${where}.sync`),
    method: optionalStringAt(t['method'], `${where}.method`),
    comment: optionalStringAt(t['comment'], `${where}.comment`),
  };
}

/** GET /collections/{collection}/cluster's result: local and remote replicas grouped by shard. */
export function parseCollectionCluster(collection: string, result: unknown): CollectionCluster {
  const r = objectAt(result, 'result');
  const peerId = peerIdAt(r['peer_id'], 'result.peer_id');
  const raw = [
    ...arrayAt(r['local_shards'], 'result.local_shards').map((s, i) => readReplica(s, `result.local_shards[${i}]`, peerId)),
    ...arrayAt(r['remote_shards'], 'result.remote_shards').map((s, i) => readReplica(s, `result.remote_shards[${i}]`, null)),
  ];
  const byShard = new Map<number, { shardKey: ShardKey | null; replicas: Replica[] }>();
  for (const { shardId, shardKey, replica } of raw) {
    const entry = byShard.get(shardId) ?? { shardKey, replicas: [] };
    entry.replicas.push(replica);
    byShard.set(shardId, entry);
  }
  const shards = [...byShard.entries()]
    .sort(([a], [b]) => a - b)
    .map(([shardId, { shardKey, replicas }]) => ({ collection, shardId, shardKey, replicas }));
  const transfers = arrayAt(r['shard_transfers'], 'result.shard_transfers').map((t, i) => readTransfer(collection, t, `result.shard_transfers[${i}]`));
  return { peerId, shardCount: countAt(r['shard_count'], 'result.shard_count'), shards, transfers };
}

/** Everything drain and rebalance plan from: the members and where every replica lives. */
export interface Layout {
  readonly peers: readonly PeerId[];
  readonly shards: readonly ShardPlacement[];
  readonly transfers: readonly TransferInfo[];
}
