import { afterEach, describe, expect, it } from 'vitest';
import { peerId } from '@shoal/raft';
import { TestCluster, createCollection, type TestNode } from './driver-harness.js';
import type { ProposalResult } from './driver-waiters.js';
import { clusterStatusBody } from './cluster-status.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Proposes on the current leader until applied (a leader change in between is retried). */
async function commit(c: TestCluster, name: string): Promise<ProposalResult & { outcome: 'applied' }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const leader = await c.leader();
    const r = await c.drive(leader.driver.propose(createCollection(name), c.deadline()));
    if (r.outcome === 'applied') return r;
  }
  throw new Error(`could not commit ${name}`);
}

/** Every live node applied `index` with the same state hash. */
async function converged(c: TestCluster, index: number, nodes: TestNode[] = c.live()): Promise<string> {
  await c.until(() => nodes.every((n) => n.driver.appliedIndex() >= index), 300, `all nodes applying ${index}`);
  const hashes = new Set(nodes.map((n) => n.driver.stateHashAt(index)));
  expect(hashes.size).toBe(1);
  const [hash] = hashes;
  expect(hash).toMatch(/^[0-9a-f]{64}$/);
  return hash!;
}

describe('ConsensusDriver.close', () => {
  it('returns and stops working when input is still queued (it used to spin on microtasks forever)', async () => {
    const c = (cluster = await TestCluster.founded(9, [1, 2, 3]));
    await c.leader();
    const node = c.node(1);
    for (let i = 0; i < 5; i++) node.driver.tick();
    node.live = false;
    await node.driver.close();
    // With the spin, microtasks never end and this macrotask never runs: the test times out.
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.driver.status().thread.status).not.toBe('working');
  }, 10_000);
});

describe('ConsensusDriver on three nodes', () => {
  it('elects a leader, commits metadata operations, and every node holds the same state at the same index', async () => {
    const c = (cluster = await TestCluster.founded(1, [1, 2, 3]));
    const leader = await c.leader();
    const first = await commit(c, 'alpha');
    expect(first.result).toEqual({ ok: true });
    const again = await c.drive(leader.driver.propose(createCollection('alpha'), c.deadline()));
    // A refused operation is still applied (every replica refuses it the same way).
    expect(again).toMatchObject({ outcome: 'applied', result: { ok: false, refusal: { code: 'collection_exists' } } });
    const last = await commit(c, 'beta');
    await converged(c, last.index);
    for (const n of c.live()) expect([...n.driver.metaState().collections.keys()].sort()).toEqual(['alpha', 'beta']);
    // A follower does not accept proposals and names the leader.
    const follower = c.live().find((n) => n !== leader)!;
    expect(await follower.driver.propose(createCollection('gamma'), c.deadline())).toEqual({ outcome: 'not_leader', leader: leader.id });
    const status = follower.driver.status();
    expect(status).toMatchObject({ role: 'Follower', leader: leader.id, isVoter: true, thread: { status: 'working' } });
    expect([...status.peers.keys()].sort()).toEqual([1, 2, 3]);
  });

  it('serves linearizable reads on the leader and on followers', async () => {
    const c = (cluster = await TestCluster.founded(2, [1, 2, 3]));
    const written = await commit(c, 'alpha');
    for (const n of c.live()) {
      const r = await c.drive(n.driver.linearizableRead(c.deadline()));
      expect(r.outcome).toBe('ok');
      if (r.outcome === 'ok') {
        expect(r.index).toBeGreaterThanOrEqual(written.index);
        expect(r.state.collections.has('alpha')).toBe(true);
      }
    }
  });

  it('survives the loss of its leader, and the restarted node catches up with the same state', async () => {
    const c = (cluster = await TestCluster.founded(3, [1, 2, 3]));
    await commit(c, 'before');
    const old = await c.leader();
    const image = await c.kill(old.id);
    const next = await c.leader();
    expect(next.id).not.toBe(old.id);
    const during = await commit(c, 'during');
    await converged(c, during.index);
    // GET /cluster on the new leader: its role, and the failures to reach the dead peer by URI.
    const body = clusterStatusBody(next.driver.status());
    expect(body).toMatchObject({ status: 'enabled', peer_id: next.id, raft_info: { role: 'Leader', leader: next.id, is_voter: true } });
    expect(body.consensus_thread_status).toMatchObject({ consensus_thread_status: 'working' });
    expect(body.message_send_failures[`local://${old.id}`]?.count).toBeGreaterThan(0);
    expect(Object.keys(body.peers).sort()).toEqual(['1', '2', '3']);
    await c.restart(old.id, image);
    const after = await commit(c, 'after');
    await converged(c, after.index);
    expect([...c.node(old.id).driver.metaState().collections.keys()].sort()).toEqual(['after', 'before', 'during']);
  });

  it('times out a proposal that cannot commit, with a typed result', async () => {
    const c = (cluster = await TestCluster.founded(4, [1, 2, 3]));
    const leader = await c.leader();
    for (const n of c.live()) if (n !== leader) await c.kill(n.id);
    const r = await c.drive(leader.driver.propose(createCollection('lonely'), c.deadline(5)));
    expect(r).toEqual({ outcome: 'timeout' });
  });

  it('brings a lagging node up to date with a snapshot', async () => {
    const c = (cluster = await TestCluster.founded(5, [1, 2, 3], { snapshotEntries: 4 }));
    const leader = await c.leader();
    const lagging = c.live().find((n) => n !== leader)!;
    for (const n of c.live()) {
      c.hub.setLinkUp(n.id, lagging.id, false);
      c.hub.setLinkUp(lagging.id, n.id, false);
    }
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await commit(c, `c${i}`)).index;
    for (const n of c.live()) {
      c.hub.setLinkUp(n.id, lagging.id, true);
      c.hub.setLinkUp(lagging.id, n.id, true);
    }
    await converged(c, last);
    // It skipped the middle of the log: states it never applied one by one have no hash here.
    const skipped = Array.from({ length: last }, (_, i) => i + 1).filter((i) => lagging.driver.stateHashAt(i) === undefined);
    expect(skipped.length).toBeGreaterThan(4);
    expect(lagging.driver.metaState().collections.size).toBe(12);
  });
});

