// POST /collections/{c}/cluster: Qdrant's ClusterOperations (move, replicate, abort, restart,
// drop a replica, create or drop a shard key). Each body holds exactly one operation.
import { parseCreateShardKey, parseDropShardKey } from '@shoal/api';
import { ShoalError } from '@shoal/common';
import type { ClusterOperation, CollectionsService } from '@shoal/cluster';
import type { TransferMethod } from '@shoal/meta';
import type { Hono } from 'hono';
import { readJsonBody, requestOptions, respond, type RestOptions } from './http.js';

const OPERATIONS = [
  'move_shard', 'replicate_shard', 'abort_transfer', 'drop_replica', 'restart_transfer', 'create_sharding_key', 'drop_sharding_key',
  'start_resharding', 'abort_resharding', 'replicate_points',
] as const;
const METHODS: readonly TransferMethod[] = ['stream_records', 'snapshot', 'wal_delta', 'resharding_stream_records'];

export function registerClusterRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  app.post('/collections/:name/cluster', (c) =>
    respond(c, options, async () => {
      const operation = parseClusterOperation(await readJsonBody(c, options.limits));
      await service.updateCollectionCluster(c.req.param('name'), operation, requestOptions(c));
      return true;
    }),
  );
}

function formatError(message: string): ShoalError {
  return new ShoalError('bad_request', `Format error in JSON body: ${message}`);
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw formatError(`${where}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** A shard id (uint32) or a peer id (an integer below 2^53: every peer id is one). */
function uint(o: Record<string, unknown>, field: string, where: string, max: number): number {
  const raw = o[field];
  if (raw === undefined) throw formatError(`${where}: missing field \`${field}\``);
  const n = typeof raw === 'bigint' && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > max) {
    throw formatError(`${where}.${field}: invalid value ${String(raw).slice(0, 40)}, expected an integer in [0, ${max}]`);
  }
  return n;
}

function method(o: Record<string, unknown>, where: string, required: boolean): TransferMethod | null {
  const raw = o['method'];
  if (raw === undefined || raw === null) {
    if (required) throw formatError(`${where}: missing field \`method\``);
    return null;
  }
  if (typeof raw !== 'string' || !(METHODS as readonly string[]).includes(raw)) {
    throw formatError(`${where}.method: unknown variant \`${String(raw).slice(0, 40)}\`, expected one of ${METHODS.map((m) => `\`${m}\``).join(', ')}`);
  }
  return raw as TransferMethod;
}

const SHARD_MAX = 0xffffffff;
const PEER_MAX = Number.MAX_SAFE_INTEGER;

/** The one operation of a ClusterOperations body. */
export function parseClusterOperation(body: unknown): ClusterOperation {
  const o = asObject(body, 'body');
  const keys = Object.keys(o);
  if (keys.length !== 1) {
    throw formatError(`expected exactly one of ${OPERATIONS.map((k) => `\`${k}\``).join(', ')}, got ${keys.length === 0 ? 'none' : keys.map((k) => `\`${k.slice(0, 40)}\``).join(', ')}`);
  }
  const kind = keys[0]!;
  if (!(OPERATIONS as readonly string[]).includes(kind)) throw formatError(`unknown variant \`${kind.slice(0, 40)}\`, expected one of ${OPERATIONS.map((k) => `\`${k}\``).join(', ')}`);
  const inner = o[kind];
  switch (kind) {
    case 'move_shard':
    case 'replicate_shard': {
      const t = asObject(inner, kind);
      return { kind, shardId: uint(t, 'shard_id', kind, SHARD_MAX), from: uint(t, 'from_peer_id', kind, PEER_MAX), to: uint(t, 'to_peer_id', kind, PEER_MAX), method: method(t, kind, false) };
    }
    case 'abort_transfer': {
      const t = asObject(inner, kind);
      return { kind, shardId: uint(t, 'shard_id', kind, SHARD_MAX), from: uint(t, 'from_peer_id', kind, PEER_MAX), to: uint(t, 'to_peer_id', kind, PEER_MAX) };
    }
    case 'restart_transfer': {
      const t = asObject(inner, kind);
      return { kind, shardId: uint(t, 'shard_id', kind, SHARD_MAX), from: uint(t, 'from_peer_id', kind, PEER_MAX), to: uint(t, 'to_peer_id', kind, PEER_MAX), method: method(t, kind, true)! };
    }
    case 'drop_replica': {
      const t = asObject(inner, kind);
      return { kind, shardId: uint(t, 'shard_id', kind, SHARD_MAX), peer: uint(t, 'peer_id', kind, PEER_MAX) };
    }
    case 'create_sharding_key':
      return { kind, request: parseCreateShardKey(inner) };
    case 'drop_sharding_key':
      return { kind, key: parseDropShardKey(inner) };
    default:
      throw new ShoalError('unsupported', `${kind} (resharding) is not supported by this node yet`);
  }
}
