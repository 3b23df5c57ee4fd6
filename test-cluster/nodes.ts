// Three real node processes on 127.0.0.1/2/3: the first founds the cluster (--uri), the others
// join it (--bootstrap). Each keeps its storage and command line, so a killed node restarts
// exactly as an operator would restart it.
import type { ClusterStatusBody } from '@shoal/consensus';
import { startServer, tempStorage, removeStorage, type ServerProcess } from '../test/harness.js';

/** GET /cluster's body, as the node builds it. */
export type ClusterStatus = ClusterStatusBody;

export interface ClusterNode {
  readonly host: string;
  readonly p2pUri: string;
  readonly args: readonly string[];
  readonly storage: string;
  process: ServerProcess | null;
  /** REST base URL of the running process. */
  url: string;
}

export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

const REQUEST_TIMEOUT_MS = 5_000;

/** A p2p port unlikely to be taken: the same on the three hosts (they are distinct addresses). */
export function pickP2pPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

export function clusterNodes(p2pPort: number): ClusterNode[] {
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const first = `http://${hosts[0]}:${p2pPort}`;
  return hosts.map((host, i) => {
    const p2pUri = `http://${host}:${p2pPort}`;
    const args = i === 0 ? ['--uri', p2pUri] : ['--bootstrap', first, '--uri', p2pUri];
    return { host, p2pUri, args, storage: tempStorage('shoal-cluster-'), process: null, url: '' };
  });
}

/** The user a node process runs as (see netns.ts: each user has its own source address). */
export interface NodeUser {
  readonly uid: number;
  readonly gid: number;
}

export async function startNode(node: ClusterNode, p2pPort: number, env: Record<string, string> = {}, user?: NodeUser): Promise<void> {
  const process = await startServer({
    storage: node.storage,
    args: node.args,
    ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    env: {
      QDRANT__CLUSTER__ENABLED: 'true',
      QDRANT__SERVICE__HOST: node.host,
      QDRANT__CLUSTER__P2P__PORT: String(p2pPort),
      QDRANT__LOG_LEVEL: 'INFO',
      ...env,
    },
  });
  node.process = process;
  node.url = `http://${node.host}:${process.port}`;
}

export async function killNode(node: ClusterNode): Promise<void> {
  await node.process?.kill();
  node.process = null;
}

export async function stopAll(nodes: readonly ClusterNode[]): Promise<void> {
  for (const n of nodes) {
    await n.process?.kill();
    n.process = null;
    removeStorage(n.storage);
  }
}

export async function request(node: ClusterNode, method: string, path: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<JsonResponse> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain-text endpoints (/readyz)
  }
  return { status: response.status, body: parsed };
}

export async function clusterStatus(node: ClusterNode): Promise<ClusterStatus> {
  const r = await request(node, 'GET', '/cluster');
  return (r.body as { result: ClusterStatus }).result;
}

export async function collectionNames(node: ClusterNode): Promise<string[]> {
  const r = await request(node, 'GET', '/collections');
  return (r.body as { result: { collections: { name: string }[] } }).result.collections.map((c) => c.name).sort();
}

/** Polls `test` every `pauseMs` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, test: () => Promise<T | undefined>, timeoutMs = 15_000, pauseMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await test();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error; // a node still starting, or just killed
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
}

export function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/** GET /collections/{c}/cluster's result, as the spec shapes it. */
export interface CollectionCluster {
  readonly peer_id: number;
  readonly shard_count: number;
  readonly local_shards: readonly { readonly shard_id: number; readonly points_count: number; readonly state: string }[];
  readonly remote_shards: readonly { readonly shard_id: number; readonly peer_id: number; readonly state: string }[];
  readonly shard_transfers: readonly { readonly shard_id: number; readonly from: number; readonly to: number; readonly sync: boolean; readonly method?: string; readonly comment?: string | null }[];
}

export async function collectionCluster(node: ClusterNode, name: string): Promise<CollectionCluster> {
  const r = await request(node, 'GET', `/collections/${name}/cluster`);
  if (r.status !== 200) throw new Error(`GET /collections/${name}/cluster: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { result: CollectionCluster }).result;
}

/** Every replica of the collection as [shard, peer, state], from one node's view. */
export function replicasOf(info: CollectionCluster): Array<[number, number, string]> {
  return [
    ...info.local_shards.map((s): [number, number, string] => [s.shard_id, info.peer_id, s.state]),
    ...info.remote_shards.map((s): [number, number, string] => [s.shard_id, s.peer_id, s.state]),
  ].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * Waits until each of `live` reports `voters` voters and the same leader, and returns the node of
 * `live` that leads.
 */
export async function waitForLeader(live: readonly ClusterNode[], voters = live.length, timeoutMs = 15_000): Promise<ClusterNode> {
  return waitFor(`${voters} voters agreeing on a leader`, async () => {
    const all = await Promise.all(live.map(clusterStatus));
    const leader = all[0]?.raft_info.leader;
    if (leader === null || leader === undefined) return undefined;
    if (!all.every((s) => s.raft_info.leader === leader && s.raft_info.is_voter && Object.keys(s.peers).length === voters)) return undefined;
    const index = all.findIndex((s) => s.peer_id === leader);
    return index < 0 ? undefined : live[index];
  }, timeoutMs);
}

/**
 * Starts the founding node, then the others, and waits until all of them are voters that agree on
 * one leader; resolves with the nodes' peer ids, in order.
 */
export async function startCluster(nodes: readonly ClusterNode[], p2pPort: number, envOf: (i: number) => Record<string, string> = () => ({})): Promise<number[]> {
  await startNode(nodes[0]!, p2pPort, envOf(0));
  await Promise.all(nodes.slice(1).map((n, i) => startNode(n, p2pPort, envOf(i + 1))));
  await waitForLeader(nodes, nodes.length, 30_000);
  return Promise.all(nodes.map(async (n) => (await clusterStatus(n)).peer_id));
}