describe('ConsensusDriver membership', () => {
  it('adds a fourth node as a learner, then promotes it to voter', async () => {
    const c = (cluster = await TestCluster.founded(6, [1, 2, 3]));
    await commit(c, 'alpha');
    const joiner = await c.start(peerId(4), c.newFs(peerId(4)));
    const leader = await c.leader();
    const added = await c.drive(leader.driver.addLearner(joiner.id, 'local://4', c.deadline()));
    expect(added.outcome).toBe('applied');
    const written = await commit(c, 'beta');
    await converged(c, written.index);
    expect(joiner.driver.status().isVoter).toBe(false);
    const promoted = await c.drive((await c.leader()).driver.promote(joiner.id, c.deadline()));
    expect(promoted.outcome).toBe('applied');
    const after = await commit(c, 'gamma');
    await converged(c, after.index);
    for (const n of c.live()) expect(n.driver.status().confState.voters).toEqual([1, 2, 3, 4]);
    expect(joiner.driver.status()).toMatchObject({ isVoter: true });
    expect(joiner.driver.status().peers.get(peerId(4))).toBe('local://4');
  });

  it('refuses to promote a learner that is not caught up', async () => {
    const c = (cluster = await TestCluster.founded(7, [1, 2, 3], { promoteLagMax: 0 }));
    await commit(c, 'alpha');
    const leader = await c.leader();
    // Its address is known, but the node is not running: it can never catch up.
    const added = await c.drive(leader.driver.addLearner(peerId(9), 'local://9', c.deadline()));
    expect(added.outcome).toBe('applied');
    const r = await c.drive(leader.driver.promote(peerId(9), c.deadline()));
    expect(r).toMatchObject({ outcome: 'dropped', reason: expect.stringContaining('not caught up') });
  });

  it('removes the leader by handing leadership over first; the rest keeps committing', async () => {
    const c = (cluster = await TestCluster.founded(8, [1, 2, 3]));
    await commit(c, 'alpha');
    const old = await c.leader();
    const handed = await c.drive(old.driver.removePeer(old.id, c.deadline()));
    expect(handed.outcome).toBe('not_leader');
    const next = await c.leader();
    expect(next.id).not.toBe(old.id);
    if (handed.outcome === 'not_leader') expect(handed.leader).toBe(next.id);
    const removed = await c.drive(next.driver.removePeer(old.id, c.deadline()));
    expect(removed.outcome).toBe('applied');
    await c.kill(old.id);
    const after = await commit(c, 'beta');
    await converged(c, after.index);
    for (const n of c.live()) {
      expect(n.driver.status().confState).toMatchObject({ voters: [...c.live().map((x) => x.id)].sort(), votersOutgoing: [] });
      expect(n.driver.status().peers.has(old.id)).toBe(false);
    }
  });

  it('shrinks from two voters to one by removing the leader', async () => {
    const c = (cluster = await TestCluster.founded(9, [1, 2]));
    await commit(c, 'alpha');
    const old = await c.leader();
    expect((await c.drive(old.driver.removePeer(old.id, c.deadline()))).outcome).toBe('not_leader');
    const next = await c.leader();
    expect((await c.drive(next.driver.removePeer(old.id, c.deadline()))).outcome).toBe('applied');
    await c.kill(old.id);
    const after = await commit(c, 'beta');
    expect(after.outcome).toBe('applied');
    expect(next.driver.status().confState.voters).toEqual([next.id]);
  });
});

