import type { Message } from '@shoal/raft';

/**
 * A JSON codec for Raft messages and entries, byte arrays as base64. Used by the stand-in driver
 * of this package; the real driver brings its own wire format.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $b: Buffer.from(value).toString('base64') } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && '$b' in value) {
    const b = (value as { $b: unknown }).$b;
    if (typeof b === 'string') return new Uint8Array(Buffer.from(b, 'base64'));
  }
  return value;
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, replacer));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes), reviver) as T;
}

export const encodeMessage = (m: Message): Uint8Array => encodeJson(m);
export const decodeMessage = (bytes: Uint8Array): Message => decodeJson<Message>(bytes);
