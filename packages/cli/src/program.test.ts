// The commands against a fake node that answers the spec's shapes: the exact requests the CLI
// sends (method, path, query, body), what it prints, and its exit codes.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './program.js';
import { FakeNode, type FakeCollection, type FakeOptions } from './testing/fake-node.js';
import { validateRequestBody } from './testing/spec.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

const nodes: FakeNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    expect(n.violations).toEqual([]);
    await n.stop();
  }
});

async function fake(options: Partial<FakeOptions> = {}): Promise<FakeNode> {
  const node = new FakeNode({ self: 1, peers: [1, 2, 3], collections: { docs: docs() }, ...options });
  await node.start();
  nodes.push(node);
  return node;
}

/** Two shards, two replicas each: shard 0 on peers 1 and 2, shard 1 on peers 2 and 3. */
function docs(): FakeCollection {
  return {
    shards: [
      { id: 0, replicas: [{ peer: 1, state: 'Active', points: 10 }, { peer: 2, state: 'Active', points: 10 }] },
      { id: 1, replicas: [{ peer: 2, state: 'Active', points: 7 }, { peer: 3, state: 'Active', points: 7 }] },
    ],
    transfers: [],
  };
}

/** Runs the CLI in-process against `node`, on a clock that advances only when the CLI sleeps. */
async function run(node: FakeNode | null, argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  let now = 0;
  const code = await runCli(node === null ? argv : ['--url', node.url, ...argv], {
    fetch: (input, init) => fetch(input, init),
    io: { out: (t) => out.push(t), err: (t) => err.push(t) },
    env,
    clock: { now: () => now, sleep: async (ms) => void (now += ms) },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const clusterPost = (body: unknown) => ({ method: 'POST', path: '/collections/docs/cluster', body });

describe('cluster', () => {
  it('status: GET /cluster as a table, or the raw result with -o json', async () => {
    const node = await fake();
    const table = await run(node, ['cluster', 'status']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^status\s+enabled$/m);
    expect(table.out).toMatch(/^leader\s+1$/m);
    expect(table.out).toMatch(/^consensus_thread\s+working$/m);
    const json = await run(node, ['-o', 'json', 'cluster', 'status']);
    expect(JSON.parse(json.out)).toMatchObject({ status: 'enabled', peer_id: 1, raft_info: { commit: 42 } });
    expect(node.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /cluster', 'GET /cluster']);
  });

  it('sends the api key from --api-key or QDRANT_API_KEY, and takes the URL from SHOAL_URL', async () => {
    const node = await fake();
    await run(node, ['cluster', 'status', '--api-key', 's3cret']);
    expect((await run(null, ['cluster', 'status'], { SHOAL_URL: node.url, QDRANT_API_KEY: 'from-env' })).code).toBe(0);
    expect(node.requests.map((r) => r.headers['api-key'])).toEqual(['s3cret', 'from-env']);
  });

  it('peers: members, the leader, this node and replicas per peer', async () => {
    const node = await fake();
    const r = await run(node, ['cluster', 'peers']);
    expect(r.out.split('\n')).toEqual([
      'PEER  URI                    ROLE    THIS  REPLICAS',
      '1     http://10.0.0.1:6335/  leader  *            1',
      '2     http://10.0.0.2:6335/                       2',
      '3     http://10.0.0.3:6335/                       1',
    ]);
  });

  it('remove-peer: DELETE /cluster/peer/{id}, with force=true only when asked; the node\'s refusal is printed, exit 1', async () => {
    const node = await fake();
    const refused = await run(node, ['cluster', 'remove-peer', '3']);
    expect(refused).toMatchObject({ code: 1, err: 'shoal: Bad request: Cannot remove peer 3 as there are shards on it' });
    const forced = await run(node, ['cluster', 'remove-peer', '3', '--force']);
    expect(forced.code).toBe(0);
    expect(node.changes().map((r) => [r.method, r.path, r.query])).toEqual([
      ['DELETE', '/cluster/peer/3', {}],
      ['DELETE', '/cluster/peer/3', { force: 'true' }],
    ]);
  });

  it('recover: POST /cluster/recover without a body', async () => {
    const node = await fake();
    expect((await run(node, ['cluster', 'recover'])).code).toBe(0);
    expect(node.changes().map((r) => [r.method, r.path, r.text])).toEqual([['POST', '/cluster/recover', '']]);
  });

  it('a node outside cluster mode: drain explains and exits 1', async () => {
    const node = await fake();
    node.overrides.set('GET /cluster', { status: 200, body: { result: { status: 'disabled' }, status: 'ok', time: 0 } });
    const r = await run(node, ['drain', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cluster mode is disabled/);
  });
});

describe('collections', () => {
  it('list and info', async () => {
    const node = await fake({ collections: { docs: docs(), notes: docs() } });
    const list = await run(node, ['collections', 'list']);
    expect(list.out.split('\n')).toEqual([
      'NAME   STATUS  POINTS  SEGMENTS  SHARDS  REPLICATION',
      'docs   green       17         2       2            2',
      'notes  green       17         2       2            2',
    ]);
    const info = await run(node, ['collections', 'info', 'docs']);
    expect(info.out).toMatch(/^vectors\s+4 Cosine$/m);
    expect(info.out).toMatch(/^payload_indexes\s+city \(keyword\)$/m);
    expect(JSON.parse((await run(node, ['collections', 'list', '-o', 'json'])).out)).toEqual({ collections: [{ name: 'docs' }, { name: 'notes' }] });
  });

  it('an unknown collection: Qdrant\'s message, exit 1', async () => {
    const node = await fake();
    expect(await run(node, ['collections', 'info', 'nope'])).toMatchObject({ code: 1, err: 'shoal: Not found: Collection `nope` doesn\'t exist!' });
  });
});

describe('shards', () => {
  it('list: every replica with peer, state and (for local replicas) points', async () => {
    const node = await fake();
    const r = await run(node, ['shards', 'list', 'docs']);
    expect(r.out.split('\n').slice(0, 5)).toEqual([
      'SHARD  KEY  PEER  STATE   POINTS  THIS',
      '    0    -  1     Active      10  *',
      '    0    -  2     Active       -',
      '    1    -  2     Active       -',
      '    1    -  3     Active       -',
    ]);
  });

  it('move: POST move_shard as the spec has it, then follows the transfer to its end with progress', async () => {
    const node = await fake({ transferPolls: 3 });
    const r = await run(node, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '3', '--method', 'snapshot']);
    expect(r.code).toBe(0);
    const body = { move_shard: { shard_id: 0, from_peer_id: 1, to_peer_id: 3, method: 'snapshot' } };
    expect(node.changes().map((c) => ({ method: c.method, path: c.path, body: c.body }))).toEqual([clusterPost(body)]);
    validateRequestBody('POST', '/collections/docs/cluster', body);
    expect(r.err).toMatch(/docs\/0 1 -> 3: Transferring records \(80\/100\)/);
    expect(r.err).toMatch(/docs\/0 1 -> 3: done in/);
    expect(r.out).toBe('moved docs shard 0 from peer 1 to peer 3');
    expect(node.collection('docs').shards[0]!.replicas.map((x) => [x.peer, x.state])).toEqual([[2, 'Active'], [3, 'Active']]);
  });

  it('replicate without --method leaves the method to the node; --no-wait does not poll', async () => {
    const node = await fake();
    const r = await run(node, ['shards', 'replicate', 'docs', '1', '--from', '3', '--to', '1', '--no-wait']);
    expect(r.code).toBe(0);
    expect(node.changes().map((c) => c.body)).toEqual([{ replicate_shard: { shard_id: 1, from_peer_id: 3, to_peer_id: 1 } }]);
    expect(node.requests.filter((q) => q.path === '/collections/docs/cluster' && q.method === 'GET')).toEqual([]);
  });

  it('a failed transfer: exit 1 naming it', async () => {
    const node = await fake({ transfersFail: true });
    const r = await run(node, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '3']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/move docs shard 0 from peer 1 to peer 3 failed: the transfer ended and the replica on peer 3 is gone/);
  });

  it('a transfer outlasting --timeout: exit 1, not aborted, with the commands to follow or abort it', async () => {
    const node = await fake({ transfersHang: true });
    const r = await run(node, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '3', '--timeout', '5']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/still running after 5\.0s; it was not aborted/);
    expect(r.err).toMatch(/shoal transfers abort docs 0 --from 1 --to 3/);
    expect(node.changes()).toHaveLength(1);
  });

  it('--dry-run prints the request and sends nothing', async () => {
    const node = await fake();
    const r = await run(node, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '3', '--dry-run', '-o', 'json']);
    expect(JSON.parse(r.out)).toEqual(clusterPost({ move_shard: { shard_id: 0, from_peer_id: 1, to_peer_id: 3 } }));
    const drop = await run(node, ['shards', 'drop', 'docs', '0', '--peer', '2', '--dry-run']);
    expect(drop.out).toMatch(/^would send: POST \/collections\/docs\/cluster/);
    expect(node.changes()).toEqual([]);
  });

  it('drop: POST drop_replica', async () => {
    const node = await fake();
    expect((await run(node, ['shards', 'drop', 'docs', '1', '--peer', '3'])).code).toBe(0);
    expect(node.changes().map((c) => c.body)).toEqual([{ drop_replica: { shard_id: 1, peer_id: 3 } }]);
  });

  it('peer ids beyond 2^53 keep every digit on the wire', async () => {
    const big = 18446744073709551557n;
    const collection: FakeCollection = { shards: [{ id: 0, replicas: [{ peer: big, state: 'Active', points: 1 }] }], transfers: [] };
    const node = await fake({ self: 1, peers: [1, big], collections: { docs: collection } });
    const r = await run(node, ['shards', 'move', 'docs', '0', '--from', big.toString(), '--to', '1']);
    expect(r.code).toBe(0);
    expect(node.changes()[0]!.text).toBe('{"move_shard":{"shard_id":0,"from_peer_id":18446744073709551557,"to_peer_id":1}}');
  });
});

describe('transfers', () => {
  it('list shows running transfers with their progress; abort sends abort_transfer', async () => {
    const node = await fake({ transfersHang: true });
    await run(node, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '3', '--no-wait']);
    const list = await run(node, ['transfers', 'list']);
    expect(list.out.split('\n')[1]).toMatch(/^docs\s+0\s+1\s+3\s+stream_records\s+move\s+Transferring records/);
    const json = await run(node, ['transfers', 'list', 'docs', '-o', 'json']);
    expect(JSON.parse(json.out)).toMatchObject([{ shard_id: 0, from: 1, to: 3, sync: false }]);
    expect((await run(node, ['transfers', 'abort', 'docs', '0', '--from', '1', '--to', '3'])).code).toBe(0);
    expect(node.changes()[1]!.body).toEqual({ abort_transfer: { shard_id: 0, from_peer_id: 1, to_peer_id: 3 } });
    expect((await run(node, ['transfers', 'list'])).out).toBe('no shard transfers running');
  });
});

