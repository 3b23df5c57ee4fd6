// A partition run, meant to execute inside a private network namespace (`unshare --net node
// partition-scenario.js --out FILE [--seed N] [--cycles N] [--hold-ms N]`): three nodes on
// 127.0.0.1/2/3, each as its own user (netns.ts), clients writing points and changing aliases
// while links are cut and healed, every cut verified by probes. After healing it waits for the
// cluster to be green, reads every replica on its own and writes the history, the replicas and
// the facts of the run to FILE as JSON. partition.test.ts checks it.
//
// It runs compiled (test-cluster/dist), so at run time it imports only files of this directory
// and packages: it starts the nodes itself rather than through test/harness.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shardRouter, type ShardRouter } from '@shoal/cluster';
import { RING_VNODES_DEFAULT } from '@shoal/meta';
import { outcomeOf, type DataOp, type MetaOp, type PointWrite, type ReplicaContent } from './history.js';
import { cutPairs, ipRules, Links, probeMatrix, probeMismatches, setUpNamespace, type Cut, type ProbeResult } from './netns.js';
import type { ClusterStatus, CollectionCluster } from './nodes.js';

const DIM = 4;
const P2P_PORT = 6335;
const UID_BASE = 61_000;
const REQUEST_TIMEOUT_MS = 8_000;
const GREEN_TIMEOUT_MS = 180_000;
export const COLLECTION_A = 'pa'; // 2 shards, rf 3, wcf 2
export const COLLECTION_B = 'pb'; // 3 shards, rf 2
export const ALIAS_TARGETS = [COLLECTION_A, COLLECTION_B, 'pm0', 'pm1'];
export const ALIASES = ['al0', 'al1', 'al2'];

export interface FaultRound {
  readonly kind: 'isolate-leader' | 'split' | 'bridge' | 'one-way' | 'prohibit';
  readonly description: string;
  readonly cuts: readonly Cut[];
  readonly startMs: number;
  readonly endMs: number;
  /** isolate-leader: the term and leader before and after, as the majority saw them. */
  readonly termBefore?: number;
  readonly termAfter?: number;
  readonly leaderBefore?: number | null;
  readonly leaderAfter?: number | null;
  /** Probe results that disagreed with the cuts (the round does not count if any). */
  readonly probeMismatches: readonly ProbeResult[];
  readonly probes: number;
}

export interface ScenarioOutput {
  readonly seed: number;
  readonly nodes: ReadonlyArray<{ host: string; uid: number; peer: number }>;
  readonly ipRules: string;
  readonly baselineProbes: readonly ProbeResult[];
  readonly baselineMismatches: readonly ProbeResult[];
  readonly rounds: readonly FaultRound[];
  readonly healMismatches: readonly ProbeResult[];
  readonly dataOps: readonly DataOp[];
  readonly metaOps: readonly MetaOp[];
  readonly replicas: readonly ReplicaContent[];
  readonly shards: Readonly<Record<string, readonly number[]>>;
  readonly aliases: readonly string[];
  /** ms from the last heal until green (every replica Active, one leader, equal commits). */
  readonly greenMs: number;
  /** Replica points counts that differed from the points read (routing assumption check). */
  readonly countMismatches: readonly string[];
  readonly finalStatus: readonly ClusterStatus[];
  readonly nodeErrors: readonly string[];
  /** Per node, its log lines about replica states, transfers and recovery (for diagnosis). */
  readonly nodeLogs: Readonly<Record<string, readonly string[]>>;
}

// ----- small helpers ----------------------------------------------------------------------------

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** mulberry32: the run's choices replay from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();

interface Answer {
  readonly status: number | null;
  readonly body: unknown;
  readonly error?: string;
}

