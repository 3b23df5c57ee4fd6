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

export async function startNode(node: ClusterNode, p2pPort: number): Promise<void> {
  const process = await startServer({
    storage: node.storage,
    args: node.args,
    env: {
      QDRANT__CLUSTER__ENABLED: 'true',
      QDRANT__SERVICE__HOST: node.host,
      QDRANT__CLUSTER__P2P__PORT: String(p2pPort),
      QDRANT__LOG_LEVEL: 'INFO',
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

export async function request(node: ClusterNode, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
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
