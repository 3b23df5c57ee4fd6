// Three real nodes on 127.0.0.1/2/3: membership from the command line, metadata through any
// node, leader loss (kill -9) with a measured election, restart and catch-up, peer removal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexpectedErrors } from '../test/harness.js';
import { validateResponse } from '../test/openapi.js';
import {
  type ClusterNode,
  clusterNodes,
  clusterStatus,
  collectionNames,
  killNode,
  percentile,
  pickP2pPort,
  request,
  startNode,
  stopAll,
  waitFor,
  waitForLeader,
} from './nodes.js';

const ELECTION_RUNS = 5;
const VECTORS = { vectors: { size: 4, distance: 'Cosine' } };

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);
const live = (): ClusterNode[] => nodes.filter((n) => n.process !== null);

/** Waits until every live node reports `voters` voters and the same leader; returns that leader's node. */
const settled = (voters: number): Promise<ClusterNode> => waitForLeader(live(), voters);

async function readyz(node: ClusterNode): Promise<number> {
  return (await request(node, 'GET', '/readyz')).status;
}

async function createCollection(node: ClusterNode, name: string): Promise<void> {
  const r = await request(node, 'PUT', `/collections/${name}`, VECTORS);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** Every live node lists exactly `names` (after it applied them). */
async function everyNodeHas(names: string[]): Promise<void> {
  const want = [...names].sort();
  await waitFor(`collections ${want.join(',')} on every node`, async () => {
    const lists = await Promise.all(live().map(collectionNames));
    return lists.every((l) => JSON.stringify(l) === JSON.stringify(want)) ? true : undefined;
  });
}

describe('a three-node cluster of real processes', () => {
  const created: string[] = [];

  beforeAll(async () => {
    await startNode(nodes[0]!, p2pPort);
    await Promise.all(nodes.slice(1).map((n) => startNode(n, p2pPort)));
  }, 30_000);

  afterAll(async () => {
    const errors = nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? ''));
    await stopAll(nodes);
    expect(errors).toEqual([]);
  });

  it('forms from the command line: joiners become voters, every node answers GET /cluster per the spec and is ready', async () => {
    await settled(3);
    const ids = new Set<number>();
    for (const n of nodes) {
      const r = await request(n, 'GET', '/cluster');
      expect(r.status).toBe(200);
      validateResponse('GET', '/cluster', 200, r.body);
      const s = (r.body as { result: { status: string; peer_id: number; peers: Record<string, { uri: string }> } }).result;
      expect(s.status).toBe('enabled');
      expect(Number.isSafeInteger(s.peer_id)).toBe(true);
      expect(Object.values(s.peers).map((p) => p.uri).sort()).toEqual(nodes.map((x) => x.p2pUri).sort());
      ids.add(s.peer_id);
      await waitFor('ready', async () => ((await readyz(n)) === 200 ? true : undefined));
    }
    expect(ids.size).toBe(3);
  }, 30_000);

  it('applies metadata changes made through any node on every node; points written through one node are read through another', async () => {
    for (const [i, n] of nodes.entries()) {
      await createCollection(n, `through_${i}`);
      created.push(`through_${i}`);
      // Read-your-write through the same node.
      expect(await collectionNames(n)).toContain(`through_${i}`);
    }
    await everyNodeHas(created);
    const alias = await request(nodes[2]!, 'POST', '/collections/aliases', { actions: [{ create_alias: { collection_name: 'through_0', alias_name: 'first' } }] });
    expect(alias.status).toBe(200);
    await waitFor('alias on every node', async () => {
      const all = await Promise.all(nodes.map((n) => request(n, 'GET', '/aliases')));
      return all.every((r) => JSON.stringify(r.body).includes('"alias_name":"first"')) ? true : undefined;
    });
    const write = await request(nodes[1]!, 'PUT', '/collections/through_0/points?wait=true', { points: [{ id: 1, vector: [1, 0, 0, 0] }] });
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    const read = await request(nodes[2]!, 'GET', '/collections/first/points/1');
    expect(read.status, JSON.stringify(read.body)).toBe(200);
  }, 30_000);

  it(`elects a new leader after kill -9 of the leader, keeps committing, and the restarted node catches up (${ELECTION_RUNS} runs)`, async () => {
    const electionMs: number[] = [];
    for (let run = 0; run < ELECTION_RUNS; run++) {
      const leader = await settled(3);
      const old = (await clusterStatus(leader)).peer_id;
      await killNode(leader);
      const killedAt = performance.now();
      const survivors = live();
      await waitFor('a new leader seen by the survivors', async () => {
        const all = await Promise.all(survivors.map(clusterStatus));
        const l = all[0]?.raft_info.leader;
        return l !== null && l !== undefined && l !== old && all.every((s) => s.raft_info.leader === l) ? true : undefined;
      }, 10_000, 20);
      electionMs.push(performance.now() - killedAt);
      // Metadata proposals commit with one node down, through either survivor.
      const name = `after_kill_${run}`;
      await createCollection(survivors[run % survivors.length]!, name);
      created.push(name);
      await everyNodeHas(created);
      // The same command line brings the node back with its stored state; it catches up.
      await startNode(leader, p2pPort);
      expect((await clusterStatus(leader)).peer_id).toBe(old);
      await everyNodeHas(created);
      await waitFor('restarted node ready', async () => ((await readyz(leader)) === 200 ? true : undefined));
      validateResponse('GET', '/cluster', 200, (await request(leader, 'GET', '/cluster')).body);
    }
    const sorted = [...electionMs].sort((a, b) => a - b);
    console.log(`election after leader kill: p50 ${Math.round(percentile(sorted, 50))} ms, max ${Math.round(sorted[sorted.length - 1]!)} ms over ${sorted.length} runs`);
    // "About 2 s" per the issue: election timeout is 1-2 s at 100 ms ticks, plus pre-vote and polling.
    expect(sorted[sorted.length - 1]!).toBeLessThan(5_000);
  }, 80_000);

  it('removes the leader through DELETE /cluster/peer once its replicas moved away; the other two go on', async () => {
    const leader = await settled(3);
    const id = (await clusterStatus(leader)).peer_id;
    const other = live().find((n) => n !== leader)!;
    const otherId = (await clusterStatus(other)).peer_id;
    // Refused while it holds replicas; its shards move to another node first.
        let moved = 0;
    for (const name of created) {
      const info = (await request(other, 'GET', `/collections/${name}/cluster`)).body as { result: { peer_id: number; local_shards: { shard_id: number }[]; remote_shards: { shard_id: number; peer_id: number }[] } };
      for (const s of info.result.remote_shards.filter((r) => r.peer_id === id)) {
        if (moved === 0) {
          const refused = await request(other, 'DELETE', `/cluster/peer/${id}`);
          validateResponse('DELETE', `/cluster/peer/${id}`, refused.status, refused.body);
          expect(refused.status).toBe(400);
        }
        const m = await request(other, 'POST', `/collections/${name}/cluster`, { move_shard: { shard_id: s.shard_id, from_peer_id: id, to_peer_id: otherId } });
        expect(m.status, JSON.stringify(m.body)).toBe(200);
        await waitFor(`${name} moved`, async () => {
          const now = (await request(other, 'GET', `/collections/${name}/cluster`)).body as { result: { local_shards: { shard_id: number; state: string }[]; shard_transfers: unknown[] } };
          return now.result.shard_transfers.length === 0 && now.result.local_shards.some((l) => l.shard_id === s.shard_id && l.state === 'Active') ? true : undefined;
        });
        moved += 1;
      }
    }
    const r = await request(other, 'DELETE', `/cluster/peer/${id}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    validateResponse('DELETE', `/cluster/peer/${id}`, 200, r.body);
    await killNode(leader);
    const next = await settled(2);
    expect((await clusterStatus(next)).peers[String(id)]).toBeUndefined();
    await createCollection(other, 'after_removal');
    created.push('after_removal');
    await everyNodeHas(created);
  }, 30_000);
});
