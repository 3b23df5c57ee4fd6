// linearizable=true on metadata reads (a Shoal extension) on three real nodes: a follower asked
// right after a write through the leader answers with that write; a node that cannot reach a
// quorum answers 503 for a linearizable read and its local state (200) for a plain one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unexpectedErrors } from '../test/harness.js';
import { validateResponse } from '../test/openapi.js';
import { type ClusterNode, clusterNodes, killNode, pickP2pPort, request, startNode, stopAll, waitForLeader } from './nodes.js';

const ROUNDS = 20;

const p2pPort = pickP2pPort();
const nodes: ClusterNode[] = clusterNodes(p2pPort);

/** The node every node agrees leads, once all three are voters. */
const leaderNode = (): Promise<ClusterNode> => waitForLeader(nodes);

type Aliases = { result: { aliases: { alias_name: string; collection_name: string }[] } };

describe('linearizable metadata reads in a three-node cluster', () => {
  beforeAll(async () => {
    await startNode(nodes[0]!, p2pPort);
    await Promise.all(nodes.slice(1).map((n) => startNode(n, p2pPort)));
  }, 30_000);

  afterAll(async () => {
    const errors = nodes.flatMap((n) => unexpectedErrors(n.process?.output() ?? ''));
    await stopAll(nodes);
    expect(errors).toEqual([]);
  });

  it('a follower answers with the newest alias, collection and existence right after each write through the leader', async () => {
    const leader = await leaderNode();
    const followers = nodes.filter((n) => n !== leader);
    const created = await request(leader, 'PUT', '/collections/shelf', { vectors: { size: 2, distance: 'Dot' } }, 30_000);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    for (let round = 0; round < ROUNDS; round++) {
      const alias = `shelf_${round}`;
      const actions = [
        ...(round === 0 ? [] : [{ delete_alias: { alias_name: `shelf_${round - 1}` } }]),
        { create_alias: { collection_name: 'shelf', alias_name: alias } },
      ];
      const w = await request(leader, 'POST', '/collections/aliases', { actions }, 30_000);
      expect(w.status, JSON.stringify(w.body)).toBe(200);
      const follower = followers[round % followers.length]!;
      const all = await request(follower, 'GET', '/aliases?linearizable=true');
      expect(all.status, JSON.stringify(all.body)).toBe(200);
      validateResponse('GET', '/aliases', 200, all.body);
      expect((all.body as Aliases).result.aliases).toEqual([{ alias_name: alias, collection_name: 'shelf' }]);
      const own = await request(follower, 'GET', '/collections/shelf/aliases?linearizable=true');
      expect(own.status).toBe(200);
      expect((own.body as Aliases).result.aliases.map((a) => a.alias_name)).toEqual([alias]);
      // The alias deleted by this write is gone on the follower too.
      if (round > 0) {
        const old = await request(follower, 'GET', `/collections/shelf_${round - 1}/exists?linearizable=true`);
        expect(old.body).toMatchObject({ result: { exists: false } });
      }
    }
    // A collection created through the leader is listed and described by a follower at once.
    const made = await request(leader, 'PUT', '/collections/annex', { vectors: { size: 2, distance: 'Dot' } }, 30_000);
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const list = await request(followers[0]!, 'GET', '/collections?linearizable=true');
    expect(list.status).toBe(200);
    validateResponse('GET', '/collections', 200, list.body);
    expect((list.body as { result: { collections: { name: string }[] } }).result.collections.map((c) => c.name).sort()).toEqual(['annex', 'shelf']);
    const info = await request(followers[1]!, 'GET', '/collections/annex?linearizable=true');
    expect(info.status, JSON.stringify(info.body)).toBe(200);
    validateResponse('GET', '/collections/annex', 200, info.body);
  }, 60_000);

  it('a node whose two peers are stopped answers 503 for a linearizable read and from its local state otherwise', async () => {
    const leader = await leaderNode();
    // The leader is the node most likely to believe it still leads: it must not answer from that belief.
    for (const n of nodes.filter((x) => x !== leader)) await killNode(n);
    for (const path of ['/collections', '/collections/shelf', '/collections/shelf/exists', '/aliases', '/collections/shelf/aliases']) {
      const local = await request(leader, 'GET', path);
      expect(local.status, `${path}: ${JSON.stringify(local.body)}`).toBe(200);
      validateResponse('GET', path, 200, local.body);
      const r = await request(leader, 'GET', `${path}?linearizable=true&timeout=2`, undefined, 15_000);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(503);
      const body = r.body as { status: { error: string }; time: number };
      expect(body.status.error).toContain('could not confirm the metadata with the cluster leader');
      expect(typeof body.time).toBe('number');
    }
    const aliases = await request(leader, 'GET', '/aliases?linearizable=false');
    expect((aliases.body as Aliases).result.aliases).toEqual([{ alias_name: `shelf_${ROUNDS - 1}`, collection_name: 'shelf' }]);
  }, 60_000);
});
