// Shard transfers between three nodes in one process (real Raft and Points over gRPC on
// 127.0.0.1): moves and replications under concurrent writes and deletes, a delete racing a
// copied batch held back by the test, aborts, and the recovery of a Dead replica; the same with
// the snapshot method (a delete racing a held piece of the archive), and a corrupted archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointKey, seededRng, type PointId, type PointKey, type PointStruct, type Record_ } from '@shoal/common';
import { collectionConfig, type ApplyOutcome, type MetaOperation, type ShardMeta } from '@shoal/meta';
import { freePort, startMember, stopMember, waitUntil, type Member } from './in-process-cluster.js';
import type { ClockTag, LocalShard } from '@shoal/shard';
import type { BeforeBatchHook } from './transfer-source.js';

const members: Member[] = [];
const DIM = 4;
const WRITE = { wait: true, ordering: 'weak' } as const;

/** The test's hold on one copied batch: `held` resolves with its ids, `release()` lets it go. */
interface Gate {
  armed: { batch: number } | null;
  held: Promise<readonly PointId[]>;
  release: () => void;
}

function newGate(): Gate {
  let onHeld!: (ids: readonly PointId[]) => void;
  const gate: Gate = { armed: null, held: new Promise((resolve) => (onHeld = resolve)), release: () => undefined };
  const released = new Promise<void>((resolve) => (gate.release = resolve));
  hooks.set(gate, async (info) => {
    if (gate.armed === null || info.batch !== gate.armed.batch) return;
    gate.armed = null;
    onHeld(info.ids);
    await released;
  });
  return gate;
}

const hooks = new Map<Gate, BeforeBatchHook>();
const beforeBatch: BeforeBatchHook = async (info) => {
  for (const hook of hooks.values()) await hook(info);
};

function points(ids: readonly number[], seed: number): PointStruct[] {
  const rng = seededRng(seed);
  return ids.map((id) => ({
    id,
    vectors: new Map([['', Float32Array.from({ length: DIM }, () => rng.next() - 0.5)]]),
    payload: { id, seed },
  }));
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

function shardOf(m: Member, name: string, id = 0): ShardMeta {
  return m.node.metaState.collections.get(name)!.shards.get(id)!;
}

function propose(m: Member, op: MetaOperation): Promise<ApplyOutcome> {
  return (m.node as unknown as { proposeOutcome(op: MetaOperation): Promise<ApplyOutcome> }).proposeOutcome(op);
}

/** Every point of a replica, by reading that replica alone. */
async function replicaPoints(m: Member, name: string, shardId = 0): Promise<Map<PointKey, Record_>> {
  const meta = m.node.metaState.collections.get(name)!;
  const replica = await m.node.localReplica({ collection: name, incarnation: meta.createdIndex, shardId });
  const out = new Map<PointKey, Record_>();
  let offset: PointId | null = null;
  for (;;) {
    const page = replica.scroll({ filter: null, offset, limit: 1000, withPayload: { kind: 'all' }, withVector: true });
    for (const p of page.points) out.set(pointKey(p.id), p);
    if (page.nextOffset === null) return out;
    offset = page.nextOffset;
  }
}

/** The applied-ticks map of a replica and its count of clock gaps (ticks it got past a missing one). */
async function replicaTicks(m: Member, name: string, shardId = 0): Promise<{ ticks: ClockTag[]; gaps: number }> {
  const meta = m.node.metaState.collections.get(name)!;
  const replica = (await m.node.localReplica({ collection: name, incarnation: meta.createdIndex, shardId })) as unknown as LocalShard;
  return { ticks: replica.appliedTicks(), gaps: replica.info().clockGaps };
}

function sameRecords(a: Map<PointKey, Record_>, b: Map<PointKey, Record_>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [key, r] of a) {
    const other = b.get(key)!;
    expect(other.payload).toEqual(r.payload);
    expect([...(other.vectors?.get('') ?? [])]).toEqual([...(r.vectors?.get('') ?? [])]);
  }
}

