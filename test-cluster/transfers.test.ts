// Shard transfers and replica recovery on three real node processes (127.0.0.1/2/3), checked the
// way a user would: every acknowledged write is there afterwards, no deleted point comes back,
// replicas hold the same points, and the numbers a user cares about are printed (transfer
// throughput, write latency during a move, time back to green after a node is killed).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, unexpectedErrors } from '../test/harness.js';
import { validateResponse } from '../test/openapi.js';
import {
  type ClusterNode,
  clusterNodes,
  clusterStatus,
  collectionCluster,
  type JsonResponse,
  killNode,
  percentile,
  pickP2pPort,
  replicasOf,
  request,
  startCluster,
  startNode,
  stopAll,
  waitFor,
} from './nodes.js';

const DIM = 8;
const SOAK = process.env['SHOAL_SOAK'] === '1';
const NODE_LOSS_RUNS = SOAK ? 10 : 3;

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);
const gates = nodes.map(() => mkdtempSync(join(tmpdir(), 'shoal-gate-')));
const peers: number[] = [];
const live = (): ClusterNode[] => nodes.filter((n) => n.process !== null);
const envOf = (i: number): Record<string, string> => ({ SHOAL_TEST_TRANSFER_GATE: gates[i]!, SHOAL_TEST_TRANSFER_GATE_BATCH: '2' });
const nodeOf = (peer: number): ClusterNode => nodes[peers.indexOf(peer)]!;
const gateOf = (peer: number): string => gates[peers.indexOf(peer)]!;

function vectorOf(id: number): number[] {
  let x = (id * 2654435761) % 4294967296;
  return Array.from({ length: DIM }, () => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return Math.round((x / 4294967296 - 0.5) * 1000) / 1000;
  });
}

const pointsOf = (ids: readonly number[]) => ids.map((id) => ({ id, vector: vectorOf(id), payload: { id, group: id % 7 } }));

function result<T>(r: JsonResponse): T {
  expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
  return (r.body as { result: T }).result;
}

/** The shard directories of a node's replicas of collection `name` (`<shard>` or `<shard>@<storage>`). */
function replicaDirs(node: ClusterNode, name: string): string[] {
  const root = join(node.storage, 'storage', 'collections');
  const dir = readdirSync(root).find((d) => d.startsWith(`${encodeURIComponent(name)}@`));
  if (dir === undefined) return [];
  return readdirSync(join(root, dir)).filter((d) => /^\d+(@\d+)?$/.test(d)).sort();
}

async function create(name: string, body: object, seeded: number): Promise<number[]> {
  result(await request(nodes[0]!, 'PUT', `/collections/${name}`, { vectors: { size: DIM, distance: 'Dot' }, ...body }, 30_000));
  const ids = Array.from({ length: seeded }, (_, i) => i + 1);
  for (let i = 0; i < ids.length; i += 500) {
    result(await request(nodes[(i / 500) % 3]!, 'PUT', `/collections/${name}/points?wait=true`, { points: pointsOf(ids.slice(i, i + 500)) }, 30_000));
  }
  return ids;
}

/** POST /collections/{c}/cluster through `node`, validated against the spec. */
async function clusterOp(node: ClusterNode, name: string, body: object): Promise<JsonResponse> {
  const r = await request(node, 'POST', `/collections/${name}/cluster`, body, 30_000);
  validateResponse('POST', `/collections/${name}/cluster`, r.status, r.body);
  return r;
}

/** Every node sees exactly `want` ([shard, peer, state]) as the collection's replicas, and no transfer. */
async function placementIs(name: string, want: Array<[number, number, string]>, timeoutMs = 60_000): Promise<void> {
  const sorted = [...want].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  await waitFor(`${name}: ${JSON.stringify(sorted)}`, async () => {
    const infos = await Promise.all(live().map((n) => collectionCluster(n, name)));
    return infos.every((i) => JSON.stringify(replicasOf(i)) === JSON.stringify(sorted) && i.shard_transfers.length === 0) ? true : undefined;
  }, timeoutMs, 100);
}

