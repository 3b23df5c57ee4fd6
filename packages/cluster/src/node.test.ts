import { describe, expect, it } from 'vitest';
import { MemoryFileSystem, seededRng, ShoalError, type FileSystem, type Filter, type PointStruct } from '@shoal/common';
import { apply, collectionConfig, EMPTY_META_STATE, type ApplyOutcome, type CollectionConfig, type MetaOperation, type MetaState } from '@shoal/meta';
import type { MetaListener } from './metadata-store.js';
import { LocalNode, type ClusterLink } from './node.js';
import { localMetaSource, localShardOpener } from './local-storage.js';

const WRITE = { wait: true, ordering: 'weak' } as const;
const NONE = { kind: 'none' } as const;
const ALL = { kind: 'all' } as const;

function config(shardNumber: number, size = 3): CollectionConfig {
  return collectionConfig(size, 'Euclid', { shardNumber });
}

async function openNode(fs: FileSystem): Promise<LocalNode> {
  const node = new LocalNode({
    fs,
    storagePath: '/storage',
    openMetaSource: localMetaSource(fs, '/storage'),
    openShard: localShardOpener(fs, () => undefined),
    newPeerId: () => 4503599627370497,
  });
  await node.open();
  return node;
}

function points(count: number, seed: number): PointStruct[] {
  const rng = seededRng(seed);
  return Array.from({ length: count }, (_, id) => ({
    id,
    vectors: new Map([['', Float32Array.from([rng.next(), rng.next(), rng.next()])]]),
    payload: { group: id % 4, name: `p${id}` },
  }));
}

const group = (g: number): Filter => ({ must: [{ kind: 'match', key: 'group', value: g }], should: [], mustNot: [], minShould: null });

describe('LocalNode', () => {
  it('answers the same from three shards as from one: search, scroll, count, facet, retrieve', async () => {
    const node = await openNode(new MemoryFileSystem());
    await node.createCollection('one', config(1), {});
    await node.createCollection('three', config(3), {});
    const data = points(200, 1);
    for (const name of ['one', 'three']) {
      await node.updatePoints(name, [{ op: { kind: 'upsert', points: data }, shardKey: null }], WRITE);
      await node.createFieldIndex(name, 'group', { type: 'integer', lookup: true, range: true, isPrincipal: null, isTenant: null, onDisk: null }, WRITE);
    }
    const request = {
      vectorName: '', query: { kind: 'vector' as const, vector: Float32Array.from([0.5, 0.5, 0.5]) }, filter: group(1),
      limit: 7, offset: 3, scoreThreshold: null, withPayload: ALL, withVector: false, exact: true, hnswEf: null,
    };
    const ids = async (name: string): Promise<unknown[]> => (await node.search(name, request, {})).map((p) => p.id);
    expect(await ids('three')).toEqual(await ids('one'));
    expect(await node.count('three', group(2), true, {})).toBe(50);
    expect(await node.facet('three', 'group', null, 10, true, {})).toEqual(await node.facet('one', 'group', null, 10, true, {}));

    const seen: unknown[] = [];
    let offset = null as null | number | bigint | string;
    do {
      const page = await node.scroll('three', { filter: null, offset, limit: 13, withPayload: NONE, withVector: false, orderBy: null }, {});
      seen.push(...page.points.map((p) => p.id));
      offset = page.nextPageOffset;
    } while (offset !== null);
    expect(seen).toEqual(data.map((p) => p.id));

    const records = await node.retrieve('three', [150, 3, 999, 3], ALL, false, {});
    expect(records.map((r) => r.id)).toEqual([150, 3]);
    const ordered = await node.scroll('three', {
      filter: null, offset: null, limit: 5, withPayload: NONE, withVector: false, orderBy: { key: 'group', direction: 'desc', startFrom: null },
    }, {});
    expect(ordered.points.map((p) => p.orderValue)).toEqual([3, 3, 3, 3, 3]);
    await node.close();
  });

  it('keeps collections, aliases, indexes and points across a restart, and a recreated name starts empty', async () => {
    const fs = new MemoryFileSystem();
    let node = await openNode(fs);
    await node.createCollection('c', config(2), {});
    await node.updatePoints('c', [{ op: { kind: 'upsert', points: points(20, 2) }, shardKey: null }], WRITE);
    await node.updateAliases([{ kind: 'create', alias: 'a', collection: 'c' }], {});
    await node.createFieldIndex('c', 'name', { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null }, WRITE);
    await node.close();

    node = await openNode(fs);
    expect(node.peerId).toBe(4503599627370497);
    expect((await node.collectionClusterInfo('a')).localShards.map((s) => s.pointsCount).reduce((a, b) => a + b)).toBe(20);
    expect(await node.count('a', null, true, {})).toBe(20);
    expect((await node.collectionInfo('a')).payloadSchema.get('name')?.points).toBe(20);
    expect(await node.deleteCollection('c', {})).toBe(true);
    expect(node.listAliases(null)).toEqual([]);
    await node.createCollection('c', config(2), {});
    expect(await node.count('c', null, true, {})).toBe(0);
    await node.close();

    node = await openNode(fs);
    expect(await node.count('c', null, true, {})).toBe(0);
    expect(node.listCollections()).toEqual(['c']);
    await node.close();
  });

  it('refuses wrong vectors, unknown collections and duplicates with typed errors', async () => {
    const node = await openNode(new MemoryFileSystem());
    await node.createCollection('c', config(1), {});
    const kind = async (run: () => Promise<unknown>): Promise<string> => {
      try {
        await run();
        return 'ok';
      } catch (error) {
        return error instanceof ShoalError ? error.kind : 'other';
      }
    };
    const bad: PointStruct = { id: 1, vectors: new Map([['', Float32Array.from([1, 2])]]), payload: null };
    expect(await kind(() => node.updatePoints('c', [{ op: { kind: 'upsert', points: [bad] }, shardKey: null }], WRITE))).toBe('bad_request');
    expect(await kind(() => node.createCollection('c', config(1), {}))).toBe('conflict');
    expect(await kind(() => node.count('nope', null, true, {}))).toBe('not_found');
    expect(await kind(() => node.updatePoints('c', [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [5] }, payload: {}, key: null }, shardKey: null }], WRITE))).toBe('not_found');
    expect(await kind(() => node.updatePoints('c', [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [] }, payload: {}, key: 'a[' }, shardKey: null }], WRITE))).toBe('bad_request');
    expect(await node.count('c', null, true, {})).toBe(0);
    await node.close();
  });

  it('recovers every acknowledged collection and point after power loss', async () => {
    /** Creates three collections concurrently and fills them; records what was acknowledged. */
    const workload = async (node: LocalNode, acknowledged: Map<string, number>, seed: number): Promise<void> => {
      await Promise.allSettled(
        [0, 1, 2].map(async (c) => {
          const name = `c${c}`;
          await node.createCollection(name, config(1 + (c % 2)), {});
          acknowledged.set(name, 0);
          for (let batch = 0; batch < 3; batch++) {
            await node.updatePoints(name, [{ op: { kind: 'upsert', points: points(10 * (batch + 1), seed) }, shardKey: null }], WRITE);
            acknowledged.set(name, 10 * (batch + 1));
          }
        }),
      );
    };
    let opsTotal = 0;
    const counting = new MemoryFileSystem({ beforeOp: () => void opsTotal++ });
    await workload(await openNode(counting), new Map(), 0);

    let acknowledgedTotal = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rng = seededRng(seed);
      const crashAt = 1 + rng.int(opsTotal);
      let ops = 0;
      let crashed: MemoryFileSystem | null = null;
      const fs: MemoryFileSystem = new MemoryFileSystem({
        beforeOp: () => {
          if (++ops === crashAt) crashed = fs.crash(rng);
        },
      });
      const acknowledged = new Map<string, number>();
      try {
        await workload(await openNode(fs), acknowledged, seed);
      } catch {
        // the crash may hit while the node opens its storage
      }
      const recovered = await openNode(crashed ?? fs.crash(rng));
      for (const [name, count] of acknowledged) {
        expect(await recovered.collectionExists(name)).toBe(true);
        expect(await recovered.count(name, null, true, {})).toBeGreaterThanOrEqual(count);
        acknowledgedTotal += count;
      }
      await recovered.close();
    }
    // Crashes land at every point of the workload, so some runs acknowledged little, some all.
    expect(acknowledgedTotal).toBeGreaterThan(0);
    expect(acknowledgedTotal).toBeLessThan(40 * 90);
  });
});