/**
 * Writers through every member: each upserts fresh ids and deletes ids it upserted before, one
 * request at a time; what was acknowledged is recorded, and failures are kept as unknown.
 */
function writers(name: string, base: number) {
  let stop = false;
  const acked = new Set<number>();
  const deleted = new Set<number>();
  const unknown = new Set<number>();
  const errors: unknown[] = [];
  let writes = 0;
  const run = async (m: Member, w: number): Promise<void> => {
    let next = base + w * 1_000_000;
    const mine: number[] = [];
    while (!stop) {
      // A write to a replica on the in-memory file system completes in microtasks alone: yield
      // to timers (Raft ticks, the transfer's calls) between writes.
      await new Promise((resolve) => setImmediate(resolve));
      const del = mine.length > 5 && next % 3 === 0 ? mine.splice(Math.floor(mine.length / 2), 1)[0]! : null;
      const ids = del === null ? range(next, 3) : [];
      if (del === null) next += 3;
      try {
        if (del === null) {
          await m.node.updatePoints(name, [{ op: { kind: 'upsert', points: points(ids, next) }, shardKey: null }], WRITE);
          for (const id of ids) acked.add(id);
          mine.push(...ids);
        } else {
          await m.node.updatePoints(name, [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: [del] } }, shardKey: null }], WRITE);
          acked.delete(del);
          deleted.add(del);
        }
        writes += 1;
      } catch (error) {
        for (const id of del === null ? ids : [del]) unknown.add(id);
        errors.push(error);
        // A failure can come at once: let timers (Raft ticks) run before the next try.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  const done = Promise.all(members.map((m, i) => run(m, i)));
  return {
    acked, deleted, unknown, errors,
    get writes() {
      return writes;
    },
    async stop(): Promise<void> {
      stop = true;
      await done;
    },
  };
}

/** Every acknowledged point is on `replica`, no acknowledged delete came back. */
function checkAgainst(replica: Map<PointKey, Record_>, w: ReturnType<typeof writers>, seeded: readonly number[]): void {
  for (const id of [...seeded, ...w.acked]) {
    if (w.deleted.has(id) || w.unknown.has(id)) continue;
    expect(replica.has(pointKey(id)), `acknowledged point ${id}`).toBe(true);
  }
  for (const id of w.deleted) if (!w.unknown.has(id)) expect(replica.has(pointKey(id)), `deleted point ${id}`).toBe(false);
}

beforeAll(async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  // Small archive pieces: a snapshot transfer of a few hundred points takes many messages.
  const transferTiming = { batchPoints: 64, watchdogTickMs: 300, sourceSilentMsMax: 1_500, recoveryTickMs: 200, recoveryPauseMsMin: 200, snapshotChunkBytes: 4096 };
  members.push(await startMember(101, ports[0]!, { transferTiming, beforeTransferBatch: beforeBatch }));
  const bootstrapUri = members[0]!.uri;
  members.push(
    await startMember(102, ports[1]!, { bootstrapUri, transferTiming, beforeTransferBatch: beforeBatch }),
    await startMember(103, ports[2]!, { bootstrapUri, transferTiming, beforeTransferBatch: beforeBatch }),
  );
  await waitUntil('three voters', () => members.every((m) => m.consensus.driver.status().confState.voters.length === 3));
}, 60_000);

afterAll(async () => {
  for (const m of members.splice(0)) await stopMember(m);
});

async function create(name: string, replicationFactor: number, seeded: readonly number[]): Promise<void> {
  await members[0]!.node.createCollection(name, collectionConfig(DIM, 'Dot', { shardNumber: 1, replicationFactor }), {});
  for (let i = 0; i < seeded.length; i += 500) {
    await members[0]!.node.updatePoints(name, [{ op: { kind: 'upsert', points: points(seeded.slice(i, i + 500), 1) }, shardKey: null }], WRITE);
  }
}

const byId = (id: number): Member => members.find((m) => m.id === id)!;