/** Every point of the collection as a node reads it: its own replica of each shard first. */
async function readAll(node: ClusterNode, name: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset: number | null = null;
  do {
    const page: { points: { id: number; payload: unknown; vector: unknown }[]; next_page_offset: number | null } = result(
      await request(node, 'POST', `/collections/${name}/points/scroll`, { limit: 1000, offset, with_payload: true, with_vector: true }, 30_000),
    );
    for (const p of page.points) out.set(p.id, JSON.stringify([p.payload, p.vector]));
    offset = page.next_page_offset;
  } while (offset !== null);
  return out;
}

interface Writers {
  readonly acked: Set<number>;
  readonly deleted: Set<number>;
  readonly unknown: Set<number>;
  /** [start, ms] of every acknowledged write. */
  readonly latencies: Array<[number, number]>;
  stop(): Promise<void>;
}

/**
 * Three clients writing through the live nodes in turn: upserts of fresh ids, and every fourth
 * request a delete of an id the client had acknowledged. Failed or timed-out requests are
 * unknown (they may or may not have been applied).
 */
function startWriters(name: string, base: number): Writers {
  const w = { acked: new Set<number>(), deleted: new Set<number>(), unknown: new Set<number>(), latencies: [] as Array<[number, number]> };
  let writing = true;
  const run = async (k: number): Promise<void> => {
    let next = base + k * 10_000_000;
    const mine: number[] = [];
    for (let round = 0; writing; round++) {
      const through = live()[(k + round) % live().length];
      if (through === undefined) break;
      const del = round % 4 === 3 && mine.length > 10 ? mine.splice(round % mine.length, 1)[0]! : null;
      const ids = del === null ? [next, next + 1, next + 2, next + 3, next + 4] : [del];
      if (del === null) next += 5;
      const started = performance.now();
      try {
        const r = del === null
          ? await request(through, 'PUT', `/collections/${name}/points?wait=true`, { points: pointsOf(ids) }, 30_000)
          : await request(through, 'POST', `/collections/${name}/points/delete?wait=true`, { points: [del] }, 30_000);
        if (r.status !== 200) throw new Error(JSON.stringify(r.body));
        w.latencies.push([started, performance.now() - started]);
        if (del === null) {
          for (const id of ids) w.acked.add(id);
          mine.push(...ids);
        } else {
          w.acked.delete(del);
          w.deleted.add(del);
        }
      } catch {
        for (const id of ids) w.unknown.add(id);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const done = Promise.all([0, 1, 2].map(run));
  return {
    ...w,
    async stop() {
      writing = false;
      await done;
    },
  };
}

/** Acknowledged points all present, acknowledged deletes all absent, in what one replica holds. */
function checkWrites(points: Map<number, string>, seeded: readonly number[], w: Writers, deletedToo: readonly number[] = []): { lost: number; resurrected: number } {
  let lost = 0;
  let resurrected = 0;
  for (const id of [...seeded, ...w.acked]) {
    if (w.deleted.has(id) || w.unknown.has(id) || deletedToo.includes(id)) continue;
    if (!points.has(id)) lost += 1;
  }
  for (const id of [...w.deleted, ...deletedToo]) if (!w.unknown.has(id) && points.has(id)) resurrected += 1;
  return { lost, resurrected };
}

function latencyDuring(w: Writers, from: number, to: number): { p50: number; p99: number; max: number; n: number } {
  const ms = w.latencies.filter(([at]) => at >= from && at <= to).map(([, d]) => d).sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms[ms.length - 1] ?? NaN, n: ms.length };
}

function shoal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(REPO_ROOT, 'packages/cli/bin/shoal.mjs');
  return new Promise((resolve) => {
    execFile(bin, args, { env: { PATH: process.env['PATH'] ?? '' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  peers.push(...(await startCluster(nodes, p2pPort, envOf)));
}, 60_000);

afterAll(async () => {
  const errors = nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? ''));
  const logDir = process.env['SHOAL_LOG_DIR'];
  if (logDir !== undefined) nodes.forEach((n) => writeFileSync(join(logDir, `node-${n.host}.log`), n.process?.output() ?? ''));
  if (process.env['SHOAL_DEBUG'] === '1') {
    for (const n of nodes) process.stderr.write(`---- ${n.host}\n${(n.process?.output() ?? '').split('\n').filter((l) => /transfer|recover|abort|Dead|finish|delta|copying/i.test(l)).slice(-80).join('\n')}\n`);
  }
  await stopAll(nodes);
  for (const g of gates) rmSync(g, { recursive: true, force: true });
  expect(errors).toEqual([]);
});

describe('shard transfers between real nodes', () => {
  let seeded: number[] = [];
  let writers: Writers;
  let victim = 0;
  /** The seeded point deleted while the snapshot move's archive message was held. */
  let snapVictim = 0;
  let holder = 0;
  /** When the first move started: write latencies before it are the baseline. */
  let firstMoveMs = 0;

  it('moves a shard under load while one of the points of a held-back batch is deleted through another node', async () => {
    seeded = await create('moving', { shard_number: 1, replication_factor: 1 }, 3000);
    const [[, from]] = replicasOf(await collectionCluster(nodes[0]!, 'moving')) as [[number, number, string]];
    const to = peers.find((p) => p !== from)!;
    const third = nodeOf(peers.find((p) => p !== from && p !== to)!);
    // Only the source's gate holds a batch; the others let every batch through.
    for (const p of peers) if (p !== from) writeFileSync(join(gateOf(p), 'release'), '');
    writers = startWriters('moving', 1_000_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    firstMoveMs = performance.now();
    expect(result(await clusterOp(third, 'moving', { move_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to } }))).toBe(true);
    const heldFile = join(gateOf(from), 'held.json');
    await waitFor('a batch held on the source', async () => (existsSync(heldFile) ? true : undefined), 20_000);
    const held = JSON.parse(readFileSync(heldFile, 'utf8')) as { ids: number[] };
    victim = held.ids.find((id) => id <= seeded.length)!;
    expect(victim).toBeDefined();
    // While the transfer runs the source reports it, with its progress.
    const onSource = await request(nodeOf(from), 'GET', '/collections/moving/cluster');
    validateResponse('GET', '/collections/moving/cluster', 200, onSource.body);
    const transfer = result<{ shard_transfers: { from: number; to: number; sync: boolean; method: string; comment: string | null }[] }>(onSource).shard_transfers[0]!;
    expect(transfer).toMatchObject({ from, to, sync: false, method: 'stream_records' });
    expect(transfer.comment).toMatch(/^Transferring records \(\d+\/\d+\)/);
    // Deleted through the third node: the source applies it and queues it behind the held batch.
    const deleting = request(third, 'POST', '/collections/moving/points/delete?wait=true', { points: [victim] }, 30_000);
    await waitFor('the source applied the delete', async () => ((await request(nodeOf(from), 'GET', `/collections/moving/points/${victim}`)).status === 404 ? true : undefined), 20_000);
    writeFileSync(join(gateOf(from), 'release'), '');
    expect((await deleting).status).toBe(200);
    await placementIs('moving', [[0, to, 'Active']]);
    expect((await request(nodeOf(to), 'GET', `/collections/moving/points/${victim}`)).status).toBe(404);
    holder = to;
  }, 120_000);

  it('moves the shard with method snapshot under load while a point of the archive is deleted during the transfer: nothing lost, nothing back', async () => {
    const from = holder;
    const to = peers.find((p) => p !== from)!;
    const third = nodeOf(peers.find((p) => p !== from && p !== to)!);
    // The source's gate holds its second archive message (a piece, or the end of a small archive).
    rmSync(join(gateOf(from), 'release'), { force: true });
    rmSync(join(gateOf(from), 'held.json'), { force: true });
    const started = performance.now();
    expect(result(await clusterOp(third, 'moving', { move_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to, method: 'snapshot' } }))).toBe(true);
    const heldFile = join(gateOf(from), 'held.json');
    await waitFor('an archive message held on the source', async () => (existsSync(heldFile) ? true : undefined), 20_000);
    expect((JSON.parse(readFileSync(heldFile, 'utf8')) as { ids: number[] }).ids).toEqual([]);
    const onSource = await request(nodeOf(from), 'GET', '/collections/moving/cluster');
    validateResponse('GET', '/collections/moving/cluster', 200, onSource.body);
    const transfer = result<{ shard_transfers: { method: string; comment: string | null }[] }>(onSource).shard_transfers[0]!;
    expect(transfer.method).toBe('snapshot');
    expect(transfer.comment).toMatch(/^Transferring snapshot \(\d+\/\d+ bytes\)/);
    // A seeded point, in the archive (captured before), deleted now through the third node.
    snapVictim = seeded.find((id) => id !== victim && id > 100)!;
    const deleting = request(third, 'POST', '/collections/moving/points/delete?wait=true', { points: [snapVictim] }, 30_000);
    await waitFor('the source applied the delete', async () => ((await request(nodeOf(from), 'GET', `/collections/moving/points/${snapVictim}`)).status === 404 ? true : undefined), 20_000);
    writeFileSync(join(gateOf(from), 'release'), '');
    expect((await deleting).status).toBe(200);
    await placementIs('moving', [[0, to, 'Active']]);
    const ms = performance.now() - started;
    holder = to;
    expect((await request(nodeOf(to), 'GET', `/collections/moving/points/${snapVictim}`)).status).toBe(404);
    // The writers go on: what was acknowledged before the read must be there, what was deleted before it absent.
    const acked = new Set(writers.acked);
    const deleted = new Set(writers.deleted);
    const points = await readAll(nodeOf(to), 'moving');
    let lost = 0;
    let resurrected = 0;
    for (const id of [...seeded, ...acked]) {
      if (id === victim || id === snapVictim || writers.deleted.has(id) || writers.unknown.has(id)) continue;
      if (!points.has(id)) lost += 1;
    }
    for (const id of [...deleted, victim, snapVictim]) if (!writers.unknown.has(id) && points.has(id)) resurrected += 1;
    console.log(`snapshot move under 3 writers: ${points.size} points in ${Math.round(ms)} ms (including the held message); lost ${lost}, deleted points back ${resurrected}`);
    expect(lost).toBe(0);
    expect(resurrected).toBe(0);
  }, 120_000);

  it('moves it back under load: throughput and write latency during the move; nothing lost, nothing back', async () => {
    const from = holder;
    const to = peers.find((p) => p !== from)!;
    const points = (await collectionCluster(nodeOf(from), 'moving')).local_shards[0]!.points_count;
    const started = performance.now();
    result(await clusterOp(nodeOf(to), 'moving', { move_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to, method: 'stream_records' } }));
    await placementIs('moving', [[0, to, 'Active']]);
    const ms = performance.now() - started;
    holder = to;
    await new Promise((resolve) => setTimeout(resolve, 500));
    await writers.stop();
    const during = latencyDuring(writers, started, started + ms);
    const baseline = latencyDuring(writers, 0, firstMoveMs);
    const { lost, resurrected } = checkWrites(await readAll(nodeOf(holder), 'moving'), seeded, writers, [victim, snapVictim]);
    console.log(
      `shard move under 3 writers: ${points} points in ${Math.round(ms)} ms (${Math.round(points / (ms / 1000))} points/s); ` +
        `write latency during the move p50 ${during.p50.toFixed(1)} ms, p99 ${during.p99.toFixed(1)} ms, max ${during.max.toFixed(1)} ms (${during.n} writes), ` +
        `before it p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms; acknowledged ${writers.acked.size} points and ${writers.deleted.size} deletes, ` +
        `${writers.unknown.size} unknown, lost ${lost}, deleted points back ${resurrected}`,
    );
    expect(lost).toBe(0);
    expect(resurrected).toBe(0);
  }, 120_000);

  it('replicates the shard: both replicas hold exactly the same points', async () => {
    const from = holder;
    const to = peers.find((p) => p !== from)!;
    const w = startWriters('moving', 50_000_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    result(await clusterOp(nodeOf(from), 'moving', { replicate_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to } }));
    await placementIs('moving', [[0, from, 'Active'], [0, to, 'Active']]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await w.stop();
    const a = await readAll(nodeOf(from), 'moving');
    const b = await readAll(nodeOf(to), 'moving');
    expect(b.size).toBe(a.size);
    expect([...b].filter(([id, v]) => a.get(id) !== v)).toEqual([]);
    expect(checkWrites(b, [], w)).toEqual({ lost: 0, resurrected: 0 });
    // Dropping the copy again; the last Active replica cannot be dropped.
    result(await clusterOp(nodeOf(to), 'moving', { drop_replica: { shard_id: 0, peer_id: to } }));
    await placementIs('moving', [[0, from, 'Active']]);
    const last = await clusterOp(nodeOf(to), 'moving', { drop_replica: { shard_id: 0, peer_id: from } });
    expect(last.status).toBe(400);
    expect(JSON.stringify(last.body)).toMatch(/only replica/);
  }, 120_000);

  it('moves a shard with the shoal CLI against a real node', async () => {
    const from = holder;
    const to = peers.find((p) => p !== from)!;
    const node = nodeOf(peers.find((p) => p !== from && p !== to)!);
    const r = await shoal(['--url', node.url, 'shards', 'move', 'moving', '0', '--from', String(from), '--to', String(to)]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`moved moving shard 0 from peer ${from} to peer ${to}`);
    await placementIs('moving', [[0, to, 'Active']]);
    holder = to;
    const list = await shoal(['--url', node.url, '-o', 'json', 'transfers', 'list', 'moving']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  }, 120_000);

  it('aborting a move leaves the source as it was and no replica on the target; a source killed mid-transfer loses nothing', async () => {
    // A source with a fresh gate: restarted (SIGTERM), its gate armed again.
    const from = holder;
    const to = peers.find((p) => p !== from)!;
    const source = nodeOf(from);
    await source.process!.stop();
    source.process = null;
    rmSync(join(gateOf(from), 'release'), { force: true });
    rmSync(join(gateOf(from), 'held.json'), { force: true });
    await startNode(source, p2pPort, envOf(peers.indexOf(from)));
    await waitFor('source ready', async () => ((await request(source, 'GET', '/readyz')).status === 200 ? true : undefined), 30_000);
    const before = await readAll(source, 'moving');

    result(await clusterOp(nodeOf(to), 'moving', { move_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to } }));
    await waitFor('held', async () => (existsSync(join(gateOf(from), 'held.json')) ? true : undefined), 20_000);
    result(await clusterOp(nodeOf(to), 'moving', { abort_transfer: { shard_id: 0, from_peer_id: from, to_peer_id: to } }));
    const again = await clusterOp(nodeOf(to), 'moving', { abort_transfer: { shard_id: 0, from_peer_id: from, to_peer_id: to } });
    expect(again.status).toBe(404);
    writeFileSync(join(gateOf(from), 'release'), '');
    await placementIs('moving', [[0, from, 'Active']]);

    // Once more, and this time the source dies (SIGKILL) while its batch is held.
    await source.process!.stop();
    rmSync(join(gateOf(from), 'release'), { force: true });
    rmSync(join(gateOf(from), 'held.json'), { force: true });
    await startNode(source, p2pPort, envOf(peers.indexOf(from)));
    await waitFor('source ready', async () => ((await request(source, 'GET', '/readyz')).status === 200 ? true : undefined), 30_000);
    result(await clusterOp(nodeOf(to), 'moving', { move_shard: { shard_id: 0, from_peer_id: from, to_peer_id: to } }));
    await waitFor('held', async () => (existsSync(join(gateOf(from), 'held.json')) ? true : undefined), 20_000);
    await killNode(source);
    writeFileSync(join(gateOf(from), 'release'), '');
    // Restarted, the source aborts the transfer it can no longer run; its replica is intact.
    await startNode(source, p2pPort, envOf(peers.indexOf(from)));
    await placementIs('moving', [[0, from, 'Active']]);
    const after = await readAll(source, 'moving');
    expect(after.size).toBe(before.size);
    expect([...after].filter(([id, v]) => before.get(id) !== v)).toEqual([]);
  }, 180_000);

  it(`recovers the Dead replicas of a node killed under writes and deletes (rf 3, wcf 2, ${NODE_LOSS_RUNS} runs): nothing lost, nothing back, replicas identical`, async () => {
    const name = 'durable';
    const base = await create(name, { shard_number: 3, replication_factor: 3, write_consistency_factor: 2 }, 1500);
    const w = startWriters(name, 100_000_000);
    const green: number[] = [];
    const kept: number[] = [];
    for (let run = 0; run < NODE_LOSS_RUNS; run++) {
      const victimNode = nodes[run % nodes.length]!;
      const victimPeer = peers[nodes.indexOf(victimNode)]!;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const dirsBefore = replicaDirs(victimNode, name);
      await killNode(victimNode);
      // Writes and deletes go on while it is away; its replicas are marked Dead.
      await waitFor('replicas of the killed node Dead', async () => {
        const info = await collectionCluster(live()[0]!, name);
        return replicasOf(info).filter(([, p]) => p === victimPeer).every(([, , s]) => s === 'Dead') ? true : undefined;
      }, 30_000, 100);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const restarted = performance.now();
      await startNode(victimNode, p2pPort, envOf(nodes.indexOf(victimNode)));
      await waitFor('green again', async () => {
        const infos = await Promise.all(live().map((n) => collectionCluster(n, name)));
        return infos.every((i) => replicasOf(i).length === 9 && replicasOf(i).every(([, , s]) => s === 'Active')) ? true : undefined;
      }, 60_000, 50);
      green.push(performance.now() - restarted);
      // A replica recovered by wal_delta keeps its directory; a copy (stream_records) gets a new one.
      const dirsAfter = replicaDirs(victimNode, name);
      kept.push(dirsAfter.filter((d) => dirsBefore.includes(d)).length);
      expect(dirsAfter.length).toBe(3);
      await waitFor('restarted node ready', async () => ((await request(victimNode, 'GET', '/readyz')).status === 200 ? true : undefined), 30_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await w.stop();
    const views = await Promise.all(nodes.map((n) => readAll(n, name)));
    const checks = views.map((v) => checkWrites(v, base, w));
    const sorted = [...green].sort((a, b) => a - b);
    console.log(
      `node loss (rf 3, wcf 2, 3 writers, SIGKILL + restart, ${NODE_LOSS_RUNS} runs): acknowledged ${w.acked.size} points and ${w.deleted.size} deletes, ` +
        `${w.unknown.size} unknown; lost ${checks.map((c) => c.lost).join('/')} and deleted points back ${checks.map((c) => c.resurrected).join('/')} on the three replicas; ` +
        `back to green (all replicas Active) after restart: p50 ${Math.round(percentile(sorted, 50))} ms, max ${Math.round(sorted[sorted.length - 1]!)} ms; ` +
        `replicas recovered by wal_delta (their storage kept) per run: ${kept.map((k) => `${k}/3`).join(', ')}`,
    );
    for (const c of checks) expect(c).toEqual({ lost: 0, resurrected: 0 });
    for (const v of views.slice(1)) {
      expect(v.size).toBe(views[0]!.size);
      expect([...v].filter(([id, x]) => views[0]!.get(id) !== x)).toEqual([]);
    }
  }, 300_000);

  it('refuses to remove a peer that holds replicas unless forced; a forced removal takes its replicas and keeps the data', async () => {
    const leaving = peers[2]!;
    const other = nodes[0]!;
    const refused = await request(other, 'DELETE', `/cluster/peer/${leaving}`);
    validateResponse('DELETE', `/cluster/peer/${leaving}`, refused.status, refused.body);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/still holds \d+ shard replica/);
    // `moving` may have its only replica there: move it away first (a forced removal refuses to drop an only copy).
    const [[, at]] = replicasOf(await collectionCluster(other, 'moving')) as [[number, number, string]];
    if (at === leaving) {
      result(await clusterOp(other, 'moving', { move_shard: { shard_id: 0, from_peer_id: leaving, to_peer_id: peers[0]! } }));
      await placementIs('moving', [[0, peers[0]!, 'Active']]);
    }
    const before = await readAll(other, 'durable');
    const forced = await request(other, 'DELETE', `/cluster/peer/${leaving}?force=true`, undefined, 30_000);
    validateResponse('DELETE', `/cluster/peer/${leaving}`, forced.status, forced.body);
    expect(result(forced)).toBe(true);
    await killNode(nodes[2]!);
    await waitFor('two members', async () => (Object.keys((await clusterStatus(other)).peers).length === 2 ? true : undefined));
    const info = await collectionCluster(other, 'durable');
    expect(replicasOf(info).every(([, p]) => p !== leaving)).toBe(true);
    const after = await readAll(other, 'durable');
    expect(after.size).toBe(before.size);
  }, 120_000);
});
