import { createHook } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/common';
import { BlackholeProxy } from './blackhole-proxy.js';
import { GrpcTransport } from './grpc-transport.js';
import type { TransportLimits } from './limits.js';
import { bytes, freePort, text, waitFor } from './test-support.js';

const FAST: Partial<TransportLimits> = { backoffMsMin: 5, backoffMsMax: 40 };
const opened: GrpcTransport[] = [];

async function open(selfId: number, extra: { clusterId?: string; limits?: Partial<TransportLimits> } = {}): Promise<GrpcTransport> {
  const transport = new GrpcTransport({ selfId, listen: '127.0.0.1:0', clusterId: extra.clusterId, limits: { ...FAST, ...extra.limits } });
  opened.push(transport);
  await transport.start();
  return transport;
}

const uriOf = (transport: GrpcTransport): string => `http://127.0.0.1:${transport.port}`;

// HTTP2 sessions are left out: node reports their end only when they are garbage-collected.
const HANDLE_KINDS = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'Timeout', 'Immediate']);

/**
 * Records the sockets, servers and timers created from now until freeze() and not yet destroyed;
 * a timer counts only while it would keep the process alive. What is left after close() would
 * keep vitest (or a node shutting down) from exiting.
 */
function trackHandles(): { alive(): string[]; freeze(): void; stop(): void } {
  const live = new Map<number, { type: string; resource: unknown }>();
  let frozen = false;
  const hook = createHook({
    init: (id, type, _trigger, resource) => void (!frozen && HANDLE_KINDS.has(type) && live.set(id, { type, resource })),
    destroy: (id) => void live.delete(id),
  }).enable();
  const refed = (resource: unknown): boolean =>
    typeof (resource as { hasRef?: unknown }).hasRef !== 'function' || (resource as { hasRef(): boolean }).hasRef();
  return {
    alive: () => [...live.values()].filter((h) => h.type !== 'Timeout' || refed(h.resource)).map((h) => h.type),
    freeze: () => void (frozen = true),
    stop: () => void hook.disable(),
  };
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((transport) => transport.close()));
});