/** The entries of a member's directory of a collection (its shards' replica directories). */
async function shardDirs(m: Member, name: string): Promise<string[]> {
  const meta = m.node.metaState.collections.get(name)!;
  return m.fs.list(`/s/collections/${encodeURIComponent(name)}@${meta.createdIndex}`);
}

describe('shard transfers (snapshot)', () => {
  it('replicates a shard by snapshot under writes; a point of the archive deleted after the capture stays deleted; replicas end identical, ticks too', async () => {
    const name = 'snap';
    const seeded = range(1, 1200);
    await create(name, 1, seeded);
    const from = shardOf(members[0]!, name).replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const other = members.find((m) => m.id !== from && m.id !== to)!;
    const w = writers(name, 30_000);
    await waitUntil('some writes', () => w.writes > 20);
    const gate = newGate();
    gate.armed = { batch: 2 };
    await other.node.updateCollectionCluster(name, { kind: 'replicate_shard', shardId: 0, from, to, method: 'snapshot' }, {});
    expect(await gate.held).toEqual([]);
    // The capture is taken: the comment names the archive's progress.
    const info = await byId(from).node.collectionClusterInfo(name);
    expect(info.transfers[0]).toMatchObject({ method: 'snapshot' });
    expect(info.transfers[0]!.comment).toMatch(/^Transferring snapshot \(\d+\/\d+ bytes\)/);
    // Points in the archive, changed after the capture while its second piece is held.
    const victim = seeded[7]!;
    const updated = seeded[8]!;
    const del = other.node.updatePoints(name, [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: [victim] } }, shardKey: null }], WRITE);
    const set = other.node.updatePoints(name, [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [updated] }, payload: { late: true }, key: null }, shardKey: null }], WRITE);
    await waitUntil('the source applied the delete', async () => (await replicaPoints(byId(from), name)).get(pointKey(victim)) === undefined);
    gate.release();
    await del;
    await set;
    await waitUntil('replicated', () => members.every((m) => shardOf(m, name).replicas.filter((r) => r.state === 'Active').length === 2), 30_000);
    const after = w.writes;
    await waitUntil('writes after the copy', () => w.writes > after + 20);
    await w.stop();
    const a = await replicaPoints(byId(from), name);
    const b = await replicaPoints(byId(to), name);
    expect(b.has(pointKey(victim))).toBe(false);
    expect(b.get(pointKey(updated))?.payload).toMatchObject({ late: true });
    sameRecords(a, b);
    checkAgainst(b, w, seeded.filter((id) => id !== victim));
    const source = await replicaTicks(byId(from), name);
    const target = await replicaTicks(byId(to), name);
    expect(source.ticks.length).toBeGreaterThan(0);
    expect(target.ticks).toEqual(source.ticks);
    expect(target.gaps).toBe(0);
    // Only the replica's own directory is left on the target (no restore leftovers).
    const replica = shardOf(byId(to), name).replicas.find((r) => r.peer === to)!;
    expect(await shardDirs(byId(to), name)).toEqual([`0@${replica.storage}`]);
  }, 60_000);

  it('moves a shard by snapshot while every node writes and deletes: nothing acknowledged is lost, nothing deleted comes back', async () => {
    const name = 'snapmove';
    const seeded = range(1, 1500);
    await create(name, 1, seeded);
    const from = shardOf(members[0]!, name).replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const w = writers(name, 40_000);
    await waitUntil('some writes', () => w.writes > 20);
    await members[1]!.node.updateCollectionCluster(name, { kind: 'move_shard', shardId: 0, from, to, method: 'snapshot' }, {});
    await waitUntil('moved', () => members.every((m) => {
      const s = shardOf(m, name);
      return s.replicas.length === 1 && s.replicas[0]!.peer === to && s.replicas[0]!.state === 'Active';
    }), 30_000);
    const after = w.writes;
    await waitUntil('writes after the move', () => w.writes > after + 20);
    await w.stop();
    expect(w.deleted.size).toBeGreaterThan(0);
    checkAgainst(await replicaPoints(byId(to), name), w, seeded);
  }, 60_000);

  it('a corrupted piece of the archive fails the transfer: aborted, the target keeps no replica and no directory, the source is intact', async () => {
    const name = 'snapbad';
    await create(name, 1, range(1, 600));
    const from = shardOf(members[0]!, name).replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!;
    let flipped = false;
    const corrupt: BeforeBatchHook = async (info) => {
      if (flipped || info.collection !== name || info.batch !== 3 || info.bytes === undefined) return;
      flipped = true;
      const at = info.bytes.length >> 1;
      info.bytes[at] = info.bytes[at]! ^ 0x40;
    };
    const key = { armed: null, held: Promise.resolve([]), release: () => undefined } as Gate;
    hooks.set(key, corrupt);
    try {
      await members[0]!.node.updateCollectionCluster(name, { kind: 'replicate_shard', shardId: 0, from, to: to.id, method: 'snapshot' }, {});
      await waitUntil('aborted everywhere', () => members.every((m) => m.node.metaState.collections.get(name)!.transfers.length === 0), 30_000);
    } finally {
      hooks.delete(key);
    }
    expect(flipped).toBe(true);
    for (const m of members) expect(shardOf(m, name).replicas).toEqual([expect.objectContaining({ peer: from, state: 'Active' })]);
    await waitUntil('no directory left on the target', async () => (await shardDirs(to, name)).length === 0);
    expect((await replicaPoints(byId(from), name)).size).toBe(600);
  }, 60_000);
});

