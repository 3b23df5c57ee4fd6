// Deterministic encoding of metadata operations and state: the same value always gives the same
// bytes, so the state hash can be compared across nodes and the log can be replayed anywhere.
import { createHash } from 'node:crypto';
import { ShoalError } from '@shoal/common';
import type { MetaOperation } from './types.js';
import { LEGACY_LOCAL_PEER, type CollectionMeta, type MetaState } from './state.js';
import type { ShardMeta } from './replicas.js';

const MAP_TAG = '$map';

/** Maps become tagged, key-sorted entry lists; object keys are sorted. */
function toCanonical(value: unknown): unknown {
  if (value instanceof Map) {
    const entries = [...value.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
    return { [MAP_TAG]: entries.map(([k, v]) => [k, toCanonical(v)]) };
  }
  if (Array.isArray(value)) return value.map(toCanonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = toCanonical(v);
    }
    return out;
  }
  return value;
}

function fromCanonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromCanonical);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const entries = record[MAP_TAG];
    if (Array.isArray(entries) && Object.keys(record).length === 1) {
      return new Map(entries.map((pair) => {
        const [k, v] = pair as [unknown, unknown];
        return [k, fromCanonical(v)];
      }));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = fromCanonical(v);
    return out;
  }
  return value;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(toCanonical(value)));
}

function decode(bytes: Uint8Array, what: string): unknown {
  try {
    return fromCanonical(JSON.parse(decoder.decode(bytes)));
  } catch (cause) {
    throw new ShoalError('storage', `corrupt ${what} in the metadata log`, { cause });
  }
}

export function encodeOperation(op: MetaOperation): Uint8Array {
  return encode(op);
}

export function decodeOperation(bytes: Uint8Array): MetaOperation {
  return decode(bytes, 'operation') as MetaOperation;
}

export function encodeState(state: MetaState): Uint8Array {
  return encode(state);
}

export function decodeState(bytes: Uint8Array): MetaState {
  return withPlacement(decode(bytes, 'snapshot') as MetaState);
}

/**
 * States stored before routing and placement were recorded hold collections without them: such a
 * collection routes by modulo and has one Active replica of each shard on LEGACY_LOCAL_PEER, which
 * is what a standalone node had. Every node decodes the same bytes to the same state.
 */
function withPlacement(state: MetaState): MetaState {
  let changed = false;
  const collections = new Map<string, CollectionMeta>();
  for (const [name, meta] of state.collections) {
    const stored = meta as Partial<CollectionMeta> & Omit<CollectionMeta, 'routing' | 'shards' | 'nextShardId' | 'transfers'>;
    if (stored.routing !== undefined && stored.shards !== undefined) {
      collections.set(name, meta);
      continue;
    }
    changed = true;
    const shards = new Map<number, ShardMeta>();
    if (meta.config.shardingMethod !== 'custom') {
      for (let id = 0; id < meta.config.shardNumber; id++) {
        shards.set(id, { id, key: null, replicas: [{ peer: LEGACY_LOCAL_PEER, state: 'Active', generation: meta.createdIndex }] });
      }
    }
    collections.set(name, { ...stored, routing: { kind: 'modulo' }, shards, nextShardId: shards.size, transfers: [] });
  }
  return changed ? { ...state, collections } : state;
}

/** sha-256 of the canonical encoding: equal on every node that applied the same entries. */
export function stateHash(state: MetaState): string {
  return createHash('sha256').update(encodeState(state)).digest('hex');
}