async function call(node: ClusterNode, method: string, path: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  try {
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
      // not JSON
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    return { status: null, body: null, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

function errorText(a: Answer): string | undefined {
  if (a.error !== undefined) return a.error;
  if (a.status !== null && a.status >= 200 && a.status < 300) return undefined;
  const e = (a.body as { status?: { error?: string } } | null)?.status?.error;
  return `${a.status}: ${(e ?? JSON.stringify(a.body)).slice(0, 300)}`;
}

function vectorOf(id: number): number[] {
  let x = (id * 2654435761) % 4294967296;
  return Array.from({ length: DIM }, () => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return Math.round((x / 4294967296 - 0.5) * 1000) / 1000;
  });
}

// ----- the run ----------------------------------------------------------------------------------

// From test-cluster/dist/ to the built server.
const MAIN = fileURLToPath(new URL('../../packages/server/dist/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

interface ClusterNode {
  readonly host: string;
  readonly storage: string;
  readonly args: readonly string[];
  child: ChildProcess | null;
  output: string;
  port: number;
  url: string;
}

const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const nodes: ClusterNode[] = hosts.map((host, i) => {
  const uri = `http://${host}:${P2P_PORT}`;
  const args = i === 0 ? ['--uri', uri] : ['--bootstrap', `http://${hosts[0]}:${P2P_PORT}`, '--uri', uri];
  return { host, storage: mkdtempSync(join(tmpdir(), 'shoal-partition-')), args, child: null, output: '', port: 0, url: '' };
});
const users = nodes.map((_, i) => ({ uid: UID_BASE + i + 1, gid: UID_BASE + i + 1 }));

/** Starts a node as its own user; resolves once its REST port is known. */
async function startNode(i: number): Promise<void> {
  const node = nodes[i]!;
  const child = spawn(process.execPath, [MAIN, ...node.args], {
    cwd: node.storage,
    uid: users[i]!.uid,
    gid: users[i]!.gid,
    env: {
      PATH: process.env['PATH'] ?? '',
      QDRANT__CLUSTER__ENABLED: 'true',
      QDRANT__SERVICE__HOST: node.host,
      QDRANT__SERVICE__HTTP_PORT: '0',
      QDRANT__CLUSTER__P2P__PORT: String(P2P_PORT),
      QDRANT__STORAGE__STORAGE_PATH: join(node.storage, 'storage'),
      QDRANT__LOG_LEVEL: 'INFO',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  node.child = child;
  child.stdout!.on('data', (c: Buffer) => (node.output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (node.output += c.toString()));
  const deadline = now() + START_TIMEOUT_MS;
  while (now() < deadline) {
    const match = /"port":(\d+)[^\n]*"msg":"REST API listening"/.exec(node.output);
    if (match !== null) {
      node.port = Number(match[1]);
      node.url = `http://${node.host}:${node.port}`;
      return;
    }
    if (child.exitCode !== null) throw new Error(`node ${node.host} exited with ${child.exitCode} during start:\n${node.output}`);
    await sleep(50);
  }
  throw new Error(`node ${node.host} did not start within ${START_TIMEOUT_MS} ms:\n${node.output}`);
}

function killAll(): void {
  for (const n of nodes) if (n.child !== null && n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
}

let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(nodes.map((n) => new Promise<void>((resolve) => {
    const c = n.child;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  })));
  for (const n of nodes) rmSync(n.storage, { recursive: true, force: true });
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(1);
  });
}
process.on('exit', killAll);

/** Lines of a node's log that report an unexpected exception (as test/harness.ts looks for them). */
function unexpectedErrors(output: string): string[] {
  return output.split('\n').filter((line) => /unexpected error|uncaught|unhandled|AssertionError/i.test(line));
}

/** Polls `test` every `pauseMs` until it returns a value other than undefined; throws after `timeoutMs`. */
async function waitFor<T>(what: string, test: () => Promise<T | undefined>, timeoutMs: number, pauseMs: number): Promise<T> {
  const deadline = now() + timeoutMs;
  let lastError: unknown;
  while (now() < deadline) {
    try {
      const value = await test();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(pauseMs);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
}

async function statusOf(node: ClusterNode): Promise<ClusterStatus | null> {
  const a = await call(node, 'GET', '/cluster', undefined, 3_000);
  return a.status === 200 ? (a.body as { result: ClusterStatus }).result : null;
}

async function clusterInfo(node: ClusterNode, name: string): Promise<CollectionCluster | null> {
  const a = await call(node, 'GET', `/collections/${name}/cluster`, undefined, 5_000);
  return a.status === 200 ? (a.body as { result: CollectionCluster }).result : null;
}

async function mustOk(node: ClusterNode, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<unknown> {
  const a = await call(node, method, path, body, timeoutMs);
  if (a.status !== 200) throw new Error(`${method} ${path}: ${errorText(a)}`);
  return (a.body as { result: unknown }).result;
}

/** The leader as most nodes see it (the highest term's claim), with that term. */
async function currentLeader(among: readonly ClusterNode[]): Promise<{ leader: number | null; term: number }> {
  const all = (await Promise.all(among.map(statusOf))).filter((s): s is ClusterStatus => s !== null);
  let best: { leader: number | null; term: number } = { leader: null, term: -1 };
  for (const s of all) if (s.raft_info.term > best.term || (s.raft_info.term === best.term && best.leader === null)) best = { leader: s.raft_info.leader, term: s.raft_info.term };
  return best;
}

async function main(): Promise<void> {
  const out = arg('out', '/tmp/shoal-partition.json');
  const seed = Number(arg('seed', String(Date.now() % 1_000_000)));
  const cycles = Number(arg('cycles', '1'));
  const holdMs = Number(arg('hold-ms', '5000'));
  // The fault schedule and each client draw from their own generators.
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  setUpNamespace(nodes.map((n, i) => ({ host: n.host, uid: users[i]!.uid })));
  for (const [i, n] of nodes.entries()) chownSync(n.storage, users[i]!.uid, users[i]!.gid);

  await startNode(0);
  await Promise.all([1, 2].map(startNode));
  await waitFor('three voters and a leader', async () => {
    const all = await Promise.all(nodes.map(statusOf));
    return all.every((s) => s !== null && s.raft_info.is_voter && Object.keys(s.peers).length === 3 && s.raft_info.leader !== null) ? true : undefined;
  }, 60_000, 200);
  const peers: number[] = [];
  for (const n of nodes) peers.push((await statusOf(n))!.peer_id);
  const hostOfPeer = (peer: number | null): string | null => (peer === null ? null : nodes[peers.indexOf(peer)]?.host ?? null);
  const netNodes = nodes.map((n, i) => ({ host: n.host, uid: users[i]!.uid, restPort: n.port }));

  const baselineProbes = await probeMatrix(netNodes, P2P_PORT, []);

  // Collections: A replicated on every node with a write quorum of two, B sharded over the nodes.
  await mustOk(nodes[0]!, 'PUT', `/collections/${COLLECTION_A}?timeout=60`, { vectors: { size: DIM, distance: 'Dot' }, shard_number: 2, replication_factor: 3, write_consistency_factor: 2 });
  await mustOk(nodes[1]!, 'PUT', `/collections/${COLLECTION_B}?timeout=60`, { vectors: { size: DIM, distance: 'Dot' }, shard_number: 3, replication_factor: 2 });
  for (const name of ALIAS_TARGETS.slice(2)) await mustOk(nodes[2]!, 'PUT', `/collections/${name}?timeout=60`, { vectors: { size: DIM, distance: 'Dot' }, shard_number: 1, replication_factor: 1 });
  const shards: Record<string, number[]> = {};
  const routers = new Map<string, ShardRouter>();
  for (const name of [COLLECTION_A, COLLECTION_B]) {
    const info = (await clusterInfo(nodes[0]!, name))!;
    const ids = [...new Set([...info.local_shards, ...info.remote_shards].map((s) => s.shard_id))].sort((a, b) => a - b);
    shards[name] = ids;
    routers.set(name, shardRouter({ kind: 'ring', vnodes: RING_VNODES_DEFAULT, seed: 0 }, ids));
  }

  // ----- clients --------------------------------------------------------------------------------
  const dataOps: DataOp[] = [];
  const metaOps: MetaOp[] = [];
  let running = true;

  const dataClient = async (client: number): Promise<void> => {
    const random = rng(seed * 31 + client + 1);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const mine = new Map<string, Array<{ batch: number; ids: number[] }>>([[COLLECTION_A, []], [COLLECTION_B, []]]);
    let seq = 0;
    while (running) {
      const collection = pick([COLLECTION_A, COLLECTION_B]);
      const nodeIndex = Math.floor(random() * nodes.length);
      const node = nodes[nodeIndex]!;
      const owned = mine.get(collection)!;
      const roll = random();
      let op: DataOp;
      let answer: Answer;
      if (roll < 0.7 || owned.length < 3) {
        const batch = client * 1_000_000 + ++seq;
        const points: PointWrite[] = [0, 1, 2].map((k) => {
          const id = batch * 4 + k;
          return { id, shard: routers.get(collection)!.shardFor(id), payload: { id, client, batch }, vector: vectorOf(id) };
        });
        op = { client, collection, kind: 'upsert', points, ids: points.map((p) => p.id), node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        dataOps.push(op);
        answer = await call(node, 'PUT', `/collections/${collection}/points?wait=true`, { points: points.map((p) => ({ id: p.id, vector: p.vector, payload: p.payload })) });
        if (outcomeOf(answer.status) === 'ok') owned.push({ batch, ids: points.map((p) => p.id) });
      } else if (roll < 0.85) {
        // Delete one or two points of acknowledged batches, by id.
        const from = owned[Math.floor(random() * owned.length)]!;
        const ids = from.ids.splice(0, 1 + Math.floor(random() * 2));
        if (from.ids.length === 0) owned.splice(owned.indexOf(from), 1);
        op = { client, collection, kind: 'delete', ids, node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        dataOps.push(op);
        answer = await call(node, 'POST', `/collections/${collection}/points/delete?wait=true`, { points: ids });
      } else {
        // Delete what is left of one acknowledged batch by a filter on its payload.
        const from = owned.splice(Math.floor(random() * owned.length), 1)[0]!;
        op = { client, collection, kind: 'delete_filter', ids: from.ids, node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        dataOps.push(op);
        answer = await call(node, 'POST', `/collections/${collection}/points/delete?wait=true`, { filter: { must: [{ key: 'batch', match: { value: from.batch } }] } });
      }
      op.completeMs = now();
      op.status = answer.status;
      op.outcome = outcomeOf(answer.status);
      const why = errorText(answer);
      if (why !== undefined) op.error = why;
      if (op.outcome !== 'ok') await sleep(100);
    }
  };

  const metaClient = async (client: number): Promise<void> => {
    const random = rng(seed * 31 + client + 1);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    while (running) {
      const nodeIndex = Math.floor(random() * nodes.length);
      const node = nodes[nodeIndex]!;
      const roll = random();
      let op: MetaOp;
      let answer: Answer;
      if (roll < 0.35) {
        const chosen = random() < 0.7 ? [pick(ALIASES)] : [...ALIASES].sort(() => random() - 0.5).slice(0, 2);
        const writes = Object.fromEntries(chosen.map((a) => [a, pick(ALIAS_TARGETS)]));
        op = { client, kind: 'write', writes, node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        metaOps.push(op);
        answer = await call(node, 'POST', '/collections/aliases', { actions: Object.entries(writes).map(([alias_name, collection_name]) => ({ create_alias: { alias_name, collection_name } })) });
      } else if (roll < 0.5) {
        const alias = pick(ALIASES);
        op = { client, kind: 'delete', alias, node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        metaOps.push(op);
        answer = await call(node, 'POST', '/collections/aliases', { actions: [{ delete_alias: { alias_name: alias } }] });
      } else {
        const linearizable = random() < 0.75;
        // All aliases, or those of one collection (a partial view of every register).
        const of = random() < 0.3 ? pick(ALIAS_TARGETS) : undefined;
        op = { client, kind: 'read', linearizable, ...(of === undefined ? {} : { of }), node: nodeIndex, invokeMs: now(), completeMs: null, outcome: null };
        metaOps.push(op);
        const path = of === undefined ? '/aliases' : `/collections/${of}/aliases`;
        answer = await call(node, 'GET', `${path}${linearizable ? '?linearizable=true' : ''}`);
        if (answer.status === 200) {
          const list = (answer.body as { result: { aliases: Array<{ alias_name: string; collection_name: string }> } }).result.aliases;
          op.observed = Object.fromEntries(list.map((a) => [a.alias_name, a.collection_name]));
        }
      }
      op.completeMs = now();
      op.status = answer.status;
      op.outcome = outcomeOf(answer.status);
      const why = errorText(answer);
      if (why !== undefined) op.error = why;
      await sleep(op.outcome === 'ok' ? 20 : 100);
    }
  };

  const clients = [...[0, 1, 2].map(dataClient), ...[10, 11].map(metaClient)];

  // ----- faults ---------------------------------------------------------------------------------
  const links = new Links();
  const rounds: FaultRound[] = [];
  const healMismatches: ProbeResult[] = [];
  const verify = async (cuts: readonly Cut[]): Promise<{ mismatches: ProbeResult[]; probes: number }> => {
    let results = await probeMatrix(netNodes, P2P_PORT, cuts);
    // Rules take effect at once; one more look only to tell a slow probe from a wrong cut.
    if (probeMismatches(results).length > 0) results = await probeMatrix(netNodes, P2P_PORT, cuts);
    return { mismatches: probeMismatches(results), probes: results.length };
  };
  await sleep(2_000);
  const kinds: Array<FaultRound['kind']> = ['isolate-leader', 'split', 'bridge', 'one-way', 'prohibit'];
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const kind of kinds) {
      const { leader, term } = await currentLeader(nodes);
      const leaderHost = hostOfPeer(leader) ?? pick(hosts);
      const others = (h: string): string[] => hosts.filter((x) => x !== h);
      let cuts: Cut[];
      let description: string;
      if (kind === 'isolate-leader') {
        cuts = cutPairs(others(leaderHost).map((h) => [leaderHost, h] as const), 'blackhole');
        description = `leader ${leaderHost} cut from both others (blackhole)`;
      } else if (kind === 'split') {
        const minority = pick(others(leaderHost));
        cuts = cutPairs(others(minority).map((h) => [minority, h] as const), 'blackhole');
        description = `follower ${minority} alone, the leader with the majority (blackhole)`;
      } else if (kind === 'bridge') {
        const middle = pick(hosts);
        const [a, b] = others(middle) as [string, string];
        cuts = cutPairs([[a, b]], 'blackhole');
        description = `${a} and ${b} cut, both reach ${middle} (blackhole)`;
      } else if (kind === 'one-way') {
        cuts = others(leaderHost).map((h) => ({ from: leaderHost, to: h, mode: 'blackhole' as const }));
        description = `the leader ${leaderHost} -> the others dropped, the other way open (blackhole)`;
      } else {
        const victim = pick(hosts);
        cuts = cutPairs(others(victim).map((h) => [victim, h] as const), 'prohibit');
        description = `${victim} cut from both others (prohibit)`;
      }
      const startMs = now();
      links.cut(cuts);
      const checked = await verify(cuts);
      process.stderr.write(`[${(startMs / 1000).toFixed(1)}s] ${kind}: ${description}${checked.mismatches.length > 0 ? ` PROBES WRONG: ${JSON.stringify(checked.mismatches)}` : ''}\n`);
      await sleep(holdMs);
      let after: { leader: number | null; term: number } | undefined;
      if (kind === 'isolate-leader') {
        // The majority elects a new leader; bounded, not timed.
        const majority = nodes.filter((n) => n.host !== leaderHost);
        after = await currentLeader(majority);
        const deadline = now() + 30_000;
        while ((after.term <= term || after.leader === null || after.leader === leader) && now() < deadline) {
          await sleep(250);
          after = await currentLeader(majority);
        }
      }
      links.heal();
      const endMs = now();
      const healed = await verify([]);
      healMismatches.push(...healed.mismatches);
      rounds.push({
        kind, description, cuts, startMs, endMs, probeMismatches: checked.mismatches, probes: checked.probes + healed.probes,
        ...(after === undefined ? {} : { termBefore: term, leaderBefore: leader, termAfter: after.term, leaderAfter: after.leader }),
      });
      await sleep(2_500);
    }
  }
  const healedAt = now();
  running = false;
  await Promise.all(clients);

  // ----- back to green --------------------------------------------------------------------------
  const wantReplicas = { [COLLECTION_A]: 2 * 3, [COLLECTION_B]: 3 * 2 };
  await waitFor('green: every replica Active, one leader, equal commits', async () => {
    const statuses = await Promise.all(nodes.map(statusOf));
    if (statuses.some((s) => s === null)) return undefined;
    const leaders = new Set(statuses.map((s) => s!.raft_info.leader));
    const terms = new Set(statuses.map((s) => s!.raft_info.term));
    const commits = new Set(statuses.map((s) => s!.raft_info.commit));
    if (leaders.size !== 1 || leaders.has(null) || terms.size !== 1 || commits.size !== 1) return undefined;
    for (const [name, count] of Object.entries(wantReplicas)) {
      for (const n of nodes) {
        const info = await clusterInfo(n, name);
        if (info === null || info.shard_transfers.length > 0) return undefined;
        const states = [...info.local_shards.map((s) => s.state), ...info.remote_shards.map((s) => s.state)];
        if (states.length !== count || states.some((s) => s !== 'Active')) return undefined;
      }
    }
    return true;
  }, GREEN_TIMEOUT_MS, 250);
  const greenMs = now() - healedAt;

  // ----- every replica on its own ---------------------------------------------------------------
  // A scroll through a node reads its own replica of each shard it holds (local first); the
  // other shards' points are told apart by the collection's routing.
  const replicas: ReplicaContent[] = [];
  const countMismatches: string[] = [];
  for (const name of [COLLECTION_A, COLLECTION_B]) {
    for (const [i, n] of nodes.entries()) {
      const info = (await clusterInfo(n, name))!;
      const points: Array<{ id: number; payload: unknown; vector: unknown }> = [];
      let offset: number | null = null;
      let pages = 0;
      do {
        const page = (await mustOk(n, 'POST', `/collections/${name}/points/scroll?consistency=1`, { limit: 1000, offset, with_payload: true, with_vector: true }, 30_000)) as {
          points: Array<{ id: number; payload: unknown; vector: unknown }>;
          next_page_offset: number | null;
        };
        points.push(...page.points);
        offset = page.next_page_offset;
        if (++pages > 10_000) throw new Error('scroll did not end');
      } while (offset !== null);
      for (const local of info.local_shards) {
        const held = points.filter((p) => routers.get(name)!.shardFor(p.id) === local.shard_id);
        if (held.length !== local.points_count) countMismatches.push(`${name}/${local.shard_id} on peer ${peers[i]}: ${local.points_count} counted, ${held.length} read`);
        replicas.push({ collection: name, shard: local.shard_id, peer: peers[i]!, state: local.state, points: held });
      }
    }
  }

  const finalStatus = (await Promise.all(nodes.map(statusOf))).filter((s): s is ClusterStatus => s !== null);
  const output: ScenarioOutput = {
    seed,
    nodes: nodes.map((n, i) => ({ host: n.host, uid: users[i]!.uid, peer: peers[i]! })),
    ipRules: ipRules(),
    baselineProbes,
    baselineMismatches: probeMismatches(baselineProbes),
    rounds,
    healMismatches,
    dataOps,
    metaOps,
    replicas,
    shards,
    aliases: ALIASES,
    greenMs,
    countMismatches,
    finalStatus,
    nodeErrors: nodes.flatMap((n) => unexpectedErrors(n.output)),
    nodeLogs: Object.fromEntries(nodes.map((n) => [n.host, n.output.split('\n').filter((l) => /dead|transfer|recover|abort|finish|leader|term|wal_delta/i.test(l)).slice(-400)])),
  };
  writeFileSync(out, JSON.stringify(output));
}

const watchdog = setTimeout(() => {
  process.stderr.write('partition run: overall time bound exceeded\n');
  killAll();
  process.exit(3);
}, Number(arg('max-ms', '600000')));
watchdog.unref();

main()
  .then(cleanup)
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    process.stderr.write(`partition run failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    if (process.env['SHOAL_DEBUG'] === '1') for (const n of nodes) process.stderr.write(`---- ${n.host}\n${n.output.split('\n').slice(-60).join('\n')}\n`);
    await cleanup();
    process.exit(2);
  });
