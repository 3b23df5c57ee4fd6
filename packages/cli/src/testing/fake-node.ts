// A stand-in for one node of a cluster, on node:http, answering the REST contract's shapes
// for the endpoints the CLI uses. It keeps a small cluster model (peers, collections, replica
// placement, transfers) that moves along as the CLI polls, records every request, validates
// every request body and every response against the spec, and answers errors in Qdrant's
// envelope.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJson, encodeJson } from '@shoal/common';
import { validateRequestBody, validateResponseBody } from './spec.js';

export type Id = number | bigint;
export type Key = string | number;

export interface FakeReplica {
  peer: Id;
  state: string;
  points: number;
}

export interface FakeShard {
  id: number;
  key?: Key;
  replicas: FakeReplica[];
}

export interface FakeTransfer {
  shard_id: number;
  from: Id;
  to: Id;
  sync: boolean;
  method: string | null;
  /** Polls of GET .../cluster before it ends. */
  pollsLeft: number;
  /** Ends by removing the target replica instead of activating it. */
  fails: boolean;
}

export interface FakeCollection {
  shards: FakeShard[];
  transfers: FakeTransfer[];
  shardKeys?: Key[];
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: unknown;
}

export interface FakeOptions {
  /** The answering peer (its replicas are local_shards). */
  readonly self: Id;
  readonly peers: readonly Id[];
  readonly collections: Record<string, FakeCollection>;
  /** Polls a started transfer takes before it ends. */
  readonly transferPolls?: number;
  /** Started transfers fail instead of completing. */
  readonly transfersFail?: boolean;
  /** Started transfers never end. */
  readonly transfersHang?: boolean;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

const ok = (result: unknown): Reply => ({ status: 200, body: { result, status: 'ok', time: 0.001 } });
const error = (status: number, message: string): Reply => ({ status, body: { status: { error: message }, time: 0.001 } });

export class FakeNode {
  readonly requests: RecordedRequest[] = [];
  /** Spec violations seen in requests or in the fake's own answers. */
  readonly violations: string[] = [];
  /** Replies to return instead of the model's, by `METHOD path`, used once each; a string body is sent as plain text. */
  readonly overrides = new Map<string, Reply>();
  private server: Server | null = null;
  url = '';

  constructor(readonly options: FakeOptions) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }

  /** Requests other than GET: the ones that change something. */
  changes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  collection(name: string): FakeCollection {
    const c = this.options.collections[name];
    if (c === undefined) throw new Error(`no collection ${name}`);
    return c;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const body = text === '' ? undefined : decodeJson(text, { errorKind: 'bad_request' });
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), headers: req.headers, text, body });
    let reply: Reply;
    try {
      if (body !== undefined) validateRequestBody(method, url.pathname, body);
      reply = this.overrides.get(`${method} ${path}`) ?? this.route(method, path, body);
      this.overrides.delete(`${method} ${path}`);
      // A string body stands for a proxy's plain-text page, outside the spec on purpose.
      if (typeof reply.body !== 'string') validateResponseBody(method, url.pathname, reply.status, reply.body);
    } catch (e) {
      this.violations.push((e as Error).message);
      reply = error(400, `Bad request: ${(e as Error).message}`);
    }
    const plain = typeof reply.body === 'string';
    res.writeHead(reply.status, { 'content-type': plain ? 'text/plain' : 'application/json' });
    res.end(plain ? reply.body : encodeJson(reply.body).text);
  }

  private route(method: string, path: string, body: unknown): Reply {
    const parts = path.split('/').slice(1);
    const [root, name, sub, extra] = parts;
    if (root === 'cluster') {
      if (method === 'GET' && parts.length === 1) return ok(this.clusterStatus());
      if (method === 'POST' && name === 'recover') return ok(true);
      if (method === 'DELETE' && name === 'peer') return this.removePeer(sub ?? '');
    }
    if (root === 'collections') {
      if (method === 'GET' && name === undefined) return ok({ collections: Object.keys(this.options.collections).map((n) => ({ name: n })) });
      const collection = this.options.collections[name ?? ''];
      if (collection === undefined) return error(404, `Not found: Collection \`${name}\` doesn't exist!`);
      if (method === 'GET' && sub === undefined) return ok(collectionInfo(collection));
      if (sub === 'cluster' && method === 'GET') return ok(this.collectionCluster(collection));
      if (sub === 'cluster' && method === 'POST') return this.clusterOperation(collection, body as Record<string, Record<string, unknown>>);
      if (sub === 'shards') return shardKeys(collection, method, extra, body as { shard_key: Key } | undefined);
    }
    return error(404, `Not found: ${method} ${path}`);
  }

  private clusterStatus(): unknown {
    const peers = Object.fromEntries(this.options.peers.map((id, i) => [String(id), { uri: `http://10.0.0.${i + 1}:6335/` }]));
    return {
      status: 'enabled',
      peer_id: this.options.self,
      peers,
      raft_info: { term: 3, commit: 42, pending_operations: 0, leader: this.options.peers[0], role: this.options.self === this.options.peers[0] ? 'Leader' : 'Follower', is_voter: true },
      consensus_thread_status: { consensus_thread_status: 'working', last_update: '2025-01-01T00:00:00Z' },
      message_send_failures: {},
    };
  }

  private removePeer(text: string): Reply {
    const holds = Object.values(this.options.collections).some((c) => c.shards.some((s) => s.replicas.some((r) => String(r.peer) === text)));
    const force = this.requests[this.requests.length - 1]?.query['force'] === 'true';
    if (holds && !force) return error(400, `Bad request: Cannot remove peer ${text} as there are shards on it`);
    return ok(true);
  }

  /** GET .../cluster: every call is one poll, moving running transfers towards their end. */
  private collectionCluster(collection: FakeCollection): unknown {
    for (const t of [...collection.transfers]) {
      if (this.options.transfersHang === true) continue;
      t.pollsLeft--;
      if (t.pollsLeft <= 0) this.finish(collection, t);
    }
    const self = String(this.options.self);
    const local = collection.shards.flatMap((s) =>
      s.replicas.filter((r) => String(r.peer) === self).map((r) => ({ shard_id: s.id, ...(s.key === undefined ? {} : { shard_key: s.key }), points_count: r.points, state: r.state })),
    );
    const remote = collection.shards.flatMap((s) =>
      s.replicas.filter((r) => String(r.peer) !== self).map((r) => ({ shard_id: s.id, ...(s.key === undefined ? {} : { shard_key: s.key }), peer_id: r.peer, state: r.state })),
    );
    return {
      peer_id: this.options.self,
      shard_count: collection.shards.length,
      local_shards: local,
      remote_shards: remote,
      shard_transfers: collection.transfers.map((t) => ({
        shard_id: t.shard_id,
        from: t.from,
        to: t.to,
        sync: t.sync,
        method: t.method,
        // Qdrant reports progress on the source peer only.
        comment: String(t.from) === self ? `Transferring records (${100 - t.pollsLeft * 10}/100), started 1s ago` : null,
      })),
    };
  }

  private finish(collection: FakeCollection, t: FakeTransfer): void {
    collection.transfers.splice(collection.transfers.indexOf(t), 1);
    const shard = collection.shards.find((s) => s.id === t.shard_id)!;
    const target = shard.replicas.find((r) => String(r.peer) === String(t.to))!;
    if (t.fails) {
      shard.replicas.splice(shard.replicas.indexOf(target), 1);
      return;
    }
    target.state = 'Active';
    target.points = shard.replicas.find((r) => String(r.peer) === String(t.from))?.points ?? 0;
    if (!t.sync) shard.replicas = shard.replicas.filter((r) => String(r.peer) !== String(t.from));
  }

  private clusterOperation(collection: FakeCollection, body: Record<string, Record<string, unknown>>): Reply {
    const [operation, args] = Object.entries(body)[0] ?? [];
    if (args === undefined) return error(400, 'Bad request: empty operation');
    const shard = collection.shards.find((s) => s.id === args['shard_id']);
    if (shard === undefined) return error(400, `Bad request: Shard ${String(args['shard_id'])} does not exist`);
    const has = (peer: unknown): boolean => shard.replicas.some((r) => String(r.peer) === String(peer));
    switch (operation) {
      case 'move_shard':
      case 'replicate_shard': {
        if (!has(args['from_peer_id'])) return error(400, `Bad request: Shard ${shard.id} is not on peer ${String(args['from_peer_id'])}`);
        if (has(args['to_peer_id'])) return error(400, `Bad request: Shard ${shard.id} is already on peer ${String(args['to_peer_id'])}`);
        shard.replicas.push({ peer: args['to_peer_id'] as Id, state: 'Partial', points: 0 });
        collection.transfers.push({
          shard_id: shard.id,
          from: args['from_peer_id'] as Id,
          to: args['to_peer_id'] as Id,
          sync: operation === 'replicate_shard',
          method: (args['method'] as string | undefined) ?? 'stream_records',
          pollsLeft: this.options.transferPolls ?? 3,
          fails: this.options.transfersFail === true,
        });
        return ok(true);
      }
      case 'drop_replica':
        if (!has(args['peer_id'])) return error(400, `Bad request: Shard ${shard.id} is not on peer ${String(args['peer_id'])}`);
        shard.replicas = shard.replicas.filter((r) => String(r.peer) !== String(args['peer_id']));
        return ok(true);
      case 'abort_transfer': {
        const t = collection.transfers.find((x) => x.shard_id === shard.id && String(x.from) === String(args['from_peer_id']) && String(x.to) === String(args['to_peer_id']));
        if (t === undefined) return error(400, `Bad request: Shard ${shard.id} is not being transferred`);
        collection.transfers.splice(collection.transfers.indexOf(t), 1);
        shard.replicas = shard.replicas.filter((r) => String(r.peer) !== String(t.to));
        return ok(true);
      }
      default:
        return error(400, `Bad request: the fake does not model ${String(operation)}`);
    }
  }
}