/** Marks `peer`'s replica of shard 0 of `name` Dead, as a failed write would. */
async function markDead(name: string, peer: number): Promise<void> {
  const meta = members[0]!.node.metaState.collections.get(name)!;
  const replica = shardOf(members[0]!, name).replicas.find((r) => r.peer === peer)!;
  expect((await propose(members[0]!, {
    kind: 'set_replica_states', collection: name, incarnation: meta.createdIndex,
    changes: [{ shard: 0, peer, expect: { state: replica.state, generation: replica.generation }, state: 'Dead' }],
  })).ok).toBe(true);
}

describe('shard transfers (wal_delta)', () => {
  it('recovers a Dead replica with the writes it missed, on its own storage, in the source order', async () => {
    const name = 'delta';
    await create(name, 2, range(1, 600));
    const shard = shardOf(members[0]!, name);
    const victim = shard.replicas[1]!;
    const source = byId(shard.replicas[0]!.peer);
    const dirsBefore = await shardDirs(byId(victim.peer), name);
    await markDead(name, victim.peer);
    // What the Dead replica misses: new points, deletes of points it holds, payload changes of points it holds.
    await source.node.updatePoints(name, [{ op: { kind: 'upsert', points: points(range(5000, 40), 2) }, shardKey: null }], WRITE);
    await source.node.updatePoints(name, [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: range(1, 25) } }, shardKey: null }], WRITE);
    await source.node.updatePoints(name, [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: range(100, 5) }, payload: { changed: true }, key: null }, shardKey: null }], WRITE);
    await waitUntil('recovered', () => members.every((m) => shardOf(m, name).replicas.every((r) => r.state === 'Active')), 30_000);
    // The same storage: the replica was not copied again, it got the writes it missed.
    const after = shardOf(members[0]!, name).replicas.find((r) => r.peer === victim.peer)!;
    expect(after.storage).toBe(victim.storage);
    expect(after.unfilled).toBeUndefined();
    expect(await shardDirs(byId(victim.peer), name)).toEqual(dirsBefore);
    const recovered = await replicaPoints(byId(victim.peer), name);
    sameRecords(await replicaPoints(source, name), recovered);
    expect(recovered.size).toBe(600 + 40 - 25);
    expect(recovered.has(pointKey(1))).toBe(false);
    expect(recovered.get(pointKey(100))?.payload).toMatchObject({ changed: true });
    expect((await replicaTicks(byId(victim.peer), name)).ticks).toEqual((await replicaTicks(source, name)).ticks);
  }, 60_000);

  it('copies the shard instead when the Dead replica holds a write its source never applied', async () => {
    const name = 'deltaFallback';
    await create(name, 2, range(1, 300));
    const shard = shardOf(members[0]!, name);
    const victim = shard.replicas[1]!;
    const source = byId(shard.replicas[0]!.peer);
    const meta = members[0]!.node.metaState.collections.get(name)!;
    // A write only the victim applied, under a clock nobody else has.
    const local = await byId(victim.peer).node.localReplica({ collection: name, incarnation: meta.createdIndex, shardId: 0 });
    await local.update({ kind: 'upsert', points: points([999_999], 3) }, { peer: 424242, epoch: 1, clock: 1, tick: 1 });
    await markDead(name, victim.peer);
    await source.node.updatePoints(name, [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: range(1, 10) } }, shardKey: null }], WRITE);
    await waitUntil('recovered', () => members.every((m) => shardOf(m, name).replicas.every((r) => r.state === 'Active')), 30_000);
    // Restarted as stream_records onto new storage: the write only the victim had is gone with the old storage.
    const after = shardOf(members[0]!, name).replicas.find((r) => r.peer === victim.peer)!;
    expect(after.storage).not.toBe(victim.storage);
    const recovered = await replicaPoints(byId(victim.peer), name);
    sameRecords(await replicaPoints(source, name), recovered);
    expect(recovered.has(pointKey(999_999))).toBe(false);
    expect(recovered.size).toBe(290);
  }, 60_000);

  it('copies the shard (stream_records) when wal_delta is asked for a peer without a replica of it', async () => {
    const name = 'deltaToNew';
    await create(name, 1, range(1, 50));
    const from = shardOf(members[0]!, name).replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    await members[0]!.node.updateCollectionCluster(name, { kind: 'replicate_shard', shardId: 0, from, to, method: 'wal_delta' }, {});
    await waitUntil('replicated', () => members.every((m) => shardOf(m, name).replicas.length === 2 && shardOf(m, name).replicas.every((r) => r.state === 'Active')), 30_000);
    sameRecords(await replicaPoints(byId(from), name), await replicaPoints(byId(to), name));
    // A copy: the new replica has storage of its own, named by the transfer that filled it.
    expect(shardOf(members[0]!, name).replicas.find((r) => r.peer === to)?.storage).toEqual(expect.any(Number));
  }, 60_000);
});