describe('shard-keys', () => {
  it('list, create (digits as an integer unless --key-type string) and delete', async () => {
    const node = await fake({ collections: { docs: { ...docs(), shardKeys: ['eu'] } } });
    expect((await run(node, ['shard-keys', 'create', 'docs', 'us', '--shards', '2', '--replication-factor', '2', '--placement', '1,3'])).code).toBe(0);
    expect((await run(node, ['shard-keys', 'create', 'docs', '7'])).code).toBe(0);
    expect((await run(node, ['shard-keys', 'create', 'docs', '8', '--key-type', 'string'])).code).toBe(0);
    expect((await run(node, ['shard-keys', 'delete', 'docs', 'eu'])).code).toBe(0);
    expect(node.changes().map((c) => [c.method, c.path, c.body])).toEqual([
      ['PUT', '/collections/docs/shards', { shard_key: 'us', shards_number: 2, replication_factor: 2, placement: [1, 3] }],
      ['PUT', '/collections/docs/shards', { shard_key: 7 }],
      ['PUT', '/collections/docs/shards', { shard_key: '8' }],
      ['POST', '/collections/docs/shards/delete', { shard_key: 'eu' }],
    ]);
    const list = await run(node, ['shard-keys', 'list', 'docs']);
    expect(list.out.split('\n')).toEqual(['KEY  TYPE', 'us   string', '7    integer', '8    string']);
  });

  it('a collection without custom sharding says so', async () => {
    const node = await fake();
    expect((await run(node, ['shard-keys', 'list', 'docs'])).out).toMatch(/does not use custom sharding/);
  });
});