describe('LocalNode in a cluster', () => {
  it('catches up with the leader (ReadIndex) before answering 404 for a name it does not know', async () => {
    const fs = new MemoryFileSystem();
    let state: MetaState = EMPTY_META_STATE;
    let listener: MetaListener | undefined;
    const behind: MetaOperation[] = [];
    const applyOne = async (op: MetaOperation): Promise<ApplyOutcome> => {
      const r = apply(state, state.appliedIndex + 1, op);
      state = r.state;
      await listener!(state, op, state.appliedIndex, r.outcome);
      return r.outcome;
    };
    let catchUps = 0;
    const link: ClusterLink = {
      callPoints: async () => ({ outcome: 'failed', timeout: false, message: 'no peers here' }),
      // The leader's commit holds entries this node has not applied yet: catching up applies them.
      catchUp: async () => {
        catchUps += 1;
        for (const op of behind.splice(0)) await applyOne(op);
      },
      reachablePeers: async () => [9],
      peerApplied: async () => true,
      waitActed: async () => true,
      peerAlive: async () => true,
      isLeader: () => false,
      members: () => [9],
      removeMember: async () => undefined,
    };
    const node: LocalNode = new LocalNode({
      fs,
      storagePath: '/storage',
      openMetaSource: async (l) => {
        listener = l;
        node.attachCluster(link);
        return { get state() { return state; }, propose: applyOne, close: async () => undefined };
      },
      openShard: localShardOpener(fs, () => undefined),
      newPeerId: () => 9,
    });
    await node.open();
    behind.push(
      { kind: 'create_collection', name: 'late', config: config(2), routing: { kind: 'ring', vnodes: 8, seed: 0 }, placement: [[9], [9]], initialState: 'Active' },
      { kind: 'change_aliases', actions: [{ kind: 'create', alias: 'late_alias', collection: 'late' }] },
    );
    expect((await node.collectionConfig('late_alias')).shardNumber).toBe(2);
    expect(catchUps).toBe(1);
    await node.updatePoints('late', [{ op: { kind: 'upsert', points: points(10, 3) }, shardKey: null }], WRITE);
    expect(await node.count('late', null, true, {})).toBe(10);
    expect(catchUps).toBe(1);
    await expect(node.collectionConfig('never')).rejects.toThrow(/doesn't exist/);
    expect(catchUps).toBe(2);
    // A collection created in a cluster starts Initializing and this node activates its replicas.
    await node.createCollection('made_here', config(3), {});
    const made = state.collections.get('made_here')!;
    expect([...made.shards.values()].flatMap((s) => s.replicas.map((r) => [r.peer, r.state]))).toEqual([[9, 'Active'], [9, 'Active'], [9, 'Active']]);
    expect(made.routing).toEqual({ kind: 'ring', vnodes: 128, seed: 0 });
    await node.close();
  });
});