function collectionInfo(collection: FakeCollection): unknown {
  return {
    status: 'green',
    optimizer_status: 'ok',
    points_count: collection.shards.reduce((n, s) => n + (s.replicas[0]?.points ?? 0), 0),
    indexed_vectors_count: 0,
    segments_count: collection.shards.length,
    config: {
      params: { vectors: { size: 4, distance: 'Cosine' }, shard_number: collection.shards.length, replication_factor: 2, write_consistency_factor: 1, on_disk_payload: true },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
      optimizer_config: { default_segment_number: 0, flush_interval_sec: 5 },
    },
    payload_schema: { city: { data_type: 'keyword', points: 3 } },
  };
}

function shardKeys(collection: FakeCollection, method: string, extra: string | undefined, body: { shard_key: Key } | undefined): Reply {
  if (method === 'GET' && extra === undefined) {
    return ok({ shard_keys: collection.shardKeys === undefined ? null : collection.shardKeys.map((key) => ({ key })) });
  }
  if (collection.shardKeys === undefined) return error(400, 'Bad request: Shard keys are only available for custom sharding');
  if (method === 'PUT' && extra === undefined && body !== undefined) {
    if (collection.shardKeys.includes(body.shard_key)) return error(400, `Bad request: Shard key ${String(body.shard_key)} already exists`);
    collection.shardKeys.push(body.shard_key);
    return ok(true);
  }
  if (method === 'POST' && extra === 'delete' && body !== undefined) {
    const i = collection.shardKeys.indexOf(body.shard_key);
    if (i < 0) return error(404, `Not found: Shard key ${String(body.shard_key)} does not exist`);
    collection.shardKeys.splice(i, 1);
    return ok(true);
  }
  return error(404, 'Not found');
}
