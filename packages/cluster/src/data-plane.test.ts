// Three nodes in one process, each with its own storage (MemoryFileSystem), real Raft over gRPC
// and the Points service on 127.0.0.1: placement, write fan-out, read consistency, Dead marks.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFileSystem, seededRng, ShoalError, type PointId, type PointStruct } from '@shoal/common';
import { collectionConfig, type CollectionConfig } from '@shoal/meta';
import { ClusterConsensus } from './consensus-node.js';
import { localMetaSource, localShardOpener } from './local-storage.js';
import { LocalNode } from './node.js';
import type { RaftMetaSource } from './raft-meta-source.js';
import { RemoteReplica } from './remote-replica.js';

interface Member {
  readonly node: LocalNode;
  readonly consensus: ClusterConsensus;
  readonly uri: string;
  alive: boolean;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function startMember(id: number, port: number, bootstrapUri: string | undefined): Promise<Member> {
  const fs = new MemoryFileSystem();
  const uri = `http://127.0.0.1:${port}`;
  let consensus: ClusterConsensus | undefined;
  let source: RaftMetaSource | undefined;
  const node: LocalNode = new LocalNode({
    fs,
    storagePath: '/s',
    openMetaSource: async (listener) => {
      consensus = await ClusterConsensus.start({
        peerId: node.peerId, uri, bootstrapUri, listen: `127.0.0.1:${port}`, fs, dir: '/s/raft', log: () => undefined, timing: { tickMs: 50 },
      });
      node.attachCluster(consensus.link());
      source = consensus.openMetaSource(listener);
      return source;
    },
    openShard: localShardOpener(fs, () => undefined),
    newPeerId: () => id,
    timing: { writeTimeoutMs: 8_000, readTimeoutMs: 8_000 },
  });
  await node.open();
  source!.start();
  consensus!.servePoints((method, request, signal) => node.answerPoints(method, request, signal));
  return { node, consensus: consensus!, uri, alive: true };
}

async function waitFor(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function points(ids: readonly number[], seed: number): PointStruct[] {
  const rng = seededRng(seed);
  return ids.map((id) => ({
    id,
    vectors: new Map([['', Float32Array.from([rng.next() - 0.5, rng.next() - 0.5, rng.next() - 0.5, rng.next() - 0.5])]]),
    payload: { group: id % 5 },
  }));
}

const WRITE = { wait: true, ordering: 'weak' } as const;
const members: Member[] = [];
let reference: LocalNode;

async function errorKind(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    return error instanceof ShoalError ? `${error.kind}: ${error.message}` : String(error);
  }
}

beforeAll(async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  members.push(await startMember(101, ports[0]!, undefined));
  const first = members[0]!.uri;
  members.push(await startMember(102, ports[1]!, first), await startMember(103, ports[2]!, first));
  await waitFor('three voters', () => members.every((m) => m.consensus.driver.status().confState.voters.length === 3));
  const fs = new MemoryFileSystem();
  reference = new LocalNode({ fs, storagePath: '/r', openMetaSource: localMetaSource(fs, '/r'), openShard: localShardOpener(fs, () => undefined), newPeerId: () => 7 });
  await reference.open();
}, 60_000);

afterAll(async () => {
  for (const m of members) {
    if (!m.alive) continue;
    await m.consensus.close();
    await m.node.close();
  }
  await reference.close();
});