describe('drain and rebalance', () => {
  it('drain moves every replica off the peer, one transfer at a time, each followed to its end', async () => {
    const node = await fake({ peers: [1, 2, 3, 4], transferPolls: 2 });
    const r = await run(node, ['drain', '2', '--method', 'stream_records']);
    expect(r.code).toBe(0);
    // Peer 4 is empty, so it takes shard 0; then 4 and 1 hold one replica each and 1 (lower id) takes shard 1.
    expect(node.changes().map((c) => c.body)).toEqual([
      { move_shard: { shard_id: 0, from_peer_id: 2, to_peer_id: 4, method: 'stream_records' } },
      { move_shard: { shard_id: 1, from_peer_id: 2, to_peer_id: 1, method: 'stream_records' } },
    ]);
    // The second transfer started only after the first was seen finished.
    const posts = node.requests.map((q, i) => (q.method === 'POST' ? i : -1)).filter((i) => i >= 0);
    expect(node.requests.slice(posts[0]! + 1, posts[1]!).filter((q) => q.path === '/collections/docs/cluster').length).toBeGreaterThanOrEqual(2);
    const held = node.collection('docs').shards.map((s) => s.replicas.map((x) => x.peer));
    expect(held.flat()).not.toContain(2);
    expect(r.err).toMatch(/\[1\/2\] move docs shard 0 from peer 2 to peer 4/);
    expect(r.err).toMatch(/\[2\/2\] move docs shard 1 from peer 2 to peer 1/);
    expect(r.out).toMatch(/2 step\(s\) done$/);
  });

  it('drain --dry-run prints the plan and changes nothing; blocked replicas make the drain exit 1', async () => {
    const node = await fake();
    const r = await run(node, ['drain', '2', '--dry-run', '-o', 'json']);
    expect(r.code).toBe(0);
    // Three peers, two replicas per shard: shard 0 can go to 3, shard 1 to 1.
    expect(JSON.parse(r.out)).toEqual({
      steps: [
        { action: 'move', collection: 'docs', shard_id: 0, from_peer_id: 2, to_peer_id: 3 },
        { action: 'move', collection: 'docs', shard_id: 1, from_peer_id: 2, to_peer_id: 1 },
      ],
      blocked: [],
    });
    const full = await fake({ peers: [1, 2] });
    const blocked = await run(full, ['drain', '2']);
    expect(blocked.code).toBe(1);
    expect(blocked.err).toMatch(/cannot move docs shard 0 off peer 2: every other peer already holds a replica/);
    expect(blocked.err).toMatch(/drain of peer 2 is incomplete: 1 replica\(s\) could not be moved/);
    expect(full.changes().map((c) => c.body)).toEqual([{ move_shard: { shard_id: 1, from_peer_id: 2, to_peer_id: 1 } }]);
    expect(node.changes()).toEqual([]);
  });

  it('a failing step stops the run: the next step is not started', async () => {
    const node = await fake({ peers: [1, 2, 3, 4], transfersFail: true });
    const r = await run(node, ['drain', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/step 1 of 2 failed, 0 done/);
    expect(node.changes()).toHaveLength(1);
  });

  it('rebalance fills an empty peer; a balanced cluster needs nothing', async () => {
    const node = await fake({ peers: [1, 2, 3, 4], transferPolls: 1 });
    const r = await run(node, ['rebalance']);
    expect(r.code).toBe(0);
    // Loads 1:1 2:2 3:1 4:0: one move from peer 2 to peer 4.
    expect(node.changes().map((c) => c.body)).toEqual([{ move_shard: { shard_id: 0, from_peer_id: 2, to_peer_id: 4 } }]);
    const again = await run(node, ['rebalance']);
    expect(again.out).toBe('replicas are balanced: nothing to move');
    expect(node.changes()).toHaveLength(1);
  });

  it('drain of a peer that is not a member: exit 1', async () => {
    const node = await fake();
    const r = await run(node, ['drain', '9']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/peer 9 is not a member of the cluster \(members: 1, 2, 3\)/);
  });
});

describe('usage and connection errors', () => {
  it('exit 2 for a wrong command line, with commander\'s message', async () => {
    expect((await run(null, ['shards', 'move', 'docs', 'x', '--from', '1', '--to', '2'])).code).toBe(2);
    expect((await run(null, ['shards', 'move', 'docs', '0', '--from', '1'])).code).toBe(2);
    expect((await run(null, ['cluster', 'remove-peer', '-5'])).code).toBe(2);
    expect((await run(null, ['frobnicate'])).code).toBe(2);
    expect((await run(null, ['shards', 'move', 'docs', '0', '--from', '1', '--to', '2', '--method', 'carrier-pigeon'])).code).toBe(2);
    expect((await run(null, ['--url', 'ftp://x', 'cluster', 'status'])).code).toBe(2);
    expect((await run(null, ['shard-keys', 'create', 'docs', 'eu', '--key-type', 'number'])).code).toBe(2);
    const missing = await run(null, ['shards', 'drop', 'docs', '0']);
    expect(missing.err).toMatch(/required option '--peer <peer>' not specified/);
  });

  it('exit 0 for --help', async () => {
    const r = await run(null, ['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/drain \[options\] <peer>/);
  });

  it('exit 1 when no node answers', async () => {
    const node = await fake();
    const url = node.url;
    await node.stop();
    nodes.splice(nodes.indexOf(node), 1);
    const r = await run(null, ['--url', url, 'cluster', 'status']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^shoal: cannot reach http:\/\/127\.0\.0\.1:\d+ \(GET \/cluster\): .*ECONNREFUSED/);
  });

  it('a non-JSON error answer is reported with its status line', async () => {
    const node = await fake();
    node.overrides.set('GET /collections', { status: 502, body: 'bad gateway' });
    const r = await run(node, ['collections', 'list']);
    expect(r).toMatchObject({ code: 1, err: 'shoal: HTTP 502 Bad Gateway: bad gateway' });
  });
});
