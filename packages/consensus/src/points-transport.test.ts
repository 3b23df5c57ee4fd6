import { afterEach, describe, expect, it } from 'vitest';
import { BlackholeProxy } from './blackhole-proxy.js';
import { GrpcTransport } from './grpc-transport.js';
import type { ShardRequest } from './proto.js';
import { bytes, text, waitFor } from './test-support.js';

const opened: GrpcTransport[] = [];

async function open(selfId: number, clusterId?: string): Promise<GrpcTransport> {
  const transport = new GrpcTransport({ selfId, listen: '127.0.0.1:0', clusterId, limits: { backoffMsMin: 5, backoffMsMax: 40 } });
  opened.push(transport);
  await transport.start();
  return transport;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

const request = (body: string, extra: Partial<ShardRequest> = {}): ShardRequest => ({
  clusterId: '', collection: 'c', incarnation: 2 ** 40 + 3, shardId: 7, fromPeer: 1, body: bytes(body), clockTag: null, metaIndex: 0, ...extra,
});

describe('the Points service', () => {
  it('carries a shard call and its reply; the clock tag travels when set', async () => {
    const a = await open(1);
    const b = await open(2);
    const seen: ShardRequest[] = [];
    b.onPoints(async (method, req) => {
      seen.push(req);
      return { ok: true, body: bytes(`${method}:${text(req.body)}`) };
    });
    const uri = `http://127.0.0.1:${b.port}`;
    const r = await a.callPoints(uri, 'Search', request('q'), { timeoutMs: 2000 });
    expect(r.outcome === 'reply' && r.reply.ok && text(r.reply.body)).toBe('Search:q');
    await a.callPoints(uri, 'Update', request('w', { clockTag: { peerId: 9, epoch: 2 ** 34 + 1, clockId: 1, clockTick: 12 }, metaIndex: 2 ** 33 + 5 }), { timeoutMs: 2000 });
    await a.callPoints(uri, 'TransferBatch', request('t'), { timeoutMs: 2000 });
    expect(seen.map((s) => [s.collection, s.incarnation, s.shardId, s.clockTag, s.metaIndex])).toEqual([
      ['c', 2 ** 40 + 3, 7, null, 0],
      ['c', 2 ** 40 + 3, 7, { peerId: 9, epoch: 2 ** 34 + 1, clockId: 1, clockTick: 12 }, 2 ** 33 + 5],
      ['c', 2 ** 40 + 3, 7, null, 0],
    ]);
  });

  it('returns a refusal as a reply and an unserved call as failed', async () => {
    const a = await open(1);
    const b = await open(2);
    const uri = `http://127.0.0.1:${b.port}`;
    const unserved = await a.callPoints(uri, 'Count', request(''), { timeoutMs: 2000 });
    expect(unserved).toMatchObject({ outcome: 'failed', timeout: false });
    b.onPoints(async () => ({ ok: false, kind: 'not_found', message: 'no such shard' }));
    const refused = await a.callPoints(uri, 'Count', request(''), { timeoutMs: 2000 });
    expect(refused).toEqual({ outcome: 'reply', reply: { ok: false, kind: 'not_found', message: 'no such shard' } });
    const c = await open(3, 'other');
    c.onPoints(async () => ({ ok: true, body: bytes('') }));
    const foreign = await a.callPoints(`http://127.0.0.1:${c.port}`, 'Count', request(''), { timeoutMs: 2000 });
    expect(foreign.outcome).toBe('failed');
  });

  it('a call past its budget fails as a timeout and the replica sees the cancellation; a signal cancels too', async () => {
    const a = await open(1);
    const b = await open(2);
    let cancelled = 0;
    b.onPoints((_m, _r, signal) => new Promise((resolve) => {
      signal.addEventListener('abort', () => {
        cancelled += 1;
        resolve({ ok: true, body: bytes('late') });
      });
    }));
    const uri = `http://127.0.0.1:${b.port}`;
    const r = await a.callPoints(uri, 'Search', request(''), { timeoutMs: 200 });
    expect(r).toMatchObject({ outcome: 'failed', timeout: true });
    await waitFor('the replica told', () => cancelled === 1);
    const controller = new AbortController();
    const pending = a.callPoints(uri, 'Search', request(''), { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ outcome: 'failed', timeout: true });
  });

  it('uses a connection of its own, apart from Raft batches', async () => {
    const a = await open(1);
    const b = await open(2);
    const proxy = new BlackholeProxy(b.port);
    try {
      const uri = `http://127.0.0.1:${await proxy.listen()}`;
      const got: string[] = [];
      b.onMessage((_from, m) => got.push(text(m)));
      b.onPoints(async () => ({ ok: true, body: bytes('ok') }));
      a.setPeer(2, uri);
      a.send(2, bytes('raft'));
      await waitFor('raft delivered', () => got.length === 1);
      expect(proxy.connections).toBe(1);
      const r = await a.callPoints(uri, 'Retrieve', request(''), { timeoutMs: 2000 });
      expect(r.outcome).toBe('reply');
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});
