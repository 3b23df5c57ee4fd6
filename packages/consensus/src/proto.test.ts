import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeAck, decodeBatch, encodeAck, encodeBatch, P2P_PROTO_PATH, p2pSchema } from './proto.js';

describe('p2p protocol', () => {
  it('is read from proto/p2p.proto at the repository root', () => {
    expect(P2P_PROTO_PATH.endsWith('/proto/p2p.proto')).toBe(true);
    expect(existsSync(P2P_PROTO_PATH)).toBe(true);
    expect(p2pSchema().sendPath).toBe('/shoal.p2p.RaftTransport/Send');
  });

  it('round-trips a batch, ids up to 2^53 - 1 exactly', () => {
    const batch = { fromPeer: 2 ** 53 - 1, fromUri: 'http://10.0.0.1:6335', toPeer: 7, clusterId: 'c', messages: [new Uint8Array([1, 2]), new Uint8Array(0)] };
    const decoded = decodeBatch(encodeBatch(batch));
    if (typeof decoded === 'string') throw new Error(decoded);
    expect({ ...decoded, messages: decoded.messages.map((m) => [...m]) }).toEqual({ ...batch, messages: [[1, 2], []] });
    expect(decodeAck(encodeAck({ peer: 2 ** 53 - 1, delivered: 3 }))).toEqual({ peer: 2 ** 53 - 1, delivered: 3 });
  });

  it('refuses ids that are 0 or do not fit below 2^53, and garbage', () => {
    const type = p2pSchema().batch;
    const raw = (fields: Record<string, unknown>): Uint8Array => type.encode(type.fromObject(fields)).finish();
    expect(decodeBatch(raw({ fromPeer: 1, toPeer: 0 }))).toMatch(/bad to_peer 0/);
    expect(decodeBatch(raw({ fromPeer: '9007199254740993', toPeer: 1 }))).toMatch(/bad from_peer/);
    expect(decodeBatch(raw({ fromPeer: '18446744073709551615', toPeer: 1 }))).toMatch(/bad from_peer/);
    expect(decodeBatch(new Uint8Array([0x0a, 0xff, 0xff]))).toMatch(/malformed RaftBatch/);
  });
});