describe('GrpcTransport', () => {
  it('close() leaves no socket, server or timer behind, also with a retry pending', async () => {
    const tracked = trackHandles();
    try {
      const a = await open(1, { limits: { backoffMsMin: 5000, backoffMsMax: 5000 } }); // a retry pends past the test
      const b = await open(2);
      a.setPeer(2, uriOf(b));
      b.setPeer(1, uriOf(a));
      a.setPeer(3, `http://127.0.0.1:${await freePort()}`); // down
      const got: string[] = [];
      b.onMessage((_from, message) => got.push(text(message)));
      a.send(2, bytes('hello'));
      a.send(3, bytes('to nobody'));
      b.send(1, bytes('hi'));
      await waitFor('delivery and a failure', () => got.length === 1 && a.stats().sendFailures.has(3));
      expect(tracked.alive()).toContain('TCPWRAP');
      await Promise.all([a.close(), b.close()]);
      tracked.freeze(); // the waiting below makes timers of its own
      await waitFor('handles released', () => tracked.alive().length === 0, 2000).catch(() => {
        throw new Error(`still open after close(): ${tracked.alive().join(', ')}`);
      });
    } finally {
      tracked.stop();
    }
  });

  it('peer ids up to 2^53 - 1 travel exactly', async () => {
    const big = 2 ** 53 - 1;
    const a = await open(big);
    const b = await open(big - 1);
    a.setPeer(big - 1, uriOf(b));
    const from: number[] = [];
    b.onMessage((sender) => from.push(sender));
    a.send(big - 1, bytes('x'));
    await waitFor('delivery', () => from.length === 1);
    expect(from).toEqual([big]);
    await waitFor('the acknowledgement', () => a.stats().queued.get(big - 1) === 0);
    expect(a.stats().sendFailures.size).toBe(0);
  });

  it('nodes of different clusters refuse each other', async () => {
    const a = await open(1, { clusterId: 'blue' });
    const b = await open(2, { clusterId: 'green' });
    const got: Uint8Array[] = [];
    b.onMessage((_from, message) => got.push(message));
    a.setPeer(2, uriOf(b));
    a.send(2, bytes('x'));
    await waitFor('a refusal', () => a.stats().dropped.get(2) === 1);
    expect(a.stats().latestErrors.get(2)?.message).toMatch(/FAILED_PRECONDITION.*cluster 'blue'/);
    expect(got).toEqual([]);
  });

  it('a peer that accepts connections but never answers fails each batch within the deadline', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const a = await open(1, { limits: { rpcDeadlineMs: 200 } });
      a.setPeer(2, `http://127.0.0.1:${port}`);
      const started = Date.now();
      expect(a.send(2, bytes('x'))).toBe(true);
      await waitFor('a failure', () => a.stats().sendFailures.has(2), 2000);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(a.stats().latestErrors.get(2)?.message).toMatch(/DEADLINE_EXCEEDED|UNAVAILABLE/);
      expect(a.stats().queued.get(2)).toBe(1); // kept for the next attempt
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a peer that goes silent without a reset is noticed, and reached again when it answers', async () => {
    const limits = { rpcDeadlineMs: 300, keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 };
    const a = await open(1, { limits });
    const b = await open(2, { limits });
    const proxy = new BlackholeProxy(b.port);
    try {
      a.setPeer(2, `http://127.0.0.1:${await proxy.listen()}`);
      const got: string[] = [];
      b.onMessage((_from, message) => got.push(text(message)));
      a.send(2, bytes('before'));
      // Acknowledged too: an acknowledgement swallowed by the silence would make 'before' a
      // retried batch, delivered twice (which Raft tolerates, but this test counts messages).
      await waitFor('the first message acknowledged', () => got.length === 1 && a.stats().queued.get(2) === 0);
      proxy.silent = true;
      const silentAt = Date.now();
      for (const m of ['m1', 'm2', 'm3']) a.send(2, bytes(m));
      await waitFor('a failure', () => a.stats().sendFailures.has(2), 2000);
      expect(Date.now() - silentAt).toBeLessThan(1000);
      // Unanswered keepalive pings condemn the silent connection: gRPC dials a new one.
      await waitFor('a new connection', () => proxy.connections >= 2, 1500);
      expect(Date.now() - silentAt).toBeLessThan(1500);
      proxy.silent = false;
      await waitFor('the held messages', () => got.length === 4, 5000);
      expect(got).toEqual(['before', 'm1', 'm2', 'm3']);
    } finally {
      await proxy.close();
    }
  });

  it('speaks TLS with the credentials it is given, and an insecure peer cannot reach it', async () => {
    const testdata = new URL('../testdata/', import.meta.url);
    const cert = readFileSync(new URL('test-peer.crt', testdata));
    const key = readFileSync(new URL('test-peer.key', testdata));
    const tls = (selfId: number): GrpcTransport => {
      const transport = new GrpcTransport({
        selfId,
        listen: '127.0.0.1:0',
        serverCredentials: grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false),
        channelCredentials: grpc.credentials.createSsl(cert),
        limits: FAST,
      });
      opened.push(transport);
      return transport;
    };
    const a = tls(1);
    const b = tls(2);
    await Promise.all([a.start(), b.start()]);
    const got: string[] = [];
    b.onMessage((from, message) => got.push(`${from}:${text(message)}`));
    a.setPeer(2, uriOf(b));
    a.send(2, bytes('sealed'));
    await waitFor('a message over TLS', () => got.length === 1);
    expect(got).toEqual(['1:sealed']);

    const plain = await open(3);
    plain.setPeer(2, uriOf(b));
    plain.send(2, bytes('in the clear'));
    await waitFor('a failure', () => plain.stats().sendFailures.has(2));
    expect(got).toEqual(['1:sealed']);
  });

  it('a busy port is a clear start-up error', async () => {
    const a = await open(1);
    const b = new GrpcTransport({ selfId: 2, listen: `127.0.0.1:${a.port}` });
    opened.push(b);
    const failure = await b.start().then(() => null, (error: unknown) => error);
    expect(failure).toBeInstanceOf(ShoalError);
    expect((failure as ShoalError).kind).toBe('unavailable');
    expect((failure as ShoalError).message).toMatch(/cannot listen for peers on 127\.0\.0\.1:\d+/);
  });

  it('refuses an unusable peer URI', async () => {
    const a = await open(1);
    expect(() => a.setPeer(2, 'ftp://h:1')).toThrow(/scheme/);
    expect(() => a.setPeer(2, 'http://h:1/path')).toThrow(/host:port/);
  });
});

describe('GrpcTransport control requests', () => {
  it('answers a request from a node it does not know, and reports a failed handler as unavailable', async () => {
    const a = await open(1);
    const b = await open(2);
    b.onControl(async (kind, body) => {
      if (kind === 'fail') throw new Error('not today');
      return bytes(`${kind}:${text(body)}`);
    });
    expect(text(await a.control(uriOf(b), 'echo', bytes('hi'), 2000))).toBe('echo:hi');
    await expect(a.control(uriOf(b), 'fail', bytes(''), 2000)).rejects.toThrow(/not today/);
    const down = `http://127.0.0.1:${await freePort()}`;
    const error = await a.control(down, 'echo', bytes(''), 2000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShoalError);
    expect((error as ShoalError).kind).toBe('unavailable');
  });

  it('refuses a request from another cluster', async () => {
    const a = await open(1, { clusterId: 'red' });
    const b = await open(2, { clusterId: 'blue' });
    b.onControl(async () => bytes('yes'));
    await expect(a.control(uriOf(b), 'echo', bytes(''), 2000)).rejects.toThrow(/another cluster/);
  });
});
