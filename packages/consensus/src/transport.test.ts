import { afterEach, describe, expect, it } from 'vitest';
import type { TransportLimits } from './limits.js';
import { bytes, grpcFixture, localFixture, text, waitFor, type FixtureFactory, type TransportFixture } from './test-support.js';
import type { Transport, TransportPeerId } from './transport.js';

// One suite, every implementation: what the layers above rely on holds for both.
const implementations: ReadonlyArray<readonly [string, FixtureFactory]> = [
  ['GrpcTransport', grpcFixture],
  ['LocalTransportHub', localFixture],
];

interface Received {
  readonly from: TransportPeerId;
  readonly text: string;
  readonly uri: string;
}

function record(transport: Transport): Received[] {
  const received: Received[] = [];
  transport.onMessage((from, message, origin) => received.push({ from, text: text(message), uri: origin.uri }));
  return received;
}

const FAST: Partial<TransportLimits> = { backoffMsMin: 5, backoffMsMax: 40, rpcDeadlineMs: 1000 };

describe.each(implementations)('Transport conformance: %s', (_name, factory) => {
  let fixture: TransportFixture | null = null;
  const setUp = (limits: Partial<TransportLimits> = {}): TransportFixture => (fixture = factory({ ...FAST, ...limits }));
  afterEach(async () => {
    await fixture?.dispose();
    fixture = null;
  });

  it('two peers exchange messages, each sender in order', async () => {
    const f = setUp({ batchMessagesMax: 16 });
    const a = await f.open(1);
    const b = await f.open(2);
    a.transport.setPeer(2, b.uri);
    b.transport.setPeer(1, a.uri);
    const atA = record(a.transport);
    const atB = record(b.transport);
    for (let i = 0; i < 200; i++) {
      expect(a.transport.send(2, bytes(`a${i}`))).toBe(true);
      expect(b.transport.send(1, bytes(`b${i}`))).toBe(true);
    }
    await waitFor('200 messages each way', () => atA.length === 200 && atB.length === 200);
    expect(atB.map((m) => m.text)).toEqual(Array.from({ length: 200 }, (_, i) => `a${i}`));
    expect(atA.map((m) => m.text)).toEqual(Array.from({ length: 200 }, (_, i) => `b${i}`));
    expect(new Set(atB.map((m) => m.from))).toEqual(new Set([1]));
    expect(new Set(atA.map((m) => m.from))).toEqual(new Set([2]));
    await waitFor('the last acknowledgement', () => a.transport.stats().queued.get(2) === 0);
  });

  it('three peers: every receiver sees each sender in its order, across ticks', async () => {
    const f = setUp({ batchMessagesMax: 8 });
    const nodes = [await f.open(11), await f.open(12), await f.open(13)];
    const ids = [11, 12, 13];
    const received = nodes.map((node) => record(node.transport));
    nodes.forEach((node, i) => ids.forEach((id, j) => i !== j && node.transport.setPeer(id, nodes[j]!.uri)));
    for (let round = 0; round < 30; round++) {
      nodes.forEach((node, i) => ids.forEach((id, j) => i !== j && node.transport.send(id, bytes(`${ids[i]}:${round}`))));
      if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor('60 messages at each node', () => received.every((r) => r.length === 60));
    received.forEach((messages, j) => {
      for (const [i, sender] of ids.entries()) {
        if (i === j) continue;
        const fromSender = messages.filter((m) => m.from === sender).map((m) => m.text);
        expect(fromSender).toEqual(Array.from({ length: 30 }, (_, round) => `${sender}:${round}`));
        expect(messages.find((m) => m.from === sender)?.uri).toBe(nodes[i]!.uri);
      }
    });
  });

  it('carries empty and binary messages unchanged', async () => {
    const f = setUp();
    const a = await f.open(1);
    const b = await f.open(2);
    a.transport.setPeer(2, b.uri);
    const got: Uint8Array[] = [];
    b.transport.onMessage((_from, message) => got.push(Uint8Array.from(message)));
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(a.transport.send(2, new Uint8Array(0))).toBe(true);
    expect(a.transport.send(2, all)).toBe(true);
    await waitFor('two messages', () => got.length === 2);
    expect(got).toEqual([new Uint8Array(0), all]);
  });

  it('refuses unknown and removed peers, and itself as a peer', async () => {
    const f = setUp();
    const a = await f.open(1);
    const b = await f.open(2);
    expect(a.transport.send(2, bytes('x'))).toBe(false);
    a.transport.setPeer(2, b.uri);
    a.transport.removePeer(2);
    expect(a.transport.send(2, bytes('x'))).toBe(false);
    expect(a.transport.stats().queued.has(2)).toBe(false);
    expect(() => a.transport.setPeer(1, b.uri)).toThrow(/this node/);
    expect(() => a.transport.setPeer(0, b.uri)).toThrow(/peer id/);
  });

  it('holds messages for a down peer up to the bound, counts failures, delivers them in order after it restarts', async () => {
    const f = setUp({ queueMessagesMax: 8, batchMessagesMax: 4 });
    const a = await f.open(1);
    const downUri = await f.vacantUri();
    a.transport.setPeer(2, downUri);
    const accepted = Array.from({ length: 10 }, (_, i) => a.transport.send(2, bytes(`m${i}`)));
    expect(accepted).toEqual([true, true, true, true, true, true, true, true, false, false]);
    await waitFor('two failed attempts', () => (a.transport.stats().sendFailures.get(2) ?? 0) >= 2);
    const stats = a.transport.stats();
    expect(stats.queued.get(2)).toBe(8);
    expect(stats.dropped.get(2)).toBe(2);
    expect(stats.latestErrors.get(2)?.message).toMatch(/UNAVAILABLE/);

    const b = await f.open(2, downUri);
    const atB = record(b.transport);
    await waitFor('the held messages', () => atB.length === 8);
    expect(atB.map((m) => m.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    await waitFor('the failure count cleared', () => !a.transport.stats().sendFailures.has(2));
    // The count clears with the first batch that arrives; the second may still await its answer.
    await waitFor('the held messages acknowledged', () => a.transport.stats().queued.get(2) === 0);
    expect(a.transport.stats().latestErrors.has(2)).toBe(false);
    expect(a.transport.send(2, bytes('after'))).toBe(true);
    await waitFor('a new message', () => atB.length === 9);
  });

  it('bounds the bytes held and refuses a message larger than a batch', async () => {
    const f = setUp({ queueBytesMax: 100, batchBytesMax: 64 });
    const a = await f.open(1);
    a.transport.setPeer(2, await f.vacantUri());
    expect(a.transport.send(2, new Uint8Array(65))).toBe(false);
    expect(a.transport.send(2, new Uint8Array(40))).toBe(true);
    expect(a.transport.send(2, new Uint8Array(40))).toBe(true);
    expect(a.transport.send(2, new Uint8Array(40))).toBe(false);
    expect(a.transport.send(2, new Uint8Array(20))).toBe(true);
    expect(a.transport.stats().dropped.get(2)).toBe(2);
    expect(a.transport.stats().queued.get(2)).toBe(3);
  });

  it('a new address for a peer carries the messages held for the old one', async () => {
    const f = setUp();
    const a = await f.open(1);
    const b = await f.open(2);
    const atB = record(b.transport);
    a.transport.setPeer(2, await f.vacantUri());
    for (const m of ['x', 'y', 'z']) a.transport.send(2, bytes(m));
    await waitFor('a failed attempt', () => a.transport.stats().sendFailures.has(2));
    a.transport.setPeer(2, b.uri);
    await waitFor('the held messages', () => atB.length === 3);
    expect(atB.map((m) => m.text)).toEqual(['x', 'y', 'z']);
  });

  it('a batch reaching another peer id is refused and dropped; the queue goes on', async () => {
    const f = setUp({ batchMessagesMax: 2 });
    const a = await f.open(1);
    const c = await f.open(3);
    const atC = record(c.transport);
    a.transport.setPeer(2, c.uri); // peer 2's old address, now taken by peer 3
    for (const m of ['p', 'q', 'r']) expect(a.transport.send(2, bytes(m))).toBe(true);
    await waitFor('both batches refused', () => a.transport.stats().queued.get(2) === 0);
    const stats = a.transport.stats();
    expect(stats.dropped.get(2)).toBe(3);
    expect(stats.sendFailures.get(2)).toBe(2);
    expect(stats.latestErrors.get(2)?.message).toMatch(/FAILED_PRECONDITION/);
    expect(atC).toEqual([]);
  });

  it('after close() a transport sends nothing and is down for its peers', async () => {
    const f = setUp();
    const a = await f.open(1);
    const b = await f.open(2);
    a.transport.setPeer(2, b.uri);
    await b.transport.close();
    await b.transport.close();
    expect(a.transport.send(2, bytes('to a closed peer'))).toBe(true);
    await waitFor('a failed attempt', () => a.transport.stats().sendFailures.has(2));
    await a.transport.close();
    expect(a.transport.send(2, bytes('from a closed peer'))).toBe(false);
    expect(a.transport.stats().queued.size).toBe(0);
  });
});
