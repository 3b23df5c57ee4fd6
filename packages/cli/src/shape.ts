// Reading the JSON a node answers into typed values. A node that answers something else than
// the spec's shape gets a message naming the field, never a crash deep inside a command.
import { peerIdFromJson, peerIdFromText, type PeerId } from './ids.js';

/** The node's answer does not have the shape the REST contract gives it. */
export class ResponseShapeError extends Error {
  override readonly name = 'ResponseShapeError';
}

const fail = (where: string, what: string, value: unknown): never => {
  const shown = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  throw new ResponseShapeError(`unexpected response: ${where} should be ${what}, got ${shown ?? 'nothing'}`);
};

export function objectAt(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(where, 'an object', value);
  return value as Record<string, unknown>;
}

export function arrayAt(value: unknown, where: string): unknown[] {
  return Array.isArray(value) ? value : fail(where, 'an array', value);
}

export function stringAt(value: unknown, where: string): string {
  return typeof value === 'string' ? value : fail(where, 'a string', value);
}

export function optionalStringAt(value: unknown, where: string): string | null {
  return value === undefined || value === null ? null : stringAt(value, where);
}

export function booleanAt(value: unknown, where: string): boolean {
  return typeof value === 'boolean' ? value : fail(where, 'true or false', value);
}

/** A non-negative integer count or index; bigint beyond 2^53 is kept approximately as a number. */
export function countAt(value: unknown, where: string): number {
  if (typeof value === 'bigint' && value >= 0n) return Number(value);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  return fail(where, 'a non-negative integer', value);
}

export function optionalCountAt(value: unknown, where: string): number | null {
  return value === undefined || value === null ? null : countAt(value, where);
}

export function peerIdAt(value: unknown, where: string): PeerId {
  return peerIdFromJson(value) ?? fail(where, 'a peer id', value);
}

export function optionalPeerIdAt(value: unknown, where: string): PeerId | null {
  return value === undefined || value === null ? null : peerIdAt(value, where);
}

/** A peer id used as an object key (GET /cluster's `peers`). */
export function peerIdKeyAt(key: string, where: string): PeerId {
  return peerIdFromText(key) ?? fail(where, 'keyed by peer ids', key);
}

/** Qdrant's ShardKey: a string or an unsigned integer. */
export type ShardKey = string | number | bigint;

export function optionalShardKeyAt(value: unknown, where: string): ShardKey | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  return fail(where, 'a shard key (string or unsigned integer)', value);
}

export function shardKeyText(key: ShardKey | null): string {
  return key === null ? '' : String(key);
}