describe('ConsensusDriver storage errors', () => {
  it('reports a failed fsync, reloads from disk with back-off, and catches up', async () => {
    const c = (cluster = await TestCluster.founded(10, [1, 2, 3]));
    await commit(c, 'alpha');
    const leader = await c.leader();
    const victim = c.live().find((n) => n !== leader)!;
    victim.failNextSync = true;
    const pending = leader.driver.propose(createCollection('beta'), c.deadline());
    await c.until(() => victim.driver.status().thread.status === 'stopped_with_err', 50, 'the error being reported');
    const stopped = victim.driver.status().thread;
    expect(stopped).toMatchObject({ status: 'stopped_with_err', err: expect.stringContaining('injected fsync failure') });
    // While stopped it refuses work with a typed answer instead of hanging.
    expect(await victim.driver.propose(createCollection('x'), c.deadline())).toMatchObject({ outcome: 'unavailable' });
    // Reads of the applied metadata keep working meanwhile.
    expect(victim.driver.metaState().collections.has('alpha')).toBe(true);
    expect((await c.drive(pending)).outcome).toBe('applied');
    await c.until(() => victim.driver.status().thread.status === 'working', 50, 'the reload');
    const after = await commit(c, 'gamma');
    await converged(c, after.index);
  });

  it('on the leader: the proposal it could not persist is reported unknown, the cluster goes on, the node rejoins', async () => {
    const c = (cluster = await TestCluster.founded(11, [1, 2, 3]));
    await commit(c, 'alpha');
    const leader = await c.leader();
    leader.failNextSync = true;
    const lost = await c.drive(leader.driver.propose(createCollection('beta'), c.deadline()));
    expect(lost).toMatchObject({ outcome: 'unknown', reason: expect.stringContaining('injected fsync failure') });
    expect(leader.driver.status().thread.status).toBe('stopped_with_err');
    const after = await commit(c, 'gamma');
    await converged(c, after.index);
    expect(leader.driver.status().thread.status).toBe('working');
  });
});

describe('ConsensusDriver restarts', () => {
  it('after every node lost power, the cluster comes back with the same state at the same index', async () => {
    const c = (cluster = await TestCluster.founded(12, [1, 2, 3], { snapshotEntries: 3 }));
    let last = 0;
    for (let i = 0; i < 7; i++) last = (await commit(c, `c${i}`)).index;
    const hash = await converged(c, last);
    const images = [];
    for (const id of [1, 2, 3]) images.push([id, await c.kill(id)] as const);
    for (const [id, image] of images) await c.restart(id, image);
    // Every entry was acknowledged, so it is on a majority of disks and comes back.
    await c.until(() => c.live().every((n) => n.driver.appliedIndex() >= last), 300, 'replay after restart');
    for (const n of c.live()) {
      expect(n.driver.metaState().collections.size).toBe(7);
      expect(n.driver.stateHashAt(last)).toBe(hash);
    }
    const after = await commit(c, 'after');
    await converged(c, after.index);
  });
});