describe('shard transfers (stream_records)', () => {
  it('moves a shard while every node writes and deletes: nothing acknowledged is lost, nothing deleted comes back', async () => {
    const seeded = range(1, 1500);
    await create('move', 1, seeded);
    const from = shardOf(members[0]!, 'move').replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const w = writers('move', 10_000);
    await waitUntil('some writes', () => w.writes > 20);
    await members[2]!.node.updateCollectionCluster('move', { kind: 'move_shard', shardId: 0, from, to, method: null }, {});
    await waitUntil('moved', () => members.every((m) => {
      const s = shardOf(m, 'move');
      return s.replicas.length === 1 && s.replicas[0]!.peer === to && s.replicas[0]!.state === 'Active';
    }), 30_000);
    // Writes keep going to the new replica after the cutover.
    const after = w.writes;
    await waitUntil('writes after the move', () => w.writes > after + 20);
    await w.stop();
    expect(w.writes).toBeGreaterThan(40);
    checkAgainst(await replicaPoints(byId(to), 'move'), w, seeded);
    // The source's data is gone with its replica.
    expect(byId(from).node.metaState.collections.get('move')!.shards.get(0)!.replicas.some((r) => r.peer === from)).toBe(false);
  }, 60_000);

  it('replicates a shard under writes: both replicas end identical', async () => {
    const seeded = range(1, 1000);
    await create('copy', 1, seeded);
    const from = shardOf(members[0]!, 'copy').replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const w = writers('copy', 20_000);
    await waitUntil('some writes', () => w.writes > 20);
    const before = await replicaTicks(byId(from), 'copy');
    await members[1]!.node.updateCollectionCluster('copy', { kind: 'replicate_shard', shardId: 0, from, to, method: null }, {});
    await waitUntil('replicated', () => members.every((m) => shardOf(m, 'copy').replicas.filter((r) => r.state === 'Active').length === 2), 30_000);
    const after = w.writes;
    await waitUntil('writes after the copy', () => w.writes > after + 20);
    await w.stop();
    const a = await replicaPoints(byId(from), 'copy');
    const b = await replicaPoints(byId(to), 'copy');
    sameRecords(a, b);
    checkAgainst(b, w, seeded);
    // The source's applied ticks seeded the target as forwarding started: the writes forwarded and
    // sent after continued every clock there (no gap), and both replicas hold the same map.
    const source = await replicaTicks(byId(from), 'copy');
    const target = await replicaTicks(byId(to), 'copy');
    expect(before.ticks.length).toBeGreaterThan(0);
    expect(target.ticks).toEqual(source.ticks);
    expect(target.gaps).toBe(0);
    const key = (t: ClockTag): string => `${t.peer}/${t.epoch}/${t.clock}`;
    const onTarget = new Map(target.ticks.map((t) => [key(t), t.tick]));
    for (const t of before.ticks) expect(onTarget.get(key(t)) ?? 0).toBeGreaterThanOrEqual(t.tick);
  }, 60_000);

  it('a point deleted while its copied batch is held back does not come back on the target', async () => {
    const seeded = range(1, 600);
    await create('gated', 1, seeded);
    const from = shardOf(members[0]!, 'gated').replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const other = members.find((m) => m.id !== from && m.id !== to)!;
    const gate = newGate();
    gate.armed = { batch: 3 };
    await other.node.updateCollectionCluster('gated', { kind: 'move_shard', shardId: 0, from, to, method: null }, {});
    const held = await gate.held;
    const victim = held[5]!;
    const updated = held[6]!;
    // A point no batch has copied yet: the forwarded write finds nothing there, its batch brings it as it is then.
    const notYetCopied = seeded[seeded.length - 1]!;
    expect(held).not.toContain(notYetCopied);
    // Through the third node: the source applies both at once and queues them behind the held batch.
    const del = other.node.updatePoints('gated', [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: [victim] } }, shardKey: null }], WRITE);
    const set = other.node.updatePoints('gated', [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [updated] }, payload: { late: true }, key: null }, shardKey: null }], WRITE);
    const later = other.node.updatePoints('gated', [{ op: { kind: 'set_payload', selector: { kind: 'ids', ids: [notYetCopied] }, payload: { later: 1 }, key: null }, shardKey: null }], WRITE);
    await waitUntil('the source applied the delete', async () => (await replicaPoints(byId(from), 'gated')).get(pointKey(victim)) === undefined);
    gate.release();
    await del;
    await set;
    await later;
    await waitUntil('moved', () => members.every((m) => shardOf(m, 'gated').replicas.every((r) => r.peer === to && r.state === 'Active')), 30_000);
    const target = await replicaPoints(byId(to), 'gated');
    expect(target.has(pointKey(victim))).toBe(false);
    expect(target.get(pointKey(updated))?.payload).toMatchObject({ late: true });
    expect(target.get(pointKey(notYetCopied))?.payload).toEqual({ id: notYetCopied, seed: 1, later: 1 });
    expect(target.size).toBe(seeded.length - 1);
  }, 60_000);

  it('aborting a move leaves the source Active and no replica on the target', async () => {
    await create('aborted', 1, range(1, 400));
    const from = shardOf(members[0]!, 'aborted').replicas[0]!.peer;
    const to = members.find((m) => m.id !== from)!.id;
    const gate = newGate();
    gate.armed = { batch: 2 };
    await members[0]!.node.updateCollectionCluster('aborted', { kind: 'move_shard', shardId: 0, from, to, method: null }, {});
    await gate.held;
    await members[1]!.node.updateCollectionCluster('aborted', { kind: 'abort_transfer', shardId: 0, from, to }, {});
    gate.release();
    await waitUntil('aborted everywhere', () => members.every((m) => m.node.metaState.collections.get('aborted')!.transfers.length === 0));
    for (const m of members) expect(shardOf(m, 'aborted').replicas).toEqual([expect.objectContaining({ peer: from, state: 'Active' })]);
    const info = await byId(to).node.collectionClusterInfo('aborted');
    expect(info.localShards).toEqual([]);
    expect((await replicaPoints(byId(from), 'aborted')).size).toBe(400);
  }, 60_000);

  it('a Dead replica whose peer is alive is recovered automatically, with what it missed', async () => {
    const seeded = range(1, 800);
    await create('recover', 2, seeded);
    const shard = shardOf(members[0]!, 'recover');
    const victim = shard.replicas[1]!;
    const meta = members[0]!.node.metaState.collections.get('recover')!;
    expect((await propose(members[0]!, {
      kind: 'set_replica_states', collection: 'recover', incarnation: meta.createdIndex,
      changes: [{ shard: 0, peer: victim.peer, expect: { state: victim.state, generation: victim.generation }, state: 'Dead' }],
    })).ok).toBe(true);
    // Writes the Dead replica misses, and deletes of points it holds.
    const writer = members.find((m) => m.id !== victim.peer)!;
    await writer.node.updatePoints('recover', [{ op: { kind: 'upsert', points: points(range(5000, 50), 2) }, shardKey: null }], WRITE);
    await writer.node.updatePoints('recover', [{ op: { kind: 'delete_points', selector: { kind: 'ids', ids: range(1, 20) } }, shardKey: null }], WRITE);
    await waitUntil('recovered', () => members.every((m) => shardOf(m, 'recover').replicas.every((r) => r.state === 'Active')), 30_000);
    const recovered = await replicaPoints(byId(victim.peer), 'recover');
    sameRecords(await replicaPoints(byId(shard.replicas[0]!.peer), 'recover'), recovered);
    expect(recovered.size).toBe(800 + 50 - 20);
    expect(recovered.has(pointKey(1))).toBe(false);
  }, 60_000);

  it('the leader aborts a transfer whose source went silent; the target keeps no replica', async () => {
    const name = 'silent';
    await create(name, 1, range(1, 400));
    const leaderId = members[0]!.consensus.driver.status().leader;
    const from = members.find((m) => m.id !== leaderId)!;
    const to = members.find((m) => m.id !== from.id)!;
    // Move the shard onto a node that is not the leader first, so that it can be stopped.
    const at = shardOf(members[0]!, name).replicas[0]!.peer;
    if (at !== from.id) {
      await members[0]!.node.updateCollectionCluster(name, { kind: 'move_shard', shardId: 0, from: at, to: from.id, method: null }, {});
      await waitUntil('placed', () => members.every((m) => shardOf(m, name).replicas.every((r) => r.peer === from.id && r.state === 'Active')), 30_000);
    }
    const gate = newGate();
    gate.armed = { batch: 2 };
    await to.node.updateCollectionCluster(name, { kind: 'move_shard', shardId: 0, from: from.id, to: to.id, method: null }, {});
    await gate.held;
    // The source stops answering (its Points and Raft go away with its consensus).
    await from.consensus.close();
    const others = members.filter((m) => m !== from);
    await waitUntil('aborted by the leader', () => others.every((m) => m.node.metaState.collections.get(name)!.transfers.length === 0), 30_000);
    for (const m of others) expect(shardOf(m, name).replicas).toEqual([expect.objectContaining({ peer: from.id, state: 'Active' })]);
    gate.release();
    await from.node.close();
    members.splice(members.indexOf(from), 1);
  }, 60_000);
});
