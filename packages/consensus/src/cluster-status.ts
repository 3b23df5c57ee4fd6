import type { ConsensusStatus, ThreadStatus } from './driver.js';

/**
 * GET /cluster's body for a node with the cluster enabled, in the shape of Qdrant's
 * ClusterStatus (status "enabled"): peers and message_send_failures keyed as the spec says
 * (peer id, and peer URI), timestamps as RFC 3339 strings.
 */
export interface ClusterStatusBody {
  readonly status: 'enabled';
  readonly peer_id: number;
  readonly peers: Record<string, { readonly uri: string }>;
  readonly raft_info: {
    readonly term: number;
    readonly commit: number;
    readonly pending_operations: number;
    readonly leader: number | null;
    readonly role: string | null;
    readonly is_voter: boolean;
  };
  readonly consensus_thread_status:
    | { readonly consensus_thread_status: 'working'; readonly last_update: string }
    | { readonly consensus_thread_status: 'stopped' }
    | { readonly consensus_thread_status: 'stopped_with_err'; readonly err: string };
  readonly message_send_failures: Record<string, { readonly count: number; readonly latest_error: string | null; readonly latest_error_timestamp: string | null }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function threadBody(t: ThreadStatus): ClusterStatusBody['consensus_thread_status'] {
  switch (t.status) {
    case 'working':
      return { consensus_thread_status: 'working', last_update: iso(t.lastUpdateMs) };
    case 'stopped':
      return { consensus_thread_status: 'stopped' };
    case 'stopped_with_err':
      return { consensus_thread_status: 'stopped_with_err', err: t.err };
  }
}

export function clusterStatusBody(s: ConsensusStatus): ClusterStatusBody {
  const peers: Record<string, { uri: string }> = {};
  for (const [id, uri] of s.peers) peers[String(id)] = { uri };
  const failures: ClusterStatusBody['message_send_failures'] = {};
  for (const [id, f] of s.messageSendFailures) {
    failures[f.uri === '' ? String(id) : f.uri] = {
      count: f.count,
      latest_error: f.latestError ?? null,
      latest_error_timestamp: f.latestErrorMs === undefined ? null : iso(f.latestErrorMs),
    };
  }
  return {
    status: 'enabled',
    peer_id: s.peerId,
    peers,
    raft_info: {
      term: s.term,
      commit: s.commit,
      pending_operations: s.pendingOperations,
      leader: s.leader ?? null,
      role: s.role ?? null,
      is_voter: s.isVoter,
    },
    consensus_thread_status: threadBody(s.thread),
    message_send_failures: failures,
  };
}
