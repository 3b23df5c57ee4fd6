// Service endpoints: version, health probes, cluster status, telemetry, metrics.
import type { Hono } from 'hono';
import { errorEnvelope, okEnvelope } from '@shoal/api';
import type { ClusterConsensus, LocalNode } from '@shoal/cluster';
import { datatypeElementBytes, STORED_ELEMENT_BYTES } from '@shoal/segment';
import type { Metrics } from './metrics.js';
import { API_VERSION, TITLE } from './build-info.js';

export interface ServiceState {
  readonly node: LocalNode;
  readonly metrics: Metrics;
  readonly commit: string;
  readonly startedAt: Date;
  /** Random id of this process's telemetry. */
  readonly telemetryId: string;
  /** true once storage is loaded; false again while shutting down. */
  ready: boolean;
  /** Consensus in cluster mode; null on a standalone node. */
  readonly cluster: ClusterConsensus | null;
}

/** Cluster operations on a standalone node answer as Qdrant's standalone node does. */
const DISTRIBUTED_DISABLED = 'Bad request: Distributed mode disabled';

export function registerServiceRoutes(app: Hono, state: ServiceState): void {
  app.get('/', (c) => c.json({ title: TITLE, version: API_VERSION, commit: state.commit }));
  app.get('/healthz', (c) => c.text('healthz check passed'));
  app.get('/livez', (c) => c.text('healthz check passed'));
  // /readyz, POST /cluster/recover and DELETE /cluster/peer/{id}: cluster-routes.ts.
  app.get('/cluster', (c) => c.json(okEnvelope(state.cluster === null ? { status: 'disabled' } : state.cluster.statusBody(), 0)));
  app.get('/cluster/telemetry', (c) => c.json(errorEnvelope(DISTRIBUTED_DISABLED, 0), 400));
  // No issue detectors run yet, so there is nothing to report or clear.
  app.get('/issues', (c) => c.json({ issues: [] }));
  app.delete('/issues', (c) => c.json(okEnvelope(true, 0)));
  const notYet = (what: string) => (c: import('hono').Context) =>
    c.json(errorEnvelope(`Bad request: ${what} are not supported by this node yet`, 0), 400);
  app.get('/quotas', notYet('Quotas'));
  app.put('/quotas', notYet('Quotas'));
  app.get('/snapshots', notYet('Full snapshots'));
  app.post('/snapshots', notYet('Full snapshots'));
  app.get('/snapshots/:name', notYet('Full snapshots'));
  app.delete('/snapshots/:name', notYet('Full snapshots'));
  app.get('/telemetry', async (c) => c.json(okEnvelope(await telemetry(state), 0)));
  app.get('/metrics', async (c) => {
    const gauges = [];
    for (const name of state.node.listCollections()) {
      const info = await state.node.collectionInfo(name).catch(() => null); // deleted meanwhile
      if (info !== null) gauges.push({ name, points: info.pointsCount, vectors: info.pointsCount * info.config.vectors.size });
    }
    return c.text(state.metrics.render(API_VERSION, gauges), 200, { 'content-type': 'text/plain; version=0.0.4' });
  });
}

async function telemetry(state: ServiceState): Promise<unknown> {
  const names = state.node.listCollections();
  const collections = [];
  for (const name of names) {
    const details = await collectionTelemetry(state.node, name);
    if (details !== null) collections.push(details);
  }
  return {
    id: state.telemetryId,
    app: {
      name: 'shoal',
      version: API_VERSION,
      startup: state.startedAt.toISOString(),
      features: { debug: false, service_debug_feature: false, recovery_mode: false, gpu: false, rocksdb: false, staging: false },
    },
    collections: { number_of_collections: names.length, collections },
  };
}

/** One named vector's memory on this node, summed over its local shards. */
interface VectorMemory {
  datatype: string;
  size: number;
  num_vectors: number;
  /** Bytes per value as stored here: rows are f32 whatever the datatype. */
  stored_bytes_per_value: number;
  /** Live vectors x size x stored bytes per value. */
  vectors_size_bytes: number;
  /** What the same vectors take in the datatype's own width (Qdrant's storage). */
  datatype_size_bytes: number;
  /** Memory the vector storage holds: rows (including deleted ones not yet vacuumed), capacity, graphs, codes. */
  ram_usage_bytes: number;
}

/**
 * A collection's telemetry (Qdrant's CollectionTelemetry: `id` plus `vector_memory`, this node's
 * local shards only); null when the collection went away meanwhile.
 */
async function collectionTelemetry(node: LocalNode, name: string): Promise<{ id: string; vector_memory: Record<string, VectorMemory> } | null> {
  const meta = node.metaState.collections.get(name);
  if (meta === undefined) return null;
  const memory: Record<string, VectorMemory> = {};
  for (const [vector, params] of meta.config.vectors) {
    memory[vector] = {
      datatype: params.datatype ?? 'float32',
      size: params.size,
      num_vectors: 0,
      stored_bytes_per_value: STORED_ELEMENT_BYTES,
      vectors_size_bytes: 0,
      datatype_size_bytes: 0,
      ram_usage_bytes: 0,
    };
  }
  const info = await node.collectionClusterInfo(name).catch(() => null); // deleted meanwhile
  for (const shard of info?.localShards ?? []) {
    const replica = await node.localReplica({ collection: name, incarnation: meta.createdIndex, shardId: shard.shardId }).catch(() => null);
    if (replica === null) continue;
    const stats = replica.stats();
    for (const [vector, entry] of Object.entries(memory)) {
      const count = stats.vectors.get(vector) ?? 0;
      entry.num_vectors += count;
      entry.vectors_size_bytes += count * entry.size * STORED_ELEMENT_BYTES;
      entry.datatype_size_bytes += count * entry.size * datatypeElementBytes(meta.config.vectors.get(vector)?.datatype ?? null);
      entry.ram_usage_bytes += stats.vectorBytesByName?.get(vector) ?? 0;
    }
  }
  return { id: name, vector_memory: memory };
}