describe('the data plane of a three-node cluster', () => {
  const config: CollectionConfig = collectionConfig(4, 'Cosine', { shardNumber: 3, replicationFactor: 2 });
  const all = Array.from({ length: 300 }, (_, i) => i);

  it('places 3 shards x 2 replicas evenly, every replica Active on every node once created', async () => {
    await members[1]!.node.createCollection('c', config, {});
    await reference.createCollection('c', config, {});
    for (const m of members) {
      const info = await m.node.collectionClusterInfo('c');
      expect(info.shardCount).toBe(3);
      expect(info.localShards).toHaveLength(2);
      expect(info.remoteShards).toHaveLength(4);
      expect([...info.localShards, ...info.remoteShards].every((s) => s.state === 'Active')).toBe(true);
    }
  });

  it('takes writes through any node and answers reads through any node as one node would', async () => {
    for (let i = 0; i < 3; i++) {
      const ids = all.filter((id) => id % 3 === i);
      await members[i]!.node.updatePoints('c', [{ op: { kind: 'upsert', points: points(ids, i) }, shardKey: null }], WRITE);
      await reference.updatePoints('c', [{ op: { kind: 'upsert', points: points(ids, i) }, shardKey: null }], WRITE);
    }
    const query = {
      vectorName: '', query: { kind: 'vector' as const, vector: Float32Array.from([0.3, -0.2, 0.9, 0.1]) }, filter: null,
      limit: 10, offset: 5, scoreThreshold: null, withPayload: { kind: 'all' as const }, withVector: false, exact: true, hnswEf: null,
    };
    const want = await reference.search('c', query, {});
    for (const m of members) {
      const got = await m.node.search('c', query, {});
      expect(got.map((p) => [p.id, p.score])).toEqual(want.map((p) => [p.id, p.score]));
      expect(await m.node.count('c', null, true, {})).toBe(300);
      expect(await m.node.count('c', null, true, { consistency: { kind: 'all' } })).toBe(300);
      const page = await m.node.scroll('c', { filter: null, offset: 100, limit: 20, withPayload: { kind: 'none' }, withVector: false, orderBy: null }, { consistency: { kind: 'quorum' } });
      expect(page.points.map((p) => p.id)).toEqual(all.slice(100, 120));
      expect(page.nextPageOffset).toBe(120);
      const records = await m.node.retrieve('c', [299, 0, 7, 1000], { kind: 'all' }, true, { consistency: { kind: 'factor', n: 2 } });
      expect(records.map((r) => r.id)).toEqual([299, 0, 7]);
    }
  });

  it('writes with ordering medium and strong through any node', async () => {
    for (const [i, ordering] of (['medium', 'strong', 'medium'] as const).entries()) {
      await members[i]!.node.updatePoints('c', [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [i, 10 + i] }, payload: { ordered: ordering }, key: null }, shardKey: null }], { wait: true, ordering });
    }
    const records = await members[2]!.node.retrieve('c', [0, 1, 2], { kind: 'all' }, false, { consistency: { kind: 'all' } });
    expect(records.map((r) => r.payload?.['ordered'])).toEqual(['medium', 'strong', 'medium']);
  });

  it('refuses a write addressed to an older incarnation of a collection', async () => {
    const node = members[0]!.node;
    await node.createCollection('gone', collectionConfig(4, 'Cosine', { shardNumber: 1, replicationFactor: 3 }), {});
    const old = node.metaState.collections.get('gone')!;
    await node.deleteCollection('gone', {});
    await node.createCollection('gone', collectionConfig(4, 'Cosine', { shardNumber: 1, replicationFactor: 3 }), {});
    const m2 = members[1]!;
    const fromFirst = new RemoteReplica(m2.node.peerId, node.peerId, { collection: 'gone', incarnation: old.createdIndex, shardId: 0 }, members[0]!.consensus.link().callPoints);
    const kind = await errorKind(() => fromFirst.update({ kind: 'upsert', points: points([1], 1) }, null, { deadlineMs: performance.now() + 5000 }));
    expect(kind).toMatch(/^not_found/);
    expect(await m2.node.count('gone', null, true, {})).toBe(0);
  });

  it('routes custom sharding by shard key: writes must name one, reads may name some or none', async () => {
    const node = members[2]!.node;
    await node.createCollection('k', collectionConfig(4, 'Dot', { shardingMethod: 'custom', shardNumber: 2, replicationFactor: 2 }), {});
    await node.createShardKey('k', { key: 'eu', shardsNumber: null, replicationFactor: null, placement: null, initialState: null }, {});
    await members[0]!.node.createShardKey('k', { key: 7, shardsNumber: 1, replicationFactor: 3, placement: null, initialState: null }, {});
    expect(await members[1]!.node.listShardKeys('k', {})).toEqual(['eu', 7]);
    expect(await errorKind(() => node.updatePoints('k', [{ op: { kind: 'upsert', points: points([1], 1) }, shardKey: null }], WRITE))).toMatch(/Shard key not specified/);
    await members[0]!.node.updatePoints('k', [{ op: { kind: 'upsert', points: points([1, 2, 3], 1) }, shardKey: { kind: 'keys', keys: ['eu'] } }], WRITE);
    await members[1]!.node.updatePoints('k', [{ op: { kind: 'upsert', points: points([3, 4], 2) }, shardKey: { kind: 'keys', keys: [7] } }], WRITE);
    const ids = async (options: object): Promise<PointId[]> =>
      (await node.scroll('k', { filter: null, offset: null, limit: 100, withPayload: { kind: 'none' }, withVector: false, orderBy: null }, options)).points.map((p) => p.id);
    expect(await ids({ shardKey: { kind: 'keys', keys: ['eu'] } })).toEqual([1, 2, 3]);
    expect(await ids({ shardKey: { kind: 'keys', keys: [7] } })).toEqual([3, 4]);
    expect(await ids({})).toEqual([1, 2, 3, 4]);
    expect(await ids({ shardKey: { kind: 'fallback', target: 'us', fallback: 7 } })).toEqual([3, 4]);
    expect(await errorKind(() => ids({ shardKey: { kind: 'keys', keys: ['us'] } }))).toMatch(/bad_request.*not found/);
    // A filter write without a key reaches every key's shards.
    await members[1]!.node.updatePoints('k', [{ op: { kind: 'delete_points', selector: { kind: 'filter', filter: { must: [{ kind: 'has_id', ids: [3] }], should: [], mustNot: [], minShould: null } } }, shardKey: null }], WRITE);
    expect(await ids({})).toEqual([1, 2, 4]);
    await node.deleteShardKey('k', 'eu', {});
    expect(await ids({})).toEqual([4]);
    expect((await members[0]!.node.collectionClusterInfo('k')).shardCount).toBe(1);
  });

  it('keeps acknowledged writes when a node stops: its replicas are marked Dead, the others serve every read', async () => {
    const victim = members[2]!;
    victim.alive = false;
    await victim.consensus.close();
    await victim.node.close();
    const acknowledged: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const ids = [1000 + batch * 2, 1001 + batch * 2];
      const through = members[batch % 2]!.node;
      await through.updatePoints('c', [{ op: { kind: 'upsert', points: points(ids, batch) }, shardKey: null }], WRITE);
      acknowledged.push(...ids);
    }
    for (const m of members.slice(0, 2)) {
      const info = await m.node.collectionClusterInfo('c');
      const onVictim = [...info.localShards.map((s) => ({ ...s, peerId: m.node.peerId })), ...info.remoteShards].filter((s) => s.peerId === victim.node.peerId);
      expect(onVictim.length).toBe(2);
      expect(onVictim.every((s) => s.state === 'Dead')).toBe(true);
      const found = await m.node.retrieve('c', acknowledged, { kind: 'none' }, false, {});
      expect(found.map((r) => r.id)).toEqual(acknowledged);
      expect(await m.node.count('c', null, true, { consistency: { kind: 'all' } })).toBe(300 + acknowledged.length);
    }
  }, 60_000);
});
